"""A tax year's levies as frozen values, and their canonical document.

Pure module. billing.levy_format parses a document into these values; levy_to_document gives
the canonical document back (the one the service stores), which parses to an equal spec."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from billing.words import Translations, missing_texts, text_document

FORMAT_VERSION = 1


JURISDICTION_KINDS = ("city", "county", "school", "special", "state")


#: How a rate is expressed: per $1,000 of value, percent of value, per $100 of value.
BASES = ("mills", "percent", "per_100")


EXEMPTION_KINDS = ("fixed", "percent")


#: The steps at which exemptions apply, in the order they apply.
STEPS = ("market", "assessed", "taxable")


@dataclass(frozen=True)
class Exemption:
    """A part of the value that is not taxed, for parcels carrying every eligibility flag."""

    code: str
    name: str
    #: fixed (amount_cents of value) or percent (percent of the value at its step).
    kind: str
    #: The parcel flags required, e.g. ("homestead", "senior").
    eligibility: tuple[str, ...]
    #: market, assessed or taxable: the value it is taken from (docs/tax.md).
    applies_to: str = "assessed"
    amount_cents: int | None = None
    percent: Decimal | None = None
    #: A percent exemption removes at least this much (capped by the value).
    minimum_cents: int | None = None
    #: A percent exemption removes at most this much.
    maximum_cents: int | None = None
    #: Only the part of the value above this amount is considered.
    above_cents: int = 0
    #: The name in languages other than the default (billing.words).
    name_translations: Translations = ()
    #: "Either flag": the parcel needs at least one of these as well (); () for no such rule.
    any_flags: tuple[str, ...] = ()

    def is_for(self, flags: frozenset[str]) -> bool:
        """Whether a parcel with these flags gets the exemption: every flag of eligibility and,
        when any_flags are named, at least one of them."""
        return flags.issuperset(self.eligibility) and (
            not self.any_flags or not flags.isdisjoint(self.any_flags)
        )

    @property
    def amount(self) -> int | Decimal:
        """The cents of a fixed exemption, or the percent of a percent exemption."""
        return self.amount_cents if self.kind == "fixed" else self.percent  # type: ignore[return-value]


@dataclass(frozen=True)
class Levy:
    """One taxing jurisdiction's rate for the year; it becomes one line of each bill."""

    jurisdiction: str
    jurisdiction_name: str
    jurisdiction_kind: str
    rate: Decimal
    #: mills, percent or per_100.
    basis: str
    #: Codes of the exemptions this levy honours; None honours them all.
    exemptions: tuple[str, ...] | None = None
    #: The jurisdiction's name in languages other than the default (billing.words).
    name_translations: Translations = ()

    def honours(self, code: str) -> bool:
        """Whether this levy honours the exemption with this code."""
        return self.exemptions is None or code in self.exemptions


@dataclass(frozen=True)
class InstallmentDue:
    """When a share of the year's tax is due; without shares, the parts are equal."""

    number: int
    due_date: date
    #: Percent of the total; None means an equal share.
    share: Decimal | None = None


@dataclass(frozen=True)
class DiscountStep:
    """Paying the whole year's tax by pay_by takes percent off (e.g. Florida's 4% in November);
    or, for an installment, paying that installment by pay_by takes percent off it (Florida's
    installment plan)."""

    pay_by: date
    percent: Decimal
    #: 0: the discount is for the whole bill; n: for installment n alone.
    installment: int = 0


@dataclass(frozen=True)
class FlatCharge:
    """A non-ad valorem charge of a fixed amount per parcel, by property class (e.g. a solid
    waste or fire assessment); a class it does not list pays nothing."""

    code: str
    name: str
    #: The revenue account credited (an existing GL account code).
    gl_account: str
    #: Property class -> cents per parcel.
    amounts: dict[str, int]
    name_translations: Translations = ()


@dataclass(frozen=True)
class SpecialAssessment:
    """A special assessment on the parcels it lists by number: units (front feet, lots, ...) x
    rate, e.g. a sidewalk district."""

    code: str
    name: str
    #: The revenue account credited (an existing GL account code).
    gl_account: str
    #: Dollars per unit.
    rate: Decimal
    #: What a unit is, e.g. "front foot" or "parcel".
    unit: str
    #: Parcel number -> units.
    parcels: dict[str, Decimal]
    name_translations: Translations = ()


@dataclass(frozen=True)
class TaxCredit:
    """A credit against the tax that the state (or another body) pays for the owner, e.g.
    Wisconsin's lottery and gaming credit: a fixed amount for parcels carrying every flag."""

    code: str
    name: str
    #: The receivable debited: what the payer of the credit owes the town (a GL account code).
    receivable_account: str
    #: A fixed credit's cents per parcel; None for a credit computed by a rate or a percent.
    amount_cents: int | None
    #: The parcel flags required; () for every parcel.
    eligibility: tuple[str, ...] = ()
    name_translations: Translations = ()
    #: A rate credit: rate x the parcel's taxable value, per basis (mills or per_100), e.g.
    #: Wisconsin's school levy tax credit of 1.40 per $1,000.
    rate: Decimal | None = None
    basis: str | None = None
    #: A percent credit: this percent of the tax of its levies (e.g. Ohio's 10% rollback).
    percent: Decimal | None = None
    #: The jurisdictions whose value (rate) or tax (percent) it is computed on; None: all.
    levies: tuple[str, ...] | None = None


@dataclass(frozen=True)
class EstimatedFirstInstallment:
    """A first installment billed before the year's levies are final, as a percent of the
    parcel's prior-year tax (Cook County, 35 ILCS 200/21-30: 55%); the year's own bill is then
    the second installment, the actual tax less what the estimate billed."""

    #: More than 0, at most 100: the percent of the prior year's tax billed.
    percent: Decimal
    #: The day the estimated bills are issued (mailed).
    issue_date: date
    #: Their due date; before the second installment's.
    due_date: date


@dataclass(frozen=True)
class TaxYearSpec:
    """A validated levy document: everything needed to bill one tax year."""

    tax_year: int
    #: Assessment ratio (level of assessment) per property class: assessed = market x ratio.
    class_ratios: dict[str, Decimal]
    levies: tuple[Levy, ...]
    installments: tuple[InstallmentDue, ...]
    exemptions: tuple[Exemption, ...] = ()
    discounts: tuple[DiscountStep, ...] = ()
    #: Multiplier from assessed to equalized value (e.g. Cook County's 3.0163); 1 elsewhere.
    equalization_factor: Decimal = Decimal(1)
    name: str = ""
    charges: tuple[FlatCharge, ...] = ()
    special_assessments: tuple[SpecialAssessment, ...] = ()
    credits: tuple[TaxCredit, ...] = ()
    #: The GL account an honoured early-payment discount is debited to (contra-revenue).
    discount_account: str | None = None
    #: The estimated first installment, when the year bills one (billing/estimates.py).
    estimated_first: EstimatedFirstInstallment | None = None


def _number(value: Decimal) -> str:
    """A Decimal as plain digits, never in exponent form."""
    return format(value, "f")


def _money(cents: int) -> str:
    """Cents as a dollars string the parser reads back exactly."""
    return f"{cents // 100}.{cents % 100:02d}"


def _exemption_document(exemption: Exemption) -> dict:
    """One exemption as the document writes it."""
    amount = (
        _money(exemption.amount_cents) if exemption.kind == "fixed" else _number(exemption.percent)
    )  # type: ignore[arg-type]
    item: dict[str, Any] = {
        "code": exemption.code,
        "name": text_document(exemption.name, exemption.name_translations),
        "kind": exemption.kind,
        "amount": amount,
        "eligibility": list(exemption.eligibility),
        "applies_to": exemption.applies_to,
    }
    for key, cents in (("minimum", exemption.minimum_cents), ("maximum", exemption.maximum_cents)):
        if cents is not None:
            item[key] = _money(cents)
    if exemption.above_cents:
        item["above"] = _money(exemption.above_cents)
    if exemption.any_flags:
        item["any_flags"] = list(exemption.any_flags)
    return item


def _levy_document(levy: Levy) -> dict:
    """One levy as the document writes it."""
    item: dict[str, Any] = {
        "jurisdiction": levy.jurisdiction,
        "name": text_document(levy.jurisdiction_name, levy.name_translations),
        "kind": levy.jurisdiction_kind,
        "rate": _number(levy.rate),
        "basis": levy.basis,
    }
    if levy.exemptions is not None:
        item["exemptions"] = list(levy.exemptions)
    return item


def _charge_document(charge: FlatCharge) -> dict:
    """One flat per-parcel charge as the document writes it."""
    return {
        "code": charge.code,
        "name": text_document(charge.name, charge.name_translations),
        "gl_account": charge.gl_account,
        "amounts": {cls: _money(cents) for cls, cents in charge.amounts.items()},
    }


def _assessment_document(assessment: SpecialAssessment) -> dict:
    """One special assessment as the document writes it."""
    return {
        "code": assessment.code,
        "name": text_document(assessment.name, assessment.name_translations),
        "gl_account": assessment.gl_account,
        "rate": _number(assessment.rate),
        "unit": assessment.unit,
        "parcels": [
            {"parcel": number, "units": _number(units)}
            for number, units in assessment.parcels.items()
        ],
    }


def _credit_document(credit: TaxCredit) -> dict:
    """One credit as the document writes it."""
    item: dict[str, Any] = {
        "code": credit.code,
        "name": text_document(credit.name, credit.name_translations),
        "receivable_account": credit.receivable_account,
    }
    if credit.amount_cents is not None:
        item["amount"] = _money(credit.amount_cents)
    if credit.rate is not None:
        item |= {"rate": _number(credit.rate), "basis": credit.basis}
    if credit.percent is not None:
        item["percent"] = _number(credit.percent)
    item["eligibility"] = list(credit.eligibility)
    if credit.levies is not None:
        item["levies"] = list(credit.levies)
    return item


def levy_accounts(spec: TaxYearSpec) -> list[tuple[str, str, str]]:
    """The GL accounts the levy names: (place, code, what it must be: revenue, receivable,
    discount), for the service to check that each exists."""
    found = [
        (f"charges[{i}].gl_account", c.gl_account, "revenue") for i, c in enumerate(spec.charges)
    ]
    found += [
        (f"special_assessments[{i}].gl_account", a.gl_account, "revenue")
        for i, a in enumerate(spec.special_assessments)
    ]
    found += [
        (f"credits[{i}].receivable_account", c.receivable_account, "receivable")
        for i, c in enumerate(spec.credits)
    ]
    if spec.discount_account is not None:
        found.append(("discount_account", spec.discount_account, "discount"))
    return found


def levy_text_warnings(spec: TaxYearSpec, languages: tuple[str, ...]) -> list[str]:
    """A warning for each name in the levy that has no wording in one of the town's languages."""
    warnings = []
    for index, exemption in enumerate(spec.exemptions):
        warnings += missing_texts(
            f"exemptions[{index}].name", exemption.name_translations, languages
        )
    for index, levy in enumerate(spec.levies):
        warnings += missing_texts(f"levies[{index}].name", levy.name_translations, languages)
    for key in ("charges", "special_assessments", "credits"):
        for index, item in enumerate(getattr(spec, key)):
            warnings += missing_texts(f"{key}[{index}].name", item.name_translations, languages)
    return warnings


def levy_to_document(spec: TaxYearSpec) -> dict:
    """The canonical, JSON-able document of a spec; parse_levy reads it back to an equal spec."""
    document: dict[str, Any] = {"version": FORMAT_VERSION, "tax_year": spec.tax_year}
    if spec.name:
        document["name"] = spec.name
    document["equalization_factor"] = _number(spec.equalization_factor)
    document["class_ratios"] = {name: _number(ratio) for name, ratio in spec.class_ratios.items()}
    document["exemptions"] = [_exemption_document(e) for e in spec.exemptions]
    document["levies"] = [_levy_document(levy) for levy in spec.levies]
    document["installments"] = [
        {"due": due.due_date.isoformat()}
        | ({"share": _number(due.share)} if due.share is not None else {})
        for due in spec.installments
    ]
    document["discounts"] = [
        {"pay_by": step.pay_by.isoformat(), "percent": _number(step.percent)}
        | ({"installment": step.installment} if step.installment else {})
        for step in spec.discounts
    ]
    if spec.discount_account is not None:
        document["discount_account"] = spec.discount_account
    if (estimate := spec.estimated_first) is not None:
        document["estimated_first_installment"] = {
            "percent": _number(estimate.percent),
            "issue": estimate.issue_date.isoformat(),
            "due": estimate.due_date.isoformat(),
        }
    document["charges"] = [_charge_document(c) for c in spec.charges]
    document["special_assessments"] = [_assessment_document(a) for a in spec.special_assessments]
    document["credits"] = [_credit_document(c) for c in spec.credits]
    return document

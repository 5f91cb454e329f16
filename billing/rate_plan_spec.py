"""Rate plans as frozen values: units, components, versions, and their canonical document.

Pure module. billing.rate_plan_format parses a document into these values; plan_to_document
gives the canonical document back (the one the service stores), which parses to an equal spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from billing.words import Translations, missing_texts, text_document

FREQUENCIES = ("monthly", "bimonthly", "quarterly", "semi_annual", "annual")
#: The months of one period of each frequency: a version's amounts are stated per this many months.
FREQUENCY_MONTHS = {"monthly": 1, "bimonthly": 2, "quarterly": 3, "semi_annual": 6, "annual": 12}
#: How a version prorates a period shorter than its cycle's regular one (docs/rates.md).
PRORATIONS = ("none", "fixed", "fixed_and_blocks")
#: What the winter average replaces: the lesser of it and the actual usage, or the usage itself.
WINTER_BILLING = ("lesser", "average")
#: Unit code -> (family, size in the family's smallest unit, invoice-line label, short symbol).
UNITS: dict[str, tuple[str, Decimal, str, str]] = {
    "gal": ("gallons", Decimal(1), "gallons", "gal"),
    "kgal": ("gallons", Decimal(1000), "1,000 gallons", "kgal"),
    "cf": ("cubic feet", Decimal(1), "cubic feet", "cu ft"),
    "hcf": ("cubic feet", Decimal(100), "HCF", "HCF"),
    "ccf": ("cubic feet", Decimal(100), "CCF", "CCF"),
    "m3": ("cubic metres", Decimal(1), "cubic metres", "m³"),
}
_UNIT_ALIASES = {
    "gal": ("gallon", "gallons"),
    "kgal": ("1,000 gallons", "1000 gallons", "thousand gallons", "1,000 gal", "1000 gal"),
    "cf": ("cu ft", "ft3", "cubic foot", "cubic feet"),
    "hcf": ("100 cubic feet", "hundred cubic feet"),
    "ccf": (),
    "m3": ("m³", "cubic metre", "cubic metres", "cubic meter", "cubic meters"),
}
UNIT_NAMES = {alias: code for code, names in _UNIT_ALIASES.items() for alias in (code, *names)}
#: Decimal places allowed: quantities as an invoice line stores them, rates likewise, money.
QUANTITY_PLACES, RATE_PLACES, MONEY_PLACES = 4, 8, 2
BlockTable = tuple["Block", ...]


@dataclass(frozen=True)
class UnitConversion:
    """A conversion the plan declares across unit families: 1 `unit` = `amount` `other_unit`."""

    unit: str
    amount: Decimal
    other_unit: str


@dataclass(frozen=True)
class FixedCharge:
    """A charge (or, with category "fee", a fee) per billing period, whatever the usage."""

    id: str
    description: str
    #: Dollars per period; None when the amount comes from by_meter_size.
    amount: Decimal | None
    #: (meter size, dollars per period) pairs; empty when amount is set.
    by_meter_size: tuple[tuple[str, Decimal], ...] = ()
    per_dwelling_unit: bool = False
    category: str = "charge"
    #: The description in languages other than the default (billing.words).
    translations: Translations = ()
    #: The months (1-12) of the period's last day in which the component applies; () = all year.
    months: tuple[int, ...] = ()


@dataclass(frozen=True)
class Allowance:
    """Usage included in the base charge: shown at zero and not billed by the usage charges."""

    id: str
    description: str
    included: Decimal
    per_dwelling_unit: bool = False
    #: The description in languages other than the default (billing.words).
    translations: Translations = ()
    #: The months (1-12) of the period's last day in which the component applies; () = all year.
    months: tuple[int, ...] = ()


@dataclass(frozen=True)
class Block:
    """One block of a block rate: usage up to `up_to` (None: all the rest) at `rate` per unit."""

    up_to: Decimal | None
    rate: Decimal


@dataclass(frozen=True)
class BlockCharge:
    """Inclining or declining blocks; boundaries are on the period's total usage."""

    id: str
    description: str
    blocks: BlockTable
    #: (meter size, blocks) pairs; empty when blocks is set.
    by_meter_size: tuple[tuple[str, BlockTable], ...] = ()
    #: Multiply every boundary by the number of dwelling units.
    per_dwelling_unit: bool = False
    #: The description in languages other than the default (billing.words).
    translations: Translations = ()
    #: The months (1-12) of the period's last day in which the component applies; () = all year.
    months: tuple[int, ...] = ()
    #: The percentage of the billed usage this charge bills (sewer on 90 % of water); None = all.
    usage_percent: Decimal | None = None


@dataclass(frozen=True)
class UsageAboveCharge:
    """A rate per unit on usage above a threshold only."""

    id: str
    description: str
    threshold: Decimal
    rate: Decimal
    per_dwelling_unit: bool = False
    #: The description in languages other than the default (billing.words).
    translations: Translations = ()
    #: The months (1-12) of the period's last day in which the component applies; () = all year.
    months: tuple[int, ...] = ()
    #: The percentage of the billed usage this charge bills (sewer on 90 % of water); None = all.
    usage_percent: Decimal | None = None


@dataclass(frozen=True)
class UniformCharge:
    """One rate per unit on all billed usage."""

    id: str
    description: str
    rate: Decimal
    #: The description in languages other than the default (billing.words).
    translations: Translations = ()
    #: The months (1-12) of the period's last day in which the component applies; () = all year.
    months: tuple[int, ...] = ()
    #: The percentage of the billed usage this charge bills (sewer on 90 % of water); None = all.
    usage_percent: Decimal | None = None


@dataclass(frozen=True)
class MinimumCharge:
    """Tops the bill (or the named components) up to a minimum, in dollars."""

    id: str
    description: str
    amount: Decimal
    #: Component ids in scope; empty means every other component except minimums.
    applies_to: tuple[str, ...] = ()
    per_dwelling_unit: bool = False
    #: The description in languages other than the default (billing.words).
    translations: Translations = ()
    #: The months (1-12) of the period's last day in which the component applies; () = all year.
    months: tuple[int, ...] = ()


@dataclass(frozen=True)
class MaximumCharge:
    """Caps the named components (by default every usage charge) at a maximum, in dollars."""

    id: str
    description: str
    amount: Decimal
    #: Component ids in scope; empty means every usage charge (blocks, above, uniform).
    applies_to: tuple[str, ...] = ()
    per_dwelling_unit: bool = False
    #: The description in languages other than the default (billing.words).
    translations: Translations = ()
    #: The months (1-12) of the period's last day in which the component applies; () = all year.
    months: tuple[int, ...] = ()


@dataclass(frozen=True)
class ChoiceCharge:
    """Bills the greater (or lesser) of other components' amounts; only the chosen one's lines show."""

    id: str
    description: str
    #: The ids of the components compared, in the order the tariff names them (ties: the first).
    of: tuple[str, ...]
    #: "greater" or "lesser".
    choose: str = "greater"
    #: The description in languages other than the default (billing.words).
    translations: Translations = ()
    #: The months (1-12) of the period's last day in which the component applies; () = all year.
    months: tuple[int, ...] = ()


@dataclass(frozen=True)
class Credit:
    """A discount for eligible accounts: a percentage of components, or an amount per period."""

    id: str
    description: str
    #: Account flags that make an account eligible (any one of them), e.g. ("senior",).
    eligible: tuple[str, ...]
    #: Percent of the components in scope; None when `amount` is set.
    percent: Decimal | None = None
    #: Dollars per period; None when `percent` is set.
    amount: Decimal | None = None
    #: Component ids in scope; empty means every other component of the bill except credits.
    applies_to: tuple[str, ...] = ()
    #: The description in languages other than the default (billing.words).
    translations: Translations = ()
    #: The months (1-12) of the period's last day in which the component applies; () = all year.
    months: tuple[int, ...] = ()


@dataclass(frozen=True)
class PerUnitCharge:
    """A charge per unit of a service point's attribute (impervious area in ERUs, carts)."""

    id: str
    description: str
    #: The service point attribute read, e.g. "impervious_area" (square feet) or "carts".
    attribute: str
    #: Dollars per unit per period.
    rate: Decimal
    #: The attribute's amount that makes one unit (an ERU of 2,500 sq ft); 1 bills the attribute.
    size: Decimal = Decimal(1)
    #: How attribute / size is rounded to whole units (a core.money rule).
    rounding: str = "half_up"
    #: Units billed at least (a property with any impervious area pays one ERU).
    at_least: Decimal = Decimal(0)
    #: The invoice line's unit label, e.g. "ERU" or "cart".
    unit: str = "unit"
    unit_translations: Translations = ()
    #: The description in languages other than the default (billing.words).
    translations: Translations = ()
    #: The months (1-12) of the period's last day in which the component applies; () = all year.
    months: tuple[int, ...] = ()


Component = (
    FixedCharge
    | Allowance
    | BlockCharge
    | UsageAboveCharge
    | UniformCharge
    | MinimumCharge
    | MaximumCharge
    | ChoiceCharge
    | Credit
    | PerUnitCharge
)
USAGE_CHARGES = (BlockCharge, UsageAboveCharge, UniformCharge)


@dataclass(frozen=True)
class WinterAverage:
    """Sewer billed on each account's average usage over the winter periods (docs/rates.md)."""

    #: The months (1-12) whose periods (by their last day) are winter periods.
    months: tuple[int, ...]
    #: The average, in the plan's unit, of an account with no winter usage stored yet.
    default: Decimal
    #: "lesser": the lesser of the actual usage and the average; "average": the average itself.
    bill: str = "lesser"


@dataclass(frozen=True)
class RateVersionSpec:
    """The rates in force from one date until the next version's date."""

    effective_from: date
    frequency: str
    components: tuple[Component, ...]
    #: Billed usage is rounded to a multiple of this step, in the plan's unit.
    usage_step: Decimal = Decimal("0.0001")
    usage_rounding: str = "down"
    #: How a partial period or a rate change inside one is prorated by days (PRORATIONS).
    proration: str = "none"
    #: Whether block boundaries, thresholds scale with the cycle's months like the fixed charges.
    scale_blocks: bool = False
    winter: WinterAverage | None = None

    @property
    def bills_usage(self) -> bool:
        """Whether any component needs the period's usage."""
        return any(isinstance(c, (Allowance, *USAGE_CHARGES)) for c in self.components)


@dataclass(frozen=True)
class RatePlanSpec:
    """A rate plan: what a service costs, version by version."""

    code: str
    name: str
    service_kind: str
    #: The plan's pricing unit, a UNITS code such as "kgal" or "ccf"; "" for an unmetered plan.
    unit: str
    versions: tuple[RateVersionSpec, ...]
    conversions: tuple[UnitConversion, ...] = ()
    #: The plan's (the service's) name in languages other than the default.
    name_translations: Translations = ()
    #: The unit's label in languages other than the default, when the plan gives its own.
    unit_translations: Translations = ()


def plan_to_document(spec: RatePlanSpec) -> dict:
    """The canonical JSON-able document of a spec; parsing it gives an equal spec."""
    document: dict[str, Any] = {
        "code": spec.code,
        "name": text_document(spec.name, spec.name_translations),
        "service_kind": spec.service_kind,
        **({"unit": text_document(spec.unit, spec.unit_translations)} if spec.unit else {}),
        "conversions": {c.unit: f"{_exact(c.amount)} {c.other_unit}" for c in spec.conversions},
        "versions": [],
    }
    for version in spec.versions:
        document["versions"].append(
            {
                "effective_from": version.effective_from.isoformat(),
                "frequency": version.frequency,
                "usage_step": _exact(version.usage_step),
                "usage_rounding": version.usage_rounding,
                "proration": version.proration,
                "scale_blocks": version.scale_blocks,
                **_winter_document(version.winter),
                "components": [component_document(c) for c in version.components],
            }
        )
    return document


def component_document(component: Component) -> dict:
    """The canonical document of one component."""
    doc: dict[str, Any] = {"id": component.id, "kind": component_kind(component)}
    doc["description"] = text_document(component.description, component.translations)
    if isinstance(component, FixedCharge):
        if component.amount is not None:
            doc["amount"] = _exact(component.amount)
        else:
            doc["by_meter_size"] = {size: _exact(rate) for size, rate in component.by_meter_size}
    elif isinstance(component, Allowance):
        doc["included"] = _exact(component.included)
    elif isinstance(component, BlockCharge):
        if component.blocks:
            doc["blocks"] = _blocks_document(component.blocks)
        else:
            doc["by_meter_size"] = {s: _blocks_document(b) for s, b in component.by_meter_size}
    elif isinstance(component, UsageAboveCharge):
        doc.update(threshold=_exact(component.threshold), rate=_exact(component.rate))
    elif isinstance(component, UniformCharge):
        doc["rate"] = _exact(component.rate)
    elif isinstance(component, ChoiceCharge | Credit | PerUnitCharge):
        doc.update(_new_kind_document(component))
    else:
        doc.update(amount=_exact(component.amount), applies_to=list(component.applies_to))
    if not isinstance(component, UniformCharge | ChoiceCharge | Credit | PerUnitCharge):
        doc["per_dwelling_unit"] = component.per_dwelling_unit
    if isinstance(component, USAGE_CHARGES) and component.usage_percent is not None:
        doc["usage_percent"] = _exact(component.usage_percent)
    if component.months:
        doc["months"] = list(component.months)
    return doc


def _new_kind_document(component: ChoiceCharge | Credit | PerUnitCharge) -> dict:
    """The fields of a greater_of/lesser_of, credit or per_unit component."""
    if isinstance(component, ChoiceCharge):
        return {"of": list(component.of)}
    if isinstance(component, Credit):
        doc: dict[str, Any] = {"eligible": list(component.eligible)}
        if component.percent is not None:
            doc["percent"] = _exact(component.percent)
        else:
            doc["amount"] = _exact(component.amount)  # type: ignore[arg-type]
        return doc | {"applies_to": list(component.applies_to)}
    return {
        "attribute": component.attribute,
        "rate": _exact(component.rate),
        "size": _exact(component.size),
        "rounding": component.rounding,
        "at_least": _exact(component.at_least),
        "unit": text_document(component.unit, component.unit_translations),
    }


def _winter_document(winter: WinterAverage | None) -> dict:
    """The version's winter averaging, if it has one."""
    if winter is None:
        return {}
    return {
        "winter_average": {
            "months": list(winter.months),
            "default": _exact(winter.default),
            "bill": winter.bill,
        }
    }


def plan_text_warnings(spec: RatePlanSpec, languages: tuple[str, ...]) -> list[str]:
    """A warning for each text of the plan that has no wording in one of the town's languages."""
    warnings = missing_texts("name", spec.name_translations, languages)
    for version in spec.versions:
        for component in version.components:
            where = f"versions[{version.effective_from}].components[{component.id}].description"
            warnings += missing_texts(where, component.translations, languages)
    return warnings


def _blocks_document(blocks: BlockTable) -> list[dict]:
    """The canonical list of blocks."""
    return [
        {"rate": _exact(b.rate)}
        if b.up_to is None
        else {"up_to": _exact(b.up_to), "rate": _exact(b.rate)}
        for b in blocks
    ]


def component_kind(component: Component) -> str:
    """The document's kind name of a component."""
    if isinstance(component, FixedCharge):
        return "fee" if component.category == "fee" else "fixed"
    if isinstance(component, ChoiceCharge):
        return f"{component.choose}_of"
    return _KINDS[type(component)]


_KINDS: dict[type, str] = {
    Allowance: "allowance",
    BlockCharge: "blocks",
    UsageAboveCharge: "usage_above",
    UniformCharge: "uniform",
    MinimumCharge: "minimum",
    MaximumCharge: "maximum",
    Credit: "credit",
    PerUnitCharge: "per_unit",
}


def plain_number(number: Decimal) -> str:
    """A number as written, without exponent or trailing zeros: 5, 2.5, 1,000."""
    return f"{number.normalize():,f}"


def _exact(number: Decimal) -> str:
    """A number exactly as held, in plain notation: '4.230' stays '4.230'."""
    return format(number, "f")

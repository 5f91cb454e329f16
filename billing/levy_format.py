"""A tax year's levies as data: parse, validate and write back a levy document.

Pure module: a dict (from JSON or YAML) in, frozen dataclasses out. Rates,
ratios and amounts are quoted strings or integers, never floats, so that no
value is rounded before it reaches the levy. docs/tax.md describes the format;
errors raise RuleError naming the place, e.g. `levies[2].rate`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn

import yaml

from billing.computed import RuleError
from core.money import MoneyError, parse_dollars

FORMAT_VERSION = 1
JURISDICTION_KINDS = ("city", "county", "school", "special", "state")
#: How a rate is expressed: per $1,000 of value, percent of value, per $100 of value.
BASES = ("mills", "percent", "per_100")
EXEMPTION_KINDS = ("fixed", "percent")
#: The steps at which exemptions apply, in the order they apply.
STEPS = ("market", "assessed", "taxable")
#: invoice_line.unit_rate keeps 8 decimal places; a finer rate could not be shown as billed.
RATE_PLACES = 8
MAX_INSTALLMENTS = 12
#: The most a rate may be in each basis: 100% of the value.
_RATE_LIMITS = {"mills": Decimal(1000), "percent": Decimal(100), "per_100": Decimal(100)}
_CODE_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_LEVY_KEYS = frozenset({"jurisdiction", "name", "kind", "rate", "basis", "exemptions"})
_EXEMPTION_KEYS = frozenset({"code", "name", "kind", "amount", "eligibility", "applies_to"})
_EXEMPTION_KEYS |= {"minimum", "maximum", "above"}
_TOP_KEYS = frozenset({"version", "tax_year", "name", "equalization_factor", "class_ratios"})
_TOP_KEYS |= {"exemptions", "levies", "installments", "discounts"}


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
    """Paying the whole year's tax by pay_by takes percent off (e.g. Florida's 4% in November)."""

    pay_by: date
    percent: Decimal


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


def _fail(place: str, message: str) -> NoReturn:
    """Raise the error for one place in the document."""
    raise RuleError(f"{place}: {message}")


def _show(value: Any) -> str:
    """A value as the message quotes it."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _mapping(value: Any, place: str, allowed: Iterable[str], required: Iterable[str]) -> Mapping:
    """A mapping with only the allowed keys and all the required ones."""
    if not isinstance(value, Mapping):
        _fail(place, "must be a mapping of keys to values")
    for key in value:
        if key not in allowed:
            _fail(place, f"unknown key {_show(key)}; allowed: {', '.join(sorted(allowed))}")
    for key in sorted(required):
        if key not in value:
            _fail(place, f"{key} is missing")
    return value


def _list(value: Any, place: str, least: int, most: int) -> list:
    """A list of least to most items."""
    if not isinstance(value, list):
        _fail(place, "must be a list")
    if not least <= len(value) <= most:
        _fail(place, f"must have {least} to {most} items, not {len(value)}")
    return value


def _text(value: Any, place: str, longest: int = 200) -> str:
    """A non-empty string, stripped."""
    if not isinstance(value, str) or not value.strip():
        _fail(place, f"{_show(value)} must be non-empty text")
    if len(value.strip()) > longest:
        _fail(place, f"must be at most {longest} characters")
    return value.strip()


def _code(value: Any, place: str) -> str:
    """A code: 1-32 lowercase letters, digits, '-' or '_'."""
    if not isinstance(value, str) or not _CODE_RE.fullmatch(value):
        _fail(place, f"{_show(value)} is not a code: use 1-32 lowercase letters, digits, '-', '_'")
    return value


def _choice(value: Any, choices: tuple[str, ...], place: str) -> str:
    """One of the named choices."""
    if value not in choices:
        _fail(place, f"{_show(value)} must be one of {', '.join(choices)}")
    return value


def _decimal(value: Any, place: str, low: Decimal, high: Decimal, places: int = 8) -> Decimal:
    """A number written as a string or an integer, with low < value <= high."""
    if isinstance(value, float):
        _fail(place, f'{value!r} is a float; quote it ("{value!r}") so it stays exact')
    if isinstance(value, bool) or not isinstance(value, int | str):
        _fail(place, f"{_show(value)} is not a number")
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        _fail(place, f"{_show(value)} is not a number")
    if not number.is_finite():
        _fail(place, f"{_show(value)} is not a number")
    if -number.as_tuple().exponent > places:  # type: ignore[operator]
        _fail(place, f"{_show(value)} has more than {places} decimal places")
    if not low < number <= high:
        _fail(place, f"{_show(value)} must be more than {low} and at most {high}")
    return number


def _dollars(value: Any, place: str) -> int:
    """An amount of dollars ("25,000" or 25000) as cents, not negative."""
    if isinstance(value, float):
        _fail(place, f'{value!r} is a float; quote it ("{value!r}") so it stays exact')
    if isinstance(value, bool) or not isinstance(value, int | str):
        _fail(place, f"{_show(value)} is not an amount of dollars")
    if isinstance(value, int):
        cents = value * 100
    else:
        try:
            cents = parse_dollars(value)
        except MoneyError as error:
            _fail(place, str(error))
    if cents < 0:
        _fail(place, f"{_show(value)} must not be negative")
    return cents


def _date(value: Any, place: str) -> date:
    """A calendar date: YAML's date or an ISO 'YYYY-MM-DD' string."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    _fail(place, f"{_show(value)} is not a date (YYYY-MM-DD)")


def _int(value: Any, place: str, low: int, high: int) -> int:
    """A whole number between low and high."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _fail(place, f"{_show(value)} must be a whole number from {low} to {high}")
    return value


def _flags(value: Any, place: str) -> tuple[str, ...]:
    """Eligibility: one flag or a list of flags, each a code."""
    items = [value] if isinstance(value, str) else _list(value, place, 1, 8)
    flags = tuple(
        _code(item, f"{place}[{i}]" if len(items) > 1 else place) for i, item in enumerate(items)
    )
    if len(set(flags)) != len(flags):
        _fail(place, "names a flag twice")
    return flags


def _parse_ratios(value: Any, place: str) -> dict[str, Decimal]:
    """Property class -> assessment ratio, at least one class."""
    if not isinstance(value, Mapping) or not value:
        _fail(place, "must map each property class to its assessment ratio")
    ratios: dict[str, Decimal] = {}
    for key, ratio in value.items():
        if not isinstance(key, str):
            _fail(place, f'class {key!r} is not text; quote it ("{key}")')
        ratios[_code(key, f"{place}.{key}")] = _decimal(
            ratio, f"{place}.{key}", Decimal(0), Decimal(2)
        )
    return ratios


def _percent_limits(item: Mapping, place: str, kind: str) -> tuple[int | None, int | None]:
    """The minimum and maximum of a percent exemption."""
    limits = []
    for key in ("minimum", "maximum"):
        if key in item and kind != "percent":
            _fail(f"{place}.{key}", "applies to percent exemptions only")
        limits.append(_dollars(item[key], f"{place}.{key}") if key in item else None)
    low, high = limits
    if low is not None and high is not None and low > high:
        _fail(f"{place}.minimum", "is more than the maximum")
    return low, high


def _parse_exemption(item: Any, place: str) -> Exemption:
    """One exemption: a fixed amount of value or a percent of it."""
    item = _mapping(item, place, _EXEMPTION_KEYS, {"code", "name", "kind", "amount", "eligibility"})
    kind = _choice(item["kind"], EXEMPTION_KINDS, f"{place}.kind")
    amount_cents = percent = None
    if kind == "fixed":
        amount_cents = _dollars(item["amount"], f"{place}.amount")
        if amount_cents == 0:
            _fail(f"{place}.amount", "must be more than 0")
    else:
        percent = _decimal(item["amount"], f"{place}.amount", Decimal(0), Decimal(100))
    minimum, maximum = _percent_limits(item, place, kind)
    return Exemption(
        code=_code(item["code"], f"{place}.code"),
        name=_text(item["name"], f"{place}.name"),
        kind=kind,
        eligibility=_flags(item["eligibility"], f"{place}.eligibility"),
        applies_to=_choice(item.get("applies_to", "assessed"), STEPS, f"{place}.applies_to"),
        amount_cents=amount_cents,
        percent=percent,
        minimum_cents=minimum,
        maximum_cents=maximum,
        above_cents=_dollars(item["above"], f"{place}.above") if "above" in item else 0,
    )


def _parse_levy(item: Any, place: str, exemption_codes: set[str]) -> Levy:
    """One jurisdiction's levy; its exemptions must be defined above."""
    item = _mapping(item, place, _LEVY_KEYS, {"jurisdiction", "name", "kind", "rate", "basis"})
    basis = _choice(item["basis"], BASES, f"{place}.basis")
    honoured = None
    if "exemptions" in item:
        codes = _list(item["exemptions"], f"{place}.exemptions", 0, 64)
        honoured = tuple(_code(code, f"{place}.exemptions[{i}]") for i, code in enumerate(codes))
        for i, code in enumerate(honoured):
            if code not in exemption_codes:
                _fail(f"{place}.exemptions[{i}]", f"no exemption has the code {_show(code)}")
        if len(set(honoured)) != len(honoured):
            _fail(f"{place}.exemptions", "names an exemption twice")
    return Levy(
        jurisdiction=_code(item["jurisdiction"], f"{place}.jurisdiction"),
        jurisdiction_name=_text(item["name"], f"{place}.name"),
        jurisdiction_kind=_choice(item["kind"], JURISDICTION_KINDS, f"{place}.kind"),
        rate=_decimal(item["rate"], f"{place}.rate", Decimal(0), _RATE_LIMITS[basis], RATE_PLACES),
        basis=basis,
        exemptions=honoured,
    )


def _unique(codes: list[str], place: str, field: str) -> None:
    """Refuse a code used twice in one list."""
    seen: dict[str, int] = {}
    for index, code in enumerate(codes):
        if code in seen:
            _fail(
                f"{place}[{index}].{field}",
                f"{_show(code)} is already used by {place}[{seen[code]}]",
            )
        seen[code] = index


def _parse_installments(value: Any, tax_year: int) -> tuple[InstallmentDue, ...]:
    """1-12 due dates in order, with shares adding up to 100 or none at all."""
    items = _list(value, "installments", 1, MAX_INSTALLMENTS)
    dues = []
    for index, item in enumerate(items):
        place = f"installments[{index}]"
        item = _mapping(item, place, {"due", "share"}, {"due"})
        due = _date(item["due"], f"{place}.due")
        if not tax_year <= due.year <= tax_year + 2:
            _fail(f"{place}.due", f"{due} is not within tax year {tax_year} to {tax_year + 2}")
        if dues and due <= dues[-1].due_date:
            _fail(f"{place}.due", f"{due} is not after the installment before it")
        share = (
            _decimal(item["share"], f"{place}.share", Decimal(0), Decimal(100))
            if "share" in item
            else None
        )
        dues.append(InstallmentDue(index + 1, due, share))
    shares = [due.share for due in dues]
    if any(share is not None for share in shares):
        if any(share is None for share in shares):
            _fail("installments", "give a share for every installment or for none")
        if sum(shares) != 100:  # type: ignore[arg-type]
            _fail("installments", f"the shares add up to {sum(shares)}, not 100")  # type: ignore[arg-type]
    return tuple(dues)


def _parse_discounts(value: Any, last_due: date) -> tuple[DiscountStep, ...]:
    """Early-payment discounts, pay-by dates in order, none after the last due date."""
    steps: list[DiscountStep] = []
    for index, item in enumerate(_list(value, "discounts", 0, 12)):
        place = f"discounts[{index}]"
        item = _mapping(item, place, {"pay_by", "percent"}, {"pay_by", "percent"})
        pay_by = _date(item["pay_by"], f"{place}.pay_by")
        if steps and pay_by <= steps[-1].pay_by:
            _fail(f"{place}.pay_by", f"{pay_by} is not after the discount before it")
        if pay_by > last_due:
            _fail(
                f"{place}.pay_by", f"{pay_by} is after the last installment's due date {last_due}"
            )
        percent = _decimal(item["percent"], f"{place}.percent", Decimal(0), Decimal(99))
        steps.append(DiscountStep(pay_by, percent))
    return tuple(steps)


def _parse_exemptions(value: Any) -> tuple[Exemption, ...]:
    """The exemptions, codes unique."""
    exemptions = tuple(
        _parse_exemption(item, f"exemptions[{i}]")
        for i, item in enumerate(_list(value, "exemptions", 0, 64))
    )
    _unique([e.code for e in exemptions], "exemptions", "code")
    return exemptions


def _parse_levies(value: Any, exemptions: tuple[Exemption, ...]) -> tuple[Levy, ...]:
    """The levies, jurisdictions unique; every exemption must be honoured by some levy."""
    codes = {e.code for e in exemptions}
    levies = tuple(
        _parse_levy(item, f"levies[{i}]", codes)
        for i, item in enumerate(_list(value, "levies", 1, 64))
    )
    _unique([levy.jurisdiction for levy in levies], "levies", "jurisdiction")
    for index, exemption in enumerate(exemptions):
        if not any(levy.honours(exemption.code) for levy in levies):
            _fail(f"exemptions[{index}]", f"no levy honours {_show(exemption.code)}")
    return levies


def parse_levy(document: dict) -> TaxYearSpec:
    """Validate a levy document and return the tax year's spec."""
    document = _mapping(
        document,
        "document",
        _TOP_KEYS,
        {"version", "tax_year", "class_ratios", "levies", "installments"},
    )
    if isinstance(document["version"], bool) or document["version"] != FORMAT_VERSION:
        _fail("version", f"{_show(document['version'])} must be {FORMAT_VERSION}")
    tax_year = _int(document["tax_year"], "tax_year", 1900, 2200)
    class_ratios = _parse_ratios(document["class_ratios"], "class_ratios")
    exemptions = _parse_exemptions(document.get("exemptions", []))
    levies = _parse_levies(document["levies"], exemptions)
    installments = _parse_installments(document["installments"], tax_year)
    return TaxYearSpec(
        tax_year=tax_year,
        class_ratios=class_ratios,
        levies=levies,
        installments=installments,
        exemptions=exemptions,
        discounts=_parse_discounts(document.get("discounts", []), installments[-1].due_date),
        equalization_factor=_decimal(
            document.get("equalization_factor", "1"), "equalization_factor", Decimal(0), Decimal(10)
        ),
        name=_text(document["name"], "name") if "name" in document else "",
    )


def load_levy_file(path: str | Path) -> TaxYearSpec:
    """Read a .json, .yaml or .yml levy file; errors name the file and the place in it."""
    path = Path(path)
    if path.suffix not in (".json", ".yaml", ".yml"):
        raise RuleError(f"{path.name}: a levy file ends in .json, .yaml or .yml")
    try:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as error:
        raise RuleError(f"{path.name}: cannot be read as a levy: {error}") from None
    try:
        return parse_levy(document)
    except RuleError as error:
        raise RuleError(f"{path.name}: {error}") from None


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
        "name": exemption.name,
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
    return item


def _levy_document(levy: Levy) -> dict:
    """One levy as the document writes it."""
    item: dict[str, Any] = {
        "jurisdiction": levy.jurisdiction,
        "name": levy.jurisdiction_name,
        "kind": levy.jurisdiction_kind,
        "rate": _number(levy.rate),
        "basis": levy.basis,
    }
    if levy.exemptions is not None:
        item["exemptions"] = list(levy.exemptions)
    return item


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
        for step in spec.discounts
    ]
    return document

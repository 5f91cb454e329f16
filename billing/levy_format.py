"""A tax year's levies as data: parse and validate a levy document (billing/levy_spec.py holds
the values it gives and writes them back).

Pure module: a dict (from JSON or YAML) in, frozen dataclasses out. Rates,
ratios and amounts are quoted strings or integers, never floats, so that no
value is rounded before it reaches the levy. docs/tax.md describes the format;
errors raise RuleError naming the place, e.g. `levies[2].rate`. It is a little over 500
lines because the levy, its exemptions and its non-ad valorem lines and credits share one
set of field readers that name the place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NoReturn

import yaml

from billing.computed import RuleError
from billing.levy_estimate import KEY as ESTIMATE_KEY
from billing.levy_estimate import parse_estimate
from billing.levy_spec import (
    BASES,
    EXEMPTION_KINDS,
    FORMAT_VERSION,
    JURISDICTION_KINDS,
    STEPS,
    DiscountStep,
    Exemption,
    FlatCharge,
    InstallmentDue,
    Levy,
    SpecialAssessment,
    TaxCredit,
    TaxYearSpec,
)
from billing.words import parse_text
from core.money import MoneyError, parse_dollars

#: invoice_line.unit_rate keeps 8 decimal places; a finer rate could not be shown as billed.
RATE_PLACES = 8
MAX_INSTALLMENTS = 12
#: The most a rate may be in each basis: 100% of the value.
_RATE_LIMITS = {"mills": Decimal(1000), "percent": Decimal(100), "per_100": Decimal(100)}
_CODE_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_LEVY_KEYS = frozenset({"jurisdiction", "name", "kind", "rate", "basis", "exemptions"})
_EXEMPTION_KEYS = frozenset({"code", "name", "kind", "amount", "eligibility", "applies_to"})
_EXEMPTION_KEYS |= {"minimum", "maximum", "above", "any_flags"}
_TOP_KEYS = frozenset({"version", "tax_year", "name", "equalization_factor", "class_ratios"})
_TOP_KEYS |= {"exemptions", "levies", "installments", "discounts"}
_TOP_KEYS |= {"discount_account", "charges", "special_assessments", "credits"}
_TOP_KEYS |= {ESTIMATE_KEY}
_GL_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.-]{0,19}")
#: The most a per-parcel charge, a credit or one parcel's special assessment may be: $1,000,000.
_MOST_CENTS = 100_000_000


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


def _exemption_flags(item: Mapping, place: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """An exemption's flags: eligibility (all needed) and any_flags (at least one needed, two
    or more); one of the two must be given, and no flag in both."""
    if "eligibility" not in item and "any_flags" not in item:
        _fail(f"{place}.eligibility", "is required (or any_flags)")
    flags = item.get("eligibility", [])
    every = () if flags == [] and "any_flags" in item else _flags(flags, f"{place}.eligibility")
    either: tuple[str, ...] = ()
    if "any_flags" in item:
        value = item["any_flags"]
        if not isinstance(value, list) or len(value) < 2:
            _fail(f"{place}.any_flags", "must be a list of two or more flags (either one will do)")
        either = _flags(value, f"{place}.any_flags")
        both = sorted(set(every) & set(either))
        if both:
            _fail(f"{place}.any_flags", f"{_show(both[0])} is also in eligibility")
    return every, either


def _parse_exemption(item: Any, place: str) -> Exemption:
    """One exemption: a fixed amount of value or a percent of it."""
    item = _mapping(item, place, _EXEMPTION_KEYS, {"code", "name", "kind", "amount"})
    eligibility, any_flags = _exemption_flags(item, place)
    kind = _choice(item["kind"], EXEMPTION_KINDS, f"{place}.kind")
    amount_cents = percent = None
    if kind == "fixed":
        amount_cents = _dollars(item["amount"], f"{place}.amount")
        if amount_cents == 0:
            _fail(f"{place}.amount", "must be more than 0")
    else:
        percent = _decimal(item["amount"], f"{place}.amount", Decimal(0), Decimal(100))
    minimum, maximum = _percent_limits(item, place, kind)
    name, translations = parse_text(item["name"], f"{place}.name", _text)
    return Exemption(
        code=_code(item["code"], f"{place}.code"),
        name=name,
        name_translations=translations,
        kind=kind,
        eligibility=eligibility,
        any_flags=any_flags,
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
    name, translations = parse_text(item["name"], f"{place}.name", _text)
    return Levy(
        jurisdiction=_code(item["jurisdiction"], f"{place}.jurisdiction"),
        jurisdiction_name=name,
        name_translations=translations,
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


def _parse_discounts(
    value: Any, installments: tuple[InstallmentDue, ...]
) -> tuple[DiscountStep, ...]:
    """Early-payment discounts, pay-by dates in order: for the whole bill (none after the last
    due date) or each for one installment (none after that installment's due date)."""
    steps: list[DiscountStep] = []
    for index, item in enumerate(_list(value, "discounts", 0, 12)):
        place = f"discounts[{index}]"
        item = _mapping(item, place, {"pay_by", "percent", "installment"}, {"pay_by", "percent"})
        pay_by = _date(item["pay_by"], f"{place}.pay_by")
        if steps and pay_by <= steps[-1].pay_by:
            _fail(f"{place}.pay_by", f"{pay_by} is not after the discount before it")
        number = 0
        if "installment" in item:
            number = _int(item["installment"], f"{place}.installment", 1, len(installments))
        last_due = installments[number - 1 if number else -1].due_date
        if pay_by > last_due:
            whose = f"installment {number}'s" if number else "the last installment's"
            _fail(f"{place}.pay_by", f"{pay_by} is after {whose} due date {last_due}")
        percent = _decimal(item["percent"], f"{place}.percent", Decimal(0), Decimal(99))
        steps.append(DiscountStep(pay_by, percent, number))
    if len({step.installment == 0 for step in steps}) > 1:
        _fail("discounts", "give an installment for every discount or for none")
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


def _gl_account(value: Any, place: str) -> str:
    """A GL account code as the chart writes it ("4210"); the service checks that it exists."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _GL_RE.fullmatch(value.strip()):
        _fail(place, f'{_show(value)} is not a GL account code (e.g. "4210")')
    return value.strip()


def _some_dollars(value: Any, place: str) -> int:
    """An amount of dollars more than 0 and at most $1,000,000, as cents."""
    cents = _dollars(value, place)
    if not 0 < cents <= _MOST_CENTS:
        _fail(place, f"{_show(value)} must be more than 0 and at most 1,000,000 dollars")
    return cents


def _parse_charge(item: Any, place: str, classes: dict) -> FlatCharge:
    """A flat per-parcel charge: an amount for each property class it applies to."""
    item = _mapping(item, place, {"code", "name", "gl_account", "amounts"}, {"code", "name"})
    for key in ("gl_account", "amounts"):
        if key not in item:
            _fail(place, f"{key} is missing")
    amounts = item["amounts"]
    if not isinstance(amounts, Mapping) or not amounts:
        _fail(f"{place}.amounts", "must map each property class to its amount per parcel")
    by_class = {}
    for key, amount in amounts.items():
        if not isinstance(key, str) or key not in classes:
            _fail(f"{place}.amounts", f"{_show(key)} is not a property class of class_ratios")
        by_class[key] = _some_dollars(amount, f"{place}.amounts.{key}")
    name, translations = parse_text(item["name"], f"{place}.name", _text)
    return FlatCharge(
        code=_code(item["code"], f"{place}.code"),
        name=name,
        name_translations=translations,
        gl_account=_gl_account(item["gl_account"], f"{place}.gl_account"),
        amounts=by_class,
    )


def _assessed_parcels(value: Any, place: str) -> dict[str, Decimal]:
    """The parcels of a special assessment: parcel number -> units, each parcel once."""
    parcels: dict[str, Decimal] = {}
    for index, entry in enumerate(_list(value, place, 1, 100_000)):
        where = f"{place}[{index}]"
        entry = _mapping(entry, where, {"parcel", "units"}, {"parcel", "units"})
        number = _text(entry["parcel"], f"{where}.parcel", 40)
        if number in parcels:
            _fail(f"{where}.parcel", f"{_show(number)} is listed twice")
        parcels[number] = _decimal(entry["units"], f"{where}.units", Decimal(0), Decimal(10**6), 4)
    return parcels


def _parse_assessment(item: Any, place: str) -> SpecialAssessment:
    """A special assessment: units x rate on the parcels it lists."""
    keys = {"code", "name", "gl_account", "rate", "unit", "parcels"}
    item = _mapping(item, place, keys, keys)
    name, translations = parse_text(item["name"], f"{place}.name", _text)
    return SpecialAssessment(
        code=_code(item["code"], f"{place}.code"),
        name=name,
        name_translations=translations,
        gl_account=_gl_account(item["gl_account"], f"{place}.gl_account"),
        rate=_decimal(item["rate"], f"{place}.rate", Decimal(0), Decimal(10**6), 4),
        unit=_text(item["unit"], f"{place}.unit", 24),
        parcels=_assessed_parcels(item["parcels"], f"{place}.parcels"),
    )


#: A credit's rate may be per $1,000 or per $100 of value, at most 100 per $1,000 (10%).
_CREDIT_RATE_LIMITS = {"mills": Decimal(100), "per_100": Decimal(10)}


def _credit_measure(item: Mapping, place: str, levies: tuple[Levy, ...]) -> dict:
    """How a credit is measured: exactly one of amount (dollars), rate (with basis) or percent
    (of its levies' tax); levies (the jurisdictions it is computed on) only for the last two."""
    given = [key for key in ("amount", "rate", "percent") if key in item]
    if len(given) != 1:
        _fail(place, "give exactly one of amount, rate (with basis) or percent")
    measure: dict[str, Any] = {"amount_cents": None}
    if "basis" in item and given != ["rate"]:
        _fail(f"{place}.basis", "applies to a credit given by a rate only")
    if given == ["amount"]:
        if "levies" in item:
            _fail(f"{place}.levies", "applies to a credit given by a rate or a percent only")
        measure["amount_cents"] = _some_dollars(item["amount"], f"{place}.amount")
        return measure
    if given == ["rate"]:
        if "basis" not in item:
            _fail(f"{place}.basis", "is required with a rate: mills or per_100")
        basis = _choice(item["basis"], tuple(_CREDIT_RATE_LIMITS), f"{place}.basis")
        high = _CREDIT_RATE_LIMITS[basis]
        measure |= {
            "basis": basis,
            "rate": _decimal(item["rate"], f"{place}.rate", Decimal(0), high),
        }
    else:
        measure["percent"] = _decimal(item["percent"], f"{place}.percent", Decimal(0), Decimal(100))
    if "levies" in item:
        known = {levy.jurisdiction for levy in levies}
        codes = _list(item["levies"], f"{place}.levies", 1, 64)
        for index, code in enumerate(codes):
            if _code(code, f"{place}.levies[{index}]") not in known:
                _fail(f"{place}.levies[{index}]", f"no levy for jurisdiction {_show(code)}")
            if code in codes[:index]:
                _fail(f"{place}.levies[{index}]", f"names {_show(code)} twice")
        measure["levies"] = tuple(codes)
    return measure


def _parse_credit(item: Any, place: str, levies: tuple[Levy, ...] = ()) -> TaxCredit:
    """A credit against the tax, paid by the state: a fixed amount for eligible parcels, a rate
    on their taxable value or a percent of their tax."""
    keys = {"code", "name", "receivable_account", "amount", "eligibility"}
    keys |= {"rate", "basis", "percent", "levies"}
    item = _mapping(item, place, keys, {"code", "name", "receivable_account"})
    name, translations = parse_text(item["name"], f"{place}.name", _text)
    flags = item.get("eligibility", [])
    return TaxCredit(
        code=_code(item["code"], f"{place}.code"),
        name=name,
        name_translations=translations,
        receivable_account=_gl_account(item["receivable_account"], f"{place}.receivable_account"),
        eligibility=() if flags == [] else _flags(flags, f"{place}.eligibility"),
        **_credit_measure(item, place, levies),
    )


def _parse_lines(document: Mapping, classes: dict, levies: tuple[Levy, ...]) -> dict:
    """The charges, special assessments and credits; codes unique among them and the levies."""
    found = {
        "charges": tuple(
            _parse_charge(item, f"charges[{i}]", classes)
            for i, item in enumerate(_list(document.get("charges", []), "charges", 0, 64))
        ),
        "special_assessments": tuple(
            _parse_assessment(item, f"special_assessments[{i}]")
            for i, item in enumerate(
                _list(document.get("special_assessments", []), "special_assessments", 0, 64)
            )
        ),
        "credits": tuple(
            _parse_credit(item, f"credits[{i}]", levies)
            for i, item in enumerate(_list(document.get("credits", []), "credits", 0, 64))
        ),
    }
    used = {levy.jurisdiction: "levies" for levy in levies}
    for key, items in found.items():
        for index, item in enumerate(items):
            if item.code in used:
                _fail(
                    f"{key}[{index}].code",
                    f"{_show(item.code)} is already used in {used[item.code]}",
                )
            used[item.code] = key
    return found


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
    discount_account = (
        _gl_account(document["discount_account"], "discount_account")
        if "discount_account" in document
        else None
    )
    discounts = _parse_discounts(document.get("discounts", []), installments)
    estimate = None
    if ESTIMATE_KEY in document:
        estimate = parse_estimate(
            document[ESTIMATE_KEY],
            tax_year,
            installments,
            discounts,
            mapping=_mapping,
            read_date=_date,
            read_decimal=_decimal,
        )
    return TaxYearSpec(
        discount_account=discount_account,
        estimated_first=estimate,
        **_parse_lines(document, class_ratios, levies),
        tax_year=tax_year,
        class_ratios=class_ratios,
        levies=levies,
        installments=installments,
        exemptions=exemptions,
        discounts=discounts,
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

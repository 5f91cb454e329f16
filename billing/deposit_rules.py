"""Deposit rules as data: who must pay a deposit, how much, when it is collected, when and how
it goes back, and the interest an ordinance sets.

Pure module: a dict (from JSON or YAML) in, frozen dataclasses out; and the arithmetic of the
rules on plain values (the amount from the last bills, interest for a span of days). Dollar
amounts and percentages are quoted strings, never floats. docs/deposits.md describes the
format; errors raise RuleError naming the place, e.g. `versions[0].amount.multiple`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

import yaml

from billing.computed import RuleError
from core.money import MoneyError, format_cents, parse_dollars, plain_decimal, to_cents

FORMAT_VERSION = 1
COLLECT = ("first_bill", "before_service")
REFUND_METHODS = ("credit", "check", "card")
#: The account flags that make an account a renter's or a business's (docs/accounts.md).
RENTER_FLAG = "renter"
COMMERCIAL_FLAG = "commercial"
_VERSION_KEYS = frozenset({"effective", "who", "amount", "collect", "refund", "interest"})
_WHO_KEYS = frozenset({"renters", "commercial", "late_payments"})
_AMOUNT_KEYS = frozenset({"fixed", "average_bill"})


def _fail(place: str, message: str) -> NoReturn:
    raise RuleError(f"{place}: {message}")


@dataclass(frozen=True)
class LateTrigger:
    """A deposit is required after `count` late payments within `months` months."""

    count: int
    months: int


@dataclass(frozen=True)
class AverageBill:
    """A deposit of `multiple` times the average of the last `bills` bills, at least `minimum`."""

    multiple: Decimal
    bills: int
    minimum_cents: int = 0


@dataclass(frozen=True)
class DepositRule:
    """One version of the deposit rules, in force from `effective` until the next version."""

    effective: date
    renters: bool
    commercial: bool
    late: LateTrigger | None
    fixed_cents: int | None
    average: AverageBill | None
    collect: str
    refund_after_months: int
    refund_method: str
    #: Yearly interest in percent where an ordinance sets it (None: no interest).
    interest_percent: Decimal | None
    ordinance: str | None


@dataclass(frozen=True)
class DepositRules:
    """Every version of the deposit rules, oldest first."""

    versions: tuple[DepositRule, ...]

    def on(self, day: date) -> DepositRule | None:
        """The version in force on a day, or None before the first."""
        found = None
        for version in self.versions:
            if version.effective <= day:
                found = version
        return found


def read_rules_file(path: str | Path) -> dict:
    """A deposit rules document from a .json, .yaml or .yml file."""
    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith(".json"):
        return json.loads(text)
    return yaml.safe_load(text)


def _mapping(value: Any, place: str, allowed: frozenset[str]) -> Mapping:
    if not isinstance(value, Mapping):
        _fail(place, "must be a mapping")
    unknown = sorted(set(value) - allowed)
    if unknown:
        _fail(f"{place}.{unknown[0]}", f"unknown key; expected one of {', '.join(sorted(allowed))}")
    return value


def _whole(value: Any, place: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        _fail(place, f"must be a whole number from {low} to {high}, not {value!r}")
    return value


def _dollars(value: Any, place: str) -> int:
    if not isinstance(value, str):
        _fail(place, f'write dollars as a quoted string such as "150.00", not {value!r}')
    try:
        cents = parse_dollars(value)
    except MoneyError as error:
        _fail(place, str(error))
    if cents < 0:
        _fail(place, "must not be negative")
    return cents


def _decimal(value: Any, place: str, high: Decimal) -> Decimal:
    if not isinstance(value, str):
        _fail(place, f'write the number as a quoted string such as "2", not {value!r}')
    try:
        number = plain_decimal(value, signed=False)
    except MoneyError as error:
        _fail(place, str(error))
    if not Decimal(0) < number <= high:
        _fail(place, f"must be more than 0 and at most {high}")
    return number


def _date(value: Any, place: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        _fail(place, f"must be a date YYYY-MM-DD, not {value!r}")


def _flag(value: Any, place: str) -> bool:
    if not isinstance(value, bool):
        _fail(place, f"must be true or false, not {value!r}")
    return value


def _who(value: Any, place: str) -> tuple[bool, bool, LateTrigger | None]:
    who = _mapping(value, place, _WHO_KEYS)
    late = None
    if "late_payments" in who:
        spec = _mapping(
            who["late_payments"], f"{place}.late_payments", frozenset({"count", "months"})
        )
        late = LateTrigger(
            _whole(spec.get("count"), f"{place}.late_payments.count", 1, 24),
            _whole(spec.get("months"), f"{place}.late_payments.months", 1, 60),
        )
    renters = _flag(who.get("renters", False), f"{place}.renters")
    commercial = _flag(who.get("commercial", False), f"{place}.commercial")
    if not (renters or commercial or late):
        _fail(place, "name who must pay a deposit: renters, commercial or late_payments")
    return renters, commercial, late


def _amount(value: Any, place: str) -> tuple[int | None, AverageBill | None]:
    amount = _mapping(value, place, _AMOUNT_KEYS)
    if len(amount) != 1:
        _fail(place, "give exactly one of fixed or average_bill")
    if "fixed" in amount:
        cents = _dollars(amount["fixed"], f"{place}.fixed")
        if cents == 0:
            _fail(f"{place}.fixed", "must be more than $0.00")
        return cents, None
    where = f"{place}.average_bill"
    spec = _mapping(amount["average_bill"], where, frozenset({"multiple", "bills", "minimum"}))
    return None, AverageBill(
        multiple=_decimal(spec.get("multiple"), f"{where}.multiple", Decimal(12)),
        bills=_whole(spec.get("bills"), f"{where}.bills", 1, 36),
        minimum_cents=_dollars(spec.get("minimum", "0"), f"{where}.minimum"),
    )


def _version(value: Any, place: str) -> DepositRule:
    version = _mapping(value, place, _VERSION_KEYS)
    for key in ("effective", "who", "amount", "collect", "refund"):
        if key not in version:
            _fail(f"{place}.{key}", "is required")
    renters, commercial, late = _who(version["who"], f"{place}.who")
    fixed, average = _amount(version["amount"], f"{place}.amount")
    if version["collect"] not in COLLECT:
        _fail(f"{place}.collect", f"must be one of {', '.join(COLLECT)}")
    refund = _mapping(version["refund"], f"{place}.refund", frozenset({"after_months", "method"}))
    method = refund.get("method")
    if method not in REFUND_METHODS:
        _fail(f"{place}.refund.method", f"must be one of {', '.join(REFUND_METHODS)}")
    percent, ordinance = None, None
    if version.get("interest") is not None:
        interest = _mapping(
            version["interest"], f"{place}.interest", frozenset({"annual_percent", "ordinance"})
        )
        percent = _decimal(
            interest.get("annual_percent"), f"{place}.interest.annual_percent", Decimal(25)
        )
        ordinance = interest.get("ordinance")
        if not isinstance(ordinance, str) or not ordinance.strip():
            _fail(f"{place}.interest.ordinance", "name the ordinance that sets the rate")
    return DepositRule(
        effective=_date(version["effective"], f"{place}.effective"),
        renters=renters,
        commercial=commercial,
        late=late,
        fixed_cents=fixed,
        average=average,
        collect=version["collect"],
        refund_after_months=_whole(
            refund.get("after_months"), f"{place}.refund.after_months", 1, 120
        ),
        refund_method=method,
        interest_percent=percent,
        ordinance=ordinance.strip() if ordinance else None,
    )


def parse_deposit_rules(document: Any) -> DepositRules:
    """Validate a deposit rules document in full; RuleError names the first place that is wrong."""
    root = _mapping(document, "rules", frozenset({"format", "versions"}))
    if root.get("format", FORMAT_VERSION) != FORMAT_VERSION:
        _fail("format", f"must be {FORMAT_VERSION}")
    versions = root.get("versions")
    if not isinstance(versions, Sequence) or isinstance(versions, str) or not versions:
        _fail("versions", "must be a list of at least one version")
    parsed = tuple(_version(v, f"versions[{i}]") for i, v in enumerate(versions))
    for i in range(1, len(parsed)):
        if parsed[i].effective <= parsed[i - 1].effective:
            _fail(f"versions[{i}].effective", "versions must be in order of effective date")
    return DepositRules(parsed)


def rules_to_document(rules: DepositRules) -> dict:
    """The canonical document of parsed rules (what is stored; parses back to the same rules)."""
    versions = []
    for rule in rules.versions:
        who: dict[str, Any] = {"renters": rule.renters, "commercial": rule.commercial}
        if rule.late:
            who["late_payments"] = {"count": rule.late.count, "months": rule.late.months}
        if rule.fixed_cents is not None:
            amount: dict[str, Any] = {"fixed": _plain(rule.fixed_cents)}
        else:
            assert rule.average is not None
            amount = {
                "average_bill": {
                    "multiple": str(rule.average.multiple),
                    "bills": rule.average.bills,
                    "minimum": _plain(rule.average.minimum_cents),
                }
            }
        version = {
            "effective": rule.effective.isoformat(),
            "who": who,
            "amount": amount,
            "collect": rule.collect,
            "refund": {"after_months": rule.refund_after_months, "method": rule.refund_method},
        }
        if rule.interest_percent is not None:
            version["interest"] = {
                "annual_percent": str(rule.interest_percent),
                "ordinance": rule.ordinance,
            }
        versions.append(version)
    return {"format": FORMAT_VERSION, "versions": versions}


def _plain(cents: int) -> str:
    """Cents as the plain dollars a document writes ("150.00")."""
    return format_cents(cents, symbol="").replace(",", "")


def reasons_required(
    rule: DepositRule, *, flags: Sequence[str], late_payments: int
) -> tuple[str, ...]:
    """Why an account must pay a deposit under the rule: "renter", "commercial", "late_payments"."""
    reasons = []
    if rule.renters and RENTER_FLAG in flags:
        reasons.append("renter")
    if rule.commercial and COMMERCIAL_FLAG in flags:
        reasons.append("commercial")
    if rule.late is not None and late_payments >= rule.late.count:
        reasons.append("late_payments")
    return tuple(reasons)


def deposit_amount(rule: DepositRule, last_bills_cents: Sequence[int], rounding: str) -> int:
    """The deposit the rule asks for, given the account's last bills (newest first).

    A multiple of the average of up to `bills` last bills, rounded once, and never less than
    the rule's minimum (which is all a new account with no bills pays).
    """
    if rule.fixed_cents is not None:
        return rule.fixed_cents
    assert rule.average is not None
    bills = list(last_bills_cents)[: rule.average.bills]
    if not bills:
        return rule.average.minimum_cents
    average = Decimal(sum(bills)) / Decimal(len(bills))
    cents = to_cents(average * rule.average.multiple, rounding)
    return max(cents, rule.average.minimum_cents)


def interest_cents(held_cents: int, annual_percent: Decimal, days: int, rounding: str) -> int:
    """Simple interest on what is held for a number of days, at a yearly percent, rounded once.

    NOTE: a year counts 365 days (the ordinances quoted in docs/deposits.md set simple yearly
    interest; none compounds within the year).
    """
    if days <= 0 or held_cents <= 0:
        return 0
    return to_cents(Decimal(held_cents) * annual_percent / 100 * days / 365, rounding)

"""The town's payment-plan rules as data: a document (JSON, YAML, the API's body or the clerks'
form) validated in full into one PlanRule version, and its loading (docs/arrangements.md,
"The rules").

    effective: "2026-01-01"
    classes: [utility]              # any of utility, tax, other
    min_down: {percent: "10", amount: "25.00"}
    max_installments: 6
    max_included: "5000.00"         # optional
    grace_days: 10
    pause: {penalties: true, reminders: true}
    residents_may_request: true

Dollar amounts and percentages are quoted strings, never floats; an error raises RuleError
naming the place, e.g. `min_down.percent`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, NoReturn

from sqlalchemy.orm import Session

from billing.computed import RuleError
from billing.models import PlanRule
from core.audit import Actor, record
from core.money import MoneyError, format_cents, parse_dollars, plain_decimal

GROUPS = ("utility", "tax", "other")
_KEYS = frozenset(
    {
        "effective",
        "classes",
        "min_down",
        "max_installments",
        "max_included",
        "grace_days",
        "pause",
        "residents_may_request",
    }
)


def _fail(place: str, message: str) -> NoReturn:
    raise RuleError(f"{place}: {message}")


def _whole(value: Any, place: str, low: int, high: int) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        _fail(place, f"must be a whole number from {low} to {high}, not {value!r}")
    return value


def _dollars(value: Any, place: str) -> int:
    if not isinstance(value, str):
        _fail(place, f'write dollars as a quoted string such as "25.00", not {value!r}')
    try:
        cents = parse_dollars(value)
    except MoneyError as error:
        _fail(place, str(error))
    if cents < 0:
        _fail(place, "must not be negative")
    return cents


def _flag(value: Any, place: str) -> bool:
    if not isinstance(value, bool):
        _fail(place, f"must be true or false, not {value!r}")
    return value


def _mapping(value: Any, place: str, allowed: frozenset[str]) -> Mapping:
    if not isinstance(value, Mapping):
        _fail(place, "must be a mapping")
    unknown = sorted(set(value) - allowed)
    if unknown:
        _fail(f"{place}.{unknown[0]}", f"unknown key; expected one of {', '.join(sorted(allowed))}")
    return value


def parse_plan_rule(document: Any) -> dict:
    """Validate a rule document in full; the PlanRule's fields, or RuleError naming the place."""
    root = _mapping(document, "rule", _KEYS)
    for key in ("effective", "classes", "max_installments", "grace_days"):
        if key not in root:
            _fail(key, "is required")
    try:
        effective = date.fromisoformat(str(root["effective"]))
    except ValueError:
        _fail("effective", f"must be a date YYYY-MM-DD, not {root['effective']!r}")
    classes = root["classes"]
    if not isinstance(classes, list) or not classes or any(c not in GROUPS for c in classes):
        _fail("classes", f"must be a list of at least one of {', '.join(GROUPS)}")
    down = _mapping(root.get("min_down", {}), "min_down", frozenset({"percent", "amount"}))
    percent = Decimal(0)
    if down.get("percent") is not None:
        try:
            percent = plain_decimal(str(down["percent"]), signed=False)
        except MoneyError as error:
            _fail("min_down.percent", str(error))
        if percent > 100:
            _fail("min_down.percent", "must be at most 100")
    pause = _mapping(root.get("pause", {}), "pause", frozenset({"penalties", "reminders"}))
    return {
        "effective": effective,
        "classes": sorted(set(classes), key=GROUPS.index),
        "min_down_percent": percent,
        "min_down_cents": _dollars(down.get("amount", "0"), "min_down.amount"),
        "max_installments": _whole(root["max_installments"], "max_installments", 1, 120),
        "max_included_cents": (
            _dollars(root["max_included"], "max_included")
            if root.get("max_included") not in (None, "")
            else None
        ),
        "grace_days": _whole(root["grace_days"], "grace_days", 0, 90),
        "pause_penalties": _flag(pause.get("penalties", True), "pause.penalties"),
        "pause_reminders": _flag(pause.get("reminders", True), "pause.reminders"),
        "residents_may_request": _flag(
            root.get("residents_may_request", True), "residents_may_request"
        ),
    }


def rule_to_document(rule: PlanRule) -> dict:
    """A stored version as the document that loads it again."""
    document: dict[str, Any] = {
        "effective": rule.effective.isoformat(),
        "classes": list(rule.classes),
        "min_down": {
            "percent": format(rule.min_down_percent.normalize(), "f"),
            "amount": format_cents(rule.min_down_cents, symbol="").replace(",", ""),
        },
        "max_installments": rule.max_installments,
        "grace_days": rule.grace_days,
        "pause": {"penalties": rule.pause_penalties, "reminders": rule.pause_reminders},
        "residents_may_request": rule.residents_may_request,
    }
    if rule.max_included_cents is not None:
        document["max_included"] = format_cents(rule.max_included_cents, symbol="").replace(",", "")
    return document


def load_plan_rule(
    session: Session, actor: Actor, document: dict, warnings: list[str] | None = None
) -> PlanRule:
    """Store a new version of the plan rules (validated in full); it applies from its effective
    day, and plans already made keep the version they were made under."""
    rule = PlanRule(recorded_by=actor.label, **parse_plan_rule(document))
    session.add(rule)
    session.flush()
    record(session, actor, "plan_rule.load", rule, after=rule_to_document(rule))
    return rule

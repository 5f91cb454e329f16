"""The town's utility shutoff rules as data: a document (JSON or YAML, the CLI's file) validated
in full into one ShutoffRule version, its loading, and the pure reckoning of the days a shutoff
may happen (docs/shutoff.md, "The rule").

    effective: "2026-01-01"
    min_past_due: "50.00"           # the least past-due utility balance
    min_days_past_due: 60           # how late its oldest part must be
    notice_lead_days: 7             # business days from the notice to the earliest shutoff
    final_notice_hours: 48          # the door hanger, so many hours before the shutoff
    reconnection_fee: "35.00"       # charged when the crew shuts the service off
    moratoria:                      # no shutoffs from starts to ends (both included)
      - {name: "Winter freeze", starts: "2026-12-15", ends: "2027-02-28"}
    appeal_days: 15                 # calendar days after a notice a resident may appeal it
    appeal_denial_lead_days: 5      # business days from a denial to the earliest shutoff
    tenant_notice_days_multi_unit: 10   # calendar days the tenants are told before a shutoff
    tenant_notice_days_detached: 15

Weekends, holidays and the town's closed days (billing.working_days) are never shutoff days.
Dollar amounts are quoted strings, never floats; an error raises RuleError naming the place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.computed import RuleError
from billing.models import ShutoffRule
from billing.rule_fields import day as _day
from billing.rule_fields import dollars as _dollars
from billing.rule_fields import fail as _fail
from billing.rule_fields import whole as _whole
from billing.working_days import WorkingCalendar
from core.audit import Actor, record
from core.money import format_cents

#: The optional keys of appeals and tenants' protections, with their defaults.
OPTIONAL = {
    "appeal_days": 15,
    "appeal_denial_lead_days": 5,
    "tenant_notice_days_multi_unit": 10,
    "tenant_notice_days_detached": 15,
}
_KEYS = frozenset(
    {
        "effective",
        "min_past_due",
        "min_days_past_due",
        "notice_lead_days",
        "final_notice_hours",
        "reconnection_fee",
        "moratoria",
    }
) | frozenset(OPTIONAL)
#: The longest time before a shutoff a door hanger may be left, in hours.
MAX_FINAL_HOURS = 240
#: The longest lead time a rule may give, in business days.
MAX_LEAD_DAYS = 60
#: The longest run of days with no shutoff the reckoning walks through (a refusal, not a loop).
_MAX_SEARCH = 400


def _moratoria(value: Any) -> list[dict]:
    if not isinstance(value, list):
        _fail("moratoria", "must be a list of {name, starts, ends}")
    found = []
    for index, item in enumerate(value):
        place = f"moratoria[{index}]"
        if not isinstance(item, Mapping) or set(item) != {"name", "starts", "ends"}:
            _fail(place, "must be a mapping with exactly name, starts and ends")
        name = item["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > 200 or "\n" in name:
            _fail(f"{place}.name", "must be a non-empty line of text (at most 200 characters)")
        starts = _day(item["starts"], f"{place}.starts")
        ends = _day(item["ends"], f"{place}.ends")
        if ends < starts:
            _fail(f"{place}.ends", f"{ends.isoformat()} is before its start {starts.isoformat()}")
        found.append({"name": name.strip(), "starts": starts.isoformat(), "ends": ends.isoformat()})
    return found


def parse_shutoff_rule(document: Any) -> dict:
    """Validate a rule document in full; the ShutoffRule's fields, or RuleError naming the place."""
    if not isinstance(document, Mapping):
        _fail("rule", "must be a mapping")
    unknown = sorted(set(document) - _KEYS)
    if unknown:
        _fail(unknown[0], f"unknown key; expected one of {', '.join(sorted(_KEYS))}")
    for key in ("effective", "min_past_due", "min_days_past_due", "notice_lead_days"):
        if key not in document:
            _fail(key, "is required")
    return {
        "effective": _day(document["effective"], "effective"),
        "min_past_due_cents": _dollars(document["min_past_due"], "min_past_due"),
        "min_days_past_due": _whole(document["min_days_past_due"], "min_days_past_due", 3650),
        "notice_lead_days": _whole(document["notice_lead_days"], "notice_lead_days", MAX_LEAD_DAYS),
        "final_notice_hours": _whole(
            document.get("final_notice_hours", 48), "final_notice_hours", MAX_FINAL_HOURS
        ),
        "reconnection_fee_cents": _dollars(
            document.get("reconnection_fee", "0.00"), "reconnection_fee"
        ),
        "moratoria": _moratoria(document.get("moratoria", [])),
        **{key: _whole(document.get(key, default), key, 90) for key, default in OPTIONAL.items()},
    }


def rule_to_document(rule: ShutoffRule) -> dict:
    """A stored version as the document that loads it again."""
    return {
        "effective": rule.effective.isoformat(),
        "min_past_due": format_cents(rule.min_past_due_cents, symbol="").replace(",", ""),
        "min_days_past_due": rule.min_days_past_due,
        "notice_lead_days": rule.notice_lead_days,
        "final_notice_hours": rule.final_notice_hours,
        "reconnection_fee": format_cents(rule.reconnection_fee_cents, symbol="").replace(",", ""),
        "moratoria": [dict(item) for item in rule.moratoria],
        **{key: getattr(rule, key) for key in OPTIONAL},
    }


def load_shutoff_rule(
    session: Session, actor: Actor, document: dict, warnings: list[str] | None = None
) -> ShutoffRule:
    """Store a new version of the shutoff rules (validated in full), in force from its effective
    day; audited. Flushes, never commits."""
    rule = ShutoffRule(recorded_by=actor.label, **parse_shutoff_rule(document))
    session.add(rule)
    session.flush()
    record(session, actor, "shutoff_rule.load", rule, after=rule_to_document(rule))
    return rule


def shutoff_rule_on(session: Session, day: date) -> ShutoffRule | None:
    """The version of the shutoff rules in force on a day (the newest loaded wins a tie)."""
    return session.scalar(
        sa.select(ShutoffRule)
        .where(ShutoffRule.effective <= day)
        .order_by(ShutoffRule.effective.desc(), ShutoffRule.id.desc())
        .limit(1)
    )


def no_shutoff_because(
    calendar: WorkingCalendar, moratoria: Sequence[Mapping], day: date
) -> str | None:
    """Why there may be no shutoff on a day (a weekend, a holiday, a closed day, a moratorium),
    or None."""
    for item in moratoria:
        if date.fromisoformat(item["starts"]) <= day <= date.fromisoformat(item["ends"]):
            return str(item["name"])
    return calendar.closed_because(day)


def earliest_shutoff(
    calendar: WorkingCalendar, moratoria: Sequence[Mapping], notice_day: date, lead_days: int
) -> date:
    """The earliest shutoff after a notice: `lead_days` business days after the notice's day
    (the offices' working days; the notice's own day does not count), then moved forward off
    any day with no shutoffs."""
    day = notice_day
    counted = 0
    for _ in range(_MAX_SEARCH):
        if counted >= lead_days and no_shutoff_because(calendar, moratoria, day) is None:
            return day
        day += timedelta(days=1)
        if calendar.closed_because(day) is None:
            counted += 1
    raise RuleError(f"no day a shutoff may happen within {_MAX_SEARCH} days of {notice_day}")

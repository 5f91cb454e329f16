"""The town's lien (tax certificate) sale rules as data: a document (JSON or YAML, the CLI's
file) validated in full into one LienRule version, and its loading (docs/liens.md, "The rule").

    effective: "2026-01-01"
    sale: {days_after_delinquency: 60}   # or {on: "2027-06-01"}: a fixed sale date
    min_amount: "25.00"                   # the least delinquent amount listed
    excluded_classes: [exempt]            # property classes never listed
    excluded_flags: [senior-deferral]     # a parcel carrying any of these flags is not listed
    closes_online: true                   # no online payment of a parcel's tax under lien
    cost_per_parcel: "15.00"              # optional: the advertising/certification cost

Dollar amounts are quoted strings, never floats; an error raises RuleError naming the place.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.models import LienRule
from billing.rule_fields import day as _day
from billing.rule_fields import dollars as _dollars
from billing.rule_fields import fail as _fail
from core.audit import Actor, record
from core.money import format_cents

_KEYS = frozenset(
    {
        "effective",
        "sale",
        "min_amount",
        "excluded_classes",
        "excluded_flags",
        "closes_online",
        "cost_per_parcel",
    }
)
_REQUIRED = ("effective", "sale", "min_amount", "closes_online")
#: The longest delinquency a rule may ask before a sale (ten years).
MAX_DAYS = 3650


def _words(value: Any, place: str) -> list[str]:
    if not isinstance(value, list):
        _fail(place, "must be a list of names")
    found = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip() or len(item) > 40:
            _fail(f"{place}[{index}]", "must be a non-empty name (at most 40 characters)")
        found.append(item.strip().lower())
    return sorted(set(found))


def _sale(value: Any) -> dict:
    if not isinstance(value, Mapping) or len(value) != 1:
        _fail("sale", "must be {days_after_delinquency: N} or {on: YYYY-MM-DD}")
    if "on" in value:
        return {"days_after_delinquency": None, "sale_on": _day(value["on"], "sale.on")}
    if "days_after_delinquency" not in value:
        _fail(f"sale.{next(iter(value))}", "unknown key; expected days_after_delinquency or on")
    days = value["days_after_delinquency"]
    place = "sale.days_after_delinquency"
    if not isinstance(days, int) or isinstance(days, bool):
        _fail(place, f"must be a whole number, not {days!r}")
    if not 0 < days <= MAX_DAYS:
        _fail(place, f"must be from 1 to {MAX_DAYS}, not {days}")
    return {"days_after_delinquency": days, "sale_on": None}


def parse_lien_rule(document: Any) -> dict:
    """Validate a rule document in full; the LienRule's fields, or RuleError naming the place."""
    if not isinstance(document, Mapping):
        _fail("rule", "must be a mapping")
    unknown = sorted(set(document) - _KEYS)
    if unknown:
        _fail(unknown[0], f"unknown key; expected one of {', '.join(sorted(_KEYS))}")
    for key in _REQUIRED:
        if key not in document:
            _fail(key, "is required")
    if not isinstance(document["closes_online"], bool):
        _fail("closes_online", f"must be true or false, not {document['closes_online']!r}")
    return {
        "effective": _day(document["effective"], "effective"),
        **_sale(document["sale"]),
        "min_amount_cents": _dollars(document["min_amount"], "min_amount"),
        "excluded_classes": _words(document.get("excluded_classes", []), "excluded_classes"),
        "excluded_flags": _words(document.get("excluded_flags", []), "excluded_flags"),
        "closes_online": document["closes_online"],
        "cost_per_parcel_cents": _dollars(document.get("cost_per_parcel", "0"), "cost_per_parcel"),
    }


def _plain(cents: int) -> str:
    return format_cents(cents, symbol="").replace(",", "")


def rule_to_document(rule: LienRule) -> dict:
    """A stored version as the document that loads it again."""
    sale = (
        {"on": rule.sale_on.isoformat()}
        if rule.sale_on is not None
        else {"days_after_delinquency": rule.days_after_delinquency}
    )
    return {
        "effective": rule.effective.isoformat(),
        "sale": sale,
        "min_amount": _plain(rule.min_amount_cents),
        "excluded_classes": list(rule.excluded_classes),
        "excluded_flags": list(rule.excluded_flags),
        "closes_online": rule.closes_online,
        "cost_per_parcel": _plain(rule.cost_per_parcel_cents),
    }


def load_lien_rule(
    session: Session, actor: Actor, document: dict, warnings: list[str] | None = None
) -> LienRule:
    """Store a new version of the lien sale rules (validated in full), in force from its
    effective day; audited. Flushes, never commits."""
    rule = LienRule(recorded_by=actor.label, **parse_lien_rule(document))
    session.add(rule)
    session.flush()
    record(session, actor, "lien_rule.load", rule, after=rule_to_document(rule))
    return rule


def lien_rule_on(session: Session, day: date) -> LienRule | None:
    """The version of the lien sale rules in force on a day (the newest loaded wins a tie)."""
    return session.scalar(
        sa.select(LienRule)
        .where(LienRule.effective <= day)
        .order_by(LienRule.effective.desc(), LienRule.id.desc())
        .limit(1)
    )

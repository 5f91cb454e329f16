"""Loading the billing rules (rate plans, tax levies, penalty rules) and reading them back.

Rules are data a clerk loads from files (docs/rates.md, docs/tax.md,
docs/penalties.md); each load is validated in full by the pure format
modules, stored as a canonical document and audited.
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.chart import add_jurisdiction
from billing.computed import RuleError
from billing.levy_format import TaxYearSpec, levy_to_document, parse_levy
from billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    PenaltyRuleSet,
    RatePlan,
    ServiceKind,
    TaxingJurisdiction,
    TaxYearLevy,
)
from billing.penalty_format import parse_penalty_rules, rules_to_document
from billing.rate_plan_format import RatePlanSpec, parse_rate_plan, plan_to_document
from core.audit import Actor, record


def _digest(document: dict) -> str:
    """A short fingerprint of a document, for the audit log."""
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()[
        :16
    ]


def load_rate_plan(session: Session, actor: Actor, document: dict) -> RatePlan:
    """Create or replace a rate plan from its document; refuses an unknown service."""
    spec = parse_rate_plan(document)
    if session.get(ServiceKind, spec.service_kind) is None:
        raise RuleError(f"service_kind: no service {spec.service_kind!r}; define it first")
    canonical = plan_to_document(spec)
    plan = session.scalar(sa.select(RatePlan).where(RatePlan.code == spec.code))
    before = None
    if plan is None:
        plan = RatePlan(code=spec.code)
        session.add(plan)
    else:
        if plan.service_kind != spec.service_kind:
            raise RuleError(
                f"service_kind: plan {spec.code} bills {plan.service_kind}, not {spec.service_kind}"
            )
        before = {"document": _digest(plan.document)}
    plan.name, plan.service_kind, plan.unit, plan.document = (
        spec.name,
        spec.service_kind,
        spec.unit,
        canonical,
    )
    session.flush()
    record(
        session,
        actor,
        "rate_plan.load",
        plan,
        before=before,
        after={"document": _digest(canonical), "versions": len(spec.versions)},
    )
    return plan


def rate_plan_spec(plan: RatePlan) -> RatePlanSpec:
    """The parsed spec of a stored plan."""
    return parse_rate_plan(plan.document)


def load_levy(session: Session, actor: Actor, document: dict) -> TaxYearLevy:
    """Store a tax year's levies; adds any new jurisdiction with its liability account.

    Refused once tax invoices of that year have been posted: change them by void and reissue.
    """
    spec = parse_levy(document)
    posted = session.scalar(
        sa.select(sa.func.count())
        .select_from(Invoice)
        .where(
            Invoice.kind == InvoiceKind.TAX,
            Invoice.status != InvoiceStatus.VOID,
            sa.extract("year", Invoice.period_start) == spec.tax_year,
        )
    )
    if posted:
        raise RuleError(
            f"tax_year: {posted} tax invoices of {spec.tax_year} are posted; the levy can no longer change"
        )
    for levy in spec.levies:
        if session.get(TaxingJurisdiction, levy.jurisdiction) is None:
            add_jurisdiction(
                session,
                actor,
                code=levy.jurisdiction,
                name=levy.jurisdiction_name,
                kind=levy.jurisdiction_kind,
            )
    canonical = levy_to_document(spec)
    row = session.get(TaxYearLevy, spec.tax_year)
    before = None if row is None else {"document": _digest(row.document)}
    if row is None:
        row = TaxYearLevy(tax_year=spec.tax_year, document=canonical)
        session.add(row)
    else:
        row.document = canonical
    session.flush()
    record(
        session,
        actor,
        "levy.load",
        object_type="TaxYearLevy",
        object_id=spec.tax_year,
        before=before,
        after={"document": _digest(canonical), "levies": len(spec.levies)},
    )
    return row


def levy_spec(session: Session, tax_year: int) -> TaxYearSpec | None:
    """The parsed levy of a tax year, if loaded."""
    row = session.get(TaxYearLevy, tax_year)
    return None if row is None else parse_levy(row.document)


def load_penalty_rules(session: Session, actor: Actor, document: dict) -> PenaltyRuleSet:
    """Store a new version of the penalty rules; the newest version applies from now on."""
    rules = parse_penalty_rules(document)
    canonical = rules_to_document(rules)
    row = PenaltyRuleSet(document=canonical, loaded_by=actor.label)
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "penalty_rules.load",
        object_type="PenaltyRuleSet",
        object_id=row.version,
        after={"document": _digest(canonical), "rules": [rule.id for rule in rules]},
    )
    return row


def current_penalty_rules(session: Session) -> tuple:
    """The newest penalty rules, or none."""
    row = session.scalar(sa.select(PenaltyRuleSet).order_by(PenaltyRuleSet.version.desc()).limit(1))
    return () if row is None else parse_penalty_rules(row.document)

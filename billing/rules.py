"""Loading the billing rules (rate plans, tax levies, penalty rule sets) and reading them back.

Rules are data a clerk loads from files (docs/rates.md, docs/tax.md,
docs/penalties.md); each load is validated in full by the pure format
modules, stored as a canonical document and audited. A text the residents read
that has no wording in one of the town's languages is loaded with a warning:
the default language's text is shown in that language.
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Language
from billing.computed import RuleError
from billing.levy_checks import check_levy_against_books
from billing.levy_format import parse_levy
from billing.levy_spec import TaxYearSpec, levy_text_warnings, levy_to_document
from billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    PenaltyRuleSet,
    RatePlan,
    TaxYearLevy,
)
from billing.penalty_sets import (
    PenaltySet,
    check_no_overlap,
    parse_penalty_set,
    set_text_warnings,
    set_to_document,
)
from billing.rate_plan_format import RatePlanSpec, parse_rate_plan, plan_to_document
from billing.rate_plan_spec import plan_text_warnings
from core.audit import Actor, record
from ledger.chart import add_jurisdiction
from ledger.models import ServiceKind, TaxingJurisdiction


def _digest(document: dict) -> str:
    """A short fingerprint of a document, for the audit log."""
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()[
        :16
    ]


def town_languages() -> tuple[str, ...]:
    """The languages the town writes to residents in: those an account's language may be."""
    return tuple(language.value for language in Language)


def _warn(warnings: list[str] | None, found: list[str]) -> None:
    """Hand the warnings found to the caller that asked for them."""
    if warnings is not None:
        warnings.extend(found)


def load_rate_plan(
    session: Session, actor: Actor, document: dict, warnings: list[str] | None = None
) -> RatePlan:
    """Create or replace a rate plan from its document; refuses an unknown service.

    Texts missing in one of the town's languages are added to `warnings`, if given.
    """
    spec = parse_rate_plan(document)
    _warn(warnings, plan_text_warnings(spec, town_languages()))
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


def load_levy(
    session: Session, actor: Actor, document: dict, warnings: list[str] | None = None
) -> TaxYearLevy:
    """Store a tax year's levies; adds any new jurisdiction with its liability account.

    Refused once tax invoices of that year have been posted: change them by void and reissue.
    Names missing in one of the town's languages are added to `warnings`, if given.
    """
    spec = parse_levy(document)
    _warn(warnings, levy_text_warnings(spec, town_languages()))
    posted = _posted_tax(session, spec.tax_year, estimated=False)
    if posted:
        raise RuleError(
            f"tax_year: {posted} tax invoices of {spec.tax_year} are posted; the levy can no longer change"
        )
    _keep_posted_estimate(session, spec)
    check_levy_against_books(session, spec)
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


def _posted_tax(session: Session, tax_year: int, *, estimated: bool) -> int:
    """How many live tax invoices of the year are posted (estimated first installments or not)."""
    return session.scalar(
        sa.select(sa.func.count())
        .select_from(Invoice)
        .where(
            Invoice.kind == InvoiceKind.TAX,
            Invoice.status != InvoiceStatus.VOID,
            Invoice.estimated.is_(estimated),
            sa.extract("year", Invoice.period_start) == tax_year,
        )
    )


def _keep_posted_estimate(session: Session, spec: TaxYearSpec) -> None:
    """Once estimated first installments of the year are posted, the levy may still change
    (its rates are set after the estimate is mailed) but not the estimate it billed."""
    # NOTE: in Cook County the estimate is mailed in January and the year's rates are final
    # months later: the document is loaded with the estimate, then again with the final levies.
    estimated = _posted_tax(session, spec.tax_year, estimated=True)
    if not estimated:
        return
    before = levy_spec(session, spec.tax_year)
    if before is None or before.estimated_first != spec.estimated_first:
        raise RuleError(
            f"estimated_first_installment: {estimated} estimated first-installment bills of "
            f"{spec.tax_year} are posted; the estimate can no longer change"
        )


def levy_spec(session: Session, tax_year: int) -> TaxYearSpec | None:
    """The parsed levy of a tax year, if loaded."""
    row = session.get(TaxYearLevy, tax_year)
    return None if row is None else parse_levy(row.document)


def load_penalty_rules(
    session: Session, actor: Actor, document: dict, warnings: list[str] | None = None
) -> PenaltyRuleSet:
    """Store a penalty rule set (format 2) or the town's single rules (format 1).

    The newest load of a set's code replaces it. A set whose scope could cover an invoice
    that another set covers is refused, naming both. Descriptions missing in one of the
    town's languages are added to `warnings`, if given.
    """
    rule_set = parse_penalty_set(document)
    _warn(warnings, set_text_warnings(rule_set, town_languages()))
    others = [other for other in current_penalty_sets(session) if other.code != rule_set.code]
    check_no_overlap(rule_set, others)
    canonical = set_to_document(rule_set)
    row = PenaltyRuleSet(code=rule_set.code, document=canonical, loaded_by=actor.label)
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "penalty_rules.load",
        object_type="PenaltyRuleSet",
        object_id=row.version,
        after={
            "code": rule_set.code,
            "document": _digest(canonical),
            "versions": [
                {
                    "effective_from": str(version.effective_from or "always"),
                    "rules": [rule.id for rule in version.rules],
                }
                for version in rule_set.versions
            ],
        },
    )
    return row


def penalty_set_rows(session: Session) -> list[PenaltyRuleSet]:
    """The newest load of each penalty rule set, by code."""
    newest = (
        sa.select(sa.func.max(PenaltyRuleSet.version))
        .group_by(PenaltyRuleSet.code)
        .scalar_subquery()
    )
    return list(
        session.scalars(
            sa.select(PenaltyRuleSet)
            .where(PenaltyRuleSet.version.in_(newest))
            .order_by(PenaltyRuleSet.code)
        )
    )


def current_penalty_sets(session: Session) -> tuple[PenaltySet, ...]:
    """The penalty rule sets in force (the newest load of each code), by code."""
    return tuple(parse_penalty_set(row.document) for row in penalty_set_rows(session))

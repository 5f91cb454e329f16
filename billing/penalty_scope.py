"""Which penalty rule set and which of its versions charge an invoice (docs/penalties.md).

The set is the one whose scope covers the invoice: its kind, the services billed on its
lines (known by each line's receivable account), the jurisdictions taxing on it and its
tax year. An invoice no set covers is not assessed; the assessment records why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.models import Invoice, InvoiceKind
from billing.penalty_sets import InvoiceScope, PenaltySet
from ledger.models import ServiceKind


class NotCovered(ValueError):
    """No penalty rule set covers an invoice (or, against the load's check, two do)."""


def services_by_receivable(session: Session) -> dict[int, str]:
    """Each service's code by its receivable account: how a line tells which service it bills."""
    rows = session.execute(sa.select(ServiceKind.receivable_gl_id, ServiceKind.code))
    return {gl_id: code for gl_id, code in rows}


def invoice_scope(invoice: Invoice, services: Mapping[int, str]) -> InvoiceScope:
    """The facts of an invoice that a set's scope is matched against."""
    if invoice.kind != InvoiceKind.TAX:
        kinds = {
            services[line.receivable_gl_id]
            for line in invoice.lines
            if line.receivable_gl_id in services
        }
        return InvoiceScope(invoice.kind.value, service_kinds=frozenset(kinds))
    jurisdictions = set()
    for line in invoice.lines:
        # NOTE: a tax line's source is "levy:<tax year>:<jurisdiction>" (billing.drafts).
        parts = (line.source or "").split(":")
        if len(parts) == 3 and parts[0] == "levy":
            jurisdictions.add(parts[2])
    # NOTE: a tax invoice's year is its period's (as billing.rules.load_levy counts them).
    return InvoiceScope(
        invoice.kind.value,
        tax_jurisdictions=frozenset(jurisdictions),
        tax_year=invoice.period_start.year,
    )


def covering_set(sets: Sequence[PenaltySet], scope: InvoiceScope) -> PenaltySet:
    """The one set covering the invoice; NotCovered, with the reason, if none (or two) do."""
    covering = [rule_set for rule_set in sets if scope.covered_by(rule_set.scope)]
    if not covering:
        raise NotCovered(f"no penalty rule set covers this invoice: {scope.describe()}")
    if len(covering) > 1:
        codes = " and ".join(repr(rule_set.code) for rule_set in covering)
        raise NotCovered(f"penalty rule sets {codes} both cover this invoice: {scope.describe()}")
    return covering[0]

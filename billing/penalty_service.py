"""Assessing penalties and interest on past-due invoices, once per rule and period.

Each invoice is charged by the one rule set whose scope covers it, each period
by the version of that set that applies (billing.penalty_sets; an invoice no set
covers is skipped with its reason). The pure module billing.penalties says what
is owed as of a date; this service stores the charges not stored yet (one InvoiceCharge per invoice,
installment, rule and period, enforced by a unique constraint) and posts
them to the ledger. Running it again for the same date changes nothing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from billing.arrangements import Window, paused_windows, within
from billing.closed_days import town_working_calendar
from billing.models import (
    Invoice,
    InvoiceCharge,
    InvoiceStatus,
    LineCategory,
    Settlement,
)
from billing.penalties import PenaltyCharge
from billing.penalty_facts import OtherBill, Waiver, account_bills, invoice_facts, waived_charges
from billing.penalty_scope import covering_set, invoice_scope, services_by_receivable
from billing.penalty_sets import PenaltySet, owed_by_set
from billing.rules import current_penalty_sets
from billing.words import DEFAULT_LANGUAGE
from billing.working_days import WorkingCalendar
from core.audit import Actor, record
from ledger import chart
from ledger.posting import EntrySpec, Posting, post_entries

BATCH = 500
REVENUE = {"penalty": chart.PENALTY_REVENUE, "interest": chart.INTEREST_REVENUE}

log = logging.getLogger(__name__)


class AssessError(ValueError):
    """An assessment that cannot be made; nothing was assessed."""


def check_as_of(as_of: date, today: date) -> None:
    """Refuse to assess as of a day after the municipality's today."""
    # NOTE: a charge is owed for a month of delinquency that has begun, never
    # for one still to come; a later day would also charge every month up to it.
    if as_of > today:
        raise AssessError(f"Assess as of {today} or an earlier day.")


@dataclass
class AssessResult:
    """What an assessment did (or, with dry_run, would do)."""

    as_of: date
    invoices_checked: int = 0
    charges: int = 0
    cents: int = 0
    dry_run: bool = False
    #: (invoice number, description, cents) of each new charge, for the report.
    details: list[tuple[str, str, int]] = field(default_factory=list)
    #: (invoice number, why) of each invoice whose facts could not be assessed: it is left
    #: out, the others are assessed, and the clerks see it (the job run, the audit log).
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: Invoices left for a later day because a payment of their account is in flight.
    held: int = 0
    #: (invoice number, installment number, category, cents) of each new charge: what a
    #: payoff quote projects (billing.payoff) reads them by installment.
    charged: list[tuple[str, int, str, int]] = field(default_factory=list)


#: The app.extensions key of a function naming, of some accounts, those whose penalties wait:
#: (session, account ids) -> the ids held. payments supplies it (a bank debit in flight).
PENALTY_HOLDS = "munibill.penalty_holds"
Holds = Callable[[Session, set[int]], set[int]]


def _past_due(
    session: Session, as_of: date, only: Collection[int] | None = None
) -> Iterator[list[Invoice]]:
    """Open invoices with a due date before as_of (of `only` these, if given), in batches."""
    last = 0
    while True:
        batch = session.scalars(
            sa.select(Invoice)
            .where(
                Invoice.id > last,
                Invoice.due_date < as_of,
                Invoice.status.in_([InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID]),
                Invoice.id.in_(only) if only is not None else sa.true(),
            )
            .options(
                selectinload(Invoice.lines),
                selectinload(Invoice.installments),
            )
            .order_by(Invoice.id)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        yield list(batch)
        last = batch[-1].id


def _stored_keys(session: Session, invoices: list[Invoice]) -> dict[int, set[tuple[int, str, str]]]:
    """The (installment, rule, period) keys already assessed, per invoice, read from the database."""
    keys: dict[int, set[tuple[int, str, str]]] = defaultdict(set)
    rows = session.execute(
        sa.select(
            InvoiceCharge.invoice_id,
            InvoiceCharge.installment_number,
            InvoiceCharge.rule_id,
            InvoiceCharge.period_key,
        ).where(InvoiceCharge.invoice_id.in_([i.id for i in invoices]))
    ).all()
    for invoice_id, *key in rows:
        keys[invoice_id].add(tuple(key))
    return keys


@dataclass(frozen=True)
class _Assessing:
    """What every invoice of one assessment shares: the sets, the calendar, the date."""

    sets: tuple[PenaltySet, ...]
    services: dict[int, str]
    calendar: WorkingCalendar
    as_of: date
    rounding: str

    def _uses(self, base: str) -> bool:
        """Whether a rule of any set takes this base."""
        return any(
            rule.base == base
            for rule_set in self.sets
            for version in rule_set.versions
            for rule in version.rules
        )

    @property
    def reads_accounts(self) -> bool:
        """Whether a rule takes the account's past-due balance as its base."""
        return self._uses("account_past_due")

    @property
    def reads_charges(self) -> bool:
        """Whether a rule takes the earlier charges into its base."""
        return self._uses("unpaid_with_charges")


def _new_charges(
    invoice: Invoice,
    settlements: list[Settlement],
    stored: set,
    how: _Assessing,
    bills: Sequence[OtherBill] = (),
    waivers: Sequence[Waiver] = (),
    paused: Sequence[Window] = (),
):
    """The charges owed as of the date that are not stored yet, with their installment number.

    A charge assessed on a day the invoice was under a current payment plan whose rule pauses
    penalties is never owed: not while the plan is current, nor after it defaults.

    Raises NotCovered when no rule set covers the invoice.
    """
    rule_set = covering_set(how.sets, invoice_scope(invoice, how.services))
    seen = set(stored)
    # NOTE: on a bill converted from the old system, the charges up to the conversion day were
    # the old system's to assess; they came over as its penalties balance (docs/conversion.md).
    cutoff = invoice.account.converted_on if invoice.converted else None
    for number, facts in invoice_facts(invoice, settlements, bills, waivers):
        charges = owed_by_set(rule_set, facts, how.as_of, how.rounding, how.calendar)
        for charge in charges:
            if cutoff is not None and charge.assessed_on <= cutoff:
                continue
            if within(paused, charge.assessed_on):
                continue
            key = (number, charge.rule_id, charge.period_key)
            # NOTE: two versions may name a charge alike (the same one_time rule id); the
            # first one charged stands, as a stored charge does.
            if key not in seen:
                seen.add(key)
                yield number, charge


def _store(
    session: Session, invoice: Invoice, new: list[tuple[int, PenaltyCharge]], as_of: date
) -> EntrySpec:
    """Add the invoice's new charges; return the journal entry that books them."""
    revenue: dict[str, int] = defaultdict(int)
    for number, charge in new:
        session.add(
            InvoiceCharge(
                invoice_id=invoice.id,
                installment_number=number,
                rule_id=charge.rule_id,
                period_key=charge.period_key,
                category=LineCategory(charge.category),
                description=charge.description,
                descriptions=dict(charge.descriptions or {DEFAULT_LANGUAGE: charge.description}),
                amount_cents=charge.amount_cents,
                balance_cents=charge.amount_cents,
                assessed_on=charge.assessed_on,
                booked_on=as_of,
            )
        )
        revenue[REVENUE[charge.category]] += charge.amount_cents
    total = sum(revenue.values())
    postings = [Posting(chart.PENALTY_RECEIVABLE, debit_cents=total, account_id=invoice.account_id)]
    postings += [Posting(code, credit_cents=cents) for code, cents in sorted(revenue.items())]
    return EntrySpec(
        postings,
        as_of,
        "penalty",
        invoice.number,
        f"Penalties and interest on invoice {invoice.number}",
    )


def assess_penalties(
    session: Session,
    actor: Actor,
    *,
    as_of: date,
    rounding: str,
    dry_run: bool = False,
    town_state: str = "",
    holds: Holds | None = None,
    invoice_ids: Collection[int] | None = None,
) -> AssessResult:
    """Assess every charge owed as of the date and not yet assessed; flushes, never commits.

    `town_state` (MUNICIPALITY_STATE) names the state whose holidays are closed days;
    `holds` names the accounts whose invoices wait for another day (a payment in flight);
    `invoice_ids` limits the assessment to those invoices (a parcel's, for a payoff).
    """
    result = AssessResult(as_of, dry_run=dry_run)
    sets = current_penalty_sets(session)
    if not sets:
        return result
    how = _Assessing(
        sets,
        services_by_receivable(session),
        town_working_calendar(session, town_state),
        as_of,
        rounding,
    )
    savepoint = session.begin_nested()
    for invoices in _past_due(session, as_of, invoice_ids):
        settlements: dict[int, list[Settlement]] = defaultdict(list)
        for settlement in session.scalars(
            sa.select(Settlement).where(Settlement.invoice_id.in_([i.id for i in invoices]))
        ):
            settlements[settlement.invoice_id].append(settlement)
        stored = _stored_keys(session, invoices)
        bills = account_bills(session, invoices) if how.reads_accounts else {}
        waivers = waived_charges(session, invoices, settlements) if how.reads_charges else {}
        paused = paused_windows(session, [i.id for i in invoices], "penalties")
        specs = []
        held = holds(session, {i.account_id for i in invoices}) if holds else set()
        for invoice in invoices:
            if invoice.account_id in held:
                # NOTE: the resident paid and the bank has not answered yet (a debit takes
                # days): no penalty while it is in flight; the next day's run looks again.
                result.held += 1
                continue
            result.invoices_checked += 1
            try:
                new = list(
                    _new_charges(
                        invoice,
                        settlements[invoice.id],
                        stored[invoice.id],
                        how,
                        bills.get(invoice.account_id, []),
                        waivers.get(invoice.id, []),
                        paused.get(invoice.id, []),
                    )
                )
            except ValueError as error:
                # NOTE: one invoice's inconsistent history (a refund dated before its payment),
                # or one no rule set covers, must never stop the assessment of every other account.
                log.warning("penalties for invoice %s not assessed: %s", invoice.number, error)
                result.skipped.append((invoice.number, str(error)[:300]))
                continue
            if not new:
                continue
            specs.append(_store(session, invoice, new, as_of))
            result.charges += len(new)
            result.cents += sum(charge.amount_cents for _n, charge in new)
            result.details += [
                (invoice.number, charge.description, charge.amount_cents) for _n, charge in new
            ]
            result.charged += [
                (invoice.number, n, charge.category, charge.amount_cents) for n, charge in new
            ]
        session.flush()
        post_entries(session, specs, actor=actor)
    if dry_run:
        savepoint.rollback()
        return result
    savepoint.commit()
    record(
        session,
        actor,
        "penalties.assess",
        object_type="Assessment",
        object_id=as_of.isoformat(),
        invoices=result.invoices_checked,
        charges=result.charges,
        cents=result.cents,
        skipped=[f"{number}: {why}" for number, why in result.skipped],
    )
    return result

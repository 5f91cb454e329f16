"""Whether a utility account may be noticed for shutoff, and shut off, on a day: the one
function every shutoff step asks (docs/shutoff.md, "Eligibility").

The rule in force (billing.shutoff_rules) sets the least past-due utility balance and its age;
the account is excluded while it is under a current payment plan (billing.arrangements), while
a payment of it is disputed (an open card dispute, as reminders skip it), while a bank debit
of it is on its way (processing, as reminders and penalties wait for it), and while a medical
certificate is on file (billing.medical_certificates) up to and including its end date. The
day itself may forbid a shutoff (a weekend, a holiday, the town's closed day, a moratorium);
that does not stop a notice. The amount that stops the shutoff is the past-due utility
balance of billing.position, the one position.

It lives in notices because an open dispute is a payment's (payments comes after billing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from accounts.models import Account
from billing.arrangements import is_under_current_plan
from billing.closed_days import town_working_calendar
from billing.medical_certificates import certificate_on
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from billing.position import UTILITY, account_position
from billing.shutoff_rules import earliest_shutoff, no_shutoff_because, shutoff_rule_on
from billing.working_days import WorkingCalendar
from core.money import format_cents
from notices.shutoff_appeals import appeal_hold
from notices.tenant_protections import tenant_hold
from payments.bank_payments import debits_in_flight
from payments.models import Dispute, DisputeStatus, Payment

OWING = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)


@dataclass(frozen=True)
class Eligibility:
    """What the rules say of one account on one day."""

    account_id: int
    on: date
    #: The past-due utility balance (what stops the shutoff) and how late its oldest part is.
    past_due_cents: int
    days_past_due: int
    #: Why the account may be neither noticed nor shut off, each in plain words (empty: it may).
    reasons: tuple[str, ...]
    #: Why no shutoff may happen on the day itself (a weekend, a holiday, a moratorium), or None.
    not_today: str | None
    #: The earliest shutoff if a notice went out on the day (None: no rule in force).
    earliest_shutoff: date | None
    #: The oldest past-due utility invoice: it names the delinquency a notice is for.
    delinquency_invoice_id: int | None
    #: Why no shutoff may happen yet though a notice may: a denied appeal's lead time, the
    #: tenants' notice lead time (notices.shutoff_appeals, notices.tenant_protections).
    held: tuple[str, ...] = ()
    #: The earliest shutoff those allow (None: they set none).
    shutoff_not_before: date | None = None

    @property
    def may_notice(self) -> bool:
        """Whether a shutoff notice may go out for the account on the day."""
        return not self.reasons

    @property
    def may_shut_off(self) -> bool:
        """Whether the rules allow a shutoff on the day (a notice and its lead time aside)."""
        return not self.reasons and self.not_today is None and not self.held


def open_dispute(session: Session, account_id: int) -> bool:
    """Whether a payment of the account has a card dispute not yet won or lost."""
    return (
        session.scalar(
            sa.select(Dispute.id)
            .join(Payment, Dispute.payment_id == Payment.id)
            .where(
                Payment.account_id == account_id,
                Dispute.status.not_in((DisputeStatus.WON, DisputeStatus.LOST)),
            )
            .limit(1)
        )
        is not None
    )


def oldest_past_due_utility_invoice(
    session: Session, account_id: int, on: date, by_invoice: dict[int, int]
) -> int | None:
    """The oldest utility invoice still owing (by the position) whose due date has passed."""
    rows = session.execute(
        sa.select(Invoice.id)
        .where(
            Invoice.account_id == account_id,
            Invoice.kind == InvoiceKind.UTILITY,
            Invoice.status.in_(OWING),
            Invoice.due_date < on,
        )
        .order_by(Invoice.due_date, Invoice.id)
    ).scalars()
    return next((invoice_id for invoice_id in rows if by_invoice.get(invoice_id, 0) > 0), None)


def shutoff_eligibility(
    session: Session, account: Account, on: date, *, calendar: WorkingCalendar | None = None
) -> Eligibility:
    """Whether the account may be noticed for shutoff, and shut off, on the day; see the module."""
    if calendar is None:
        calendar = town_working_calendar(session, current_app.config.get("MUNICIPALITY_STATE", ""))
    position = account_position(session, account.id, on)
    past_due = position.past_due_cents(UTILITY)
    late_days = position.days_past_due(UTILITY)
    rule = shutoff_rule_on(session, on)
    reasons: list[str] = []
    if rule is None:
        reasons.append(f"no shutoff rule is in force on {on.isoformat()}")
    if past_due <= 0:
        reasons.append("nothing on the utility bills is past due")
    elif rule is not None:
        if past_due < rule.min_past_due_cents:
            reasons.append(
                f"the past-due utility balance {format_cents(past_due)} is less than the "
                f"rule's {format_cents(rule.min_past_due_cents)}"
            )
        if late_days < rule.min_days_past_due:
            reasons.append(
                f"the oldest past-due amount is {late_days} days late; the rule asks "
                f"{rule.min_days_past_due}"
            )
    if is_under_current_plan(session, account.id, on):
        reasons.append("the account is under a current payment plan")
    if open_dispute(session, account.id):
        reasons.append("a payment of the account is disputed and the dispute is open")
    if debits_in_flight(session, {account.id}):
        reasons.append("a bank payment of the account is on its way and the bank has not answered")
    certificate = certificate_on(session, account.id, on)
    if certificate is not None:
        reasons.append(
            f"a medical certificate is on file until {certificate.ends_on.isoformat()} "
            f"({certificate.certified_by})"
        )
    delinquency = oldest_past_due_utility_invoice(session, account.id, on, position.by_invoice)
    appeals = appeal_hold(session, account.id, on, delinquency, calendar, rule)
    reasons.extend(appeals.reasons)
    tenants, tenants_from = tenant_hold(session, account, delinquency, on)
    later = [day for day in (appeals.not_before, tenants_from) if day is not None]
    moratoria = rule.moratoria if rule is not None else []
    return Eligibility(
        account_id=account.id,
        on=on,
        past_due_cents=past_due,
        days_past_due=late_days,
        reasons=tuple(reasons),
        not_today=no_shutoff_because(calendar, moratoria, on),
        earliest_shutoff=(
            earliest_shutoff(calendar, moratoria, on, rule.notice_lead_days) if rule else None
        ),
        delinquency_invoice_id=delinquency,
        held=(*appeals.held, *tenants),
        shutoff_not_before=max(later) if later else None,
    )

"""Autopay charging: the bills of enrolled accounts charged off-session on their due dates.

Each morning `charge_due` charges every bill whose due date (or tax installment's)
has come, and for an account under a current payment plan each installment of the plan on
its due date instead of the bills the plan includes (docs/arrangements.md, "Autopay"): one AutopayCharge per invoice and due date, a pending Payment recorded first,
then an off-session PaymentIntent keyed by that payment, with the card enrolled by
portal.autopay_enrollment. Nothing here marks a bill paid: the verified webhook (or
reconciliation) settles the payment, as for any card payment.

The attempt and its pending payment are committed before Stripe is called: a charge
Stripe makes is always found (and settled) by its webhook, and a run cut off after
recording never charges that bill again (the janitor cancels a payment Stripe never saw).

A declined card fails the payment, keeps the attempt as failed and e-mails the resident;
the bill stays open, so the usual reminders go on. When Stripe cannot be reached the
attempt is removed, so a later run (within CATCH_UP_DAYS of the due date) tries again with a
new payment. Stripe answering with an error (a 5xx, 429) fails the payment with the code
"unavailable"; no answer at all (a timeout, a lost connection) leaves it unknown, since
Stripe may have charged: the bill is not charged again while it is, and the janitor asks
Stripe at once (settled if Stripe charged; else pending, and the next run charges anew).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, timedelta, tzinfo

import sqlalchemy as sa
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from billing.arrangements import current_plans, installments_owing
from billing.models import Invoice
from core.audit import Actor, record
from core.calendar import town_date, town_zone
from core.money import format_cents
from payments.gateway import (
    UNAVAILABLE_MESSAGE,
    PaymentError,
    StripeGateway,
    StripePaymentIntent,
    resident_message,
)
from payments.models import Channel, Payment, PaymentStatus, Tender
from payments.online import unanswered
from payments.services import (
    OPEN,
    PaymentRefused,
    fail_payment,
    mark_payment,
    mark_unknown,
    owed_items,
    record_payment,
)
from portal import autopay_bank, mail, messages
from portal.autopay_enrollment import card_name
from portal.models import Autopay, AutopayCharge

log = logging.getLogger(__name__)

#: NOTE: a bill whose due date passed while the scheduler was down is still charged this many
#: days later; after that it is left to the resident and the reminders.
CATCH_UP_DAYS = 3
CHARGED, FAILED, SKIPPED = "charged", "failed", "skipped"
#: The code of a payment failed because Stripe could not be reached (tried again next run).
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class DueCharge:
    """One bill to charge: the enrollment, the invoice, the due date and what is owed by then."""

    autopay_id: int
    invoice_id: int
    due_date: date
    amount_cents: int
    #: A plan's installment: the included invoices the payment goes to (the first is
    #: `invoice_id`, which keys the attempt with the installment's due date).
    plan_invoice_ids: tuple[int, ...] = ()


def _due_dates(invoice: Invoice) -> list[date]:
    """The days an invoice falls due: each installment's, else the invoice's."""
    return sorted({part.due_date for part in invoice.installments}) or [invoice.due_date]


def due_charges(session: Session, as_of: date, *, zone: tzinfo = UTC) -> list[DueCharge]:
    """Every bill an active enrollment should charge as of the day, not yet attempted.

    A due date counts from the day the enrollment began (in `zone`) and for CATCH_UP_DAYS
    after it passed; the amount is what the invoice owes by that date (a tax bill's later
    installments are not charged early).
    """
    earliest = as_of - timedelta(days=CATCH_UP_DAYS)
    found: list[DueCharge] = []
    for autopay in session.scalars(
        sa.select(Autopay).where(Autopay.active.is_(True)).order_by(Autopay.id)
    ):
        began = town_date(autopay.created_at, zone)
        invoices = session.scalars(
            sa.select(Invoice)
            .where(
                Invoice.account_id == autopay.account_id,
                Invoice.status.in_(OPEN),
                Invoice.due_date <= as_of,
            )
            .options(selectinload(Invoice.installments))
            .order_by(Invoice.due_date, Invoice.id)
        ).all()
        plans = current_plans(session, [autopay.account_id], as_of)
        in_plan = {row.invoice_id for plan in plans for row in plan.invoices}
        attempted = {
            (invoice_id, due)
            for invoice_id, due in session.execute(
                sa.select(AutopayCharge.invoice_id, AutopayCharge.due_date).where(
                    AutopayCharge.invoice_id.in_([i.id for i in invoices] + sorted(in_plan))
                )
            )
        }
        window = (max(earliest, began), as_of)
        for plan in plans:
            found += _installments_due(session, autopay.id, plan, window, attempted)
        for invoice in invoices:
            if invoice.id in in_plan:
                continue  # NOTE: paid through the plan's installments while it is current
            items = None
            for due in _due_dates(invoice):
                if not max(earliest, began) <= due <= as_of or (invoice.id, due) in attempted:
                    continue
                items = items if items is not None else owed_items(session, [invoice])
                owed = sum(item.balance_cents for item in items if item.due_date <= due)
                if owed > 0:
                    found.append(DueCharge(autopay.id, invoice.id, due, owed))
    return found


def _installments_due(
    session: Session, autopay_id: int, plan, window: tuple[date, date], attempted: set
) -> list[DueCharge]:
    """A current plan's installments due in the window and not attempted, for what of each is
    still unpaid; each goes to the plan's included invoices that still owe."""
    owing_invoices = tuple(
        i.id
        for i in session.scalars(
            sa.select(Invoice)
            .where(
                Invoice.id.in_([row.invoice_id for row in plan.invoices]), Invoice.status.in_(OPEN)
            )
            .order_by(Invoice.due_date, Invoice.id)
        )
    )
    if not owing_invoices:
        return []
    key = min(row.invoice_id for row in plan.invoices)
    return [
        DueCharge(autopay_id, key, part.due_date, short, owing_invoices)
        for part, short in installments_owing(session, plan, window[1])
        if window[0] <= part.due_date <= window[1] and (key, part.due_date) not in attempted
    ]


def _in_flight(session: Session, account_id: int, invoice_id: int) -> bool:
    """True while another card payment that may pay this invoice waits for Stripe's word."""
    payments = session.scalars(
        sa.select(Payment).where(
            Payment.account_id == account_id,
            sa.or_(
                Payment.status.in_((PaymentStatus.PROCESSING, PaymentStatus.UNKNOWN)),
                sa.and_(
                    Payment.status == PaymentStatus.PENDING,
                    Payment.stripe_payment_intent_id.is_not(None),
                ),
            ),
        )
    )
    return any(not p.invoice_ids or invoice_id in p.invoice_ids for p in payments)


def charge_due(
    session: Session,
    config: Mapping,
    actor: Actor,
    gateway: StripeGateway,
    as_of: date,
    *,
    commit: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Charge every bill due as of the day, once; returns counts by outcome. Flushes.

    `commit` (the job passes the session's) runs twice per bill: once the attempt and its
    pending payment are recorded, before Stripe is called, so that whatever Stripe does is
    found by its webhook and a run cut off there never charges the bill again; and once
    its outcome is kept. Once Stripe cannot be reached the rest wait for the next run.
    """
    commit = commit or session.flush
    names = (CHARGED, FAILED, SKIPPED, "deferred", UNAVAILABLE, "not_attempted")
    counts = Counter(dict.fromkeys(names, 0))
    zone = town_zone(config)
    due = due_charges(session, as_of, zone=zone)
    for n, item in enumerate(due):
        outcome = _charge_one(session, config, actor, gateway, item, commit)
        if outcome is not None:
            counts[outcome] += 1
        commit()
        if outcome == UNAVAILABLE:
            counts["not_attempted"] += len(due) - n - 1
            break
    return dict(counts)


def _claim(session: Session, item: DueCharge) -> AutopayCharge | None:
    """The attempt's row, inserted before Stripe is called; None if another run has it."""
    try:
        with session.begin_nested():
            row = AutopayCharge(
                autopay_id=item.autopay_id,
                invoice_id=item.invoice_id,
                due_date=item.due_date,
                outcome=CHARGED,
            )
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    return row


def _charge_one(
    session: Session,
    config: Mapping,
    actor: Actor,
    gateway: StripeGateway,
    item: DueCharge,
    commit: Callable[[], None],
) -> str | None:
    """Charge one bill; the outcome (None: another run or payment has it in hand)."""
    autopay = session.get(Autopay, item.autopay_id)
    invoice = session.get(Invoice, item.invoice_id)
    paying = [session.get(Invoice, i) for i in item.plan_invoice_ids] or [invoice]
    if not autopay.active or any(_in_flight(session, autopay.account_id, i.id) for i in paying):
        return "deferred" if autopay.active else None
    charge = _claim(session, item)
    if charge is None:
        return None
    bank = autopay.method == autopay_bank.BANK
    if bank and autopay_bank.blocked_for(session, autopay):
        charge.outcome, charge.error = SKIPPED, "bank account blocked after returns"
        record(session, actor, "autopay.skip", charge, invoice=invoice.number, why=charge.error)
        return SKIPPED
    try:
        with session.begin_nested():
            payment = record_payment(
                session,
                actor,
                account=autopay.account,
                amount_cents=item.amount_cents,
                invoice_numbers=[i.number for i in paying],
                channel=Channel.ONLINE,
                tender=Tender.BANK_DEBIT if bank else Tender.CARD,
            )
    except PaymentRefused as refused:
        charge.outcome, charge.error = SKIPPED, refused.message[:500]
        record(session, actor, "autopay.skip", charge, invoice=invoice.number, why=refused.message)
        return SKIPPED
    charge.payment_id = payment.id
    session.flush()
    commit()  # NOTE: recorded before anything reaches Stripe (DESIGN.md, "Payments")
    if bank:
        return _debit_bank(session, config, actor, gateway, charge, payment, autopay, invoice)
    try:
        intent = gateway.create_payment_intent(
            amount_cents=payment.amount_cents,
            currency=payment.currency,
            customer_id=autopay.stripe_customer_id,
            metadata=_metadata(payment, invoice, autopay),
            idempotency_key=f"munibill-autopay-{payment.id}",
            payment_method=autopay.stripe_payment_method_id,
            confirm=True,
            off_session=True,
        )
    except PaymentError as error:
        payment.stripe_payment_intent_id = error.payment_intent_id
        if error.retryable:
            return _unavailable(session, actor, charge, payment, error)
        code = error.decline_code or error.code or "card_declined"
        return _failed(session, config, actor, charge, payment, code, error.detail or str(error))
    return _charged(session, config, actor, gateway, charge, payment, intent)


def _debit_bank(
    session: Session,
    config: Mapping,
    actor: Actor,
    gateway: StripeGateway,
    charge: AutopayCharge,
    payment: Payment,
    autopay: Autopay,
    invoice: Invoice,
) -> str:
    """Debit the enrolled bank account: pending (processing) until the bank answers."""
    try:
        intent = autopay_bank.debit(
            session, gateway, autopay, payment, _metadata(payment, invoice, autopay)
        )
    except PaymentError as error:
        payment.stripe_payment_intent_id = error.payment_intent_id
        if error.retryable:
            return _unavailable(session, actor, charge, payment, error)
        code = error.code or "bank_declined"
        return _failed(session, config, actor, charge, payment, code, error.detail or str(error))
    payment.stripe_payment_intent_id = intent.id
    if intent.status not in ("processing", "succeeded"):
        code = intent.failure_code or "bank_declined"
        return _failed(session, config, actor, charge, payment, code, intent.status)
    if intent.status == "processing":
        mark_payment(session, actor, payment, PaymentStatus.PROCESSING)
    record(
        session,
        actor,
        "autopay.charge",
        charge,
        payment=payment.id,
        intent=intent.id,
        stripe_status=intent.status,
        amount_cents=payment.amount_cents,
    )
    return CHARGED


def _metadata(payment: Payment, invoice: Invoice, autopay: Autopay) -> dict[str, str]:
    """What Stripe keeps about an autopay charge (as payments.online does, and the enrollment)."""
    return {
        "payment_id": str(payment.id),
        "account_number": payment.account.number,
        "invoice_numbers": invoice.number,
        "autopay_id": str(autopay.id),
    }


def _charged(
    session: Session,
    config: Mapping,
    actor: Actor,
    gateway: StripeGateway,
    charge: AutopayCharge,
    payment: Payment,
    intent: StripePaymentIntent,
) -> str:
    """Keep the intent; a charge that needs the resident (3-D Secure) is cancelled and failed."""
    payment.stripe_payment_intent_id = intent.id
    if intent.status == "requires_action":
        # NOTE: off-session, nobody is there to approve it; api.stripe.com says so with an
        # authentication_required error, localstripe with this status.
        try:
            gateway.cancel_payment_intent(intent.id)
        except PaymentError as error:
            log.warning("could not cancel intent %s: %s", intent.id, error.detail or error)
        return _failed(session, config, actor, charge, payment, "authentication_required", "")
    if intent.status not in ("succeeded", "processing"):
        error = intent.last_error
        code = (error.decline_code or error.code) if error else None
        detail = (error.message or "") if error else intent.status
        return _failed(session, config, actor, charge, payment, code or "card_declined", detail)
    if intent.status == "processing":
        mark_payment(session, actor, payment, PaymentStatus.PROCESSING)
    record(
        session,
        actor,
        "autopay.charge",
        charge,
        payment=payment.id,
        intent=intent.id,
        stripe_status=intent.status,
        amount_cents=payment.amount_cents,
    )
    return CHARGED


def _unavailable(
    session: Session, actor: Actor, charge: AutopayCharge, payment: Payment, error: PaymentError
) -> str:
    """Stripe could not be reached: forget the attempt, so a later run tries again. A charge that
    got no answer at all may have been made: its payment is unknown (not failed), and no run
    charges the bill again until the janitor has asked Stripe about it."""
    if unanswered(error):
        mark_unknown(session, actor, payment, detail=error.detail or str(error))
    else:
        fail_payment(session, actor, payment, code=UNAVAILABLE, message=UNAVAILABLE_MESSAGE)
    record(
        session,
        actor,
        "autopay.unavailable",
        payment,
        invoice_id=charge.invoice_id,
        due_date=charge.due_date.isoformat(),
        detail=(error.detail or str(error))[:200],
    )
    session.delete(charge)
    session.flush()
    return UNAVAILABLE


def _failed(
    session: Session,
    config: Mapping,
    actor: Actor,
    charge: AutopayCharge,
    payment: Payment,
    code: str,
    detail: str,
) -> str:
    """The card was refused: fail the payment, keep why, and tell the resident by e-mail."""
    fail_payment(session, actor, payment, code=code, message=resident_message(code))
    charge.outcome = FAILED
    charge.error = f"{code}: {detail}".strip(": ")[:500]
    autopay = session.get(Autopay, charge.autopay_id)
    invoice = session.get(Invoice, charge.invoice_id)
    charge.email_status = email_failure(config, autopay, invoice, payment, charge.due_date, code)
    record(
        session,
        actor,
        "autopay.fail",
        charge,
        payment=payment.id,
        invoice=invoice.number,
        code=code,
        email=charge.email_status,
    )
    return FAILED


def email_failure(
    config: Mapping,
    autopay: Autopay,
    invoice: Invoice,
    payment: Payment,
    due: date,
    code: str,
) -> str:
    """E-mail the resident, in their language, that autopay did not pay the bill; the status."""
    resident = autopay.resident
    link = f"{config['PUBLIC_BASE_URL'].rstrip('/')}/pay?account={autopay.account.number}"
    with force_locale(resident.language or "en"):
        values = {
            "number": invoice.number,
            "amount": format_cents(payment.amount_cents),
            "day": format_date(due, format="long"),
            "card": card_name(autopay),
        }
        subject = _("Autopay could not pay your bill %(number)s", **values)
        paragraphs = [
            _("Hello,"),
            _(
                "Autopay tried to pay bill %(number)s, %(amount)s due %(day)s, with your card "
                "%(card)s. The payment did not go through, so the bill is not paid.",
                **values,
            ),
            messages.translate(resident_message(code)),
            _(
                "The usual reminders about this bill will continue until it is paid. "
                "You can pay it now at:"
            )
            + "\n"
            + link,
            _(
                "Autopay stays on for your next bills. To use another card or turn autopay off, "
                "sign in and open Autopay."
            ),
            config.get("MUNICIPALITY_NAME") or "",
        ]
        text = "\n\n".join(p for p in paragraphs if p) + "\n"
        language = resident.language or "en"
    delivery = mail.send_email(
        config, to=resident.email, subject=subject, text=text, language=language
    )
    return delivery.status

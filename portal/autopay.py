"""Autopay: a registered resident's saved card, charged off-session on each bill's due date.

The card is saved with Stripe.js (a SetupIntent on the account's Stripe customer) and
enrolled here once Stripe confirms it is that customer's; one enrollment per account is
active. Each morning `charge_due` charges every bill whose due date (or tax installment's)
has come: one AutopayCharge per invoice and due date, a pending Payment recorded first,
then an off-session PaymentIntent keyed by that payment. Nothing here marks a bill paid:
the verified webhook (or reconciliation) settles the payment, as for any card payment.

The attempt and its pending payment are committed before Stripe is called: a charge
Stripe makes is always found (and settled) by its webhook, and a run cut off after
recording never charges that bill again (the janitor cancels a payment Stripe never saw).

A declined card fails the payment, keeps the attempt as failed and e-mails the resident;
the bill stays open, so the usual reminders go on. When Stripe cannot be reached the
payment is failed with the code "unavailable" and the attempt is removed, so the next run
(within CATCH_UP_DAYS of the due date) tries again with a new payment. Should Stripe have
charged the card after all, its webhook settles that failed payment as usual, the bill is
paid, and the next run finds nothing owed.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, timedelta, tzinfo
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from billing.models import Account, Invoice
from core.audit import Actor, record
from core.db import utcnow
from core.money import format_cents
from payments.gateway import (
    UNAVAILABLE_MESSAGE,
    PaymentError,
    StripeGateway,
    StripePaymentIntent,
    StripePaymentMethod,
    resident_message,
)
from payments.models import Channel, Payment, PaymentStatus, Tender
from payments.online import ensure_customer
from payments.services import (
    OPEN,
    PaymentRefused,
    fail_payment,
    mark_payment,
    owed_items,
    record_payment,
)
from portal import mail, messages
from portal.messages import N_
from portal.models import Autopay, AutopayCharge, Resident, ResidentAccount

log = logging.getLogger(__name__)

#: NOTE: a bill whose due date passed while the scheduler was down is still charged this many
#: days later; after that it is left to the resident and the reminders.
CATCH_UP_DAYS = 3
CHARGED, FAILED, SKIPPED = "charged", "failed", "skipped"
#: The code of a payment failed because Stripe could not be reached (tried again next run).
UNAVAILABLE = "unavailable"

#: The resident's refusals (English; translated where they are shown).
NOT_LINKED = N_("This account is not linked to your online account.")
NOT_SAVED = N_("The card could not be saved for autopay. Enter it again.")
NOT_A_CARD = N_("Autopay takes a card. Enter a card.")
NOT_OFFERED = N_("Autopay is not offered at the moment.")


#: Card brands as Stripe names them, as a resident reads them.
BRANDS = {
    "amex": "American Express",
    "diners": "Diners Club",
    "discover": "Discover",
    "jcb": "JCB",
    "mastercard": "Mastercard",
    "unionpay": "UnionPay",
    "visa": "Visa",
}


def card_name(autopay: Autopay) -> str:
    """The saved card as a resident recognises it ("Visa •••• 4242")."""
    brand = BRANDS.get((autopay.card_brand or "").lower()) or _("Card")
    return f"{brand} •••• {autopay.card_last4}" if autopay.card_last4 else brand


class AutopayRefused(ValueError):
    """The enrollment was not made; the message says why, for the resident."""


@dataclass(frozen=True)
class DueCharge:
    """One bill to charge: the enrollment, the invoice, the due date and what is owed by then."""

    autopay_id: int
    invoice_id: int
    due_date: date
    amount_cents: int


def active_autopay(session: Session, account_id: int) -> Autopay | None:
    """The account's active enrollment, if any."""
    return session.scalar(
        sa.select(Autopay).where(Autopay.account_id == account_id, Autopay.active.is_(True))
    )


def _linked(session: Session, resident: Resident, account: Account) -> bool:
    """True when the resident proved the account's access code and linked it."""
    return (
        session.scalar(
            sa.select(ResidentAccount.id).where(
                ResidentAccount.resident_id == resident.id,
                ResidentAccount.account_id == account.id,
            )
        )
        is not None
    )


def _saved_card(
    gateway: StripeGateway, customer: str, payment_method_id: str, setup_intent_id: str | None
) -> StripePaymentMethod:
    """The card Stripe saved for the customer; AutopayRefused if it is anyone else's."""
    if setup_intent_id is not None:
        setup = gateway.retrieve_setup_intent(setup_intent_id)
        if (
            setup.customer_id != customer
            or setup.status != "succeeded"
            or setup.payment_method_id != payment_method_id
        ):
            raise AutopayRefused(NOT_SAVED)
    method = gateway.retrieve_payment_method(payment_method_id)
    if method.type != "card":
        raise AutopayRefused(NOT_A_CARD)
    if method.customer_id is None and setup_intent_id is not None:
        # NOTE: Stripe attaches a card to the SetupIntent's customer; localstripe does not.
        method = gateway.attach_payment_method(method.id, customer_id=customer)
    if method.customer_id != customer:
        raise AutopayRefused(NOT_SAVED)
    return method


def enroll(
    session: Session,
    actor: Actor,
    *,
    account: Account,
    resident: Resident,
    gateway: StripeGateway,
    payment_method_id: str,
    setup_intent_id: str | None = None,
) -> Autopay:
    """Turn autopay on with a card saved for the account's Stripe customer; flushes.

    The card must be the customer's: confirmed by our SetupIntent (when its id is given)
    or already attached to the customer. A new card replaces the active one, which is
    cancelled and detached at Stripe. Enrolling the active card again changes nothing.
    """
    if not _linked(session, resident, account):
        raise AutopayRefused(NOT_LINKED)
    customer = ensure_customer(session, gateway, account)
    method = _saved_card(gateway, customer, payment_method_id, setup_intent_id)
    old = active_autopay(session, account.id)
    if old is not None and old.stripe_payment_method_id == method.id:
        return old
    if old is not None:
        _deactivate(session, actor, old, reason="replaced")
        session.flush()  # the partial unique index allows one active enrollment per account
    row = Autopay(
        account_id=account.id,
        resident_id=resident.id,
        stripe_customer_id=customer,
        stripe_payment_method_id=method.id,
        card_brand=(method.card_brand or "")[:32] or None,
        card_last4=(method.card_last4 or "")[:4] or None,
        card_exp_month=method.card_exp_month,
        card_exp_year=method.card_exp_year,
        active=True,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "autopay.enroll",
        row,
        account=account.number,
        card=f"{row.card_brand} {row.card_last4}",
        replaces=old.id if old is not None else None,
    )
    if old is not None:
        _detach(gateway, old)
    return row


def _deactivate(session: Session, actor: Actor, row: Autopay, *, reason: str) -> None:
    """End an enrollment; it stays for the record."""
    row.active = False
    row.canceled_at = utcnow()
    record(session, actor, "autopay.cancel", row, reason=reason, account=row.account.number)


def _detach(gateway: StripeGateway | None, row: Autopay) -> bool:
    """Detach an ended enrollment's card at Stripe; a failure is logged (we no longer charge it)."""
    if gateway is None:
        return False
    try:
        gateway.detach_payment_method(row.stripe_payment_method_id)
    except PaymentError as error:
        log.warning("could not detach the card of autopay %s: %s", row.id, error.detail or error)
        return False
    return True


def cancel(
    session: Session, actor: Actor, *, account: Account, gateway: StripeGateway | None = None
) -> Autopay | None:
    """Turn the account's autopay off (and detach its card); None if it was not on. Flushes."""
    row = active_autopay(session, account.id)
    if row is None:
        return None
    _deactivate(session, actor, row, reason="canceled")
    session.flush()
    _detach(gateway, row)
    return row


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
        began = autopay.created_at.astimezone(zone).date()
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
        attempted = {
            (invoice_id, due)
            for invoice_id, due in session.execute(
                sa.select(AutopayCharge.invoice_id, AutopayCharge.due_date).where(
                    AutopayCharge.invoice_id.in_([i.id for i in invoices])
                )
            )
        }
        for invoice in invoices:
            items = None
            for due in _due_dates(invoice):
                if not max(earliest, began) <= due <= as_of or (invoice.id, due) in attempted:
                    continue
                items = items if items is not None else owed_items(session, [invoice])
                owed = sum(item.balance_cents for item in items if item.due_date <= due)
                if owed > 0:
                    found.append(DueCharge(autopay.id, invoice.id, due, owed))
    return found


def _in_flight(session: Session, account_id: int, invoice_id: int) -> bool:
    """True while another card payment that may pay this invoice waits for Stripe's word."""
    payments = session.scalars(
        sa.select(Payment).where(
            Payment.account_id == account_id,
            sa.or_(
                Payment.status == PaymentStatus.PROCESSING,
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
    zone = ZoneInfo(config["MUNICIPALITY_TIMEZONE"])
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
    if not autopay.active or _in_flight(session, autopay.account_id, invoice.id):
        return "deferred" if autopay.active else None
    charge = _claim(session, item)
    if charge is None:
        return None
    try:
        with session.begin_nested():
            payment = record_payment(
                session,
                actor,
                account=autopay.account,
                amount_cents=item.amount_cents,
                invoice_numbers=[invoice.number],
                channel=Channel.ONLINE,
                tender=Tender.CARD,
            )
    except PaymentRefused as refused:
        charge.outcome, charge.error = SKIPPED, refused.message[:500]
        record(session, actor, "autopay.skip", charge, invoice=invoice.number, why=refused.message)
        return SKIPPED
    charge.payment_id = payment.id
    session.flush()
    commit()  # NOTE: recorded before anything reaches Stripe (DESIGN.md, "Payments")
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
    """Stripe did not answer: fail the payment, forget the attempt, so the next run tries again."""
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

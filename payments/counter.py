"""Counter payments (cash, check, money order) and the clerk's cash drawer."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account
from core.audit import Actor, record
from core.db import utcnow
from ledger import chart
from payments.models import CashDrawer, Channel, Payment, PaymentStatus, Receipt, Tender
from payments.services import PaymentRefused, record_payment, settle_payment

COUNTER_TENDERS = (Tender.CASH, Tender.CHECK, Tender.MONEY_ORDER)
#: The longest check or money order number kept (Payment.tender_reference).
REFERENCE_MAX_LENGTH = 64


def open_drawer(session: Session, actor: Actor, *, opening_float_cents: int = 0) -> CashDrawer:
    """Open a drawer for the clerk; one open drawer per clerk."""
    if session.scalar(
        sa.select(CashDrawer.id).where(
            CashDrawer.opened_by == actor.label, CashDrawer.closed_at.is_(None)
        )
    ):
        raise PaymentRefused("drawer", "you already have an open drawer; close it first")
    if not isinstance(opening_float_cents, int) or opening_float_cents < 0:
        raise PaymentRefused(
            "opening_float_cents", "the opening float is a whole number of cents, zero or more"
        )
    drawer = CashDrawer(opened_by=actor.label, opening_float_cents=opening_float_cents)
    session.add(drawer)
    session.flush()
    record(session, actor, "drawer.open", drawer, opening_float_cents=opening_float_cents)
    return drawer


def take_counter_payment(
    session: Session,
    actor: Actor,
    *,
    drawer: CashDrawer,
    account: Account,
    amount_cents: int,
    tender: Tender,
    reference: str | None,
    invoice_numbers: list[str],
    on: date,
) -> Receipt:
    """Take cash, a check or a money order into an open drawer; settled at once, with a receipt."""
    if drawer.closed_at is not None or drawer.opened_by != actor.label:
        raise PaymentRefused("drawer", "take counter payments into your own open drawer")
    if tender not in COUNTER_TENDERS:
        raise PaymentRefused("tender", "the counter takes cash, checks and money orders")
    if tender != Tender.CASH and not (reference or "").strip():
        raise PaymentRefused("reference", "enter the check or money order number")
    if len((reference or "").strip()) > REFERENCE_MAX_LENGTH:
        raise PaymentRefused(
            "reference",
            f"a check or money order number has at most {REFERENCE_MAX_LENGTH} characters",
        )
    payment = record_payment(
        session,
        actor,
        account=account,
        amount_cents=amount_cents,
        invoice_numbers=invoice_numbers,
        channel=Channel.COUNTER,
        tender=tender,
        minimum_cents=1,
        drawer=drawer,
    )
    payment.tender_reference = (reference or "").strip() or None
    return settle_payment(session, actor, payment, on=on, cash_gl=chart.CASH_DRAWER)


def close_drawer(
    session: Session, actor: Actor, drawer: CashDrawer, *, counted_cents: dict[str, int]
) -> dict:
    """Close the drawer: totals by tender against what was counted for the deposit."""
    if drawer.closed_at is not None:
        raise PaymentRefused("drawer", "this drawer is already closed")
    taken: dict[str, int] = defaultdict(int)
    voided: dict[str, int] = defaultdict(int)
    for payment in session.scalars(sa.select(Payment).where(Payment.drawer_id == drawer.id)):
        bucket = voided if payment.status == PaymentStatus.VOIDED else taken
        bucket[payment.tender.value] += payment.amount_cents
    expected = {tender.value: taken.get(tender.value, 0) for tender in COUNTER_TENDERS}
    expected["cash"] += drawer.opening_float_cents
    counted = {tender.value: int(counted_cents.get(tender.value, 0)) for tender in COUNTER_TENDERS}
    report = {
        "opening_float_cents": drawer.opening_float_cents,
        "taken_cents": dict(taken),
        "voided_cents": dict(voided),
        "expected_cents": expected,
        "counted_cents": counted,
        "difference_cents": {k: counted[k] - expected[k] for k in expected},
    }
    drawer.close_out, drawer.closed_by, drawer.closed_at = report, actor.label, utcnow()
    record(session, actor, "drawer.close", drawer, **report)
    return report

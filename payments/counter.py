"""Counter payments (cash, check, money order) and the clerk's cash drawer."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account
from core.audit import Actor, record
from core.db import utcnow
from core.money import format_cents
from ledger import chart
from ledger.posting import Posting, post_entry
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
    session: Session,
    actor: Actor,
    drawer: CashDrawer,
    *,
    counted_cents: dict[str, int],
    on: date,
    approval_limit_cents: int,
    coin_cents: int | None = None,
) -> dict:
    """Close the drawer: totals by tender against what was counted, and the over or short posted.

    `counted_cents` is the whole drawer by tender (the cash with its opening float); `coin_cents`
    the coin among the cash that goes to the bank. An over or short larger than
    `approval_limit_cents` waits for a supervisor (`approve_over_short`) before it is posted.
    """
    if drawer.closed_at is not None:
        raise PaymentRefused("drawer", "this drawer is already closed")
    report = _close_out(session, drawer, counted_cents, coin_cents)
    difference = sum(report["difference_cents"].values())
    _claim(session, drawer, CashDrawer.closed_at.is_(None), "this drawer is already closed")
    drawer.close_out, drawer.closed_by, drawer.closed_at = report, actor.label, utcnow()
    drawer.over_short_cents = difference
    drawer.deposit_cents = report["deposit"]["total_cents"]
    drawer.awaiting_approval = abs(difference) > approval_limit_cents
    session.flush()
    record(session, actor, "drawer.close", drawer, **report)
    if not drawer.awaiting_approval:
        _post_over_short(session, actor, drawer, on)
    return report


def _close_out(
    session: Session, drawer: CashDrawer, counted_cents: dict[str, int], coin_cents: int | None
) -> dict:
    """The close-out report: taken, voided, expected and counted by tender, and the deposit."""
    taken: dict[str, int] = defaultdict(int)
    voided: dict[str, int] = defaultdict(int)
    for payment in session.scalars(sa.select(Payment).where(Payment.drawer_id == drawer.id)):
        bucket = voided if payment.status == PaymentStatus.VOIDED else taken
        bucket[payment.tender.value] += payment.amount_cents
    expected = {tender.value: taken.get(tender.value, 0) for tender in COUNTER_TENDERS}
    expected["cash"] += drawer.opening_float_cents
    counted = {tender.value: counted_cents.get(tender.value, 0) for tender in COUNTER_TENDERS}
    for tender, cents in counted.items():
        if not isinstance(cents, int) or isinstance(cents, bool) or cents < 0:
            raise PaymentRefused(
                "counted_cents", f"count the {tender} in whole cents, zero or more"
            )
    # NOTE: the opening float stays in the drawer for the next day; the rest goes to the bank.
    # A drawer whose cash is below its float sends no cash, and the float is short by the rest:
    # the short is posted to 5300 like any other, and 1010 keeps it until the float is made up.
    cash_out = max(counted["cash"] - drawer.opening_float_cents, 0)
    if coin_cents is not None and (
        not isinstance(coin_cents, int)
        or isinstance(coin_cents, bool)
        or not 0 <= coin_cents <= cash_out
    ):
        raise PaymentRefused(
            "coin_cents",
            "the coin is part of the cash deposited: zero up to the cash less the float",
        )
    return {
        "opening_float_cents": drawer.opening_float_cents,
        "taken_cents": dict(taken),
        "voided_cents": dict(voided),
        "expected_cents": expected,
        "counted_cents": counted,
        "difference_cents": {k: counted[k] - expected[k] for k in expected},
        "deposit": {
            "cash_cents": cash_out,
            "float_short_cents": max(drawer.opening_float_cents - counted["cash"], 0),
            # None when the clerk did not split the cash into currency and coin.
            "coin_cents": coin_cents,
            "check_cents": counted["check"],
            "money_order_cents": counted["money_order"],
            "total_cents": cash_out + counted["check"] + counted["money_order"],
        },
    }


def _post_over_short(session: Session, actor: Actor, drawer: CashDrawer, on: date) -> None:
    """Post the drawer's over or short: over Dr 1010 / Cr 5300, short Dr 5300 / Cr 1010."""
    cents = drawer.over_short_cents or 0
    if cents == 0:
        return
    over = cents > 0
    post_entry(
        session,
        [
            Posting(chart.CASH_DRAWER if over else chart.CASH_OVER_SHORT, debit_cents=abs(cents)),
            Posting(chart.CASH_OVER_SHORT if over else chart.CASH_DRAWER, credit_cents=abs(cents)),
        ],
        entry_date=on,
        source_type="drawer_over_short",
        source_id=drawer.id,
        actor=actor,
        memo=f"Drawer {drawer.id} counted {'over' if over else 'short'} by {format_cents(abs(cents))}",
    )
    record(session, actor, "drawer.over_short", drawer, over_short_cents=cents, on=on)


def approve_over_short(session: Session, actor: Actor, drawer: CashDrawer, *, on: date) -> None:
    """A supervisor approves a drawer's over or short above the limit: it is posted now.

    The caller checks the approve permission; the approver is never the clerk who closed it.
    """
    if not drawer.awaiting_approval:
        raise PaymentRefused("drawer", f"drawer {drawer.id} has no over or short awaiting approval")
    if actor.label in (drawer.closed_by, drawer.opened_by):
        raise PaymentRefused(
            "drawer", "another person than the clerk of the drawer approves its over or short"
        )
    _claim(
        session,
        drawer,
        CashDrawer.awaiting_approval.is_(True),
        f"drawer {drawer.id} has no over or short awaiting approval",
    )
    drawer.awaiting_approval, drawer.over_short_approved_by = False, actor.label
    record(
        session,
        actor,
        "drawer.over_short_approved",
        drawer,
        over_short_cents=drawer.over_short_cents,
    )
    _post_over_short(session, actor, drawer, on)


def _claim(session: Session, drawer: CashDrawer, still: sa.ColumnElement, refusal: str) -> None:
    """Take the drawer's row for one change while `still` holds, or refuse: of two clerks closing
    (or two supervisors approving) at once, the second finds it done and posts nothing."""
    # NOTE: PostgreSQL evaluates the WHERE again once the first writer commits; SQLite has one
    # writer at a time. The row is then written in full by the ORM's own flush.
    table = CashDrawer.__table__
    claimed = session.execute(
        table.update().where(table.c.id == drawer.id, still).values(id=table.c.id)
    ).rowcount
    if claimed != 1:
        raise PaymentRefused("drawer", refusal)

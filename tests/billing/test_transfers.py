"""A household moves: its old account is finaled, a new one opened; the unpaid final balance
can follow it to the new account, with both ledgers balanced."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from accounts.locations import BalanceTransfer, OrderKind, OrderStatus
from accounts.models import Account, AccountStatus
from accounts.responsibility import gaps_and_overlaps, history, responsible_on
from billing.balance_transfers import TransferError, transfer_final_balance
from billing.models import Invoice, InvoiceStatus
from billing.position import account_position
from billing.service_orders import OrderError, confirm, new_order
from core.models import AuditEvent
from ledger.balances import account_position as ledger_position
from ledger.balances import trial_balance
from tests.billing.order_fixtures import CLERK, SETTINGS, read, two_houses

MOVE_DAY = date(2026, 11, 15)
AFTER = date(2026, 11, 16)


def _move(session, old, new, **fields):
    """The tenant moves from the old house to the new one on November 15."""
    read(session, new.water, date(2026, 11, 14), 640)
    order = new_order(
        session,
        CLERK,
        status=OrderStatus.CONFIRMED,
        kind=OrderKind.TRANSFER,
        location_id=old.location.id,
        new_location_id=new.location.id,
        account_id=old.tenant.id,
        holder_name=old.tenant.holder_name,
        effective_on=MOVE_DAY,
        reading=20000,
        forward_street=new.location.street,
        forward_city="Maple Falls",
        forward_state="WI",
        forward_zip="54901",
        **fields,
    )
    return confirm(session, CLERK, order, SETTINGS, AFTER)


def test_a_transfer_finals_the_old_account_and_opens_one_at_the_new_location(session):
    old, new = two_houses(session)
    order = _move(session, old, new)

    moved = session.get(Account, order.new_account_id)
    assert old.tenant.status == AccountStatus.CLOSED
    assert moved.status == AccountStatus.ACTIVE and moved.holder_name == old.tenant.holder_name
    assert responsible_on(session, new.location.id, MOVE_DAY) == moved.id
    assert responsible_on(session, new.location.id, date(2026, 11, 14)) == new.landlord.id
    assert responsible_on(session, old.location.id, AFTER) == old.landlord.id
    for house in (old, new):
        assert gaps_and_overlaps(history(session, house.location.id)) == []
    final = session.get(Invoice, order.final_invoice_id)
    assert final.is_final and final.account_id == old.tenant.id
    # The new house's owner pays its vacancy up to the day before: 140 gallons, 14 of 30 days.
    vacancy = session.scalar(
        sa.select(Invoice).where(
            Invoice.account_id == new.landlord.id, Invoice.period_end == date(2026, 11, 14)
        )
    )
    assert vacancy.total_cents == 560 + 70


def test_the_unpaid_final_balance_moves_to_the_new_account_with_both_ledgers_balanced(session):
    old, new = two_houses(session)
    order = _move(session, old, new)
    final = session.get(Invoice, order.final_invoice_id)
    moved = session.get(Account, order.new_account_id)
    october_owed = account_position(session, old.tenant.id, AFTER).owed_cents() - final.total_cents

    transfer = transfer_final_balance(
        session, CLERK, final, moved, reason="Same household, moved within town", on=AFTER
    )

    assert transfer.amount_cents == final.total_cents == 3080
    assert final.balance_cents == 0 and final.status == InvoiceStatus.PAID
    old_position = account_position(session, old.tenant.id, AFTER)
    new_position = account_position(session, moved.id, AFTER)
    assert old_position.owed_cents() == october_owed
    assert new_position.owed_cents() == 3080
    assert ledger_position(session, old.tenant.id)[0] == old_position.owed_cents()
    assert ledger_position(session, moved.id)[0] == 3080
    books = trial_balance(session, AFTER)
    assert books.total_debit_cents == books.total_credit_cents
    audit = session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "balance_transfer.post")
    )
    assert audit.summary["reason"] == "Same household, moved within town"
    assert audit.summary["amount_cents"] == 3080


def test_a_balance_cannot_move_to_a_closed_account_or_twice(session):
    old, new = two_houses(session)
    order = _move(session, old, new)
    final = session.get(Invoice, order.final_invoice_id)

    new.landlord.status = AccountStatus.CLOSED
    with pytest.raises(TransferError, match=r"to_account: account \d+ is closed"):
        transfer_final_balance(session, CLERK, final, new.landlord, reason="x", on=AFTER)
    with pytest.raises(TransferError, match="already on that account"):
        transfer_final_balance(session, CLERK, final, old.tenant, reason="x", on=AFTER)
    moved = session.get(Account, order.new_account_id)
    with pytest.raises(TransferError, match="reason: say why"):
        transfer_final_balance(session, CLERK, final, moved, reason="  ", on=AFTER)
    transfer_final_balance(session, CLERK, final, moved, reason="moved", on=AFTER)
    with pytest.raises(TransferError, match="owes nothing"):
        transfer_final_balance(session, CLERK, final, moved, reason="again", on=AFTER)
    assert session.scalar(sa.select(sa.func.count()).select_from(BalanceTransfer)) == 1


def test_a_transfer_to_a_closed_account_is_refused_and_nothing_is_half_done(session):
    old, new = two_houses(session)
    closed = new.landlord
    closed.status = AccountStatus.CLOSED
    session.flush()
    step = session.begin_nested()
    with pytest.raises(OrderError, match=r"account: account \d+ is closed; service cannot start"):
        _move(session, old, new, new_account_id=closed.id)
    step.rollback()
    session.expire_all()
    assert session.get(Account, old.tenant.id).status == AccountStatus.ACTIVE
    assert (
        session.scalar(sa.select(sa.func.count()).select_from(Invoice).where(Invoice.is_final)) == 0
    )
    assert responsible_on(session, old.location.id, AFTER) == old.tenant.id

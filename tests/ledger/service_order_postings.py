"""The postings of service orders, made through their real services (test_entry_sources)."""

from __future__ import annotations

from datetime import date

from flask import Flask

from accounts.locations import OrderKind, OrderStatus
from accounts.models import Account
from billing.balance_transfers import transfer_final_balance
from billing.models import Invoice
from billing.service_orders import confirm, new_order
from core.extensions import db
from tests.billing.order_fixtures import CLERK, SETTINGS, read, two_houses
from tests.ledger.billing_postings import Posted, newest


def final_balance_moved(app: Flask, client) -> Posted:
    """A household moves within town; its unpaid final balance follows it."""
    with app.app_context():
        old, new = two_houses(db.session)
        read(db.session, new.water, date(2026, 11, 14), 640)
        order = new_order(
            db.session,
            CLERK,
            status=OrderStatus.CONFIRMED,
            kind=OrderKind.TRANSFER,
            location_id=old.location.id,
            new_location_id=new.location.id,
            account_id=old.tenant.id,
            holder_name=old.tenant.holder_name,
            effective_on=date(2026, 11, 15),
            reading=20000,
        )
        confirm(db.session, CLERK, order, SETTINGS, date(2026, 11, 16))
        final = db.session.get(Invoice, order.final_invoice_id)
        moved = db.session.get(Account, order.new_account_id)
        transfer = transfer_final_balance(
            db.session, CLERK, final, moved, reason="moved within town", on=date(2026, 11, 16)
        )
        db.session.commit()
        return Posted(newest(), str(transfer.id), f"Final bill {final.number} balance")

"""Making the journal entries of lockbox files through the import and the clerks' queue
(tests/ledger/test_entry_sources.py): a file's queued items held, a queued item returned, a
file deposited by its import."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from core.extensions import db
from payments.lockbox_queue import return_item
from payments.models import BankDeposit, RemittanceFile, RemittanceItem, RemittanceStatus
from tests.ledger.billing_postings import Posted, newest
from tests.payments.lockbox_files import Check, bai
from tests.payments.test_lockbox import CLERK, DEPOSIT, TODAY, billed, take


def _imported(app: Flask) -> tuple[int, int]:
    """A BAI file of two checks for the stubs printed on two bills: the first settles, the
    second is short of its stub and waits in the queue; (file id, queued item id)."""
    with app.app_context():
        (_a1, _i1, s1), (_a2, _i2, s2) = billed(db.session, ["olson", "berg"])
        checks = [
            Check(s1.amount_due_cents, s1.scan_line, "7001"),
            Check(s2.amount_due_cents - 500, s2.scan_line, "7002"),
        ]
        report = take(db.session, bai(checks, DEPOSIT))
        db.session.commit()
        (queued,) = db.session.scalars(
            sa.select(RemittanceItem).where(RemittanceItem.status == RemittanceStatus.EXCEPTION)
        ).all()
        return report.file_id, queued.id


def queued_items_held(app: Flask, client: FlaskClient) -> Posted:
    """The queued item's money held for the clerks: Dr 1040 / Cr 2040."""
    file_id, _item_id = _imported(app)
    with app.app_context():
        return Posted(newest(), str(file_id), f"of lockbox file {file_id} held")


def queued_item_returned(app: Flask, client: FlaskClient) -> Posted:
    """A clerk returns the short check to its payer: Dr 2040 / Cr 2010."""
    file_id, item_id = _imported(app)
    with app.app_context():
        item = db.session.get(RemittanceItem, item_id)
        return_item(db.session, CLERK, item, note="payer asked for it back", on=TODAY)
        db.session.commit()
        return Posted(newest(), str(item_id), f"Remittance item {item_id} (file {file_id},")


def file_deposited(app: Flask, client: FlaskClient) -> Posted:
    """The bank deposited the file's checks: its import makes the deposit, Dr 1050 / Cr 1040."""
    with app.app_context():
        (_a, _i, stub) = billed(db.session, ["olson"])[0]
        report = take(
            db.session,
            bai([Check(stub.amount_due_cents, stub.scan_line, "7101")], DEPOSIT),
            deposit=True,
        )
        db.session.commit()
        upload = db.session.get(RemittanceFile, report.file_id)
        deposit = db.session.get(BankDeposit, upload.bank_deposit_id)
        return Posted(newest(), deposit.number, f"Lockbox file {upload.id}")

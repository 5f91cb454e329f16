"""Making the journal entry of an estimated first installment paid above the year's tax
through the tax runs (tests/ledger/test_entry_sources.py; docs/tax.md, example 13)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from accounts.models import Parcel, ParcelValuation
from billing.rules import load_levy
from core.extensions import db
from tests.billing.test_tax_estimates import LOADER, bill_2022, bills, document, owner, pay, run
from tests.ledger.billing_postings import Posted, newest

#: Example 13's building whose 2023 value the Board of Review cut on appeal.
APPEALED = "14-08-203-003-0000"


def estimate_paid_above_the_tax(app: Flask, client: FlaskClient) -> Posted:
    """The appealed building alone: its 2023 estimate of $28,281.31 paid in full, then the
    2023 run bills a tax of $21,099.02; the $7,182.29 paid beyond it becomes account credit
    (Dr 2030 / Cr 2000), the run's last entry."""
    with app.app_context():
        session = db.session
        account = owner(session, APPEALED, 1_000_000_00, "commercial")
        bill_2022(session)
        appealed = session.scalar(
            sa.select(ParcelValuation)
            .join(Parcel)
            .where(Parcel.parcel_number == APPEALED, ParcelValuation.tax_year == 2023)
        )
        appealed.market_value_cents = 400_000_00
        load_levy(session, LOADER, document())
        run(session, "2023-estimate")
        (first,) = bills(session, account, estimated=True)
        pay(session, account, first.total_cents, first.due_date)
        run(session, "2023")
        session.commit()
        return Posted(newest(), first.number, f"Estimated first installment {first.number}")

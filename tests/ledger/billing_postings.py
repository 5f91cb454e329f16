"""Making one journal entry of each billing kind through its service (tests/ledger/test_entry_sources.py).

Each maker returns the entry it made and the document that entry must name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa
from flask import Flask

from accounts.models import Account
from billing.adjustments import issue_credit_memo, recompute_and_reissue, void_invoice, waive_charge
from billing.models import CreditMemo, Invoice, InvoiceCharge, InvoiceKind
from billing.penalty_service import assess_penalties
from billing.source_corrections import SourceCorrection, correct_credit_memo_sources
from core.audit import Actor
from core.extensions import db
from ledger import chart
from ledger.models import JournalEntry
from payments.models import Payment
from tests.billing.billing_fixtures import load_demo_levy, parcel
from tests.billing.test_source_corrections import _run, posted_as_before_the_fix
from tests.payments.signing import deliver, intent_event
from tests.payments.test_webhooks import _payment, _town

SUPERVISOR = Actor("user", "2", "supervisor@example.org", "127.0.0.1")
JOB = Actor.job("entry sources")
DAY = date(2026, 11, 20)


@dataclass(frozen=True)
class Posted:
    """The entry a service posted, and the document it must name."""

    seq: int
    source_id: str
    #: What the memo must say, e.g. "Credit memo CM-2026-000001".
    names: str


def newest() -> int:
    """The seq of the newest journal entry."""
    return db.session.scalar(sa.select(sa.func.max(JournalEntry.seq)))


def bill_of(account_id: int) -> Invoice:
    """The account's newest invoice."""
    return db.session.scalar(
        sa.select(Invoice).where(Invoice.account_id == account_id).order_by(Invoice.id.desc())
    )


def _tax_billed(app: Flask, account_id: int) -> Invoice:
    """The household owns a parcel and is billed the 2026 property tax; its tax bill."""
    with app.app_context():
        load_demo_levy(db.session, 2026)
        owner = db.session.get(Account, account_id)
        parcel(db.session, owner, "251-0001-00", 250_000, tax_year=2026)
        _run(db.session, InvoiceKind.TAX, "2026", date(2026, 12, 10), date(2027, 1, 31))
        return bill_of(account_id)


def invoice_of_a_run(app, client) -> Posted:
    """A billing run's invoice."""
    (account_id,) = _town(app)
    with app.app_context():
        number = bill_of(account_id).number
        return Posted(newest(), number, f"Invoice {number} ")


def invoice_with_credit_applied(app, client) -> Posted:
    """A tax run's invoice that uses the credit a second payment of a paid bill left."""
    (account_id,) = _town(app)
    twice = [_payment(app, account_id), _payment(app, account_id)]  # both before either settles
    with app.app_context():
        for payment_id in twice:
            payment = db.session.get(Payment, payment_id)
            deliver(client, intent_event("payment_intent.succeeded", payment))
    _tax_billed(app, account_id)
    with app.app_context():
        entry = db.session.scalar(sa.select(JournalEntry).where(JournalEntry.seq == newest()))
        assert chart.UNAPPLIED_CREDITS in {line.gl_account.code for line in entry.lines}
        number = bill_of(account_id).number
        return Posted(entry.seq, number, f"Invoice {number} ")


def reissued_invoice(app, client) -> Posted:
    """The invoice reissued for a voided one's period."""
    (account_id,) = _town(app)
    with app.app_context():
        old = bill_of(account_id)
        void_invoice(db.session, SUPERVISOR, old, reason="misread meter", on=DAY)
        new = recompute_and_reissue(
            db.session,
            SUPERVISOR,
            old,
            issue_date=DAY,
            due_date=date(2026, 12, 11),
            rounding="half_up",
            spike_multiple=3,
        )
        db.session.commit()
        return Posted(newest(), new.number, f"Invoice {new.number} ")


def _penalized(app) -> tuple[int, Invoice]:
    """A billed household charged the late fee; (account id, its bill)."""
    (account_id,) = _town(app)
    with app.app_context():
        assess_penalties(db.session, JOB, as_of=date(2026, 12, 14), rounding="half_up")
        db.session.commit()
        return account_id, bill_of(account_id)


def penalties_assessed(app, client) -> Posted:
    """Penalties and interest on a bill."""
    _account_id, bill = _penalized(app)
    with app.app_context():
        return Posted(newest(), bill.number, f"Penalties and interest on invoice {bill.number}")


def void_of_the_invoice(app, client) -> Posted:
    """A void's reversal of its invoice's entry (without penalties, the newest)."""
    (account_id,) = _town(app)
    with app.app_context():
        bill = bill_of(account_id)
        void_invoice(db.session, SUPERVISOR, bill, reason="billed twice", on=DAY)
        db.session.commit()
        return Posted(newest(), bill.number, f"Void of invoice {bill.number}:")


def void_of_the_penalties(app, client) -> Posted:
    """A void's reversal of its penalties' entry (reversed after the invoice's)."""
    account_id, bill = _penalized(app)
    with app.app_context():
        void_invoice(db.session, SUPERVISOR, bill_of(account_id), reason="billed twice", on=DAY)
        db.session.commit()
        return Posted(newest(), bill.number, f"Void of invoice {bill.number}:")


def waiver(app, client) -> Posted:
    """A waiver of the late fee."""
    _penalized(app)
    with app.app_context():
        charge = db.session.scalar(sa.select(InvoiceCharge))
        waive_charge(db.session, SUPERVISOR, charge, reason="first time late", on=DAY)
        db.session.commit()
        return Posted(newest(), str(charge.id), f"Waiver of charge {charge.id} ")


def credit_memo(app, client) -> Posted:
    """A credit memo on a utility bill."""
    (account_id,) = _town(app)
    with app.app_context():
        memo = issue_credit_memo(
            db.session,
            SUPERVISOR,
            bill_of(account_id),
            amount_cents=1000,
            reason="leak adjustment",
            on=DAY,
        )
        db.session.commit()
        return Posted(newest(), memo.number, f"Credit memo {memo.number} ")


def credit_memo_on_tax(app, client) -> Posted:
    """A credit memo reaching a tax bill's second installment."""
    (account_id,) = _town(app)
    bill = _tax_billed(app, account_id)
    with app.app_context():
        bill = db.session.get(Invoice, bill.id)
        cents = bill.installments[0].balance_cents + 1000
        memo = issue_credit_memo(
            db.session, SUPERVISOR, bill, amount_cents=cents, reason="appeal granted", on=DAY
        )
        db.session.commit()
        return Posted(newest(), memo.number, f"Credit memo {memo.number} ")


def _misnamed_then_corrected(app) -> tuple[SourceCorrection, CreditMemo]:
    """A credit memo posted as "credit memo 0", then corrected; (the correction, the memo)."""
    (account_id,) = _town(app)
    with app.app_context(), pytest.MonkeyPatch.context() as patch:
        with posted_as_before_the_fix(patch, "0"):
            memo = issue_credit_memo(
                db.session,
                SUPERVISOR,
                bill_of(account_id),
                amount_cents=900,
                reason="leak adjustment",
                on=DAY,
            )
        (done,) = correct_credit_memo_sources(db.session, JOB, on=DAY)
        db.session.commit()
        assert done.memo_number == memo.number
        return done, memo


def corrected_credit_memo(app, client) -> Posted:
    """The correction's repost of a misnamed credit memo entry, under the memo's number."""
    done, memo = _misnamed_then_corrected(app)
    return Posted(done.repost_seq, memo.number, f"Credit memo {memo.number} ")


def correction_reversal(app, client) -> Posted:
    """The correction's reversal of the misnamed entry: its source, and the memo's real number."""
    done, memo = _misnamed_then_corrected(app)
    return Posted(done.reversal_seq, "0", f"not {memo.number};")

"""A bank's lockbox file: the stubs munibill printed come back with checks; each settles once,
the rest wait in the clerks' queue with their reason, and a bad file is refused whole."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from flask import current_app

from accounts.models import AccountStatus
from accounts.services import FormerNumbers
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from billing.runs import RunOptions, open_run, post_run
from core.audit import Actor
from core.checkdigit import with_luhn
from core.models import AuditEvent
from ledger import chart
from ledger.balances import account_receivable, gl_balance
from ledger.verify import verify_chain
from notices.content import bill
from notices.scanline import scan_line
from payments import settle_new
from payments.lockbox import ImportRefused, import_file
from payments.lockbox_layouts import FileRefused, load_layout
from payments.models import (
    Channel,
    Payment,
    PaymentStatus,
    Receipt,
    RemittanceFile,
    RemittanceItem,
    RemittanceStatus,
    Tender,
)
from tests.billing.billing_fixtures import household, load_rules
from tests.payments.lockbox_files import Check, bai, csv_lockbox

CLERK = Actor("user", "3", "clerk@example.org", "127.0.0.1")
DEPOSIT = date(2026, 11, 12)
TODAY = date(2026, 11, 13)
ACCEPTED = FormerNumbers(today=TODAY, days=365)
NAMES = ["olson", "berg", "lind", "dahl", "moe"]


def billed(session, names=NAMES):
    """Households billed for October; returns (account, its bill, the stub's scan line)."""
    plans = load_rules(session)
    accounts = [
        household(session, plans, name, [1000, 5000 + 700 * i, 9000 + 900 * i, 13000, 18400])
        for i, name in enumerate(names)
    ]
    run = open_run(
        session,
        Actor.job("t"),
        kind=InvoiceKind.UTILITY,
        cycle="2026-10",
        issue_date=date(2026, 11, 2),
        due_date=date(2026, 11, 23),
    )
    post_run(session, run, Actor.job("t"), RunOptions())
    out = []
    for account in accounts:
        invoice = session.scalar(sa.select(Invoice).where(Invoice.account_id == account.id))
        # NOTE: the scan line is read off the stub of the bill as munibill prints it.
        (stub,) = bill(session, current_app.config, invoice).stubs
        out.append((account, invoice, stub))
    return out


def checks_for(stubs, first_check: int = 1001) -> list[Check]:
    """A check for each stub, for the stub's amount."""
    return [
        Check(stub.amount_due_cents, stub.scan_line, str(first_check + n))
        for n, (_a, _i, stub) in enumerate(stubs)
    ]


def take(session, data: bytes, layout: str = "bai-lockbox", **kwargs):
    return import_file(
        session,
        CLERK,
        data,
        layout=load_layout(layout),
        filename=f"lockbox-{DEPOSIT}.txt",
        today=TODAY,
        accepted=kwargs.pop("accepted", ACCEPTED),
        **kwargs,
    )


def test_each_printed_stub_with_its_check_settles_its_bill_once_through_lockbox_clearing(session):
    stubs = billed(session)
    checks = checks_for(stubs)
    total = sum(c.amount_cents for c in checks)

    report = take(session, bai(checks, DEPOSIT, per_batch=2))
    session.commit()

    assert (report.items, report.settled, report.exceptions) == (5, 5, [])
    assert report.total_cents == report.settled_cents == total
    for account, invoice, stub in stubs:
        assert session.get(Invoice, invoice.id).status == InvoiceStatus.PAID
        assert account_receivable(session, account.id) == 0
        payment = session.scalar(sa.select(Payment).where(Payment.account_id == account.id))
        assert payment.status == PaymentStatus.SUCCEEDED
        assert (payment.channel, payment.tender) == (Channel.MAIL, Tender.CHECK)
        assert payment.amount_cents == stub.amount_due_cents
        receipt = session.scalar(sa.select(Receipt).where(Receipt.payment_id == payment.id))
        assert receipt.paid_on == DEPOSIT and receipt.balance_after_cents == 0
    assert session.scalars(sa.select(Payment.tender_reference).order_by(Payment.id)).all() == [
        "1001",
        "1002",
        "1003",
        "1004",
        "1005",
    ]
    assert gl_balance(session, chart.LOCKBOX_CLEARING) == total
    assert gl_balance(session, chart.REMITTANCES_HELD) == 0
    items = session.scalars(sa.select(RemittanceItem).order_by(RemittanceItem.sequence)).all()
    assert [(i.sequence, i.batch, i.item) for i in items] == [
        (1, "001", "001"),
        (2, "001", "002"),
        (3, "002", "001"),
        (4, "002", "002"),
        (5, "003", "001"),
    ]
    assert {i.status for i in items} == {RemittanceStatus.SETTLED}
    assert verify_chain(session).problem is None


def test_the_same_file_imported_again_is_refused_and_nothing_settles_twice(session):
    stubs = billed(session, NAMES[:2])
    data = bai(checks_for(stubs), DEPOSIT)
    take(session, data)
    session.commit()

    with pytest.raises(ImportRefused, match="already imported as file"):
        take(session, data)
    with pytest.raises(ImportRefused, match="already imported"):
        take(session, data, dry_run=True)
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 2
    assert session.scalar(sa.select(sa.func.count()).select_from(RemittanceFile)) == 1
    assert gl_balance(session, chart.LOCKBOX_CLEARING) == sum(
        s.amount_due_cents for _a, _i, s in stubs
    )


def test_a_check_sent_again_in_another_file_waits_as_a_duplicate(session):
    stubs = billed(session, NAMES[:2])
    take(session, bai(checks_for(stubs), DEPOSIT))
    # NOTE: the bank sends the first check again in a file of its own (other bytes).
    again = take(session, bai(checks_for(stubs)[:1], DEPOSIT, lockbox="0099999"))
    assert again.settled == 0
    assert [e["reason"] for e in again.exceptions] == ["duplicate"]
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 2


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda lines: lines[:-1], id="trailer missing"),
        pytest.param(lambda lines: lines[:-4], id="ends inside a batch"),
        pytest.param(lambda lines: lines[:4] + lines[5:], id="a record lost"),
    ],
)
def test_a_truncated_file_is_refused_whole_and_takes_nothing(session, cut):
    stubs = billed(session, NAMES[:3])
    lines = bai(checks_for(stubs), DEPOSIT).decode().splitlines()
    with pytest.raises(FileRefused, match="truncated|trailer|add up|counts"):
        take(session, ("\n".join(cut(lines)) + "\n").encode())
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(RemittanceItem)) == 0


def test_a_batch_whose_items_do_not_add_up_to_its_total_is_refused_whole(session):
    stubs = billed(session, NAMES[:4])
    checks = checks_for(stubs)
    short = sum(c.amount_cents for c in checks[2:]) - 1
    data = bai(checks, DEPOSIT, per_batch=2, batch_totals={"002": (2, short)})
    with pytest.raises(FileRefused, match="line 10: batch 002 does not add up"):
        take(session, data)
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0
    assert all(i.status == InvoiceStatus.OPEN for _a, i, _s in stubs)


def test_items_that_cannot_settle_wait_with_their_reason_and_their_money_is_held(session):
    stubs = billed(session)
    (a1, i1, s1), (a2, i2, s2), (a3, _i3, s3), (a4, _i4, s4), (a5, _i5, s5) = stubs
    a5.status = AccountStatus.CLOSED
    digits = list(s2.scan_line)
    digits[10] = str((int(digits[10]) + 1) % 10)  # one digit misread
    nobody = scan_line(with_luhn("9999999"), 5000, date(2026, 11, 23))
    checks = [
        Check(s1.amount_due_cents, s1.scan_line, "2001"),
        Check(s2.amount_due_cents, "".join(digits), "2002"),
        Check(s3.amount_due_cents - 100, s3.scan_line, "2003"),
        Check(5000, nobody, "2004"),
        Check(1234, "", "2005"),
        Check(s5.amount_due_cents, s5.scan_line, "2006"),
        Check(s4.amount_due_cents, s4.scan_line, "2007"),
    ]
    report = take(session, bai(checks, DEPOSIT))
    session.commit()

    reasons = {e["sequence"]: e["reason"] for e in report.exceptions}
    assert reasons == {
        2: "bad_check_digit",
        3: "amount_differs",
        4: "unknown_account",
        5: "unreadable",
        6: "account_closed",
    }
    assert report.settled == 2
    assert session.get(Invoice, i1.id).status == InvoiceStatus.PAID
    assert session.get(Invoice, i2.id).status == InvoiceStatus.OPEN
    held = sum(c.amount_cents for n, c in enumerate(checks, start=1) if n in reasons)
    assert gl_balance(session, chart.LOCKBOX_CLEARING) == sum(c.amount_cents for c in checks)
    assert gl_balance(session, chart.REMITTANCES_HELD) == held
    queued = session.scalars(
        sa.select(RemittanceItem).where(RemittanceItem.status == RemittanceStatus.EXCEPTION)
    ).all()
    assert {q.sequence for q in queued} == set(reasons)
    differs = next(q for q in queued if q.reason == "amount_differs")
    assert differs.account_id == a3.id and differs.stub_cents == s3.amount_due_cents
    assert "$" in differs.detail and a3.number in differs.detail
    assert verify_chain(session).problem is None


def test_a_crash_mid_file_leaves_nothing_and_the_file_imports_whole_afterwards(
    session, monkeypatch
):
    stubs = billed(session)
    data = bai(checks_for(stubs), DEPOSIT)
    write = settle_new.write_settled

    def crash_after_payments_and_receipts_are_written(*args, **kwargs):
        assert session.scalar(sa.select(sa.func.count()).select_from(Receipt)) == 5
        raise RuntimeError("the database went away")

    monkeypatch.setattr(settle_new, "write_settled", crash_after_payments_and_receipts_are_written)
    with pytest.raises(RuntimeError):
        take(session, data)
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(RemittanceFile)) == 0
    assert gl_balance(session, chart.LOCKBOX_CLEARING) == 0

    monkeypatch.setattr(settle_new, "write_settled", write)
    report = take(session, data)
    session.commit()
    assert report.settled == 5
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 5
    assert session.scalar(sa.select(sa.func.count()).select_from(Receipt)) == 5


def test_the_csv_layout_reads_the_same_stubs_and_a_dry_run_takes_nothing(session):
    stubs = billed(session, NAMES[:3])
    data = csv_lockbox(checks_for(stubs), DEPOSIT, per_batch=2)
    dry = take(session, data, layout="csv-lockbox", dry_run=True)
    assert (dry.items, dry.settled, dry.dry_run) == (3, 3, True)
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(RemittanceFile)) == 0

    report = take(session, data, layout="csv-lockbox")
    assert report.settled == 3 and report.file_id is not None
    assert all(session.get(Invoice, i.id).status == InvoiceStatus.PAID for _a, i, _s in stubs)
    audit = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "remittance.import"))
    assert audit is not None and audit.summary["items"] == 3


def test_a_file_dated_after_today_is_refused(session):
    stubs = billed(session, NAMES[:1])
    with pytest.raises(ImportRefused, match="after today"):
        take(session, bai(checks_for(stubs), date(2026, 11, 14)))

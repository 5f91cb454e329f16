"""Bill-pay files (payments by account number) and former account numbers from the old system:
the same rules and queue as the lockbox; a former number is taken while its period runs."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pypdf
import pytest
import sqlalchemy as sa
from flask import current_app

from accounts.services import FormerNumbers
from billing.models import Invoice, InvoiceStatus
from ledger import chart
from ledger.balances import gl_balance
from notices import content
from notices.render import render
from payments.lockbox import ImportRefused
from payments.models import Payment, Receipt, RemittanceItem, Tender
from tests.payments.lockbox_files import Check, csv_lockbox, rpps
from tests.payments.test_lockbox import DEPOSIT, TODAY, billed, take

CONVERTED = date(2026, 1, 15)


def _convert(account, former: str) -> None:
    """The account as the conversion left it: its number in the old system, and the day."""
    account.former_number, account.converted_on = former, CONVERTED


def test_a_bill_pay_file_pays_each_account_by_its_number_and_the_rest_wait(session):
    stubs = billed(session, ["olson", "berg", "lind"])
    (a1, i1, s1), (a2, i2, s2), (a3, i3, _s3) = stubs
    wrong_digit = a3.number[:7] + str((int(a3.number[7]) + 1) % 10)
    payments = [
        Check(s1.amount_due_cents, account=a1.number, payer="OLSON"),
        Check(2500, account=f"{a2.number[:4]}-{a2.number[4:]}", payer="BERG"),
        Check(4000, account=wrong_digit, payer="LIND"),
        Check(4100, account="NOBODY-77", payer="SOMEONE"),
    ]
    report = take(session, rpps(payments, DEPOSIT), layout="rpps-billpay")
    session.commit()

    assert report.kind == "bill_pay" and report.settled == 2
    assert {e["sequence"]: e["reason"] for e in report.exceptions} == {
        3: "bad_check_digit",
        4: "unknown_account",
    }
    assert session.get(Invoice, i1.id).status == InvoiceStatus.PAID
    assert session.get(Invoice, i2.id).status == InvoiceStatus.PARTIALLY_PAID
    assert session.get(Invoice, i3.id).status == InvoiceStatus.OPEN
    tenders = session.scalars(sa.select(Payment.tender)).all()
    assert tenders == [Tender.BILL_PAY, Tender.BILL_PAY]
    assert gl_balance(session, chart.LOCKBOX_CLEARING) == sum(p.amount_cents for p in payments)
    assert gl_balance(session, chart.REMITTANCES_HELD) == 8100


def test_a_bill_pay_file_is_not_read_with_a_lockbox_layout(session):
    stubs = billed(session, ["olson"])
    account = stubs[0][0]
    data = rpps([Check(1000, account=account.number)], DEPOSIT)
    with pytest.raises(ImportRefused, match="reads bill_pay files"):
        take(session, data, layout="rpps-billpay", kind="lockbox")


def test_a_bill_pay_receipt_says_how_it_was_paid_to_the_resident(session):
    ((account, invoice, stub),) = billed(session, ["olson"])
    take(
        session,
        rpps([Check(stub.amount_due_cents, account=account.number)], DEPOSIT),
        layout="rpps-billpay",
    )
    row = session.scalar(sa.select(Receipt))
    pdf = render(content.receipt(session, current_app.config, row))
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "bank bill payment" in text
    assert row.number in text and f"{stub.amount_due_cents / 100:,.2f}" in text


@pytest.mark.parametrize(
    ("days_after", "settles"),
    [pytest.param(365, True, id="last day of the period"), pytest.param(366, False, id="after")],
)
def test_a_former_number_on_a_bill_pay_item_settles_only_while_it_is_accepted(
    session, days_after, settles
):
    ((account, invoice, stub),) = billed(session, ["olson"])
    _convert(account, "W-00417")
    today = CONVERTED + timedelta(days=days_after)
    accepted = FormerNumbers(today=today, days=365)
    from payments.lockbox import import_file
    from payments.lockbox_layouts import load_layout
    from tests.payments.test_lockbox import CLERK

    report = import_file(
        session,
        CLERK,
        rpps([Check(stub.amount_due_cents, account="w-00417")], DEPOSIT),
        layout=load_layout("rpps-billpay"),
        filename="rpps.txt",
        today=today,
        accepted=accepted,
    )
    item = session.scalar(sa.select(RemittanceItem))
    if settles:
        assert report.settled == 1 and item.account_id == account.id
        assert session.get(Invoice, invoice.id).status == InvoiceStatus.PAID
    else:
        assert [e["reason"] for e in report.exceptions] == ["former_number_expired"]
        assert account.number in item.detail and "365 days" in item.detail
        assert session.get(Invoice, invoice.id).status == InvoiceStatus.OPEN


def test_an_old_stub_keyed_by_its_former_number_settles_in_a_lockbox_file(session):
    ((account, invoice, stub),) = billed(session, ["olson"])
    _convert(account, "0041-7730")
    checks = [Check(stub.amount_due_cents, "", "3001", account="0041-7730")]
    report = take(session, csv_lockbox(checks, DEPOSIT), layout="csv-lockbox")
    assert report.settled == 1
    assert session.get(Invoice, invoice.id).status == InvoiceStatus.PAID
    assert timedelta(days=365) > TODAY - CONVERTED


def test_an_old_stub_after_the_period_waits_for_a_clerk(session):
    ((account, _invoice, stub),) = billed(session, ["olson"])
    _convert(account, "0041-7730")
    checks = [Check(stub.amount_due_cents, "0041-7730", "3002")]
    never = FormerNumbers(today=TODAY, days=0)
    report = take(session, csv_lockbox(checks, DEPOSIT), layout="csv-lockbox", accepted=never)
    assert [e["reason"] for e in report.exceptions] == ["former_number_expired"]
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0

"""Every kind of notice, issued from the demo town's own records, says what those records say."""

import io
import subprocess
from datetime import date
from pathlib import Path

import pypdf
import pytest
import sqlalchemy as sa

from accounts.models import Account
from billing.models import Invoice, InvoiceKind
from core.extensions import db
from core.money import format_cents
from ledger.balances import account_receivable
from notices.models import Notice
from notices.scanline import parse, printed, scan_line
from payments.models import Receipt

AS_OF = date(2026, 11, 26)


@pytest.fixture
def town(app, demo_town):
    """The demo town, billed."""
    demo_town(AS_OF)
    return app


def _pdf(app, client, headers, response) -> tuple[Notice, list[str]]:
    assert response.status_code == 201, response.get_json()
    notice_id = response.get_json()["id"]
    pdf = client.get(f"/api/v1/notices/{notice_id}/pdf", headers=headers).data
    path = Path(app.config["NOTICES_DIR"]) / "check.pdf"
    path.write_bytes(pdf)
    check = subprocess.run(["qpdf", "--check", str(path)], capture_output=True)
    assert check.returncode == 0, check.stdout.decode()
    with app.app_context():
        notice = db.session.get(Notice, notice_id)
        db.session.expunge(notice)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return notice, [page.extract_text() for page in reader.pages]


def pay_cash_and_refund(client, clerk: dict, supervisor: dict, number: str):
    """$50.00 paid in cash at the counter, $12.50 of it refunded: (the payment, the refund)."""
    drawer = client.post("/api/v1/drawers", json={}, headers=clerk).get_json()
    paid = client.post(
        f"/api/v1/drawers/{drawer['id']}/payments",
        json={"account_number": number, "amount_cents": 5000, "tender": "cash"},
        headers=clerk,
    ).get_json()
    refund = client.post(
        f"/api/v1/payments/{paid['payment_id']}/refunds",
        json={"amount_cents": 1250, "reason": "paid twice at the counter"},
        headers=supervisor,
    )
    assert refund.status_code == 201, refund.get_json()
    return paid, refund


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_a_tax_bill_has_a_stub_per_installment_that_scans_back(town, client, api_headers):
    clerk = api_headers("clerk")
    with town.app_context():
        invoice = db.session.scalar(
            sa.select(Invoice).where(Invoice.kind == InvoiceKind.TAX).order_by(Invoice.id)
        )
        number, account_number = invoice.number, invoice.account.number
        parts = [(p.balance_cents, p.due_date) for p in invoice.installments]
        # A bill is printed in its account's language: each line as posted in it.
        language = invoice.account.language.value
        lines = [(line.descriptions[language], line.amount_cents) for line in invoice.lines]
    notice, pages = _pdf(
        town,
        client,
        clerk,
        client.post(f"/api/v1/invoices/{number}/notices", json={}, headers=clerk),
    )
    assert notice.kind.value == "tax_bill"
    text = _flat(" ".join(pages))
    assert number in text and account_number in text
    for description, cents in lines:
        assert description in text and format_cents(cents) in text
    for cents, due in parts:
        line = printed(scan_line(account_number, cents, due))
        assert line in text
        scanned = parse(line)
        assert (scanned.amount_cents, scanned.due_date) == (cents, due)


@pytest.mark.parametrize("kind", ["reminder", "past_due", "final"])
def test_reminders_and_notices_about_a_bill(town, client, api_headers, kind):
    clerk = api_headers("clerk")
    with town.app_context():
        invoice = db.session.scalar(
            sa.select(Invoice)
            .where(Invoice.kind == InvoiceKind.UTILITY)
            .order_by(Invoice.id.desc())
        )
        number, account_number, owed = invoice.number, invoice.account.number, invoice.balance_cents
        language = invoice.account.language.value
    notice, pages = _pdf(
        town,
        client,
        clerk,
        client.post(f"/api/v1/invoices/{number}/notices", json={"kind": kind}, headers=clerk),
    )
    assert notice.kind.value == kind and notice.language == language
    text = _flat(" ".join(pages))
    assert number in text and account_number in text and format_cents(owed) in text
    if kind == "final":
        wording = town.config["FINAL_NOTICE_UTILITY"][language]
        assert _flat(wording)[:40] in text


def test_a_receipt_shows_what_the_payment_paid(town, client, api_headers):
    clerk = api_headers("clerk")
    with town.app_context():
        account = db.session.scalar(sa.select(Account).order_by(Account.id))
        number = account.number
    drawer = client.post("/api/v1/drawers", json={}, headers=clerk).get_json()
    paid = client.post(
        f"/api/v1/drawers/{drawer['id']}/payments",
        json={"account_number": number, "amount_cents": 5000, "tender": "cash"},
        headers=clerk,
    )
    assert paid.status_code == 201, paid.get_json()
    with town.app_context():
        receipt = db.session.scalar(sa.select(Receipt).order_by(Receipt.id.desc()))
        receipt_number, balance_after = receipt.number, receipt.balance_after_cents
        invoices = [p["invoice"] for p in receipt.paid]
    notice, pages = _pdf(
        town,
        client,
        clerk,
        client.post(f"/api/v1/receipts/{receipt_number}/notice", json={}, headers=clerk),
    )
    text = _flat(" ".join(pages))
    assert notice.kind.value == "receipt" and notice.payment_id is not None
    assert receipt_number in text and number in text and format_cents(5000) in text
    assert format_cents(balance_after) in text
    for invoice_number in invoices:
        assert invoice_number in text
    assert (
        client.post("/api/v1/receipts/R-1999-000001/notice", json={}, headers=clerk).status_code
        == 404
    )


def test_a_statement_runs_from_the_opening_to_the_closing_balance(town, client, api_headers):
    clerk = api_headers("clerk")
    with town.app_context():
        account = db.session.scalar(sa.select(Account).order_by(Account.id))
        number = account.number
        owed = account_receivable(db.session, account.id)
    notice, pages = _pdf(
        town,
        client,
        clerk,
        client.post(
            f"/api/v1/accounts/{number}/statements",
            json={"start": "2026-01-01", "end": "2026-11-26"},
            headers=clerk,
        ),
    )
    text = _flat(" ".join(pages))
    assert notice.kind.value == "statement" and number in text and format_cents(owed) in text


def test_e_mailing_a_notice_needs_a_working_address(town, client, api_headers):
    clerk = api_headers("clerk")
    with town.app_context():
        without = db.session.scalar(
            sa.select(Account).where(Account.email.is_(None)).order_by(Account.id)
        )
        invoice = db.session.scalar(
            sa.select(Invoice).where(Invoice.account_id == without.id).order_by(Invoice.id)
        )
        number = invoice.number
        with_email = db.session.scalar(
            sa.select(Invoice)
            .join(Account, Account.id == Invoice.account_id)
            .where(Account.email.is_not(None))
            .order_by(Invoice.id)
        )
        other, address = with_email.number, with_email.account.email
    # The demo's morning reminders are in the outbox already; only this notice is new.
    before = set(Path(town.config["OUTBOX_DIR"]).glob("*.eml"))
    refused = client.post(
        f"/api/v1/invoices/{number}/notices", json={"deliver": "email"}, headers=clerk
    )
    assert refused.status_code == 409 and "e-mail" in refused.get_json()["errors"]["_request"][0]
    sent = client.post(
        f"/api/v1/invoices/{other}/notices", json={"deliver": "email"}, headers=clerk
    )
    assert sent.status_code == 201
    assert (sent.get_json()["delivery"], sent.get_json()["email_status"]) == ("email", "written")
    outbox = list(set(Path(town.config["OUTBOX_DIR"]).glob("*.eml")) - before)
    assert len(outbox) == 1 and address.split("@")[0] in outbox[0].name


def test_a_refund_notice_says_how_much_goes_back_on_which_payment_and_keeps_the_staff_reason_off(
    town, client, api_headers
):
    clerk, supervisor = api_headers("clerk"), api_headers("supervisor")
    with town.app_context():
        number = db.session.scalar(sa.select(Account.number).order_by(Account.id))
    paid, refund = pay_cash_and_refund(client, clerk, supervisor, number)
    notice, pages = _pdf(
        town,
        client,
        clerk,
        client.post(f"/api/v1/refunds/{refund.get_json()['id']}/notice", json={}, headers=clerk),
    )
    text = _flat(" ".join(pages))
    assert notice.kind.value == "refund" and notice.refund_id == refund.get_json()["id"]
    assert number in text and format_cents(1250) in text
    with town.app_context():
        receipt = db.session.scalar(
            sa.select(Receipt).where(Receipt.payment_id == paid["payment_id"])
        )
        paid_on = receipt.paid_on
    # NOTE: the account's language decides the words; either way the payment is named by its
    # receipt, amount and date, and the supervisor's reason stays on the staff's pages.
    assert receipt.number in text and format_cents(5000) in text
    assert f"{paid_on:%m/%d/%Y}" in text or f"{paid_on:%d/%m/%Y}" in text
    assert "paid twice at the counter" not in text

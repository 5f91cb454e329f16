"""The bill page, paying from it, receipts, history and downloads, as a resident sees them,
and the one rule under all of them: a session shows its own account and nothing else."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa
import time_machine

from accounts.models import Account
from billing.models import Invoice
from billing.penalty_service import assess_penalties
from core.audit import Actor
from core.extensions import db
from core.money import format_cents
from ledger import chart
from ledger.balances import account_receivable
from notices.models import Delivery, Notice
from payments.models import Channel, Payment, PaymentStatus, Tender
from payments.services import record_payment, settle_payment
from tests.conftest import csrf_token
from tests.portal.conftest import quick_pay

JOB = Actor.job("test")
#: The households' bills were issued on 2 November 2026 and are due on the 23rd.
BEFORE_DUE = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)
AFTER_DUE = datetime(2026, 12, 20, 15, 0, tzinfo=UTC)


def account_of(number: str) -> Account:
    return db.session.scalar(sa.select(Account).where(Account.number == number))


def pay_and_settle(app, number: str, cents: int) -> int:
    """A card payment that Stripe confirmed and the webhook settled; returns its id."""
    with app.app_context():
        payment = record_payment(
            db.session,
            JOB,
            account=account_of(number),
            amount_cents=cents,
            invoice_numbers=[],
            channel=Channel.ONLINE,
            tender=Tender.CARD,
        )
        settle_payment(
            db.session, JOB, payment, on=date(2026, 11, 20), cash_gl=chart.STRIPE_CLEARING
        )
        db.session.commit()
        return payment.id


def post_pay(client, **data):
    page = client.get("/my/bill").text
    return client.post("/my/pay", data={"csrf_token": csrf_token(page), **data})


@time_machine.travel(BEFORE_DUE, tick=False)
def test_the_bill_shows_each_line_with_its_arithmetic_and_the_ledgers_balance(app, client, billed):
    # NOTE: sessions start inside the travelled time: a cookie signed "later" is refused.
    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
    page = unescape(client.get("/my/bill").text)
    assert billed.invoice_number in page
    with app.app_context():
        owed = account_receivable(db.session, account_of(billed.number).id)
        invoice = db.session.scalar(
            sa.select(Invoice).where(Invoice.number == billed.invoice_number)
        )
        metered = [
            line
            for line in invoice.lines
            if line.quantity is not None and line.unit_rate is not None
        ]
        assert metered, "the household's water bill has metered lines"
        for line in invoice.lines:
            assert line.description in page
            assert format_cents(line.amount_cents) in page
    assert owed == billed.owed_cents
    assert re.search(rf'id="amount-due">\s*{re.escape(format_cents(owed))}', page)
    assert page.count(" × ") >= len(metered)
    assert "Past due" not in page
    assert "Due" in page and "November 23, 2026" in page


@time_machine.travel(AFTER_DUE, tick=False)
def test_past_due_amounts_and_penalties_are_marked(app, client, billed):
    with app.app_context():
        result = assess_penalties(db.session, JOB, as_of=date(2026, 12, 20), rounding="half_up")
        db.session.commit()
        assert result.charges > 0
    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
    page = client.get("/my/bill").text
    assert "Past due" in page
    assert 'class="badge penalty"' in page
    assert page.count('<li class="penalty">') == 1  # one late fee: a plain line, not a month
    assert "<details>" not in page and "Penalty and interest by month" not in page
    with app.app_context():
        owed = account_receivable(db.session, account_of(billed.number).id)
    assert owed > billed.owed_cents  # the late fee is owed too
    assert format_cents(owed) in page


def test_paying_the_whole_amount_records_a_pending_card_payment_for_it(app, resident, billed):
    app.config["STRIPE_PUBLISHABLE_KEY"] = "pk_test_portal"
    response = post_pay(resident, choice="all", amount="")
    assert response.status_code == 303
    payment_id = int(response.location.rsplit("/", 1)[1])
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        assert (payment.amount_cents, payment.status) == (billed.owed_cents, PaymentStatus.PENDING)
        assert payment.channel == Channel.ONLINE
    card = resident.get(response.location).text
    assert f"Pay {format_cents(billed.owed_cents)} by card" in card
    assert 'data-setup-url="/my/pay/' in card


def test_a_chosen_amount_is_paid_and_bad_amounts_are_explained(app, resident, billed):
    response = post_pay(resident, choice="other", amount="25.00")
    assert response.status_code == 303
    with app.app_context():
        assert (
            db.session.get(Payment, int(response.location.rsplit("/", 1)[1])).amount_cents == 2500
        )
    for amount, message in [
        ("ten dollars", "Enter the amount in dollars and cents, such as 50.00."),
        ("0", "Enter an amount greater than zero."),
        ("100000.00", f"The most you can pay is {format_cents(billed.owed_cents)}, what is owed."),
    ]:
        refused = post_pay(resident, choice="other", amount=amount)
        assert refused.status_code == 422
        assert message in refused.text
        assert 'aria-invalid="true"' in refused.text
    assert post_pay(resident, choice="everything").status_code == 422


def test_a_paid_bill_has_its_receipt_page_and_pdf_and_shows_in_the_history(app, resident, billed):
    payment_id = pay_and_settle(app, billed.number, billed.owed_cents)
    receipt = resident.get(f"/my/receipts/{payment_id}").text
    assert "Thank you. Your payment was received." in receipt
    assert format_cents(billed.owed_cents) in receipt
    pdf = resident.get(f"/my/receipts/{payment_id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    assert resident.get(f"/my/receipts/{payment_id}.pdf").data == pdf.data
    assert "Nothing is owed on this account." in resident.get("/my/bill").text
    history = resident.get("/my/history").text
    assert billed.invoice_number in history
    assert f'href="/my/receipts/{payment_id}.pdf"' in history
    assert f'href="/my/bills/{billed.invoice_number}.pdf"' in history


def test_the_bill_pdf_is_the_notice_as_sent_or_issued_once_for_download(app, resident, billed):
    first = resident.get(f"/my/bills/{billed.invoice_number}.pdf")
    assert first.status_code == 200 and first.data.startswith(b"%PDF")
    assert first.headers["Cache-Control"] == "private, no-store"
    again = resident.get(f"/my/bills/{billed.invoice_number}.pdf")
    assert again.data == first.data
    with app.app_context():
        notices = db.session.scalars(sa.select(Notice)).all()
        assert [(n.kind.value, n.delivery) for n in notices] == [
            ("utility_bill", Delivery.DOWNLOAD)
        ]


def add_reminder(app, billed, language: str = "en") -> int:
    """A printed reminder about the household's bill, as the reminders job leaves it; its id."""
    with app.app_context():
        notice = Notice(
            kind="reminder",
            account_id=account_of(billed.number).id,
            language=language,
            reference=billed.invoice_number,
            sha256="0" * 64,
            pages=1,
            path="x.pdf",
            delivery=Delivery.PRINT,
            created_by="test",
        )
        db.session.add(notice)
        db.session.commit()
        return notice.id


def other_accounts_things(app, client, theirs) -> dict[str, str]:
    """URLs of the other household's payment, receipt, bill and notice."""
    payment_id = pay_and_settle(app, theirs.number, 1000)
    notice_id = add_reminder(app, theirs)
    return {
        "card page": f"/my/pay/{payment_id}",
        "status page": f"/my/pay/{payment_id}/status",
        "status poll": f"/my/pay/{payment_id}/status.json",
        "receipt page": f"/my/receipts/{payment_id}",
        "receipt pdf": f"/my/receipts/{payment_id}.pdf",
        "bill pdf": f"/my/bills/{theirs.invoice_number}.pdf",
        "notice pdf": f"/my/notices/{notice_id}.pdf",
    }


def test_another_households_ids_in_a_url_are_not_found_and_show_nothing_of_it(
    app, client, households
):
    ours, theirs = households
    assert quick_pay(client, ours.number, ours.access_code).status_code == 303
    urls = other_accounts_things(app, client, theirs)
    with app.app_context():
        their_name = account_of(theirs.number).holder_name
    for what, url in urls.items():
        response = client.get(url)
        assert response.status_code == 404, what
        body = response.text
        assert theirs.number not in body and their_name not in body, what
        assert theirs.invoice_number not in body, what
    page = client.get("/my/bill").text
    token = csrf_token(page)
    payment_id = urls["card page"].rsplit("/", 1)[1]
    for step in ("setup", "charge"):
        response = client.post(
            f"/my/pay/{payment_id}/{step}",
            json={"payment_method": "pm_card_visa"},
            headers={"X-CSRFToken": token},
        )
        assert response.status_code == 404, step


@pytest.mark.parametrize(
    "path", ["/my/bill", "/my/history", "/my/pay/1", "/my/bills/2026-000001.pdf"]
)
def test_without_a_session_every_page_sends_the_resident_to_quick_pay(client, households, path):
    response = client.get(path)
    assert response.status_code == 302 and response.location.endswith("/pay")


def test_a_session_ends_after_fifteen_idle_minutes(app, client, billed):
    start = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        assert quick_pay(client, billed.number, billed.access_code).status_code == 303
        clock.shift(timedelta(minutes=14))
        assert client.get("/my/bill").status_code == 200
        clock.shift(timedelta(minutes=14))  # 14 idle minutes again: still alive
        assert client.get("/my/bill").status_code == 200
        clock.shift(timedelta(minutes=15, seconds=30))
        response = client.get("/my/bill")
        assert response.status_code == 302
        assert "Your session ended after 15 minutes without activity" in client.get("/pay").text


def test_portal_pages_are_never_cached(resident):
    assert resident.get("/my/bill").headers["Cache-Control"] == "no-store"
    assert resident.get("/pay").headers["Cache-Control"] == "no-store"


@time_machine.travel(AFTER_DUE, tick=False)
def test_the_bill_reads_in_spanish_lines_charges_and_arithmetic_included(app, client, billed):
    with app.app_context():
        assess_penalties(db.session, JOB, as_of=date(2026, 12, 20), rounding="half_up")
        db.session.commit()
        invoice = db.session.scalar(
            sa.select(Invoice).where(Invoice.number == billed.invoice_number)
        )
        lines = [(line.descriptions["es"], line.amount_cents) for line in invoice.lines]
        charges = [charge.descriptions["es"] for charge in invoice.charges]
    assert charges and all("pendientes" in text for text in charges)
    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
    page = client.get("/my/bill").text
    client.post(
        "/language", data={"csrf_token": csrf_token(page), "lang": "es", "next": "/my/bill"}
    )
    spanish = unescape(client.get("/my/bill").text)
    assert '<html lang="es">' in spanish
    for description, cents in lines:
        assert description in spanish and format_cents(cents) in spanish
    for description in charges:
        assert description in spanish
    assert re.search(r"\d × \$4\.44 por 1,000 galones = \$\d+\.\d\d", spanish), spanish
    assert "per per" not in spanish and " per " not in spanish
    assert not re.search(r"\d\.\d*000\b", spanish)

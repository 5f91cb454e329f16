"""The clerk's account page: everything about one household on one page, and nothing of
another's."""

from __future__ import annotations

import re
from html import unescape

import sqlalchemy as sa

from accounts.models import Account
from core.extensions import db
from payments.models import Receipt
from portal.models import Autopay, Resident, ResidentAccount
from tests.billing.billing_fixtures import bill_households
from tests.conftest import csrf_token
from tests.portal.conftest import quick_pay
from tests.portal.test_bill import pay_and_settle


def test_the_account_page_shows_bills_payments_ledger_questions_autopay_and_audit(
    app, client, signed_in
):
    ours, theirs = bill_households(app, "olson", "nguyen")
    payment_id = pay_and_settle(app, ours.number, 2500)
    pay_and_settle(app, theirs.number, 1000)
    assert quick_pay(client, ours.number, ours.access_code).status_code == 303
    form = client.get(f"/my/bills/{ours.invoice_number}/question").text
    asked = client.post(
        f"/my/bills/{ours.invoice_number}/question",
        data={
            "csrf_token": csrf_token(form),
            "kind": "dispute",
            "message": "The October read is too high.",
            "reply_to": "",
        },
    )
    assert asked.status_code in (302, 303), asked.text
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.number == ours.number))
        resident = Resident(email="maria@example.net", password_hash="x")
        db.session.add(resident)
        db.session.flush()
        db.session.add(ResidentAccount(resident_id=resident.id, account_id=account.id))
        db.session.add(
            Autopay(
                account_id=account.id,
                resident_id=resident.id,
                stripe_customer_id="cus_x",
                stripe_payment_method_id="pm_x",
                card_brand="visa",
                card_last4="4242",
            )
        )
        db.session.commit()
        receipt = db.session.scalar(
            sa.select(Receipt.number).where(Receipt.payment_id == payment_id)
        )
    page = signed_in("auditor").get(f"/staff/accounts/{ours.number}").text
    for expected in (
        ours.invoice_number,
        receipt,
        "$25.00",
        "The October read is too high.",
        "Resident dispute",
        "visa ending 4242",
        "maria@example.net",
        "invoice",  # a ledger line's source
        "account.create",
    ):
        assert expected in page, expected
    assert theirs.invoice_number not in page and theirs.number not in page
    assert signed_in("auditor").get("/staff/accounts/99999999").status_code == 404


def test_the_account_page_shows_each_bill_line_with_the_arithmetic_the_resident_reads(
    app, signed_in
):
    (ours,) = bill_households(app, "olson")
    page = unescape(signed_in("clerk").get(f"/staff/accounts/{ours.number}").text)
    assert f"Lines of {ours.invoice_number}" in page
    assert re.search(r"Water usage \(0–3 kgal\): 3 × \$4\.44 per 1,000 gallons = \$13\.32", page)
    assert re.search(r"Sewer service charge: 1 × \$14\.50 per month = \$14\.50", page)
    assert "per per" not in page and not re.search(r"\d\.\d*000\b", page)

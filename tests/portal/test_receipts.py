"""The receipt page as a resident sees it: which card paid, when, under which numbers; and a
quick-pay resident, not registered, gets it by e-mail at an address they type, for their own
payment only, throttled, without the address being kept on the account."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import date
from html import unescape

import pytest
import sqlalchemy as sa

from core.extensions import db
from core.models import AuditEvent
from notices.models import Delivery, Notice
from payments.models import Receipt
from tests.billing.billing_fixtures import bill_households
from tests.conftest import csrf_token
from tests.notices.test_receipts import INTENT, pdf_text, settle_by_card
from tests.payments.test_webhooks import _payment
from tests.portal.conftest import quick_pay
from tests.portal.test_bill import account_of
from tests.portal.test_residents import ADDRESS
from tests.portal.test_residents import signed_in as registered_and_signed_in

TYPED = "Grandma.Olson@Example.net"


def paid_by_visa(app, number: str, cents: int, intent: str = INTENT, **day) -> int:
    """A card payment Stripe took at 2:05 PM on November 20 (Chicago) with a Visa ending in
    4242, settled by the webhook; returns its id."""
    with app.app_context():
        account_id = account_of(number).id
    payment_id = _payment(app, account_id, cents)
    settle_by_card(app, payment_id, intent=intent, **day)
    return payment_id


def words(html: str) -> str:
    """A page's text as read: entities decoded, each run of white space one space (times are
    written with a narrow no-break space before AM and PM)."""
    return " ".join(unescape(html).split())


def send(client, payment_id: int, address: str, **extra):
    """Post the receipt page's e-mail form as a browser would."""
    page = client.get(f"/my/receipts/{payment_id}").text
    data = {"csrf_token": csrf_token(page), "email": address, **extra}
    return client.post(f"/my/receipts/{payment_id}/email", data=data)


def mailed(app) -> list[Notice]:
    with app.app_context():
        return db.session.scalars(sa.select(Notice).where(Notice.delivery == Delivery.EMAIL)).all()


def audited(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)).all()


def test_the_receipt_page_says_which_card_paid_when_and_under_which_numbers(app, resident, billed):
    payment_id = paid_by_visa(app, billed.number, billed.owed_cents)
    page = words(resident.get(f"/my/receipts/{payment_id}").text)
    with app.app_context():
        number = db.session.scalar(
            sa.select(Receipt.number).where(Receipt.payment_id == payment_id)
        )
    assert "Visa ending in 4242" in page
    assert "November 20, 2026 at 2:05 PM CST" in page
    assert f"<dt>Confirmation number</dt><dd>{number}</dd>" in page
    assert f'<dd class="reference">{INTENT}</dd>' in page
    # the form offers nobody's address to a quick-pay session
    assert '<input id="receipt-email" name="email" type="email" value=""' in page

    switched = resident.post("/language", data={"csrf_token": csrf_token(page), "lang": "es"})
    assert switched.status_code == 303
    spanish = words(resident.get(f"/my/receipts/{payment_id}").text)
    assert "Visa terminada en 4242" in spanish
    assert "20 de noviembre de 2026 a las 14:05 CST" in spanish


def test_the_time_is_written_on_the_towns_clock_wherever_the_town_is(app, resident, billed):
    app.config["MUNICIPALITY_TIMEZONE"] = "Pacific/Auckland"  # 9:05 the next morning there
    payment_id = paid_by_visa(app, billed.number, billed.owed_cents, on=date(2026, 11, 21))
    page = words(resident.get(f"/my/receipts/{payment_id}").text)
    assert "November 21, 2026 at 9:05 AM NZDT" in page
    text = pdf_text(resident.get(f"/my/receipts/{payment_id}.pdf").data)
    assert "Payment date November 21, 2026" in text and "Time 9:05 AM NZDT" in text


def test_a_quick_pay_resident_gets_the_receipt_by_e_mail_without_registering(
    app, resident, billed, smtp
):
    payment_id = paid_by_visa(app, billed.number, billed.owed_cents)
    with app.app_context():
        on_file = account_of(billed.number).email
    sent = send(resident, payment_id, f"  {TYPED} ")
    assert sent.status_code == 303 and sent.location.endswith(f"/my/receipts/{payment_id}")
    (notice,) = mailed(app)
    receipt_number = notice.reference
    page = words(resident.get(sent.location).text)
    assert f"We e-mailed receipt {receipt_number} to grandma.olson@example.net." in page

    (envelope,) = smtp.handler.envelopes
    assert envelope.rcpt_tos == ["grandma.olson@example.net"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    body = message.get_body(("plain",)).get_content()
    assert (
        "Paid by: Visa ending in 4242" in body and f"Confirmation number: {receipt_number}" in body
    )
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"receipt-{receipt_number}.pdf"
    text = pdf_text(attachment.get_content())
    assert "Visa ending in 4242" in text and "2:05 PM CST" in text and receipt_number in text

    # kept on the notice sent, never on the account; the sending is audited without it
    assert (notice.email_to, notice.email_status) == ("grandma.olson@example.net", "sent")
    with app.app_context():
        account = account_of(billed.number)
        assert (account.email, account.email_bounced_at) == (on_file, None)
    (event,) = audited(app, "receipt.email")
    assert event.actor_label == f"quickpay:{billed.number}"
    assert event.summary == {"receipt": receipt_number, "notice": notice.id, "outcome": "sent"}
    assert "grandma" not in json.dumps(event.summary)


@pytest.mark.parametrize(
    "typed",
    ["", "grandma", "grandma@example", "a@example.net, b@example.net", "Gran <a@example.net>"],
)
def test_a_bad_address_is_refused_under_its_field_and_nothing_is_sent(
    app, resident, billed, smtp, typed
):
    payment_id = paid_by_visa(app, billed.number, billed.owed_cents)
    refused = send(resident, payment_id, typed)
    assert refused.status_code == 422
    page = words(refused.text)
    assert (
        '<p class="error" id="receipt-email-error">'
        "Enter one e-mail address, such as name@example.com.</p>" in page
    )
    assert 'aria-invalid="true"' in page and '<label for="receipt-email">E-mail address' in page
    assert smtp.handler.envelopes == [] and mailed(app) == []
    assert audited(app, "receipt.email") == []


def test_an_address_the_mail_server_refuses_is_said_and_the_accounts_own_stays_good(
    app, resident, billed, smtp
):
    smtp.handler.refuse("nobody@example.net", "550 5.1.1 No such user")
    payment_id = paid_by_visa(app, billed.number, billed.owed_cents)
    refused = send(resident, payment_id, "nobody@example.net")
    assert refused.status_code == 422
    assert "This address refused the e-mail. Check it and try again." in words(refused.text)
    with app.app_context():
        assert account_of(billed.number).email_bounced_at is None
    ((notice,), (event,)) = mailed(app), audited(app, "receipt.email")
    assert notice.email_status == event.summary["outcome"] == "bounced"


def test_another_households_receipt_cannot_be_e_mailed(app, client, households, smtp):
    ours, theirs = households
    their_payment = paid_by_visa(app, theirs.number, 1000, intent="pi_theirs")
    assert quick_pay(client, ours.number, ours.access_code).status_code == 303
    token = csrf_token(client.get("/my/bill").text)
    answer = client.post(
        f"/my/receipts/{their_payment}/email", data={"csrf_token": token, "email": TYPED}
    )
    assert answer.status_code == 404
    with app.app_context():
        their_name = account_of(theirs.number).holder_name
    assert theirs.number not in answer.text and their_name not in answer.text
    assert smtp.handler.envelopes == [] and mailed(app) == []


def test_an_unpaid_payment_has_no_receipt_to_e_mail(app, resident, billed, smtp):
    with app.app_context():
        account_id = account_of(billed.number).id
    waiting_id = _payment(app, account_id, 1000)  # charged, not yet confirmed by Stripe
    token = csrf_token(resident.get("/my/bill").text)
    answer = resident.post(
        f"/my/receipts/{waiting_id}/email", data={"csrf_token": token, "email": TYPED}
    )
    assert answer.status_code == 404 and smtp.handler.envelopes == []


def test_the_form_needs_the_pages_csrf_token(app, resident, billed, smtp):
    payment_id = paid_by_visa(app, billed.number, billed.owed_cents)
    answer = resident.post(f"/my/receipts/{payment_id}/email", data={"email": TYPED})
    assert answer.status_code == 400
    assert smtp.handler.envelopes == [] and mailed(app) == []


def test_e_mailing_receipts_is_throttled_like_the_other_portal_forms(throttled):
    app = throttled()
    (billed,) = bill_households(app, "olson")
    client = app.test_client()
    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
    payment_id = paid_by_visa(app, billed.number, billed.owed_cents)
    # an address refused before sending costs nothing; each message sent costs one try
    assert send(client, payment_id, "not an address").status_code == 422
    for n in range(5):  # QUICKPAY_LIMIT: 5 per 15 minutes (written to the outbox here)
        assert send(client, payment_id, f"relative{n}@example.net").status_code == 303
    limited = send(client, payment_id, "relative5@example.net")
    assert limited.status_code == 429
    assert "This account has sent too many e-mails for now." in words(limited.text)
    assert len(mailed(app)) == 5
    # the page itself still shows, with the PDF to download
    assert receipt_still_shows(client, payment_id)


def receipt_still_shows(client, payment_id: int) -> bool:
    """The receipt page and its PDF still answer."""
    page = client.get(f"/my/receipts/{payment_id}")
    pdf = client.get(f"/my/receipts/{payment_id}.pdf")
    return page.status_code == 200 and pdf.status_code == 200


def test_a_registered_resident_finds_their_own_address_filled_in(app, client, smtp, billed):
    registered_and_signed_in(client, smtp, billed)
    payment_id = paid_by_visa(app, billed.number, billed.owed_cents)
    page = words(client.get(f"/my/receipts/{payment_id}").text)
    assert f'<input id="receipt-email" name="email" type="email" value="{ADDRESS}"' in page
    assert send(client, payment_id, ADDRESS).status_code == 303
    (notice,) = mailed(app)
    (event,) = audited(app, "receipt.email")
    assert notice.email_to == ADDRESS and event.actor_label == ADDRESS

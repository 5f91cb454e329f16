"""A receipt says how it was paid the way the resident knows it (the card's brand and last four
digits, the check's number, cash, money order), when, on the town's clock, and under which
numbers: the receipt number, which is the town's confirmation number, and for a card Stripe's
reference; its PDF and its e-mail say the same."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pypdf
import pytest
import sqlalchemy as sa

from accounts.models import Account, Language
from core.audit import Actor
from core.extensions import db
from ledger import chart
from notices import content
from notices.issuing import email_notice, issue, render_notice
from notices.mail_delivery import Delivery as Sent
from notices.models import Delivery
from notices.render import render
from payments.counter import open_drawer, take_counter_payment
from payments.models import Payment, Receipt, Tender
from payments.refunds import refund_payment
from payments.services import settle_payment
from tests.payments.test_webhooks import _payment, _town

CLERK = Actor("user", "1", "clerk@maplefalls.example", "127.0.0.1")
#: 2:05 in the afternoon in the town (America/Chicago, standard time) on November 20, 2026.
PAID_AT = datetime(2026, 11, 20, 20, 5, tzinfo=UTC)
INTENT = "pi_3QmXk2LkdIwHu7ix0r5TqPaZ"


def pdf_text(pdf: bytes) -> str:
    """The words of a PDF, each run of white space made one space."""
    pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


def settle_by_card(
    app,
    payment_id: int,
    *,
    intent: str = INTENT,
    brand: str | None = "visa",
    last4: str | None = "4242",
    on: date = date(2026, 11, 20),
) -> int:
    """Settle a card payment Stripe took with the card given at PAID_AT (2:05 PM on November 20
    in Chicago; `on` is the town's date of it); returns its receipt's id."""
    with app.app_context():
        payment = db.session.get(Payment, payment_id)
        payment.stripe_payment_intent_id = intent
        payment.card_brand, payment.card_last4 = brand, last4
        receipt = settle_payment(
            db.session,
            CLERK,
            payment,
            on=on,
            cash_gl=chart.STRIPE_CLEARING,
            at=PAID_AT,
        )
        db.session.commit()
        return receipt.id


def card_receipt(app, **card) -> int:
    """A billed household's card payment, settled; returns its receipt's id."""
    (account_id,) = _town(app)
    return settle_by_card(app, _payment(app, account_id), **card)


def counter_receipt(app, tender: Tender, reference: str | None) -> Receipt:
    """A payment taken at the counter, settled at once."""
    (account_id,) = _town(app)
    drawer = open_drawer(db.session, CLERK)
    return take_counter_payment(
        db.session,
        CLERK,
        drawer=drawer,
        account=db.session.get(Account, account_id),
        amount_cents=2500,
        tender=tender,
        reference=reference,
        invoice_numbers=[],
        on=date(2026, 11, 20),
    )


def test_a_card_receipt_says_visa_ending_in_4242_the_time_and_its_numbers(app):
    receipt_id = card_receipt(app)
    with app.app_context():
        receipt = db.session.get(Receipt, receipt_id)
        text = pdf_text(render(content.receipt(db.session, app.config, receipt)))
        assert "Paid by Visa ending in 4242" in text
        assert "Payment date November 20, 2026" in text
        assert "Time 2:05 PM CST" in text
        assert f"Confirmation number {receipt.number}" in text
        assert f"Card payment reference {INTENT}" in text
        assert "4242424242424242" not in text


def test_a_spanish_receipt_says_it_in_spanish(app):
    receipt_id = card_receipt(app)
    with app.app_context():
        receipt = db.session.get(Receipt, receipt_id)
        db.session.get(Account, receipt.account_id).language = Language.ES
        text = pdf_text(render(content.receipt(db.session, app.config, receipt)))
        assert "Visa terminada en 4242" in text
        assert "Hora 14:05 CST" in text
        assert f"Número de confirmación {receipt.number}" in text


@pytest.mark.parametrize(
    ("brand", "last4", "words"),
    [
        ("amex", "0005", "American Express ending in 0005"),
        ("a_new_brand", "1881", "card ending in 1881"),  # a brand we cannot name
        (None, None, "Paid by card"),  # not known yet
    ],
)
def test_a_card_whose_brand_or_digits_are_not_known_is_still_named_plainly(
    app, brand, last4, words
):
    receipt_id = card_receipt(app, brand=brand, last4=last4)
    with app.app_context():
        receipt = db.session.get(Receipt, receipt_id)
        assert words in pdf_text(render(content.receipt(db.session, app.config, receipt)))


@pytest.mark.parametrize(
    ("tender", "reference", "words"),
    [
        (Tender.CHECK, "1042", "Paid by check number 1042"),
        (Tender.CASH, None, "Paid by cash"),
        (Tender.MONEY_ORDER, "MO-88172", "Paid by money order"),
    ],
)
def test_a_counter_receipt_gives_the_checks_number_or_the_tender(app, tender, reference, words):
    with app.app_context():
        receipt = counter_receipt(app, tender, reference)
        db.session.commit()
        text = pdf_text(render(content.receipt(db.session, app.config, receipt)))
        assert words in text
        assert f"Confirmation number {receipt.number}" in text
        assert "Card payment reference" not in text


@dataclass
class Outbox:
    """A mailer that keeps what it is given."""

    sent: list = field(default_factory=list)

    def send(self, message):
        """Keep the message; say it went."""
        self.sent.append(message)
        return Sent(status="sent", attempts=1)


def test_the_receipt_e_mail_says_how_when_and_under_which_numbers_it_was_paid(app):
    receipt_id = card_receipt(app)
    with app.app_context():
        receipt = db.session.get(Receipt, receipt_id)
        account = db.session.get(Account, receipt.account_id)
        account.email = "olson@example.net"
        rendered = render_notice(content.receipt(db.session, app.config, receipt))
        notice = issue(
            db.session,
            app.config,
            CLERK,
            rendered.document,
            account=account,
            delivery=Delivery.EMAIL,
            rendered=rendered,
            payment_id=receipt.payment_id,
        )
        outbox = Outbox()
        assert email_notice(db.session, app.config, CLERK, outbox, notice, rendered, account)
        (message,) = outbox.sent
        for line in (
            "Paid by: Visa ending in 4242",
            "Payment date: November 20, 2026",
            "Time: 2:05 PM CST",
            f"Confirmation number: {receipt.number}",
            f"Card payment reference: {INTENT}",
        ):
            assert line in message.text
        assert "Visa ending in 4242" in message.html
        assert "Visa ending in 4242" in pdf_text(message.attachment)
        assert message.to == "olson@example.net"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Receipt)) == 1


class _StripeRefunds:
    """Stripe's side of a card refund: it takes the refund and says it succeeded."""

    def create_refund(self, *, payment_intent_id, amount_cents, idempotency_key):
        """The refund as Stripe returns it."""
        return type("Refund", (), {"id": f"re_{idempotency_key[-6:]}", "status": "succeeded"})()


def test_a_card_refund_notice_names_the_card_the_payment_and_its_own_amount(app):
    receipt_id = card_receipt(app)
    with app.app_context():
        receipt = db.session.get(Receipt, receipt_id)
        refund = refund_payment(
            db.session,
            CLERK,
            db.session.get(Payment, receipt.payment_id),
            amount_cents=1234,
            reason="duplicate, per phone call",
            on=date(2026, 11, 21),
            gateway=_StripeRefunds(),
        )
        db.session.commit()
        text = pdf_text(render(content.refund_notice(db.session, app.config, refund)))
        assert "by Visa ending in 4242 on 11/20/2026" in text
        assert f"(receipt {receipt.number})" in text and "$12.34" in text
        assert "duplicate, per phone call" not in text

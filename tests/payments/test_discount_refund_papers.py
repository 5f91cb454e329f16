"""What a resident reads after a refund took an early-payment discount back: the refund notice,
the statement, the tax bill made again and the next receipt, each agreeing with the account
position. The notices are rendered to PDF and read back as text, as a resident reads them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from html import unescape

import time_machine

from accounts.services import reissue_access_code
from billing.position import account_position
from core.extensions import db
from core.money import format_cents
from notices import content
from notices.issuing import render_notice
from notices.statements import statement
from tests.billing.test_tax_bills_posted import PAY_BY, discounted_bill
from tests.notices.test_render import pages_text
from tests.payments.test_discount_refunds import (
    PAID_ON,
    REFUNDED_ON,
    SUPERVISOR,
    pay_at_counter,
    refund,
)
from tests.portal.conftest import quick_pay


def text_of(document) -> str:
    """The rendered notice's text, every page, whitespace collapsed."""
    return " ".join(pages_text(render_notice(document).pdf))


def refunded_in_part(session):
    """A bill paid in time with its discount, then $100.00 of the payment refunded; (account,
    invoice, discount row, refund)."""
    owner, invoice, discount = discounted_bill(session)
    payment = pay_at_counter(session, owner, discount.amount_due_cents, PAID_ON)
    made = refund(session, payment, 100_00)
    session.commit()
    return owner, invoice, discount, made


def test_the_refund_notice_shows_the_discount_taken_back_and_the_balance_owed(app, session):
    owner, invoice, discount, made = refunded_in_part(session)
    owed = account_position(session, owner.id, REFUNDED_ON).owed_cents()
    assert owed == 100_00 + discount.discount_cents

    document = content.refund_notice(session, app.config, made)
    rows = [(row.description, row.amount_cents) for row in document.activity]
    assert (
        f"Early-payment discount taken back, bill {invoice.number}",
        discount.discount_cents,
    ) in rows
    assert document.balance_after_cents == owed
    text = text_of(document)
    assert f"Early-payment discount taken back, bill {invoice.number}" in text
    assert format_cents(discount.discount_cents) in text
    assert f"Remaining balance {format_cents(owed)}" in text


def test_a_refund_notice_without_a_discount_taken_back_has_no_such_line(app, session):
    owner, invoice, discount = discounted_bill(session)
    payment = pay_at_counter(session, owner, invoice.total_cents, PAID_ON)
    made = refund(session, payment, discount.discount_cents)  # only the credit it left
    text = text_of(content.refund_notice(session, app.config, made))
    assert "taken back" not in text
    assert f"Remaining balance {format_cents(0)}" in text


def test_the_statement_shows_the_discount_and_its_take_back_and_closes_at_the_position(
    app, session
):
    owner, invoice, discount, _made = refunded_in_part(session)
    owed = account_position(session, owner.id, REFUNDED_ON).owed_cents()

    document = statement(session, app.config, owner, date(2025, 12, 1), REFUNDED_ON)
    rows = [(row.description, row.amount_cents) for row in document.activity]
    assert (f"Early-payment discount, bill {invoice.number}", -discount.discount_cents) in rows
    assert (
        f"Early-payment discount taken back, bill {invoice.number}",
        discount.discount_cents,
    ) in rows
    assert document.activity[-1].balance_cents == owed
    assert document.summary.total_due_cents == owed
    text = text_of(document)
    assert f"Early-payment discount taken back, bill {invoice.number}" in text
    assert format_cents(owed) in text


def test_the_tax_bill_made_after_the_take_back_offers_the_discount_on_what_is_owed(app, session):
    owner, invoice, discount, _made = refunded_in_part(session)
    owed = account_position(session, owner.id, REFUNDED_ON).owed_cents()

    document = content.bill(session, app.config, invoice, on=REFUNDED_ON)
    assert document.amount_cents == owed
    offer = (
        f"Pay {format_cents(owed - discount.discount_cents)} by 12/31/2025 and this bill is "
        f"paid in full: a 4% early-payment discount of {format_cents(discount.discount_cents)}."
    )
    assert document.messages == (offer,)
    text = text_of(document)
    assert f"Pay {format_cents(owed - discount.discount_cents)} by 12/31/2025" in text
    assert format_cents(owed) in text
    # After the discount date the offer is gone and the bill owes the discount too.
    assert content.bill(session, app.config, invoice, on=date(2026, 1, 2)).messages == ()


def test_the_next_receipt_leaves_what_the_position_says_is_owed(app, session):
    owner, invoice, discount, _made = refunded_in_part(session)
    later = date(2026, 1, 2)  # after the discount date: no discount earned again
    payment = pay_at_counter(session, owner, 100_00, later)
    session.commit()
    owed = account_position(session, owner.id, later).owed_cents()
    assert owed == discount.discount_cents

    from payments.models import Receipt

    receipt = session.query(Receipt).filter_by(payment_id=payment.id).one()
    assert receipt.balance_after_cents == owed
    text = text_of(content.receipt(session, app.config, receipt))
    assert format_cents(owed) in text


def test_paid_again_in_time_the_statement_shows_the_discount_earned_again(app, session):
    owner, invoice, discount, _made = refunded_in_part(session)
    pay_at_counter(session, owner, 100_00, PAY_BY)
    document = statement(session, app.config, owner, date(2025, 12, 1), PAY_BY)
    discounts = [
        row.amount_cents for row in document.activity if row.description.startswith("Early-pay")
    ]
    assert discounts == [
        -discount.discount_cents,
        discount.discount_cents,
        -discount.discount_cents,
    ]
    assert document.summary.total_due_cents == 0
    assert account_position(session, owner.id, PAY_BY).owed_cents() == 0


@time_machine.travel(datetime(2025, 12, 20, 18, 0, tzinfo=UTC), tick=False)
def test_the_bill_page_asks_for_the_whole_amount_owed_again(app, client):
    with app.app_context():
        owner, invoice, discount, _made = refunded_in_part(db.session)
        code = reissue_access_code(
            db.session, SUPERVISOR, owner, code_key=app.config["ACCESS_CODE_KEY"]
        )
        number = owner.number
        owed = account_position(db.session, owner.id, REFUNDED_ON).owed_cents()
        invoice_number = invoice.number
        assert owed == 100_00 + discount.discount_cents
        db.session.commit()
    assert quick_pay(client, number, code).status_code == 303
    page = unescape(client.get("/my/bill").text)
    assert invoice_number in page
    assert format_cents(owed) in page

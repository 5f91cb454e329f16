"""Payoff quotes paid through the console: at the counter (payer, tender, amount; a refusal is
shown with its reason and takes nothing), and a waiting lockbox item applied to a quote by a
clerk, while an item naming a standing quote is applied to it when the file is imported."""

from __future__ import annotations

import io
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from accounts.models import Parcel
from billing.models import PayoffOutcome, PayoffPayment, PayoffQuote, QuoteStatus
from billing.payoff import Requested, quote
from core.audit import Actor
from core.calendar import town_today
from core.extensions import db
from payments.models import Payment, RemittanceItem, RemittanceStatus
from payments.payoff_payments import parcel_owes
from tests.billing.billing_fixtures import tax_owner
from tests.conftest import csrf_token, form_token
from tests.payments.lockbox_files import Check, bai

CLERK = Actor("user", "1", "clerk@example.org", "127.0.0.1")
LENDER = Requested("lender", "First Lakeshore Bank", "PO Box 12\nMaple Falls, WI 54901")
OWNER = Requested("owner", "Owner P-400", "1 Oak St\nMaple Falls, WI 54901")


def _quotes(app, *requested) -> list[tuple[str, int]]:
    """A parcel owing its 2025 tax and a quote for each requester: (number, amount) each."""
    with app.app_context():
        tax_owner(db.session, "Owner P-400", "P-400", 250_000)
        parcel = db.session.scalar(sa.select(Parcel).where(Parcel.parcel_number == "P-400"))
        today = town_today(current_app.config)
        made = [
            quote(
                db.session,
                CLERK,
                parcel,
                today + timedelta(days=10),
                r,
                today=today,
                rounding=current_app.config["ROUNDING_RULE"],
            )
            for r in requested
        ]
        db.session.commit()
        return [(q.number, q.amount_cents) for q in made]


def _dollars(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _pay(client, token=None, **data):
    page = client.get("/staff/counter/").text
    fields = {"csrf_token": csrf_token(page), "form_token": token or form_token(page)}
    return client.post("/staff/counter/payoff", data={**fields, **data})


def test_a_clerk_takes_the_owners_and_the_lenders_quote_payments_at_the_counter(app, signed_in):
    (ours, ours_cents), (theirs, theirs_cents) = _quotes(app, OWNER, LENDER)
    clerk = signed_in("clerk")
    good = {"quote": ours, "payer_name": "Owner P-400", "amount": _dollars(ours_cents)}
    closed = _pay(clerk, "no-drawer-no-token", **good, tender="cash")
    assert closed.status_code == 409 and "Open your drawer first." in closed.text
    page = clerk.get("/staff/counter/").text
    opened = clerk.post(
        "/staff/counter/open", data={"csrf_token": csrf_token(page), "opening_float": "50.00"}
    )
    assert opened.status_code == 303
    assert "Pay a payoff quote" in clerk.get("/staff/counter/").text

    refusals = [
        ({**good, "quote": "PQ-2026-999999", "tender": "cash"}, "No payoff quote has this number."),
        ({**good, "payer_name": " ", "tender": "cash"}, "Enter who paid (at most 200 characters)."),
        ({**good, "tender": "check"}, "Enter the check or money order number."),
        ({**good, "tender": "card"}, "Choose cash, check or money order."),
        ({**good, "amount": "ten", "tender": "cash"}, "Enter dollars and cents, such as 50.00."),
        ({**good, "amount": "0.00", "tender": "cash"}, "Enter an amount greater than zero."),
    ]
    for data, reason in refusals:
        refused = _pay(clerk, **data)
        assert refused.status_code == 422 and reason in refused.text, (data, refused.text)
    assert _count(app, Payment) == _count(app, PayoffPayment) == 0

    owner = _pay(clerk, **good, tender="cash")
    assert owner.status_code == 303
    shown = clerk.get("/staff/counter/").text
    assert f"Payoff quote {ours}: ${ours_cents / 100:,.2f} from Owner P-400" in shown
    assert "paid the parcel&#39;s tax." in shown

    page = clerk.get("/staff/counter/").text
    token = form_token(page)
    lender = {
        "quote": theirs,
        "payer_name": "First Lakeshore Bank",
        "amount": _dollars(theirs_cents),
        "tender": "check",
        "reference": "88017",
    }
    assert _pay(clerk, token, **lender).status_code == 303
    shown = clerk.get("/staff/counter/").text
    assert "The parcel was already paid: all of it is a refund to send to the payer." in shown
    # the same form sent again takes nothing more
    again = _pay(clerk, token, **lender)
    assert again.status_code == 303
    assert "sent twice" in clerk.get("/staff/counter/").text
    with app.app_context():
        rows = db.session.scalars(sa.select(PayoffPayment).order_by(PayoffPayment.id)).all()
        assert [(r.payer_name, r.outcome, r.refund_cents) for r in rows] == [
            ("Owner P-400", PayoffOutcome.SETTLED, 0),
            ("First Lakeshore Bank", PayoffOutcome.REFUNDED, theirs_cents),
        ]
        first = db.session.scalar(sa.select(PayoffQuote).where(PayoffQuote.number == ours))
        assert first.status == QuoteStatus.PAID
        assert parcel_owes(db.session, first, town_today(current_app.config)) == 0
    assert _count(app, Payment) == 2


def _upload(client, data: bytes):
    page = client.get("/staff/lockbox/")
    return client.post(
        "/staff/lockbox/import",
        data={
            "csrf_token": csrf_token(page.text),
            "layout": "bai-lockbox",
            "file": (io.BytesIO(data), "lb.txt"),
        },
        content_type="multipart/form-data",
    )


def test_a_lockbox_check_naming_a_quote_is_applied_at_import_or_by_a_clerk_from_the_queue(
    app, signed_in
):
    (ours, ours_cents), (theirs, theirs_cents) = _quotes(app, OWNER, LENDER)
    today = town_today(app.config)
    clerk = signed_in("clerk")
    checks = [
        Check(ours_cents, ours, "5101"),
        Check(theirs_cents, "PQ-2026-999999", "5102"),
    ]
    assert _upload(clerk, bai(checks, today)).status_code == 303
    listed = clerk.get("/staff/lockbox/").text
    assert "1 settled (1 to payoff quotes), 1 in the exception queue" in listed
    with app.app_context():
        items = db.session.scalars(sa.select(RemittanceItem).order_by(RemittanceItem.sequence))
        applied, waiting = items.all()
        assert applied.status == RemittanceStatus.APPLIED
        assert (waiting.status, waiting.reason) == (RemittanceStatus.EXCEPTION, "unknown_quote")
        item_id = waiting.id
    shown = clerk.get(f"/staff/lockbox/items/{item_id}").text
    assert "no payoff quote has this number: no payoff quote has the number PQ-2026-999999" in (
        shown
    )
    assert "Apply to a payoff quote" in shown and 'value="PQ-2026-999999"' in shown

    def apply(number, note="lender's check, quote number mistyped"):
        page = clerk.get(f"/staff/lockbox/items/{item_id}").text
        data = {"csrf_token": csrf_token(page), "quote": number, "note": note}
        return clerk.post(f"/staff/lockbox/items/{item_id}/quote", data=data)

    unknown = apply("PQ-2026-999999")
    assert unknown.status_code == 422 and "no payoff quote has this number" in unknown.text
    short = apply(theirs, note="ok")
    assert short.status_code == 422 and "say why, in 5 to 500 characters" in short.text
    assert _count(app, PayoffPayment) == 1

    done = apply(theirs)
    assert done.status_code == 303
    assert (
        f"applied to payoff quote {theirs}: the parcel was already paid; the whole check is a "
        "refund to send to its payer" in clerk.get("/staff/lockbox/").text
    )
    assert apply(theirs).status_code == 409
    with app.app_context():
        item = db.session.get(RemittanceItem, item_id)
        paid = db.session.scalar(
            sa.select(PayoffPayment).where(PayoffPayment.payment_id == item.payment_id)
        )
        assert item.status == RemittanceStatus.APPLIED
        assert (paid.outcome, paid.refund_cents) == (PayoffOutcome.REFUNDED, theirs_cents)

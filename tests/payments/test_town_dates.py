"""Money is dated by the town's calendar: a card payment settled by Stripe's event, a counter
payment and a refund made the same evening carry the same date, in the ledger, on the receipt
and in the resident's history, in a zone west of UTC and in one east of it."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pypdf
import pytest
import sqlalchemy as sa
import time_machine

from accounts.models import Account
from billing.models import Settlement
from core.calendar import town_today
from core.extensions import db
from core.money import format_cents
from ledger import chart
from ledger.balances import gl_balance
from ledger.models import JournalEntry
from notices import content
from notices.render import render
from payments.models import Payment, Receipt, Refund
from payments.refunds import refund_payment
from portal import bill as bill_data
from tests.payments.signing import deliver
from tests.payments.test_webhooks import RESIDENT, _event, _payment, _town

MOMENTS = [
    # (zone, the town's clock when Stripe took the money)
    ("America/Chicago", (2026, 12, 5, 23, 59)),
    ("America/Chicago", (2026, 12, 6, 0, 1)),
    ("America/Chicago", (2026, 12, 5, 18, 6)),
    ("America/Chicago", (2027, 3, 14, 23, 59)),  # the first evening of daylight time
    ("Pacific/Auckland", (2026, 12, 5, 23, 59)),
    ("Pacific/Auckland", (2026, 12, 6, 0, 1)),
    ("Pacific/Auckland", (2027, 4, 4, 0, 1)),  # the morning daylight time ends
]


def _long(day: date) -> str:
    """A date as the English notices write it."""
    return f"{day:%B} {day.day}, {day.year}"


def _entry_date(source_type: str, source_id: int) -> date:
    """The date of the ledger entry of a source document."""
    return db.session.scalar(
        sa.select(JournalEntry.entry_date).where(
            JournalEntry.source_type == source_type, JournalEntry.source_id == str(source_id)
        )
    )


@pytest.mark.parametrize(("zone", "clock"), MOMENTS)
def test_a_card_payment_is_dated_by_the_towns_clock_everywhere_it_shows(
    app, client, api_headers, zone, clock
):
    app.config["MUNICIPALITY_TIMEZONE"] = zone
    (account_id,) = _town(app)
    moment = datetime(*clock, tzinfo=ZoneInfo(zone))
    day = date(*clock[:3])
    clerk = api_headers("clerk")
    with time_machine.travel(moment.astimezone(UTC), tick=False):
        assert town_today(app.config) == day
        payment_id = _payment(app, account_id, cents=4000)
        event = _event(app, "payment_intent.succeeded", payment_id, created=int(moment.timestamp()))
        assert deliver(client, event).status_code == 200
        drawer = client.post("/api/v1/drawers", json={}, headers=clerk).get_json()
        with app.app_context():
            number = db.session.get(Account, account_id).number
        cash = client.post(
            f"/api/v1/drawers/{drawer['id']}/payments",
            json={"account_number": number, "amount_cents": 1500, "tender": "cash"},
            headers=clerk,
        )
        assert cash.status_code == 201, cash.get_json()
        with app.app_context():
            counter = db.session.scalar(sa.select(Payment).where(Payment.id != payment_id))
            refund = refund_payment(
                db.session,
                RESIDENT,
                counter,
                amount_cents=500,
                reason="paid twice at the counter",
                on=town_today(app.config),
            )
            db.session.commit()
            refund_id, counter_id = refund.id, counter.id
    with app.app_context():
        receipt = db.session.scalar(sa.select(Receipt).where(Receipt.payment_id == payment_id))
        settled = set(
            db.session.scalars(
                sa.select(Settlement.settled_on).where(Settlement.source_id == str(payment_id))
            )
        )
        assert _entry_date("payment", payment_id) == day
        assert settled == {day} and receipt.paid_on == day
        assert _entry_date("payment", counter_id) == day
        assert _entry_date("refund", refund_id) == day
        assert db.session.get(Refund, refund_id).refunded_on == day
        # the books as of the town's day hold the evening's card money; the day before does not
        assert gl_balance(db.session, chart.STRIPE_CLEARING, day) == 4000
        assert gl_balance(db.session, chart.STRIPE_CLEARING, day - timedelta(days=1)) == 0
        document = content.receipt(db.session, app.config, receipt)
        pages = pypdf.PdfReader(io.BytesIO(render(document))).pages
        text = " ".join(" ".join(page.extract_text().split()) for page in pages)
        assert _long(day) in text and _long(day + timedelta(days=1)) not in text
        assert format_cents(4000) in text and receipt.number in text
        account = db.session.get(Account, account_id)
        since = moment.astimezone(UTC) - timedelta(days=30)
        items = bill_data.history(db.session, account, since, ZoneInfo(zone))
        paid = {item.reference: item.when for item in items if item.kind == "payment"}
        assert paid[receipt.number] == day

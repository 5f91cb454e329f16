"""The clerks' service-orders page: residents' requests confirmed or refused, a stop entered
with its final bill, a balance moved; refusals shown under their field; one-time form tokens."""

from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa

from accounts.locations import OrderKind, OrderStatus, ServiceOrder
from accounts.models import Account, AccountStatus
from billing.models import Invoice
from billing.service_orders import new_order
from core.audit import Actor
from core.extensions import db
from tests.billing.order_fixtures import rented_house
from tests.conftest import csrf_token, form_token

PAGE = "/staff/service-orders/"


def _house(app, requested: bool = False) -> dict:
    with app.app_context():
        house = rented_house(db.session)
        facts = {"location": house.location.id, "tenant": house.tenant.number}
        if requested:
            resident = Actor("resident", "1", "ana.olson@example.net", "127.0.0.1")
            order = new_order(
                db.session,
                resident,
                status=OrderStatus.REQUESTED,
                kind=OrderKind.STOP,
                location_id=house.location.id,
                account_id=house.tenant.id,
                effective_on=date(2026, 11, 15),
                forward_street="88 Harbor Rd",
                forward_city="Duluth",
                forward_state="MN",
                forward_zip="55802",
            )
            facts["order"] = order.id
        db.session.commit()
    return facts


def _stop_form(page: str, house: dict, **changes) -> dict:
    return {
        "csrf_token": csrf_token(page),
        "form_token": form_token(page[page.index('action="/staff/service-orders/"') :]),
        "kind": "stop",
        "location": str(house["location"]),
        "effective_on": "2026-11-15",
        "account": house["tenant"],
        "reading": "20000",
        "forward_street": "88 Harbor Rd",
        "forward_city": "Duluth",
        "forward_state": "MN",
        "forward_zip": "55802",
        **changes,
    }


def test_a_clerk_confirms_a_residents_stop_and_the_final_bill_is_posted(app, signed_in):
    house = _house(app, requested=True)
    client = signed_in("clerk")
    page = client.get(PAGE).text
    assert "88 Harbor Rd, Duluth MN 55802" in page and "Residents' requests (1)" in page
    answer = client.post(
        f"{PAGE}{house['order']}/confirm",
        data={"csrf_token": csrf_token(page), "reading": "20000"},
        follow_redirects=True,
    )
    assert answer.status_code == 200
    assert re.search(r"Final bill \d{4}-\d{6} posted \(\$30\.80\)", answer.text)
    with app.app_context():
        order = db.session.get(ServiceOrder, house["order"])
        assert order.status == OrderStatus.CONFIRMED and order.decided_by.startswith("clerk")
        assert db.session.get(Invoice, order.final_invoice_id).is_final


def test_a_refusal_keeps_the_clerks_reason(app, signed_in):
    house = _house(app, requested=True)
    client = signed_in("clerk")
    page = client.get(PAGE).text
    client.post(
        f"{PAGE}{house['order']}/refuse",
        data={"csrf_token": csrf_token(page), "reason": "Lease runs to December"},
    )
    with app.app_context():
        order = db.session.get(ServiceOrder, house["order"])
        assert (order.status, order.refusal_reason) == (
            OrderStatus.REFUSED,
            "Lease runs to December",
        )


def test_a_stop_entered_twice_with_one_form_acts_once(app, signed_in):
    house = _house(app)
    client = signed_in("clerk")
    form = _stop_form(client.get(PAGE).text, house)
    first = client.post(PAGE, data=form, follow_redirects=True)
    second = client.post(PAGE, data=form, follow_redirects=True)
    assert "carried out" in first.text
    assert "This form was sent twice; it acted once." in second.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ServiceOrder)) == 1
        tenant = db.session.scalar(sa.select(Account).where(Account.number == house["tenant"]))
        assert tenant.status == AccountStatus.CLOSED


def test_a_stop_in_a_billed_period_is_shown_under_its_field_and_changes_nothing(app, signed_in):
    house = _house(app)
    client = signed_in("clerk")
    form = _stop_form(client.get(PAGE).text, house, effective_on="2026-10-20")
    answer = client.post(PAGE, data=form)
    assert answer.status_code == 422
    assert 'id="effective_on-error"' in answer.text
    assert "within the period already billed (through 2026-10-31)" in answer.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ServiceOrder)) == 0


def test_an_auditor_sees_the_page_without_its_forms(app, signed_in):
    _house(app, requested=True)
    client = signed_in("auditor")
    page = client.get(PAGE)
    assert page.status_code == 200
    assert "Carry out the order" not in page.text and "waiting" in page.text
    assert client.post(PAGE, data={}).status_code in (400, 403)

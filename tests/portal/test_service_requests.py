"""A registered resident asks to stop service or to move it; the request waits for a clerk."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from accounts.locations import OrderKind, OrderStatus, ServiceOrder
from accounts.models import AccountStatus
from core.extensions import db
from portal.models import Resident, ResidentAccount
from tests.billing.order_fixtures import rented_house, two_houses
from tests.conftest import csrf_token

ADDRESS = "ana.olson@example.net"
PASSWORD = "a long enough resident password"


def _signed_in(app, client, both: bool = False) -> dict:
    """A resident registered on the tenant's account, signed in."""
    with app.app_context():
        house = two_houses(db.session)[0] if both else rented_house(db.session)
        resident = Resident(
            email=ADDRESS,
            password_hash=generate_password_hash(PASSWORD),
            verified_at=datetime.now(UTC),
        )
        db.session.add(resident)
        db.session.flush()
        db.session.add(ResidentAccount(resident_id=resident.id, account_id=house.tenant.id))
        facts = {"location": house.location.id, "tenant": house.tenant.id}
        db.session.commit()
    page = client.get("/signin").text
    answer = client.post(
        "/signin", data={"csrf_token": csrf_token(page), "email": ADDRESS, "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.text
    return facts


def _form(client, **fields) -> dict:
    page = client.get("/my/service").text
    return {
        "csrf_token": csrf_token(page),
        "kind": "stop",
        "effective_on": "2026-11-15",
        "street": "88 Harbor Rd",
        "city": "Duluth",
        "state": "mn",
        "zip": "55802",
        **fields,
    }


def test_a_residents_stop_request_waits_for_a_clerk_and_changes_nothing_yet(app, client):
    house = _signed_in(app, client)
    answer = client.post(
        "/my/service", data=_form(client, location=str(house["location"])), follow_redirects=True
    )
    assert answer.status_code == 200
    assert (
        "Your request is sent." in answer.text and "waiting for the utility office" in answer.text
    )
    with app.app_context():
        order = db.session.scalar(sa.select(ServiceOrder))
        assert (order.kind, order.status) == (OrderKind.STOP, OrderStatus.REQUESTED)
        assert order.effective_on == date(2026, 11, 15)
        assert (order.forward_street, order.forward_state) == ("88 Harbor Rd", "MN")
        assert order.requested_by == ADDRESS and order.final_invoice_id is None
        assert order.account.status == AccountStatus.ACTIVE


def test_a_move_names_the_new_address_in_town(app, client):
    house = _signed_in(app, client, both=True)
    form = _form(client, location=str(house["location"]), kind="move", new_street="9 elm st")
    client.post("/my/service", data=form)
    with app.app_context():
        order = db.session.scalar(sa.select(ServiceOrder))
        assert order.kind == OrderKind.TRANSFER and order.new_location.street == "9 Elm St"


def test_missing_and_wrong_fields_are_shown_next_to_them(app, client):
    house = _signed_in(app, client)
    form = _form(client, location=str(house["location"]), effective_on="", zip="5580", kind="move")
    answer = client.post("/my/service", data=form)
    assert answer.status_code == 422
    for text in (
        "Enter your last day at this address.",
        "Enter a ZIP code of five digits.",
        "We do not find this address in town.",
    ):
        assert text in answer.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ServiceOrder)) == 0


def test_a_location_of_another_account_is_refused(app, client):
    _signed_in(app, client)
    answer = client.post("/my/service", data=_form(client, location="999"))
    assert answer.status_code == 422 and "Choose the address where service stops." in answer.text


def test_quick_pay_alone_does_not_open_the_form(app, client):
    answer = client.get("/my/service")
    assert answer.status_code == 302

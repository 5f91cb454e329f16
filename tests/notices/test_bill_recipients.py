"""A final bill is mailed to the forwarding address of its stop; a location billed to its
owner sends the occupant's bills to the owner; otherwise the account's own address."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import current_app

from accounts.locations import BillTo, OrderKind, OrderStatus
from accounts.responsibility import set_bill_to
from billing.models import Invoice
from billing.service_orders import confirm, new_order
from notices import content
from tests.billing.order_fixtures import CLERK, SETTINGS, rented_house


def _october_bill(session, house) -> Invoice:
    return session.scalar(
        sa.select(Invoice).where(
            Invoice.account_id == house.tenant.id, Invoice.period_end == date(2026, 10, 31)
        )
    )


def test_the_final_bill_goes_to_the_forwarding_address(session):
    house = rented_house(session)
    order = new_order(
        session,
        CLERK,
        status=OrderStatus.CONFIRMED,
        kind=OrderKind.STOP,
        location_id=house.location.id,
        account_id=house.tenant.id,
        effective_on=date(2026, 11, 15),
        reading=20000,
        forward_street="88 Harbor Rd",
        forward_city="Duluth",
        forward_state="MN",
        forward_zip="55802",
    )
    confirm(session, CLERK, order, SETTINGS, date(2026, 11, 16))
    final = session.get(Invoice, order.final_invoice_id)

    document = content.bill(session, current_app.config, final)

    assert document.recipient.name == house.tenant.holder_name
    assert document.recipient.lines == ("88 Harbor Rd", "Duluth MN 55802")
    assert document.recipient.zip_code == "55802"
    october = content.bill(session, current_app.config, _october_bill(session, house))
    assert october.recipient == content.recipient(house.tenant)


def test_a_location_billed_to_its_owner_mails_the_occupants_bill_to_the_owner(session):
    house = rented_house(session)
    set_bill_to(session, CLERK, house.location, BillTo.OWNER)

    document = content.bill(session, current_app.config, _october_bill(session, house))

    assert document.recipient == content.recipient(house.landlord)
    assert document.account_number == house.tenant.number


def test_a_notice_for_the_occupant_is_addressed_to_occupant_at_the_service_address(session):
    from notices.bill_recipients import occupant

    house = rented_house(session)

    envelope = occupant(house.location)

    assert envelope.name == "Occupant"
    assert envelope.lines == ("1 Oak St", f"Maple Falls {house.landlord.mail_state} 54901")
    assert envelope.zip_code == "54901"

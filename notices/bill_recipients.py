"""Whom a bill is mailed to: a final bill goes to the forwarding address of its service order;
a location whose town rule bills the owner sends its bills to the owner; otherwise the account
holder's mailing address (notices.content.recipient). docs/service-orders.md."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.locations import BillTo, ServiceLocation, ServiceOrder
from accounts.models import Account, ServicePoint
from billing.models import Invoice, InvoiceLine
from notices.document import Recipient


def _lines(street: str, street2: str | None, city: str, state: str, zip_code: str) -> tuple:
    """The address lines of an envelope window."""
    return tuple(line for line in (street, street2, f"{city} {state} {zip_code}") if line)


def _zip(zip_code: str) -> str:
    """The digits the print batch presorts by."""
    return "".join(ch for ch in zip_code if ch.isdigit())


def forwarding(session: Session, invoice: Invoice) -> Recipient | None:
    """The forwarding address of the order whose final bill this is (None: none given)."""
    if not invoice.is_final:
        return None
    order = session.scalar(
        sa.select(ServiceOrder).where(ServiceOrder.final_invoice_id == invoice.id)
    )
    if order is None or not (order.forward_street and order.forward_city and order.forward_zip):
        return None
    lines = _lines(
        order.forward_street, None, order.forward_city, order.forward_state or "", order.forward_zip
    )
    return Recipient(invoice.account.holder_name, lines, _zip(order.forward_zip))


def owner_billed(session: Session, invoice: Invoice) -> Recipient | None:
    """The owner, when the bill's location is billed to its owner and another account is
    responsible (the bill is still the account's; only the envelope goes to the owner)."""
    location = session.scalar(
        sa.select(ServiceLocation)
        .join(ServicePoint, ServicePoint.location_id == ServiceLocation.id)
        .join(InvoiceLine, InvoiceLine.service_point_id == ServicePoint.id)
        .where(InvoiceLine.invoice_id == invoice.id)
        .limit(1)
    )
    if location is None or location.bill_to != BillTo.OWNER:
        return None
    owner = session.get(Account, location.owner_account_id)
    if owner.id == invoice.account_id:
        return None
    lines = _lines(
        owner.mail_street, owner.mail_street2, owner.mail_city, owner.mail_state, owner.mail_zip
    )
    return Recipient(owner.holder_name, lines, _zip(owner.mail_zip))


def bill_recipient(session: Session, invoice: Invoice, default: Recipient) -> Recipient:
    """Whom the bill's envelope is addressed to."""
    return forwarding(session, invoice) or owner_billed(session, invoice) or default


def occupant(location: ServiceLocation) -> Recipient:
    """A notice the law requires to reach whoever lives there, addressed to "Occupant" at the
    service address (the state is the town's, as on the owner's address)."""
    state = location.owner_account.mail_state
    return Recipient(
        "Occupant",
        _lines(location.street, None, location.city, state, location.zip),
        _zip(location.zip),
    )

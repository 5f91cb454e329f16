"""Whom a bill is mailed to: a final bill goes to the forwarding address of its service order;
a location whose town rule bills the owner sends its bills to the owner; otherwise the account
holder's mailing address (notices.content.recipient). A location billed "owner copied" sends
the occupant's bill to the occupant and a copy to the owner. docs/service-orders.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.locations import BillTo, ServiceLocation, ServiceOrder
from accounts.models import Account, ServicePoint
from billing.models import Invoice, InvoiceLine
from notices.document import NoticeDocument, Recipient
from notices.texts import texts_for


def _lines(street: str, street2: str | None, city: str, state: str, zip_code: str) -> tuple:
    """The address lines of an envelope window."""
    return tuple(line for line in (street, street2, f"{city} {state} {zip_code}") if line)


def recipient_zip(zip_code: str) -> str:
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
    return Recipient(invoice.account.holder_name, lines, recipient_zip(order.forward_zip))


def _location(session: Session, invoice: Invoice) -> ServiceLocation | None:
    """The service location of the bill's first metered or located line (None: not located)."""
    return session.scalar(
        sa.select(ServiceLocation)
        .join(ServicePoint, ServicePoint.location_id == ServiceLocation.id)
        .join(InvoiceLine, InvoiceLine.service_point_id == ServicePoint.id)
        .where(InvoiceLine.invoice_id == invoice.id)
        .limit(1)
    )


def _owner_other_than_payer(
    session: Session, invoice: Invoice, rules: tuple[BillTo, ...]
) -> Account | None:
    """The owner of the bill's location when its rule is one of `rules` and the owner is not
    the account the bill is for (a vacancy bills the owner, who then gets one envelope)."""
    location = _location(session, invoice)
    if location is None or location.bill_to not in rules:
        return None
    owner = session.get(Account, location.owner_account_id)
    return None if owner.id == invoice.account_id else owner


def address_of(account: Account) -> Recipient:
    """An account holder's mailing address as an envelope window shows it."""
    lines = _lines(
        account.mail_street,
        account.mail_street2,
        account.mail_city,
        account.mail_state,
        account.mail_zip,
    )
    return Recipient(account.holder_name, lines, recipient_zip(account.mail_zip))


def owner_billed(session: Session, invoice: Invoice) -> Recipient | None:
    """The owner, when the bill's location is billed to its owner and another account is
    responsible (the bill is still the account's; only the envelope goes to the owner)."""
    owner = _owner_other_than_payer(session, invoice, (BillTo.OWNER,))
    return None if owner is None else address_of(owner)


def owners_copied(session: Session, invoices: Sequence[Invoice]) -> dict[int, Account]:
    """The owners who get a copy of these bills, by invoice id (one query for a print batch's
    chunk): a bill's location (that of its first located line) is billed "owner copied" and
    another account (the occupant) is responsible. A final bill, mailed to a forwarding
    address, is copied too: the owner learns the occupant has left."""
    by_id = {invoice.id: invoice for invoice in invoices}
    rows = session.execute(
        sa.select(InvoiceLine.invoice_id, ServiceLocation.bill_to, ServiceLocation.owner_account_id)
        .join(ServicePoint, InvoiceLine.service_point_id == ServicePoint.id)
        .join(ServiceLocation, ServicePoint.location_id == ServiceLocation.id)
        .where(InvoiceLine.invoice_id.in_(by_id))
        .order_by(InvoiceLine.invoice_id, InvoiceLine.id)
    ).all()
    first: dict[int, tuple[BillTo, int]] = {}
    for invoice_id, rule, owner_id in rows:
        first.setdefault(invoice_id, (rule, owner_id))
    return {
        invoice_id: session.get(Account, owner_id)
        for invoice_id, (rule, owner_id) in first.items()
        if rule == BillTo.OWNER_COPIED and owner_id != by_id[invoice_id].account_id
    }


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
        recipient_zip(location.zip),
    )


def service_address(session: Session, invoice: Invoice) -> Recipient | None:
    """ "Occupant" at the service address of a utility bill: its location's (that of its first
    located line), else its first metered line's service point's (None: no service address)."""
    location = _location(session, invoice)
    if location is not None:
        return occupant(location)
    point = session.scalar(
        sa.select(ServicePoint)
        .join(InvoiceLine, InvoiceLine.service_point_id == ServicePoint.id)
        .where(InvoiceLine.invoice_id == invoice.id)
        .order_by(InvoiceLine.id)
        .limit(1)
    )
    if point is None:
        return None
    state = invoice.account.mail_state
    lines = _lines(point.service_street, None, point.service_city, state, point.service_zip)
    return Recipient("Occupant", lines, recipient_zip(point.service_zip))


def same_address(one: Recipient, other: Recipient) -> bool:
    """Whether two envelopes go to the same street address (case, spacing and ZIP+4 aside)."""

    def street(recipient: Recipient) -> str:
        return " ".join(recipient.lines[0].upper().replace(".", "").replace(",", "").split())

    return street(one) == street(other) and one.zip_code[:5] == other.zip_code[:5]


def owners_copy(document: NoticeDocument, owner: Account) -> NoticeDocument:
    """The owner's copy of an occupant's bill: the same bill, in the owner's envelope, saying
    whose bill it is; without the occupant's quick-pay access code (the owner can pay with the
    stub, but the occupant's online account stays the occupant's)."""
    words = texts_for(document.language)["copy.owner"]
    return replace(
        document,
        recipient=address_of(owner),
        access_code=None,
        messages=(words.format(address=document.service_location), *document.messages),
    )

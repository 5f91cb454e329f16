"""Service locations (premises), who is responsible for them day by day, and service orders.

A service location is the place a service is delivered: an address with an owner and,
while someone lives or trades there, an occupant. Each location has exactly one responsible
account for each day from its first start (`LocationResponsibility`, docs/service-orders.md);
its service points belong to that account (`ServicePoint.account_id` is the account billed
now). A service order (start, stop, transfer) is what changes the responsibility.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Account
from core.db import Base, CreatedAtMixin, UTCDateTime, enum_column, intpk


class BillTo(enum.StrEnum):
    """Whom the town's rule sends a location's bills to."""

    OCCUPANT = "occupant"
    OWNER = "owner"
    #: The occupant, with a copy to the owner.
    OWNER_COPIED = "owner_copied"


class ServiceLocation(CreatedAtMixin, Base):
    """A premises: the service address, its owner and its occupant, if any."""

    __tablename__ = "service_location"

    id: Mapped[intpk]
    street: Mapped[str] = mapped_column(sa.String(200))
    city: Mapped[str] = mapped_column(sa.String(100))
    zip: Mapped[str] = mapped_column(sa.String(10))
    #: The owner's billing account: it is responsible (and billed) while the location is vacant.
    owner_account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    #: Who lives or trades there now; none while vacant.
    occupant_name: Mapped[str | None] = mapped_column(sa.String(200))
    bill_to: Mapped[BillTo] = mapped_column(
        enum_column(BillTo, "location_bill_to"), default=BillTo.OCCUPANT
    )

    owner_account: Mapped[Account] = relationship()
    responsibilities: Mapped[list[LocationResponsibility]] = relationship(
        back_populates="location", order_by="LocationResponsibility.starts_on"
    )

    def address(self) -> str:
        """The address in one line, as clerks and residents read it."""
        return f"{self.street}, {self.city} {self.zip}"


class LocationResponsibility(Base):
    """One account's days of responsibility for a location: from starts_on through ends_on."""

    __tablename__ = "location_responsibility"

    id: Mapped[intpk]
    location_id: Mapped[int] = mapped_column(sa.ForeignKey("service_location.id"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    starts_on: Mapped[date]
    #: The last day of responsibility; none while it lasts.
    ends_on: Mapped[date | None]

    location: Mapped[ServiceLocation] = relationship(back_populates="responsibilities")
    account: Mapped[Account] = relationship()

    __table_args__ = (
        # NOTE: one responsible account per location and day: two starts on one day collide here.
        sa.UniqueConstraint("location_id", "starts_on"),
        sa.CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="ends_after_start"),
    )


class OrderKind(enum.StrEnum):
    """What a service order does."""

    START = "start"
    STOP = "stop"
    TRANSFER = "transfer"


class OrderStatus(enum.StrEnum):
    """Where a service order stands: a resident's request waits for a clerk."""

    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    REFUSED = "refused"


class ServiceOrder(CreatedAtMixin, Base):
    """A start, stop or transfer of service at a location on a date."""

    __tablename__ = "service_order"

    id: Mapped[intpk]
    kind: Mapped[OrderKind] = mapped_column(enum_column(OrderKind, "service_order_kind"))
    status: Mapped[OrderStatus] = mapped_column(
        enum_column(OrderStatus, "service_order_status"), index=True
    )
    #: A start: where service starts; a stop or transfer: where it stops.
    location_id: Mapped[int] = mapped_column(sa.ForeignKey("service_location.id"), index=True)
    #: For a stop or transfer: the first day without service is the day after.
    effective_on: Mapped[date]
    #: The account stopped (stop, transfer); for a start, the account opened or named.
    account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"), index=True)
    #: A transfer: where the person moves to, and the account opened there.
    new_location_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_location.id"))
    new_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    #: The person service starts for (start, transfer).
    holder_name: Mapped[str | None] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    #: The meter reading at the stop (or at the changeover of a start); none: estimated.
    reading: Mapped[int | None] = mapped_column(sa.BigInteger)
    reading_estimated: Mapped[bool] = mapped_column(default=False)
    #: Where the final bill is mailed (stop, transfer).
    forward_street: Mapped[str | None] = mapped_column(sa.String(200))
    forward_city: Mapped[str | None] = mapped_column(sa.String(100))
    forward_state: Mapped[str | None] = mapped_column(sa.String(2))
    forward_zip: Mapped[str | None] = mapped_column(sa.String(10))
    #: The final bill a stop or transfer produced.
    final_invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoice.id"), unique=True)
    requested_by: Mapped[str] = mapped_column(sa.String(254))
    decided_by: Mapped[str | None] = mapped_column(sa.String(254))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The clerk's reason for a refusal (staff words).
    refusal_reason: Mapped[str | None] = mapped_column(sa.String(500))

    location: Mapped[ServiceLocation] = relationship(foreign_keys=[location_id])
    new_location: Mapped[ServiceLocation | None] = relationship(foreign_keys=[new_location_id])
    account: Mapped[Account | None] = relationship(foreign_keys=[account_id])
    new_account: Mapped[Account | None] = relationship(foreign_keys=[new_account_id])

    __table_args__ = (
        sa.CheckConstraint("reading IS NULL OR reading >= 0", name="reading_not_negative"),
        sa.CheckConstraint(
            "kind <> 'transfer' OR new_location_id IS NOT NULL", name="transfer_has_a_destination"
        ),
    )


class BalanceTransfer(CreatedAtMixin, Base):
    """An unpaid final balance moved to the person's new account by a clerk, with the reason."""

    __tablename__ = "balance_transfer"

    id: Mapped[intpk]
    from_account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    to_account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    #: The final bill whose balance moved, and the invoice that carries it on the new account.
    from_invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), unique=True)
    to_invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), unique=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    reason: Mapped[str] = mapped_column(sa.String(500))
    transferred_on: Mapped[date]
    transferred_by: Mapped[str] = mapped_column(sa.String(254))

    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint("from_account_id <> to_account_id", name="between_two_accounts"),
    )

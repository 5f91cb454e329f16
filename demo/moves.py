"""Maple Falls' moves after the conversion, carried out as a clerk carries out service orders
(docs/service-orders.md): the landlord named as owner of the homes it lets, two tenants who
leave (final bills, one mailed to a forwarding address, their deposits applied), one who moves
across town (a transfer, and the unpaid final balance moved to the new account by a clerk) and
a new household starting at a vacant home.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.locations import OrderKind, OrderStatus, ServiceLocation, ServiceOrder
from accounts.models import Account, MeterReading, ServicePoint
from accounts.responsibility import set_owner
from billing.balance_transfers import transfer_final_balance
from billing.models import Invoice
from billing.runs import RunOptions
from billing.service_orders import OrderSettings, confirm, new_order
from core.audit import Actor
from core.models import StaffUser
from demo.old_system import TENANTS, former_number
from demo.timeline import Timeline

#: The tenant who leaves town, with the forwarding address the final bill is mailed to.
LEAVES_TOWN = 2
FORWARD = {
    "forward_street": "2210 W College Avenue",
    "forward_city": "Appleton",
    "forward_state": "WI",
    "forward_zip": "54914",
}
#: The tenant who leaves the home another tenant then moves into.
LEAVES = 25
#: The tenant who moves across town (from their home to LEAVES' former home).
MOVES = 5
#: The household that starts at LEAVES_TOWN's former home.
NEWCOMER = ("Priya Shah", "priya.shah@example.org")


@dataclass
class Moves:
    """The clerk who carries out the orders, and the town's settings for them."""

    session: Session
    code_key: bytes
    landlord_number: str

    def __post_init__(self) -> None:
        """The counter clerk acts for the town."""
        user = self.session.scalar(
            sa.select(StaffUser).where(StaffUser.email == "clerk@example.org")
        )
        self.clerk = Actor("user", str(user.id), user.email, "demo")
        self.settings = OrderSettings(RunOptions(), self.code_key)

    def _account(self, former: str) -> Account:
        """The account converted from a former number."""
        return self.session.scalar(sa.select(Account).where(Account.former_number == former))

    def _home(self, index: int) -> ServiceLocation:
        """The location a household of the export lives at (converted with its account)."""
        account = self._account(former_number(index))
        return self.session.scalar(
            sa.select(ServiceLocation)
            .join(ServicePoint, ServicePoint.location_id == ServiceLocation.id)
            .where(ServicePoint.account_id == account.id)
            .limit(1)
        )

    def name_owners(self) -> None:
        """The clerk names the landlord as owner of the homes it lets (they came over as the
        tenants' own)."""
        landlord = self._account(self.landlord_number)
        for index in sorted(TENANTS):
            set_owner(self.session, self.clerk, self._home(index), landlord)

    def schedule(self, timeline: Timeline, months: list[date]) -> None:
        """The moves in the last two months billed here (months: their last days, oldest first)."""
        before, last = months[-2], months[-1]
        left, moved_into = self._home(LEAVES_TOWN), self._home(LEAVES)
        timeline.at(before.replace(day=15), lambda day: self._stop(LEAVES_TOWN, day, FORWARD))
        timeline.at(before.replace(day=20), lambda day: self._stop(LEAVES, day, {}))
        timeline.at(last.replace(day=5), lambda day: self._transfer(moved_into, day))
        timeline.at(last.replace(day=10), lambda day: self._start(left, day))

    def _reading(self, location: ServiceLocation, day: date) -> int | None:
        """The meter's register on day, between its route reads before and after (None if the
        route has no read after it: the order's reading is then estimated)."""
        point = self.session.scalar(
            sa.select(ServicePoint).where(
                ServicePoint.location_id == location.id, ServicePoint.meter_id.is_not(None)
            )
        )
        reads = self.session.execute(
            sa.select(MeterReading.read_on, MeterReading.reading)
            .where(MeterReading.service_point_id == point.id)
            .order_by(MeterReading.read_on)
        ).all()
        before = [r for r in reads if r[0] <= day][-1]
        after = [r for r in reads if r[0] > day]
        if not after or after[0][1] < before[1]:
            return None
        share = (day - before[0]).days / (after[0][0] - before[0]).days
        return int(before[1] + (after[0][1] - before[1]) * share)

    def _stop(self, index: int, day: date, forward: dict) -> ServiceOrder:
        """A tenant's service stops: the final bill, to the forwarding address if one is given."""
        account, home = self._account(former_number(index)), self._home(index)
        order = new_order(
            self.session,
            self.clerk,
            status=OrderStatus.CONFIRMED,
            kind=OrderKind.STOP,
            location_id=home.id,
            account_id=account.id,
            effective_on=day,
            reading=self._reading(home, day),
            **forward,
        )
        return confirm(self.session, self.clerk, order, self.settings, day)

    def _transfer(self, to: ServiceLocation, day: date) -> None:
        """A tenant moves across town on day; the clerk moves the unpaid final bill to the
        account the move opened, as the household asks."""
        account, home = self._account(former_number(MOVES)), self._home(MOVES)
        order = new_order(
            self.session,
            self.clerk,
            status=OrderStatus.CONFIRMED,
            kind=OrderKind.TRANSFER,
            location_id=home.id,
            new_location_id=to.id,
            account_id=account.id,
            holder_name=account.holder_name,
            email=account.email,
            effective_on=day,
            reading=self._reading(home, day),
        )
        confirm(self.session, self.clerk, order, self.settings, day)
        final = self.session.get(Invoice, order.final_invoice_id)
        if final.balance_cents > 0:
            transfer_final_balance(
                self.session,
                self.clerk,
                final,
                self.session.get(Account, order.new_account_id),
                reason="Moved within town; the household asked to pay it with the new account",
                on=day,
            )

    def _start(self, location: ServiceLocation, day: date) -> None:
        """A new household starts at a vacant home (the landlord paid for it until then)."""
        name, email = NEWCOMER
        order = new_order(
            self.session,
            self.clerk,
            status=OrderStatus.CONFIRMED,
            kind=OrderKind.START,
            location_id=location.id,
            holder_name=name,
            email=email,
            effective_on=day,
            reading=self._reading(location, day - timedelta(days=1)),
        )
        confirm(self.session, self.clerk, order, self.settings, day)

"""Who is responsible for a service location on each day, and moving its service points.

The history of a location is a chain of `LocationResponsibility` rows without gaps or
overlaps: each starts the day after the one before it ends, and only the last may be open.
Services here flush, never commit; billing/service_orders.py decides when the chain changes.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from accounts.locations import BillTo, LocationResponsibility, ServiceLocation
from accounts.models import Account, ServicePoint
from core.audit import Actor, record


class ResponsibilityError(ValueError):
    """A change that would leave a location with no responsible account, or two, on a day."""


def location_points(session: Session, location_id: int) -> list[ServicePoint]:
    """The service points at a location, by id."""
    return list(
        session.scalars(
            sa.select(ServicePoint)
            .where(ServicePoint.location_id == location_id)
            .order_by(ServicePoint.id)
        )
    )


def history(session: Session, location_id: int) -> list[LocationResponsibility]:
    """A location's responsibilities, oldest first."""
    return list(
        session.scalars(
            sa.select(LocationResponsibility)
            .where(LocationResponsibility.location_id == location_id)
            .order_by(LocationResponsibility.starts_on)
        )
    )


def current(session: Session, location_id: int) -> LocationResponsibility | None:
    """The open responsibility of a location (none before its first start)."""
    return session.scalar(
        sa.select(LocationResponsibility).where(
            LocationResponsibility.location_id == location_id,
            LocationResponsibility.ends_on.is_(None),
        )
    )


def responsible_on(session: Session, location_id: int, day: date) -> int | None:
    """The account responsible for the location on the day, if any."""
    return session.scalar(
        sa.select(LocationResponsibility.account_id).where(
            LocationResponsibility.location_id == location_id,
            LocationResponsibility.starts_on <= day,
            sa.or_(LocationResponsibility.ends_on.is_(None), LocationResponsibility.ends_on >= day),
        )
    )


def open_locations(session: Session, account_id: int) -> list[int]:
    """The locations an account is responsible for now (open responsibilities)."""
    return list(
        session.scalars(
            sa.select(LocationResponsibility.location_id).where(
                LocationResponsibility.account_id == account_id,
                LocationResponsibility.ends_on.is_(None),
            )
        )
    )


def hand_over(session: Session, location: ServiceLocation, to_account: Account, on: date) -> None:
    """Make `to_account` responsible from `on`: the open responsibility ends the day before.

    The location's service points move to the account (ServicePoint.account_id is the account
    billed now).
    """
    place = f"location {location.address()}"
    now = current(session, location.id)
    if (
        now is not None
        and now.starts_on == on
        and now.account_id == location.owner_account_id != to_account.id
        and len(history(session, location.id)) > 1
    ):
        # NOTE: service starts the day the vacancy would have: the owner answers for no day.
        session.delete(now)
        session.flush()
        now = None
    if now is not None:
        if on <= now.starts_on:
            raise ResponsibilityError(
                f"{place}: account {now.account.number} is responsible from "
                f"{now.starts_on.isoformat()}; a change on {on.isoformat()} would overlap it"
            )
        if now.account_id == to_account.id:
            raise ResponsibilityError(
                f"{place}: account {to_account.number} is already responsible for it"
            )
        now.ends_on = on - timedelta(days=1)
    session.add(
        LocationResponsibility(location_id=location.id, account_id=to_account.id, starts_on=on)
    )
    for point in location_points(session, location.id):
        point.account_id = to_account.id
    session.flush()


def ensure_location(session: Session, point: ServicePoint) -> ServiceLocation:
    """The point's location; a point loaded without one gets the location of its address.

    NOTE: points imported after the locations came in have none yet; their account owns the
    location and is responsible for it from the point's installation, as the migration did.
    """
    if point.location_id is not None:
        return session.get(ServiceLocation, point.location_id)
    location = session.scalar(
        sa.select(ServiceLocation)
        .join(LocationResponsibility, LocationResponsibility.location_id == ServiceLocation.id)
        .where(
            ServiceLocation.street == point.service_street,
            ServiceLocation.city == point.service_city,
            ServiceLocation.zip == point.service_zip,
            LocationResponsibility.account_id == point.account_id,
            LocationResponsibility.ends_on.is_(None),
        )
    )
    if location is None:
        location = ServiceLocation(
            street=point.service_street,
            city=point.service_city,
            zip=point.service_zip,
            owner_account_id=point.account_id,
        )
        session.add(location)
        session.flush()
        session.add(
            LocationResponsibility(
                location_id=location.id, account_id=point.account_id, starts_on=point.installed_on
            )
        )
    point.location_id = location.id
    session.flush()
    return location


def gaps_and_overlaps(rows: list[LocationResponsibility]) -> list[str]:
    """What is wrong with a location's chain (empty when each day has exactly one account)."""
    problems = []
    ordered = sorted(rows, key=lambda r: r.starts_on)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if before.ends_on is None:
            problems.append(f"{before.starts_on}: open, yet followed from {after.starts_on}")
        elif after.starts_on != before.ends_on + timedelta(days=1):
            problems.append(f"{before.ends_on} then {after.starts_on}: a gap or an overlap")
    if ordered and ordered[-1].ends_on is not None:
        problems.append(f"{ordered[-1].ends_on}: nobody responsible after it")
    return problems


def responsibility_windows(
    session: Session, period_start: date, period_end: date
) -> dict[int, tuple[date, date]]:
    """Service point id -> the days of a period its current account is responsible for them,
    for the points whose current responsibility started inside the period.

    A billing run bills those points for these days only, with the usage from the reading at
    the changeover (billing/drafts.py).
    """
    earlier = aliased(LocationResponsibility)
    rows = session.execute(
        sa.select(ServicePoint.id, LocationResponsibility.starts_on)
        .join(
            LocationResponsibility,
            sa.and_(
                LocationResponsibility.location_id == ServicePoint.location_id,
                LocationResponsibility.account_id == ServicePoint.account_id,
                LocationResponsibility.ends_on.is_(None),
            ),
        )
        .where(
            LocationResponsibility.starts_on > period_start,
            # NOTE: a location's first start is its points' installation, billed as before.
            sa.select(earlier.id)
            .where(
                earlier.location_id == LocationResponsibility.location_id,
                earlier.starts_on < LocationResponsibility.starts_on,
            )
            .exists(),
        )
    ).all()
    return {point_id: (starts_on, period_end) for point_id, starts_on in rows}


def set_owner(session: Session, actor: Actor, location: ServiceLocation, owner: Account) -> None:
    """Name a location's owner (whose account pays while it is vacant); audited."""
    before = location.owner_account_id
    location.owner_account_id = owner.id
    session.flush()
    record(
        session,
        actor,
        "service_location.owner",
        location,
        before={"owner_account_id": before},
        after={"owner_account_id": owner.id},
    )


def set_bill_to(session: Session, actor: Actor, location: ServiceLocation, rule: BillTo) -> None:
    """Set whom a location's bills go to (occupant, owner, or occupant with the owner copied)."""
    before = location.bill_to
    location.bill_to = rule
    session.flush()
    record(
        session,
        actor,
        "service_location.bill_to",
        location,
        before={"bill_to": before},
        after={"bill_to": rule},
    )

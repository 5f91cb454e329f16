"""The town's own closed days: loaded from a holiday file, read into the working calendar.

Federal and state holidays come from the `holidays` package for the state in
MUNICIPALITY_STATE; the days only the town closes (a town meeting day, a local
holiday) are data a clerk loads (docs/penalties.md, "Working days"). A load
replaces the whole list, is all-or-nothing and is audited.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.models import TownClosedDay
from billing.working_days import WorkingCalendar, check_state, parse_closed_days
from core.audit import Actor, record


def load_closed_days(
    session: Session, actor: Actor, document: dict, town_state: str
) -> list[TownClosedDay]:
    """Replace the town's closed days with those of a holiday file; flushes, never commits."""
    days = parse_closed_days(document, check_state(town_state, "MUNICIPALITY_STATE"))
    before = [row.day.isoformat() for row in closed_day_rows(session)]
    session.execute(sa.delete(TownClosedDay))
    rows = [TownClosedDay(day=day, name=name) for day, name in sorted(days.items())]
    session.add_all(rows)
    session.flush()
    record(
        session,
        actor,
        "closed_days.load",
        object_type="TownClosedDay",
        object_id="all",
        before={"days": before},
        after={"days": [row.day.isoformat() for row in rows]},
    )
    return rows


def closed_day_rows(session: Session) -> list[TownClosedDay]:
    """The town's closed days, by date."""
    return list(session.scalars(sa.select(TownClosedDay).order_by(TownClosedDay.day)))


def town_working_calendar(session: Session, town_state: str) -> WorkingCalendar:
    """The working calendar: weekends, federal and the state's holidays, the town's own days."""
    return WorkingCalendar(town_state, {row.day: row.name for row in closed_day_rows(session)})

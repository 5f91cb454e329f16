"""The town's working days: weekends, federal and state holidays, and the town's own closed days.

Pure module. A penalty rule may say that a due date or the end of its grace period
that falls on a day the town's offices are closed moves to the next working day
("or the following business day"); docs/penalties.md. Federal and state holidays
come from the `holidays` package (observed days included), the town's own closed
days from a holiday file the clerk loads (`parse_closed_days`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any

import holidays

from billing.computed import RuleError

#: The holiday file's format version.
CLOSED_DAYS_VERSION = 1
#: The US states, districts and territories the `holidays` package knows, by postal code.
US_STATES = frozenset(holidays.country_holidays("US").subdivisions)
#: Longest run of closed days a calendar may have (a refusal, not a loop without end).
_MAX_CLOSED_RUN = 60


def check_state(state: str, place: str) -> str:
    """A known US state code (e.g. 'WI'), or '' for federal holidays only; else RuleError."""
    if not isinstance(state, str) or (state and state.upper() not in US_STATES):
        raise RuleError(f"{place}: {state!r} is not a US state code (such as WI, TX or CA)")
    return state.upper()


@dataclass(frozen=True)
class WorkingCalendar:
    """Which days the town's offices are open: Monday to Friday, less holidays and closed days."""

    #: Postal code of the town's state ('' = federal holidays only).
    state: str = ""
    #: The town's own closed days, with their names.
    town_days: Mapping[date, str] = field(default_factory=dict)
    _holidays: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check the state and build the holiday table (years are added as they are asked)."""
        state = check_state(self.state, "state")
        object.__setattr__(self, "state", state)
        object.__setattr__(self, "town_days", MappingProxyType(dict(self.town_days)))
        table = holidays.country_holidays("US", subdiv=state or None)
        object.__setattr__(self, "_holidays", table)

    def closed_because(self, day: date) -> str | None:
        """Why the offices are closed on a day ('Saturday', a holiday's name), or None."""
        if day in self.town_days:
            return self.town_days[day]
        if day.weekday() >= 5:
            return "Saturday" if day.weekday() == 5 else "Sunday"
        return self._holidays.get(day)

    def next_working_day(self, day: date) -> date:
        """The day itself if the offices are open, else the next day they are."""
        for _ in range(_MAX_CLOSED_RUN):
            if self.closed_because(day) is None:
                return day
            day += timedelta(days=1)
        raise RuleError(f"no working day within {_MAX_CLOSED_RUN} days of {day.isoformat()}")


#: A calendar of weekends and federal holidays, for callers that pass none.
FEDERAL = WorkingCalendar()


def parse_closed_days(document: Any, town_state: str) -> dict[date, str]:
    """Validate a holiday file: its state (if it names one) and the town's closed days by date."""
    if not isinstance(document, Mapping):
        raise RuleError("document: must be a mapping of names to values")
    unknown = sorted(set(document) - {"version", "state", "closed_days"})
    if unknown:
        raise RuleError(f"{unknown[0]}: unknown field (allowed: closed_days, state, version)")
    if document.get("version") != CLOSED_DAYS_VERSION or isinstance(document.get("version"), bool):
        raise RuleError(f"version: must be {CLOSED_DAYS_VERSION}")
    if "state" in document:
        state = check_state(document["state"], "state")
        if state != town_state:
            raise RuleError(
                f"state: the file is for {state!r}, the town's state (MUNICIPALITY_STATE) is "
                f"{town_state or 'not set'!r}"
            )
    items = document.get("closed_days")
    if not isinstance(items, list):
        raise RuleError("closed_days: must be a list of {date, name}")
    days: dict[date, str] = {}
    for index, item in enumerate(items):
        place = f"closed_days[{index}]"
        day, name = _closed_day(item, place)
        if day in days:
            raise RuleError(f"{place}.date: {day.isoformat()} is listed twice")
        days[day] = name
    return days


def _closed_day(item: Any, place: str) -> tuple[date, str]:
    """One closed day: a date (YAML date or YYYY-MM-DD) and a name."""
    if not isinstance(item, Mapping) or set(item) != {"date", "name"}:
        raise RuleError(f"{place}: must be a mapping with exactly date and name")
    value = item["date"]
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise RuleError(f"{place}.date: {value!r} is not a date (YYYY-MM-DD)") from None
    if not isinstance(value, date) or isinstance(value, datetime):
        raise RuleError(f"{place}.date: must be a date (YYYY-MM-DD)")
    name = item["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or "\n" in name:
        raise RuleError(f"{place}.name: must be a non-empty line of text (at most 200 characters)")
    return value, name.strip()

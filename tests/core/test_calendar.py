"""The town's calendar: an instant's business date is its date in the municipality's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.calendar import town_date, town_date_of_timestamp, town_today, town_zone

CHICAGO = ZoneInfo("America/Chicago")
AUCKLAND = ZoneInfo("Pacific/Auckland")


def local(zone: ZoneInfo, *fields: int) -> datetime:
    """A wall-clock time in a zone, as the UTC instant a database would store."""
    return datetime(*fields, tzinfo=zone).astimezone(UTC)


CASES = [
    # (zone, the instant as the town's clock shows it, the town's date)
    (CHICAGO, (2026, 12, 5, 23, 59), date(2026, 12, 5)),  # 05:59 UTC on Dec 6
    (CHICAGO, (2026, 12, 6, 0, 1), date(2026, 12, 6)),
    (CHICAGO, (2026, 12, 5, 18, 6), date(2026, 12, 5)),  # the evening card payment
    (CHICAGO, (2026, 3, 7, 23, 59), date(2026, 3, 7)),  # the night before DST starts
    (CHICAGO, (2026, 3, 8, 0, 1), date(2026, 3, 8)),
    (CHICAGO, (2026, 3, 8, 23, 59), date(2026, 3, 8)),  # a 23-hour day, CDT by then
    (CHICAGO, (2026, 11, 1, 0, 1), date(2026, 11, 1)),  # a 25-hour day, DST ends at 2:00
    (CHICAGO, (2026, 11, 1, 23, 59), date(2026, 11, 1)),
    (AUCKLAND, (2026, 12, 5, 23, 59), date(2026, 12, 5)),  # 10:59 UTC on Dec 5
    (AUCKLAND, (2026, 12, 6, 0, 1), date(2026, 12, 6)),  # 11:01 UTC on Dec 5
    (AUCKLAND, (2026, 4, 5, 0, 1), date(2026, 4, 5)),  # NZDT ends at 3:00 that morning
    (AUCKLAND, (2026, 4, 5, 23, 59), date(2026, 4, 5)),
    (AUCKLAND, (2026, 9, 27, 0, 1), date(2026, 9, 27)),  # NZDT begins at 2:00
    (AUCKLAND, (2026, 9, 27, 23, 59), date(2026, 9, 27)),
]


@pytest.mark.parametrize(("zone", "clock", "day"), CASES)
def test_an_instant_is_dated_by_the_towns_clock_not_by_utc(zone, clock, day):
    instant = local(zone, *clock)
    assert town_date(instant, zone) == day
    assert town_date_of_timestamp(int(instant.timestamp()), zone) == day
    assert town_date(instant.replace(tzinfo=None), zone) == day  # a stored instant is UTC


def test_evening_in_chicago_and_morning_in_auckland_are_other_days_than_utc():
    evening = local(CHICAGO, 2026, 12, 5, 23, 59)
    morning = local(AUCKLAND, 2026, 12, 6, 0, 1)
    assert evening.date() == date(2026, 12, 6) and town_date(evening, CHICAGO) == date(2026, 12, 5)
    assert morning.date() == date(2026, 12, 5) and town_date(morning, AUCKLAND) == date(2026, 12, 6)


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
    ),
    st.sampled_from([CHICAGO, AUCKLAND, ZoneInfo("UTC"), ZoneInfo("Asia/Kolkata")]),
)
def test_the_towns_date_is_the_date_its_wall_clock_shows(instant, zone):
    day = town_date(instant, zone)
    assert day == instant.astimezone(zone).date()
    assert abs((day - instant.date()).days) <= 1
    # NOTE: the town's midnight of that date comes at or before the instant, the next one after.
    midnight = datetime.combine(day, datetime.min.time(), tzinfo=zone)
    assert midnight <= instant < datetime.combine(day + timedelta(days=1), midnight.time(), zone)


def test_today_is_the_towns_today():
    config = {"MUNICIPALITY_TIMEZONE": "Pacific/Auckland"}
    assert town_zone(config) == AUCKLAND
    assert town_today(config) == datetime.now(AUCKLAND).date()

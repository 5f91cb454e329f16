"""The town's calendar: the business date of an instant is its date in MUNICIPALITY_TIMEZONE.

Instants are stored in UTC. Every date that money carries (a payment's settlement, a receipt,
a refund, a dispute, a penalty, a ledger entry, a job's as-of) is the town's date of the
instant it happened, from `town_date`: a card paid at 18:06 Central time on December 5 is
dated December 5, whatever the date is in UTC. Pure module: plain values in and out.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def town_zone(config: Mapping) -> ZoneInfo:
    """The municipality's time zone, from its settings."""
    return ZoneInfo(config["MUNICIPALITY_TIMEZONE"])


def town_date(instant: datetime, zone: ZoneInfo) -> date:
    """The town's date of an instant: its calendar date in the municipality's time zone."""
    if instant.tzinfo is None:
        # NOTE: a naive instant is a stored UTC one that lost its zone; never local time.
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(zone).date()


def town_date_of_timestamp(seconds: int, zone: ZoneInfo) -> date:
    """The town's date of a Unix timestamp (Stripe's `created`)."""
    return town_date(datetime.fromtimestamp(seconds, UTC), zone)


def town_now(config: Mapping) -> datetime:
    """This instant, on the town's clock."""
    return datetime.now(town_zone(config))


def town_today(config: Mapping) -> date:
    """Today's date in the town (the default as-of date of pages, commands and jobs)."""
    return town_date(datetime.now(UTC), town_zone(config))

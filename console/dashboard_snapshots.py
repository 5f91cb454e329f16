"""The dashboard's figures as of a day, computed by a job and kept, so the page reads one row.

The figures (console/reports.py: the day's collections by channel, the aging by class and
bucket, the delinquency rate, the months billed and collected) are built from every invoice,
charge and settlement; at a county's size that is seconds to minutes, too slow for a page. A
snapshot is that computation, done by the nightly job (console/jobs.py, or by hand with
`munibill jobs run keep_dashboard_figures --as-of DAY`), and kept as one row per as-of date. The page shows a snapshot
when there is one, with when it was computed and how many ledger entries were posted since
(those dated on or before its day could change it); without one it computes the figures as
it always did, and says so.

A snapshot holds exactly what the computation returned (tests/console/test_dashboard_snapshots
.py compares them on random days of a town billed, paid and charged through the services).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from console import reports
from console.models import DashboardSnapshot
from core.db import utcnow
from ledger.models import JournalEntry, LedgerHead
from payments.models import Channel

#: The months of billed and collected the dashboard shows.
MONTHS = 24


@dataclass(frozen=True)
class DashboardFigures:
    """Everything the dashboard shows that is built from every document."""

    as_of: date
    collections: reports.Collections
    aging: reports.Aging
    delinquency: reports.Delinquency
    months: list[reports.MonthTotals]


@dataclass(frozen=True)
class Staleness:
    """When a snapshot was computed, and what the ledger took in since."""

    computed_at: datetime
    #: Entries posted since the snapshot was computed.
    posted_since: int
    #: Of those, the ones dated on or before the snapshot's day: they may change its figures.
    dated_by_as_of: int


def compute(session: Session, as_of: date) -> DashboardFigures:
    """The figures from every document, as the page has always computed them."""
    return DashboardFigures(
        as_of,
        reports.collections_on(session, as_of),
        reports.aging(session, as_of),
        reports.delinquency_rate(session, as_of),
        reports.monthly(session, MONTHS, as_of),
    )


def to_json(figures: DashboardFigures) -> dict:
    """The figures as the snapshot row keeps them (whole cents and counts, no floats)."""
    return {
        "collections": [[c.channel.value, c.count, c.cents] for c in figures.collections.channels],
        "aging": [[r.label, r.kind, list(r.cents)] for r in figures.aging.rows],
        "delinquency": [figures.delinquency.open_accounts, figures.delinquency.delinquent_accounts],
        "months": [
            [m.month.isoformat(), m.billed_cents, m.collected_cents] for m in figures.months
        ],
    }


def from_json(as_of: date, data: dict) -> DashboardFigures:
    """The figures a snapshot row keeps."""
    return DashboardFigures(
        as_of,
        reports.Collections(
            as_of,
            [reports.ChannelTotal(Channel(c), n, cents) for c, n, cents in data["collections"]],
        ),
        reports.Aging(
            as_of, [reports.AgingRow(label, kind, list(c)) for label, kind, c in data["aging"]]
        ),
        reports.Delinquency(as_of, *data["delinquency"]),
        [reports.MonthTotals(date.fromisoformat(m), b, c) for m, b, c in data["months"]],
    )


def _ledger_length(session: Session) -> int:
    return int(session.scalar(sa.select(LedgerHead.length).where(LedgerHead.id == 1)) or 0)


def refresh(session: Session, as_of: date) -> DashboardSnapshot:
    """Compute the figures as of a day and keep them (replacing an earlier snapshot); flushes."""
    length = _ledger_length(session)
    figures = to_json(compute(session, as_of))
    snapshot = session.get(DashboardSnapshot, as_of)
    if snapshot is None:
        snapshot = DashboardSnapshot(as_of=as_of)
        session.add(snapshot)
    snapshot.computed_at = utcnow()
    snapshot.ledger_length = length
    snapshot.figures = figures
    session.flush()
    return snapshot


def stored(session: Session, as_of: date) -> tuple[DashboardFigures, Staleness] | None:
    """The kept figures as of a day and how stale they are, or None when none were kept."""
    snapshot = session.get(DashboardSnapshot, as_of)
    if snapshot is None:
        return None
    since = sa.select(
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(sa.case((JournalEntry.entry_date <= as_of, 1), else_=0)), 0),
    ).where(JournalEntry.seq > snapshot.ledger_length)
    posted, dated = session.execute(since).one()
    return from_json(as_of, snapshot.figures), Staleness(
        snapshot.computed_at, int(posted), int(dated)
    )

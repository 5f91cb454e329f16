"""The figures of the clerks' dashboard, computed from the documents as of any date.

Every figure is one or two aggregate queries (GROUP BY in the database), so a
town of 50,000 accounts costs the same handful of round trips as a hamlet.
Receivables are the pieces of every account's position (billing.position_pieces,
the one definition the account pages and notices read too), rebuilt from invoices,
charges and settlements on their business dates, so the aging holds as of any past
date and adds up to the accounts' positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing import position_pieces
from billing.models import (
    Invoice,
    InvoiceStatus,
)
from ledger.models import ServiceKind
from payments.models import Channel, Payment, PaymentStatus, Receipt

#: The aging buckets, by days past due: not yet due, 1-30, 31-60, 61-90, over 90.
BUCKETS = ("Current", "1–30 days", "31–60 days", "61–90 days", "Over 90 days")
#: The first day past due of each bucket after "current".
_BUCKET_STARTS = (1, 31, 61, 91)


# --- collections ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelTotal:
    """The payments of one channel: how many, and how much."""

    channel: Channel
    count: int
    cents: int


@dataclass(frozen=True)
class Collections:
    """A day's collections, one row per channel (zeros included)."""

    day: date
    channels: list[ChannelTotal]

    @property
    def count(self) -> int:
        """Payments of the day, all channels."""
        return sum(c.count for c in self.channels)

    @property
    def cents(self) -> int:
        """Cents collected on the day, all channels."""
        return sum(c.cents for c in self.channels)


def _collected():
    """Settled payments (their receipt's date is their ledger date); a voided counter payment
    was never collected."""
    return (
        sa.select(Payment.channel, Payment.amount_cents, Receipt.paid_on)
        .join(Receipt, Receipt.payment_id == Payment.id)
        .where(Payment.status != PaymentStatus.VOIDED)
        .subquery("collected")
    )


def collections_on(session: Session, day: date) -> Collections:
    """Payments collected on a day of the town's calendar (their ledger date), by channel."""
    collected = _collected()
    rows = session.execute(
        sa.select(
            collected.c.channel,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(collected.c.amount_cents), 0),
        )
        .where(collected.c.paid_on == day)
        .group_by(collected.c.channel)
    ).all()
    found = {channel: (int(n), int(cents)) for channel, n, cents in rows}
    return Collections(day, [ChannelTotal(c, *found.get(c, (0, 0))) for c in Channel])


# --- receivables -------------------------------------------------------------------------


def _bucketed(as_of: date):
    """Every piece in force on the date (billing.position_pieces) with what it still owes and its
    bucket number (0 current .. 4 over 90 days), as a subquery."""
    pieces = position_pieces.pieces(as_of)
    owed = pieces.c.billed - pieces.c.paid - pieces.c.credited - pieces.c.adjusted
    # NOTE: a bill is past due from the day after its due date: due on as_of is current.
    bucket = sa.case(
        (pieces.c.due >= as_of, 0),
        *(
            (pieces.c.due >= as_of - timedelta(days=start + 29), number)
            for number, start in enumerate(_BUCKET_STARTS[:-1], start=1)
        ),
        else_=len(BUCKETS) - 1,
    )
    # NOTE: grouped in an outer query: PostgreSQL does not match a CASE with bound
    # parameters in SELECT to the same CASE in GROUP BY.
    return sa.select(
        pieces.c.account_id,
        pieces.c.grp,
        pieces.c.service,
        pieces.c.charges,
        bucket.label("bucket"),
        owed.label("cents"),
    ).subquery("bucketed")


@dataclass
class AgingRow:
    """One line of the aging: a service, property taxes or penalties and interest."""

    label: str
    #: service, tax, penalty or other.
    kind: str
    cents: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))

    @property
    def total_cents(self) -> int:
        """All buckets of the row."""
        return sum(self.cents)


@dataclass
class Aging:
    """Open receivables as of a date, by row and bucket."""

    as_of: date
    rows: list[AgingRow]

    @property
    def bucket_totals(self) -> list[int]:
        """Each bucket over all rows."""
        return [sum(row.cents[i] for row in self.rows) for i in range(len(BUCKETS))]

    @property
    def total_cents(self) -> int:
        """Every open receivable."""
        return sum(row.total_cents for row in self.rows)


def _aging_rows(session: Session) -> dict[tuple[str, str, bool], AgingRow]:
    """An empty row per receivable class of the town: each service, property taxes, penalties
    and interest (in that order)."""
    rows: dict[tuple[str, str, bool], AgingRow] = {}
    for code, name in session.execute(
        sa.select(ServiceKind.code, ServiceKind.name).order_by(ServiceKind.name)
    ):
        rows[("utility", code, False)] = AgingRow(name, "service")
    rows[("tax", "", False)] = AgingRow("Property taxes", "tax")
    rows[("charges", "", True)] = AgingRow("Penalties and interest", "penalty")
    return rows


def aging(session: Session, as_of: date) -> Aging:
    """Open receivables as of a date, by service, property taxes and penalties, in age buckets.

    Every piece of the account positions (billing.position_pieces) on the date, each aged by
    its own due date (a tax installment's, else the invoice's; a charge's is the part it was
    assessed on): the same figures, summed over the town, as every account's position.
    """
    bucketed = _bucketed(as_of)
    rows = _aging_rows(session)
    sums = session.execute(
        sa.select(
            bucketed.c.grp,
            bucketed.c.service,
            bucketed.c.charges,
            bucketed.c.bucket,
            sa.func.sum(bucketed.c.cents),
        ).group_by(bucketed.c.grp, bucketed.c.service, bucketed.c.charges, bucketed.c.bucket)
    ).all()
    for group, service, charges, bucket, cents in sums:
        if charges:
            key = ("charges", "", True)
        elif group == "tax":
            key = ("tax", "", False)
        else:
            key = (group, service, False)
        if key not in rows:
            rows[key] = AgingRow("Other charges", "other")
        rows[key].cents[int(bucket)] += int(cents)
    return Aging(as_of, list(rows.values()))


@dataclass(frozen=True)
class Delinquency:
    """How many accounts owe anything, and how many owe something more than 30 days past due."""

    as_of: date
    open_accounts: int
    delinquent_accounts: int

    @property
    def rate(self) -> Decimal | None:
        """delinquent / open as a fraction (None when no account owes anything)."""
        if not self.open_accounts:
            return None
        return Decimal(self.delinquent_accounts) / Decimal(self.open_accounts)


def delinquency_rate(session: Session, as_of: date) -> Delinquency:
    """The share of accounts with an open receivable that owe some of it more than 30 days past due.

    Open: the account's receivables as of the date (as in `aging`) add up to more
    than zero. Delinquent: of those, the parts due 31 days or more before as_of
    (the 31-60, 61-90 and over-90 buckets) add up to more than zero. Credit held
    for an account is not a receivable and does not offset either.
    """
    bucketed = _bucketed(as_of)
    late = sa.case((bucketed.c.bucket >= 2, bucketed.c.cents), else_=0)
    per_account = (
        sa.select(
            sa.func.sum(bucketed.c.cents).label("owed"),
            sa.func.sum(late).label("late"),
        )
        .group_by(bucketed.c.account_id)
        .subquery()
    )
    open_accounts, delinquent = session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((per_account.c.owed > 0, 1), else_=0)), 0),
            sa.func.coalesce(
                sa.func.sum(
                    sa.case(((per_account.c.owed > 0) & (per_account.c.late > 0), 1), else_=0)
                ),
                0,
            ),
        )
    ).one()
    return Delinquency(as_of, int(open_accounts), int(delinquent))


# --- months ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthTotals:
    """What was billed and collected in one month (the current month up to as_of)."""

    month: date
    billed_cents: int
    collected_cents: int


def month_starts(months: int, as_of: date) -> list[date]:
    """The first days of the last `months` months, oldest first, ending with as_of's month."""
    starts = []
    year, month = as_of.year, as_of.month
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def _sum_by_period(session: Session, column, amount, bounds: list, where) -> list[int]:
    """Sum amount by which [bounds[i], bounds[i+1]) period column falls in; one query."""
    period = sa.case(
        *((column < bounds[i + 1], i) for i in range(len(bounds) - 1)),
        else_=None,
    )
    inner = (
        sa.select(period.label("period"), amount.label("cents"))
        .where(where, column >= bounds[0], column < bounds[-1])
        .subquery()
    )
    totals = [0] * (len(bounds) - 1)
    for index, cents in session.execute(
        sa.select(inner.c.period, sa.func.sum(inner.c.cents)).group_by(inner.c.period)
    ):
        totals[int(index)] = int(cents)
    return totals


def monthly(session: Session, months: int, as_of: date) -> list[MonthTotals]:
    """Billed (invoices by issue month, voided ones left out) and collected (payments by the
    month of their ledger date) for the last `months` months up to as_of."""
    starts = month_starts(months, as_of)
    day_bounds = [*starts, as_of + timedelta(days=1)]
    billed = _sum_by_period(
        session,
        Invoice.issue_date,
        Invoice.total_cents,
        day_bounds,
        Invoice.status != InvoiceStatus.VOID,
    )
    collected = _collected()
    collected_by_month = _sum_by_period(
        session, collected.c.paid_on, collected.c.amount_cents, day_bounds, sa.true()
    )
    return [
        MonthTotals(month, b, c)
        for month, b, c in zip(starts, billed, collected_by_month, strict=True)
    ]

"""The figures of the clerks' dashboard, computed from the documents as of any date.

Every figure is one or two aggregate queries (GROUP BY in the database), so a
town of 50,000 accounts costs the same handful of round trips as a hamlet.
Receivables are rebuilt from invoices, charges and settlements rather than
read from the current balances, so the aging holds as of any past date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing import chart
from billing.models import (
    GLAccount,
    Invoice,
    InvoiceCharge,
    InvoiceInstallment,
    InvoiceLine,
    InvoiceStatus,
    ServiceKind,
    Settlement,
)
from billing.receivables import signed_amount
from payments.models import Channel, Payment, PaymentStatus

#: The aging buckets, by days past due: not yet due, 1-30, 31-60, 61-90, over 90.
BUCKETS = ("Current", "1–30 days", "31–60 days", "61–90 days", "Over 90 days")
#: The first day past due of each bucket after "current".
_BUCKET_STARTS = (1, 31, 61, 91)


def _zone(zone: str | ZoneInfo) -> ZoneInfo:
    """A ZoneInfo from a name or a ZoneInfo."""
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)


def _start_of(day: date, zone: str | ZoneInfo) -> datetime:
    """The UTC instant at which a municipal day begins."""
    return datetime.combine(day, time.min, _zone(zone)).astimezone(UTC)


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


def _collected(start: datetime, end: datetime):
    """Payments that succeeded in [start, end); a voided counter payment was never collected."""
    return sa.and_(
        Payment.succeeded_at >= start,
        Payment.succeeded_at < end,
        Payment.status != PaymentStatus.VOIDED,
    )


def collections_on(session: Session, day: date, zone: str | ZoneInfo) -> Collections:
    """Payments that succeeded on a municipal day, by channel (online, counter, mail)."""
    start, end = _start_of(day, zone), _start_of(day + timedelta(days=1), zone)
    rows = session.execute(
        sa.select(
            Payment.channel,
            sa.func.count(Payment.id),
            sa.func.coalesce(sa.func.sum(Payment.amount_cents), 0),
        )
        .where(_collected(start, end))
        .group_by(Payment.channel)
    ).all()
    found = {channel: (int(n), int(cents)) for channel, n, cents in rows}
    return Collections(day, [ChannelTotal(c, *found.get(c, (0, 0))) for c in Channel])


# --- receivables -------------------------------------------------------------------------


def _live(as_of: date, cutoff: datetime):
    """Invoices issued by as_of and not voided by then (a void reverses the whole invoice)."""
    return sa.and_(
        Invoice.issue_date <= as_of,
        sa.or_(Invoice.status != InvoiceStatus.VOID, Invoice.voided_at >= cutoff),
    )


def _has_installments():
    """True for invoices paid in installments (property tax)."""
    return (
        sa.select(InvoiceInstallment.id).where(InvoiceInstallment.invoice_id == Invoice.id).exists()
    )


def _due_of_part():
    """The due date of an invoice part: its installment's own, else the invoice's."""
    return sa.func.coalesce(InvoiceInstallment.due_date, Invoice.due_date)


def _installment_join(number_column):
    """Join condition of a part (by installment number) to its installment, if any."""
    return sa.and_(
        InvoiceInstallment.invoice_id == Invoice.id, InvoiceInstallment.number == number_column
    )


def _pieces(session: Session, as_of: date, cutoff: datetime):
    """(receivable GL, account, due date, signed cents) of everything billed, charged and settled.

    Principal comes from invoice lines (by receivable GL, due with the invoice),
    or from installments for invoices paid in installments (each due on its own
    date; such invoices bill one receivable, property tax). Charges debit the
    penalty receivable and are due with the part they were assessed on.
    Settlements take away from the receivable they credited.
    """
    penalty_gl = session.scalar(
        sa.select(GLAccount.id).where(GLAccount.code == chart.PENALTY_RECEIVABLE)
    )
    live = _live(as_of, cutoff)
    lines = (
        sa.select(
            InvoiceLine.receivable_gl_id.label("gl"),
            Invoice.account_id.label("account_id"),
            Invoice.due_date.label("due"),
            InvoiceLine.amount_cents.label("cents"),
        )
        .select_from(InvoiceLine)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(live, ~_has_installments())
    )
    tax_gl = (
        sa.select(InvoiceLine.invoice_id, sa.func.min(InvoiceLine.receivable_gl_id).label("gl"))
        .group_by(InvoiceLine.invoice_id)
        .subquery()
    )
    installments = (
        sa.select(
            tax_gl.c.gl,
            Invoice.account_id,
            InvoiceInstallment.due_date,
            InvoiceInstallment.amount_cents,
        )
        .select_from(InvoiceInstallment)
        .join(Invoice, Invoice.id == InvoiceInstallment.invoice_id)
        .join(tax_gl, tax_gl.c.invoice_id == Invoice.id)
        .where(live)
    )
    charges = (
        sa.select(
            sa.literal(penalty_gl, sa.Integer),
            Invoice.account_id,
            _due_of_part(),
            InvoiceCharge.amount_cents,
        )
        .select_from(InvoiceCharge)
        .join(Invoice, Invoice.id == InvoiceCharge.invoice_id)
        .outerjoin(InvoiceInstallment, _installment_join(InvoiceCharge.installment_number))
        .where(
            live,
            InvoiceCharge.assessed_on <= as_of,
            sa.or_(InvoiceCharge.waived_at.is_(None), InvoiceCharge.waived_at >= cutoff),
        )
    )
    settled = (
        sa.select(
            Settlement.receivable_gl_id,
            Invoice.account_id,
            _due_of_part(),
            -signed_amount(),
        )
        .select_from(Settlement)
        .join(Invoice, Invoice.id == Settlement.invoice_id)
        .outerjoin(InvoiceInstallment, _installment_join(Settlement.installment_number))
        .where(live, Settlement.settled_on <= as_of)
    )
    return sa.union_all(lines, installments, charges, settled).subquery("pieces")


def _bucketed(session: Session, as_of: date, zone: str | ZoneInfo):
    """The pieces with their bucket number (0 current .. 4 over 90 days) as a subquery."""
    pieces = _pieces(session, as_of, _start_of(as_of + timedelta(days=1), zone))
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
        pieces.c.gl, pieces.c.account_id, bucket.label("bucket"), pieces.c.cents
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


def _aging_rows(session: Session) -> dict[int, AgingRow]:
    """An empty row per receivable GL: each service, property taxes, penalties (in that order)."""
    rows: dict[int, AgingRow] = {}
    for name, gl_id in session.execute(
        sa.select(ServiceKind.name, ServiceKind.receivable_gl_id).order_by(ServiceKind.name)
    ):
        if gl_id in rows:
            rows[gl_id].label += f" / {name}"
        else:
            rows[gl_id] = AgingRow(name, "service")
    fixed = dict(
        session.execute(
            sa.select(GLAccount.code, GLAccount.id).where(
                GLAccount.code.in_([chart.TAX_RECEIVABLE, chart.PENALTY_RECEIVABLE])
            )
        ).all()
    )
    rows[fixed[chart.TAX_RECEIVABLE]] = AgingRow("Property taxes", "tax")
    rows[fixed[chart.PENALTY_RECEIVABLE]] = AgingRow("Penalties and interest", "penalty")
    return rows


def aging(session: Session, as_of: date, zone: str | ZoneInfo = "UTC") -> Aging:
    """Open receivables as of a date, by service, property taxes and penalties, in age buckets.

    What was billed (invoices issued by as_of and not voided by then) plus the
    charges assessed by as_of, less what was settled by as_of, each part aged by
    its own due date (a tax installment's, else the invoice's; a charge's is the
    part it was assessed on). `zone` places a void's timestamp on a municipal day.
    """
    bucketed = _bucketed(session, as_of, zone)
    rows = _aging_rows(session)
    sums = session.execute(
        sa.select(bucketed.c.gl, bucketed.c.bucket, sa.func.sum(bucketed.c.cents)).group_by(
            bucketed.c.gl, bucketed.c.bucket
        )
    ).all()
    names = dict(session.execute(sa.select(GLAccount.id, GLAccount.name)).all())
    for gl_id, bucket, cents in sums:
        if gl_id not in rows:
            rows[gl_id] = AgingRow(names.get(gl_id, str(gl_id)), "other")
        rows[gl_id].cents[int(bucket)] += int(cents)
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


def delinquency_rate(session: Session, as_of: date, zone: str | ZoneInfo = "UTC") -> Delinquency:
    """The share of accounts with an open receivable that owe some of it more than 30 days past due.

    Open: the account's receivables as of the date (as in `aging`) add up to more
    than zero. Delinquent: of those, the parts due 31 days or more before as_of
    (the 31-60, 61-90 and over-90 buckets) add up to more than zero. Credit held
    for an account is not a receivable and does not offset either.
    """
    bucketed = _bucketed(session, as_of, zone)
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


def monthly(
    session: Session, months: int, as_of: date, zone: str | ZoneInfo = "UTC"
) -> list[MonthTotals]:
    """Billed (invoices by issue month, voided ones left out) and collected (payments by the
    month they succeeded in, municipal time) for the last `months` months up to as_of."""
    starts = month_starts(months, as_of)
    day_bounds = [*starts, as_of + timedelta(days=1)]
    billed = _sum_by_period(
        session,
        Invoice.issue_date,
        Invoice.total_cents,
        day_bounds,
        Invoice.status != InvoiceStatus.VOID,
    )
    instants = [_start_of(day, zone) for day in day_bounds]
    collected = _sum_by_period(
        session,
        Payment.succeeded_at,
        Payment.amount_cents,
        instants,
        Payment.status != PaymentStatus.VOIDED,
    )
    return [MonthTotals(month, b, c) for month, b, c in zip(starts, billed, collected, strict=True)]

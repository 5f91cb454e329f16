"""The monthly report of shutoffs and reconnections, for publication (docs/shutoff.md, "The
monthly report"): for each month of a range, how many notices, door hangers, work orders,
shutoffs, reconnections, appeals, medical certificates and payment plans there were. Counts
only: no names, numbers or addresses.

Each event is counted in the month of its town's date (`core.calendar.town_date` of the instant
it happened, or the business date the row carries): a shutoff at 23:30 on January 31 in the town
is January's, whatever the date is in UTC.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.arrangements import current_on
from billing.models import (
    DoorHanger,
    MedicalCertificate,
    NotDoneReason,
    OrderState,
    PaymentPlan,
    ReconnectionOrder,
    ShutoffOrder,
)
from core.calendar import town_date, town_zone
from notices.models import AppealStatus, ShutoffAppeal, ShutoffNotice

#: The longest range one report covers.
MAX_MONTHS = 120
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")

#: The figures of a month, in the report's order: (CSV column, English words, Spanish words).
FIGURES: tuple[tuple[str, str, str], ...] = (
    ("notices", "Shutoff notices issued", "Avisos de corte emitidos"),
    ("door_hangers", "48-hour door hangers left", "Avisos de 48 horas dejados en la puerta"),
    ("orders_issued", "Shutoff work orders issued", "Órdenes de corte emitidas"),
    ("shut_off", "Services shut off", "Servicios cortados"),
    *(
        (f"not_shut_off_{reason.value}", f"Not shut off: {en}", f"No cortados: {es}")
        for reason, en, es in (
            (NotDoneReason.NO_ACCESS, "no access", "sin acceso"),
            (NotDoneReason.DOG, "dog", "perro"),
            (NotDoneReason.PAID_AT_DOOR, "paid at the door", "pagado en la puerta"),
            (NotDoneReason.MEDICAL_EMERGENCY, "medical emergency", "emergencia médica"),
            (NotDoneReason.OUT_OF_TIME, "out of time", "sin tiempo"),
            (NotDoneReason.OTHER, "other", "otro motivo"),
        )
    ),
    ("orders_cancelled", "Work orders cancelled", "Órdenes canceladas"),
    ("reconnections_ordered", "Reconnections ordered (paid)", "Reconexiones ordenadas (pagadas)"),
    ("reconnected", "Services reconnected", "Servicios reconectados"),
    (
        "median_hours_to_reconnect",
        "Median hours from payment to reconnection",
        "Mediana de horas del pago a la reconexión",
    ),
    (
        "longest_hours_to_reconnect",
        "Longest hours from payment to reconnection",
        "Máximo de horas del pago a la reconexión",
    ),
    ("reconnected_same_day", "Reconnected the day of payment", "Reconectados el día del pago"),
    ("appeals_filed", "Appeals filed", "Apelaciones presentadas"),
    ("appeals_upheld", "Appeals upheld", "Apelaciones aceptadas"),
    ("appeals_denied", "Appeals denied", "Apelaciones denegadas"),
    ("medical_certificates", "Medical certificates recorded", "Certificados médicos registrados"),
    (
        "accounts_under_plans",
        "Accounts under payment plans at month end",
        "Cuentas con plan de pagos al fin del mes",
    ),
)
#: The CSV's columns: the month, then each figure.
COLUMNS = ("month", *(name for name, _en, _es in FIGURES))


class ReportError(ValueError):
    """A month range the report cannot cover; the message names the field."""


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month of the town."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str, name: str) -> Month:
        """'2027-01' -> Month(2027, 1); ReportError naming the field otherwise."""
        found = _MONTH.match(text or "")
        if not found or not 1 <= int(found[2]) <= 12:
            raise ReportError(f"{name}: {text!r} is not a month (YYYY-MM)")
        return cls(int(found[1]), int(found[2]))

    @classmethod
    def of(cls, day: date) -> Month:
        """The month of a day."""
        return cls(day.year, day.month)

    @property
    def first(self) -> date:
        """Its first day."""
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        """Its last day."""
        return self.next().first - timedelta(days=1)

    def next(self) -> Month:
        """The month after it."""
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def back(self, months: int) -> Month:
        """The month `months` before it."""
        index = self.year * 12 + self.month - 1 - months
        return Month(index // 12, index % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def month_range(start: Month, end: Month, today: date) -> list[Month]:
    """The months from start to end (both included); ReportError when the range is reversed,
    reaches into the future or is longer than MAX_MONTHS."""
    if start > end:
        raise ReportError(f"from: {start} comes after to ({end})")
    if end > Month.of(today):
        raise ReportError(f"to: {end} is in the future (this month is {Month.of(today)})")
    months = [start]
    while months[-1] < end:
        months.append(months[-1].next())
    if len(months) > MAX_MONTHS:
        raise ReportError(f"from: a report covers at most {MAX_MONTHS} months")
    return months


def last_twelve(today: date) -> list[Month]:
    """The twelve months ending with this one (the public page's)."""
    end = Month.of(today)
    return month_range(end.back(11), end, today)


@dataclass
class MonthFigures:
    """The figures of one month (FIGURES); hours are None when nothing was reconnected."""

    month: Month
    counts: Counter = field(default_factory=Counter)
    median_hours: Decimal | None = None
    longest_hours: Decimal | None = None

    def value(self, name: str) -> int | Decimal | None:
        """The figure named by its CSV column."""
        if name == "median_hours_to_reconnect":
            return self.median_hours
        if name == "longest_hours_to_reconnect":
            return self.longest_hours
        return self.counts[name]

    def shown(self, name: str) -> str:
        """The figure as the CSV, the PDF and the pages show it (empty: no reconnection)."""
        value = self.value(name)
        return "" if value is None else str(value)


def _hours(minutes: Decimal) -> Decimal:
    return (minutes / 60).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _median(values: Sequence[int]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return Decimal(ordered[middle])
    return Decimal(ordered[middle - 1] + ordered[middle]) / 2


def _utc_window(months: Sequence[Month]) -> tuple[datetime, datetime]:
    """A UTC window surely holding every instant of the months in any time zone."""
    start = datetime.combine(months[0].first - timedelta(days=1), time(), UTC)
    return start, datetime.combine(months[-1].last + timedelta(days=2), time(), UTC)


class _Tally:
    """Counts events into the months of the report by their town's date."""

    def __init__(self, months: Sequence[Month], zone) -> None:
        self.zone = zone
        self.by_month = {month: MonthFigures(month) for month in months}
        self.minutes: dict[Month, list[int]] = {month: [] for month in months}

    def day(self, name: str, day: date | None, times: int = 1) -> Month | None:
        """Count an event of a business date; the month it fell in (None: outside)."""
        if day is None or Month.of(day) not in self.by_month:
            return None
        self.by_month[Month.of(day)].counts[name] += times
        return Month.of(day)

    def instant(self, name: str, instant: datetime | None) -> Month | None:
        """Count an event of an instant by its town's date."""
        return self.day(name, None if instant is None else town_date(instant, self.zone))


def shutoff_report(
    session: Session, config: Mapping, months: Sequence[Month], today: date
) -> list[MonthFigures]:
    """The figures of each month (months from month_range); `today` ends the current month's
    count of accounts under plans."""
    tally = _Tally(months, town_zone(config))
    first, last = months[0].first, months[-1].last
    _dates(session, tally, first, last)
    _orders(session, tally, *_utc_window(months))
    _reconnections(session, tally, *_utc_window(months))
    _appeals(session, tally, first, last)
    for (created,) in session.execute(
        sa.select(MedicalCertificate.created_at).where(
            MedicalCertificate.created_at.between(*_utc_window(months))
        )
    ):
        tally.instant("medical_certificates", created)
    for month, figures in tally.by_month.items():
        figures.counts["accounts_under_plans"] = _under_plans(session, min(month.last, today))
        minutes = tally.minutes[month]
        if minutes:
            figures.median_hours = _hours(_median(minutes))
            figures.longest_hours = _hours(Decimal(max(minutes)))
    return list(tally.by_month.values())


def _dates(session: Session, tally: _Tally, first: date, last: date) -> None:
    """Notices, hangers and orders issued: rows that carry their business date."""
    for name, column in (
        ("notices", ShutoffNotice.issued_on),
        ("door_hangers", DoorHanger.hung_on),
        ("orders_issued", ShutoffOrder.work_on),
    ):
        rows = session.execute(
            sa.select(column, sa.func.count()).where(column.between(first, last)).group_by(column)
        )
        for day, times in rows:
            tally.day(name, day, times)


def _orders(session: Session, tally: _Tally, start: datetime, end: datetime) -> None:
    """The crews' results and the cancellations, by the town's date of their moment."""
    rows = session.execute(
        sa.select(
            ShutoffOrder.state,
            ShutoffOrder.not_done_reason,
            ShutoffOrder.result_at,
            ShutoffOrder.cancelled_at,
        ).where(
            sa.or_(
                ShutoffOrder.result_at.between(start, end),
                ShutoffOrder.cancelled_at.between(start, end),
            )
        )
    )
    for state, reason, result_at, cancelled_at in rows:
        if state is OrderState.SHUT_OFF:
            tally.instant("shut_off", result_at)
        elif state is OrderState.NOT_SHUT_OFF and reason is not None:
            tally.instant(f"not_shut_off_{reason.value}", result_at)
        elif state is OrderState.CANCELLED:
            tally.instant("orders_cancelled", cancelled_at)


def _reconnections(session: Session, tally: _Tally, start: datetime, end: datetime) -> None:
    """Reconnections ordered (by the payment's moment) and done (by the crew's), and the hours
    between them, counted in the month of the reconnection."""
    rows = session.execute(
        sa.select(ReconnectionOrder.paid_at, ReconnectionOrder.reconnected_at).where(
            sa.or_(
                ReconnectionOrder.paid_at.between(start, end),
                ReconnectionOrder.reconnected_at.between(start, end),
            )
        )
    )
    for paid_at, reconnected_at in rows:
        tally.instant("reconnections_ordered", paid_at)
        month = tally.instant("reconnected", reconnected_at)
        if month is None:
            continue
        tally.minutes[month].append(
            (_aware(reconnected_at) - _aware(paid_at)) // timedelta(minutes=1)
        )
        if town_date(paid_at, tally.zone) == town_date(reconnected_at, tally.zone):
            tally.by_month[month].counts["reconnected_same_day"] += 1


def _aware(instant: datetime) -> datetime:
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def _appeals(session: Session, tally: _Tally, first: date, last: date) -> None:
    """Appeals by the day filed, and decisions by the day decided."""
    rows = session.execute(
        sa.select(ShutoffAppeal.filed_on, ShutoffAppeal.status, ShutoffAppeal.decided_on).where(
            sa.or_(
                ShutoffAppeal.filed_on.between(first, last),
                ShutoffAppeal.decided_on.between(first, last),
            )
        )
    )
    decided = {AppealStatus.UPHELD: "appeals_upheld", AppealStatus.DENIED: "appeals_denied"}
    for filed_on, status, decided_on in rows:
        tally.day("appeals_filed", filed_on)
        if status in decided:
            tally.day(decided[status], decided_on)


def _under_plans(session: Session, day: date) -> int:
    """How many accounts were under a current payment plan on the day."""
    query = sa.select(sa.func.count(sa.distinct(PaymentPlan.account_id))).where(*current_on(day))
    return session.scalar(query) or 0


def report_csv(figures: Iterable[MonthFigures]) -> str:
    """The report as CSV (COLUMNS): one row a month."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for month in figures:
        writer.writerow([str(month.month), *(month.shown(name) for name, _en, _es in FIGURES)])
    return out.getvalue()


def report_json(figures: Iterable[MonthFigures]) -> list[dict]:
    """The report as plain values (the API's): hours as decimal strings, or None."""
    return [
        {
            "month": str(month.month),
            **{
                name: (month.shown(name) or None) if "hours" in name else month.value(name)
                for name, _en, _es in FIGURES
            },
        }
        for month in figures
    ]

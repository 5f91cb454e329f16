"""A conversion from the old system: every file checked against the others and the
database, and the report of counts and control totals a clerk compares with the old
system's trial balance (docs/conversion.md).

NOTE: the conversion sits in billing: it opens accounts (accounts), creates converted
invoices and posts opening entries (billing, ledger); payments, notices and the portal
read what it leaves, and none of them is imported here (tests/test_architecture.py).
billing/conversion_post.py writes what this module has checked.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account, Parcel, ServicePoint
from billing.conversion_files import (
    CREDIT,
    PENALTIES,
    PROPERTY_TAX,
    Loaded,
    Problems,
    read_directory,
)
from billing.models import RatePlan
from ledger.chart import PENALTY_RECEIVABLE, TAX_RECEIVABLE
from ledger.models import GLAccount, ServiceKind

#: How far back the consumption history of a meter may reach from its last reading.
HISTORY_MONTHS = 24


@dataclass
class Conversion:
    """The checked rows of a conversion directory, ready for the report and for posting."""

    files: dict[str, list[Loaded]]
    #: The receivable GL code of each receivable class named in balances.csv.
    receivables: dict[str, str] = field(default_factory=dict)
    #: The unit of each meter of service_points.csv, and its dial digits and installation.
    meters: dict[str, Loaded] = field(default_factory=dict)
    #: Reads to store per meter: (read_on, reading), oldest first, the last reading last.
    reads: dict[str, list[tuple[date, int]]] = field(default_factory=dict)


def _months_before(day: date, months: int) -> date:
    """The same day of the month, months earlier (the month's last day where it is shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    for candidate in range(day.day, 0, -1):
        try:
            return date(year, month + 1, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _check_accounts(session: Session, rows: list[Loaded], problems: Problems) -> set[str]:
    """Former numbers used once in the file and by no account yet; returns them."""
    seen: dict[str, int] = {}
    for row in rows:
        former = row.data["former_number"]
        if former in seen:
            problems.add(
                row.file,
                row.row,
                "former_number",
                f"former number {former} is used twice (also row {seen[former]})",
            )
            continue
        seen[former] = row.row
    taken = session.execute(
        sa.select(Account.former_number, Account.number).where(Account.former_number.in_(seen))
    ).all()
    for former, number in taken:
        problems.add(
            "accounts.csv",
            seen[former],
            "former_number",
            f"former number {former} already belongs to account {number}",
        )
    return set(seen)


def _check_owner(row: Loaded, column: str, formers: set[str], problems: Problems) -> bool:
    """The former number a row names must be one of accounts.csv."""
    if row.data[column] in formers:
        return True
    problems.add(
        row.file,
        row.row,
        column,
        f"no account with former number {row.data[column]} in accounts.csv",
    )
    return False


def _check_parcels(
    session: Session, rows: list[Loaded], formers: set[str], problems: Problems
) -> dict[str, str]:
    """Parcels new to munibill, each owned by a converted account; parcel number -> owner."""
    owners: dict[str, str] = {}
    existing = set(
        session.scalars(
            sa.select(Parcel.parcel_number).where(
                Parcel.parcel_number.in_([r.data["parcel_number"] for r in rows])
            )
        )
    )
    for row in rows:
        number = row.data["parcel_number"]
        if number in owners or number in existing:
            problems.add(row.file, row.row, "parcel_number", f"parcel {number} is already there")
        elif _check_owner(row, "owner_former_number", formers, problems):
            owners[number] = row.data["owner_former_number"]
    return owners


def _check_service_points(
    session: Session, conv: Conversion, formers: set[str], problems: Problems
) -> None:
    """Service points of converted accounts on known services and plans; meters new and once."""
    kinds = set(session.scalars(sa.select(ServiceKind.code)))
    plans = dict(session.execute(sa.select(RatePlan.code, RatePlan.service_kind)).all())
    for row in conv.files["service_points.csv"]:
        data = row.data
        _check_owner(row, "former_number", formers, problems)
        if data["service_kind"] not in kinds:
            problems.add(row.file, row.row, "service_kind", f"no service {data['service_kind']!r}")
        plan = data.get("rate_plan")
        if plan and plan not in plans:
            problems.add(row.file, row.row, "rate_plan", f"no rate plan {plan!r}")
        elif plan and plans[plan] != data["service_kind"]:
            problems.add(
                row.file,
                row.row,
                "rate_plan",
                f"{plan} bills {plans[plan]}, not {data['service_kind']}",
            )
        source = data.get("usage_from_meter")
        if source and source not in conv.meters:
            problems.add(
                row.file, row.row, "usage_from_meter", f"no meter {source} on an earlier row"
            )
        meter = data.get("meter_id")
        if not meter:
            continue
        taken = session.scalar(sa.select(ServicePoint.id).where(ServicePoint.meter_id == meter))
        if meter in conv.meters or taken:
            problems.add(row.file, row.row, "meter_id", f"meter {meter} is already there")
            continue
        conv.meters[meter] = row


def _receivable_of(session: Session, names: set[str]) -> dict[str, str]:
    """The receivable GL code of each class: a service's own, property tax's or penalties'."""
    codes = {PROPERTY_TAX: TAX_RECEIVABLE, PENALTIES: PENALTY_RECEIVABLE}
    rows = session.execute(
        sa.select(ServiceKind.code, GLAccount.code)
        .join(GLAccount, GLAccount.id == ServiceKind.receivable_gl_id)
        .where(ServiceKind.code.in_(names))
    ).all()
    codes.update(dict(rows))
    return codes


def _check_balances(
    session: Session,
    conv: Conversion,
    formers: set[str],
    parcels: dict[str, str],
    problems: Problems,
) -> None:
    """Known classes, taxes on a parcel of the same account, one bill per account and period."""
    rows = conv.files["balances.csv"]
    conv.receivables = _receivable_of(session, {r.data["receivable_class"] for r in rows})
    known_parcels = parcels | {
        number: None
        for number in session.scalars(
            sa.select(Parcel.parcel_number).where(
                Parcel.parcel_number.in_([r.data.get("parcel_number") or "" for r in rows])
            )
        )
    }
    bills: dict[tuple, tuple[date, date, int]] = {}
    for row in rows:
        data, cls = row.data, row.data["receivable_class"]
        _check_owner(row, "former_number", formers, problems)
        if cls != CREDIT and cls not in conv.receivables:
            names = ", ".join(sorted({*conv.receivables, CREDIT}))
            problems.add(
                row.file,
                row.row,
                "receivable_class",
                f"no receivable class {cls!r} (one of: {names})",
            )
            continue
        parcel = data.get("parcel_number")
        if cls == PROPERTY_TAX and not parcel:
            problems.add(
                row.file, row.row, "parcel_number", "a property tax balance names its parcel"
            )
            continue
        if cls != PROPERTY_TAX and parcel:
            problems.add(
                row.file, row.row, "parcel_number", "only a property tax balance names a parcel"
            )
            continue
        if parcel and parcel not in known_parcels:
            problems.add(row.file, row.row, "parcel_number", f"no parcel {parcel}")
            continue
        if parcel and known_parcels[parcel] not in (None, data["former_number"]):
            problems.add(
                row.file, row.row, "parcel_number", f"parcel {parcel} belongs to another account"
            )
            continue
        if cls == CREDIT:
            continue
        _check_one_bill_per_period(row, bills, problems)


def _check_one_bill_per_period(row: Loaded, bills: dict, problems: Problems) -> None:
    """Rows of one account and period are one converted bill: they share its dates."""
    data = row.data
    is_tax = data["receivable_class"] == PROPERTY_TAX
    period = (
        data.get("period_start") or data["bill_date"],
        data.get("period_end") or data["bill_date"],
    )
    key = (data["former_number"], is_tax, data.get("parcel_number"), period)
    dates = (data["bill_date"], data["due_date"], row.row)
    if key in bills and bills[key][:2] != dates[:2]:
        problems.add(
            row.file,
            row.row,
            "due_date",
            f"row {bills[key][2]} bills the same account and period with other dates; "
            "one bill has one bill date and one due date",
        )
        return
    bills.setdefault(key, dates)


def _check_deposits(conv: Conversion, formers: set[str], problems: Problems) -> None:
    """Each deposit is held for a converted account."""
    for row in conv.files["deposits.csv"]:
        _check_owner(row, "former_number", formers, problems)


def _check_last_readings(conv: Conversion, problems: Problems) -> dict[str, Loaded]:
    """One last reading per meter of service_points.csv, not before its installation."""
    last: dict[str, Loaded] = {}
    for row in conv.files["readings.csv"]:
        meter = row.data["meter_id"]
        point = conv.meters.get(meter)
        if point is None:
            problems.add(row.file, row.row, "meter_id", f"no meter {meter} in service_points.csv")
        elif meter in last:
            problems.add(
                row.file,
                row.row,
                "meter_id",
                f"meter {meter} has its last reading on row {last[meter].row}",
            )
        elif row.data["read_on"] < point.data["installed_on"]:
            problems.add(
                row.file,
                row.row,
                "read_on",
                f"{row.data['read_on']} is before the meter was installed ({point.data['installed_on']})",
            )
        else:
            last[meter] = row
    return last


def _history_reads(
    meter: str, rows: list[Loaded], last: Loaded, point: Loaded, problems: Problems
) -> list[tuple[date, int]] | None:
    """The reads a meter's history stands for, counted back from its last reading."""
    rows = sorted(rows, key=lambda r: r.data["period_end"], reverse=True)
    reads = [(last.data["read_on"], last.data["reading"])]
    expected_end, earliest = (
        last.data["read_on"],
        _months_before(last.data["read_on"], HISTORY_MONTHS),
    )
    digits = point.data.get("dial_digits")
    for row in rows:
        data = row.data
        if data["period_end"] != expected_end:
            problems.add(
                row.file,
                row.row,
                "period_end",
                f"meter {meter}'s periods must follow each other back from its last reading: "
                f"this one should end on {expected_end}",
            )
            return None
        if data["period_start"] < earliest or data["period_start"] < point.data["installed_on"]:
            problems.add(
                row.file,
                row.row,
                "period_start",
                f"{data['period_start']} is more than {HISTORY_MONTHS} months before the last "
                "reading or before the meter was installed",
            )
            return None
        reading = reads[-1][1] - data["consumption"]
        if reading < 0 and digits:
            reading += 10**digits
        if reading < 0:
            problems.add(
                row.file,
                row.row,
                "consumption",
                f"the register would read below zero on {data['period_start']}",
            )
            return None
        reads.append((data["period_start"], reading))
        expected_end = data["period_start"]
    return list(reversed(reads))


def _check_history(conv: Conversion, last: dict[str, Loaded], problems: Problems) -> None:
    """Each meter's history follows on from its last reading, period by period."""
    by_meter: dict[str, list[Loaded]] = defaultdict(list)
    for row in conv.files["history.csv"]:
        meter = row.data["meter_id"]
        if meter not in last:
            problems.add(
                row.file, row.row, "meter_id", f"meter {meter} has no last reading in readings.csv"
            )
            continue
        by_meter[meter].append(row)
    for meter, row in last.items():
        reads = _history_reads(meter, by_meter.get(meter, []), row, conv.meters[meter], problems)
        if reads is not None:
            conv.reads[meter] = reads


def check(session: Session, directory: Path) -> tuple[Conversion, Problems]:
    """Read and check every row of every file; the problems name each file, row and column."""
    problems = Problems()
    conv = Conversion(read_directory(directory, problems))
    formers = _check_accounts(session, conv.files["accounts.csv"], problems)
    parcels = _check_parcels(session, conv.files["parcels.csv"], formers, problems)
    _check_service_points(session, conv, formers, problems)
    _check_balances(session, conv, formers, parcels, problems)
    _check_deposits(conv, formers, problems)
    _check_history(conv, _check_last_readings(conv, problems), problems)
    return conv, problems

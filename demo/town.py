"""The demo town of Maple Falls: fifty households and businesses and their landlord, converted
from the system it leaves (demo/old_system.py) and billed here for four months since.

Deterministic: the same as-of date loads the same town. It goes through the same
paths as a real town's data: the conversion (docs/conversion.md), the readings and
assessments imports, billing runs, payments, penalty assessments and service orders
(demo/moves.py), in date order (demo/timeline.py).
"""

from __future__ import annotations

import csv
import io
import random
import tempfile
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

from accounts.imports import import_csv
from accounts.models import Language
from billing.conversion_post import Posted, convert, report
from billing.conversion_report import report_text
from billing.models import Invoice, InvoiceKind
from billing.rules import load_levy, load_penalty_rules, load_rate_plan
from billing.runs import RunOptions, open_run, post_run
from core.audit import Actor
from core.auth import create_staff_user
from demo import activity, old_system
from demo.moves import Moves
from demo.old_system import Export, former_number
from demo.timeline import Timeline

RULES = Path(__file__).parent / "rules"

DEMO_PASSWORD = "maple-falls-demo"  # noqa: S105 - printed by `make run` for the demo town
STAFF = [
    ("admin@example.org", "admin", "Avery Admin"),
    ("supervisor@example.org", "supervisor", "Sam Supervisor"),
    ("clerk@example.org", "clerk", "Casey Clerk"),
    ("auditor@example.org", "auditor", "Ari Auditor"),
]
FIRST = [
    "James",
    "Maria",
    "Robert",
    "Linda",
    "Michael",
    "Rosa",
    "David",
    "Susan",
    "José",
    "Karen",
    "Thomas",
    "Ana",
    "Daniel",
    "Nancy",
    "Paul",
    "Lucía",
    "Mark",
    "Betty",
    "Kevin",
    "Carmen",
    "Brian",
    "Helen",
    "Jorge",
    "Sandra",
    "Eric",
]
LAST = [
    "Anderson",
    "García",
    "Johnson",
    "Martínez",
    "Nelson",
    "Olson",
    "Peterson",
    "Rodríguez",
    "Schmidt",
    "Hernández",
    "Larson",
    "Kowalski",
    "Becker",
    "López",
    "Miller",
    "Novak",
]
STREETS = [
    "Oak Street",
    "Maple Avenue",
    "Lakeview Drive",
    "Elm Street",
    "Cedar Lane",
    "Prairie Road",
    "Main Street",
    "Birch Court",
    "Harbor Way",
    "Church Street",
    "Mill Road",
    "Pine Ridge Drive",
]
BUSINESSES = [
    "Lakeside Diner LLC",
    "Maple Falls Hardware Inc",
    "Northwoods Dental Clinic",
    "Riverside Laundromat",
    "Harbor Auto Repair",
]
CITY, STATE = "Maple Falls", "WI"
ACCOUNTS = 50
INSTALLED = date(2015, 4, 1)
DIAL_DIGITS = 7
#: Months read and billed here after the conversion (the conversion is on the last read before).
AFTER_CONVERSION = 4
ROUTE = Actor.system("demo meter route")
#: Meters that show a billing run's exceptions: a missed read and a leak.
MISSING_READ_METER = "W-000013"
LEAKING_METER = "W-000021"
#: Gallons a household uses per month, by calendar month (summer watering).
SEASON = {
    1: 0.9,
    2: 0.85,
    3: 0.9,
    4: 1.0,
    5: 1.15,
    6: 1.4,
    7: 1.6,
    8: 1.5,
    9: 1.2,
    10: 1.0,
    11: 0.9,
    12: 0.95,
}


def month_ends(as_of: date, count: int) -> list[date]:
    """The last days of the `count` months before as_of's month, oldest first."""
    ends = []
    day = as_of.replace(day=1) - timedelta(days=1)
    for _ in range(count):
        ends.append(day)
        day = day.replace(day=1) - timedelta(days=1)
    return list(reversed(ends))


def _zip(rng: random.Random) -> str:
    """A ZIP+4 in the town's two ZIP codes."""
    return f"{rng.choice(['54901', '54902'])}-{rng.randint(1000, 9899):04d}"


def _household(rng: random.Random, index: int) -> dict:
    """Holder, address and contact details of one account."""
    business = index % 10 == 9
    if business:
        name = BUSINESSES[(index // 10) % len(BUSINESSES)]
        handle = name.split()[0].lower() + str(index)
    else:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{first} {last}"
        handle = f"{first}.{last}{index}".lower().translate(str.maketrans("áéíóúñ", "aeioun"))
    spanish = name.split()[0] in {"Maria", "Rosa", "José", "Ana", "Lucía", "Carmen", "Jorge"}
    has_email = rng.random() < 0.8
    return {
        "holder_name": name,
        "mail_street": f"{100 + index * 12} {STREETS[index % len(STREETS)]}",
        "mail_city": CITY,
        "mail_state": STATE,
        "mail_zip": _zip(rng),
        "email": f"{handle}@example.org" if has_email else None,
        "phone": f"(920) 555-{1000 + index:04d}",
        "language": Language.ES if spanish else Language.EN,
        "paperless": has_email and rng.random() < 0.4,
    }


def _registers(rng: random.Random, meter: str, ends: list[date], business: bool) -> list:
    """Monthly (read day, register) with seasonal use; one meter rolls over, one leaks, one
    was missed last month (None)."""
    limit = 10**DIAL_DIGITS
    register = limit - 12_000 if meter == "W-000007" else rng.randint(100_000, 900_000)
    base = rng.randint(9_000, 30_000) if business else rng.randint(2_500, 6_500)
    reads = []
    for position, read_on in enumerate(ends):
        missed = position == len(ends) - 1 and meter == MISSING_READ_METER
        reads.append(None if missed else (read_on, register))
        leak = 6 if position == len(ends) - 2 and meter == LEAKING_METER else 1
        register = (
            register + leak * int(base * SEASON[read_on.month] * rng.uniform(0.85, 1.15))
        ) % limit
    return reads


def _rules(session: Session, actor: Actor, as_of: date) -> dict[str, int]:
    """Load the demo tariffs, penalty rules and last year's levy; returns plan ids by service."""
    plans = {}
    for service in ("water", "sewer", "trash"):
        plan = load_rate_plan(
            session, actor, yaml.safe_load((RULES / f"{service}.yaml").read_text())
        )
        plans[service] = plan.id
    load_penalty_rules(session, actor, yaml.safe_load((RULES / "penalties.yaml").read_text()))
    levy = yaml.safe_load((RULES / "levy.yaml").read_text())
    # NOTE: Wisconsin bills a tax year in December, payable January 31 and July 31 of the next year.
    levy["tax_year"] = as_of.year - 1
    levy["installments"] = [{"due": date(as_of.year, 1, 31)}, {"due": date(as_of.year, 7, 31)}]
    load_levy(session, actor, levy)
    return plans


def _parcel(rng: random.Random, export: Export, index: int, details: dict, as_of: date) -> None:
    """The account's home or business parcel, and its values for two years (assessments)."""
    business = index % 10 == 9
    market = rng.randint(900, 4_200) * 100_00 * (3 if business else 1)
    flags = (
        []
        if business
        else rng.choice([[], [], ["homestead"], ["homestead", "senior"], ["homestead", "veteran"]])
    )
    number = f"251-{index + 1:04d}-00"
    export.add(
        "parcels.csv",
        parcel_number=number,
        situs_street=details["mail_street"],
        situs_city=CITY,
        situs_zip=details["mail_zip"],
        property_class="commercial" if business else "residential",
        # NOTE: the tenants' homes are the landlord's (the last account of the export).
        owner_former_number=former_number(ACCOUNTS if index in old_system.TENANTS else index),
        exemptions=";".join(flags),
    )
    for year, value in ((as_of.year - 1, market * 97 // 100), (as_of.year, market)):
        export.add(
            "assessments.csv",
            parcel_number=number,
            tax_year=year,
            market_value=f"{value // 100}.00",
            assessed_value=f"{value * 95 // 100 // 100}.{value * 95 // 100 % 100:02d}",
        )


def _service_points(export: Export, index: int, details: dict) -> str:
    """Water (metered), sewer (on the water meter) and, for homes, trash; returns the meter."""
    business = index % 10 == 9
    meter = f"W-{index:06d}"
    address = {
        "former_number": former_number(index),
        "service_street": details["mail_street"],
        "service_city": CITY,
        "service_zip": details["mail_zip"][:5],
        "installed_on": INSTALLED,
    }
    export.add(
        "service_points.csv",
        service_kind="water",
        meter_id=meter,
        meter_size='1"' if business else '5/8"',
        dial_digits=DIAL_DIGITS,
        meter_unit="gallons",
        rate_plan="MF-WATER",
        usage_from_meter=None,
        **address,
    )
    export.add(
        "service_points.csv",
        service_kind="sewer",
        meter_id=None,
        meter_size=None,
        dial_digits=None,
        meter_unit=None,
        rate_plan="MF-SEWER",
        usage_from_meter=meter,
        **address,
    )
    if not business:
        export.add(
            "service_points.csv",
            service_kind="trash",
            meter_id=None,
            meter_size=None,
            dial_digits=None,
            meter_unit=None,
            rate_plan="MF-TRASH",
            usage_from_meter=None,
            **address,
        )
    return meter


def _post_runs(session: Session, actor: Actor, as_of: date, months: list[date], moves) -> None:
    """Bill last year's property tax and the months since the conversion, as the clerks would;
    the residents pay (or not) each month's bills, households move, penalties are assessed
    nightly, all in date order."""
    residents = activity.Residents(session)
    tax = open_run(
        session,
        actor,
        kind=InvoiceKind.TAX,
        cycle=str(as_of.year - 1),
        issue_date=date(as_of.year - 1, 12, 10),
        due_date=date(as_of.year, 1, 31),
    )
    post_run(session, tax, actor, RunOptions())
    residents.pay_tax(as_of)
    timeline = Timeline()
    for end in months:
        timeline.at(
            end + timedelta(days=1), partial(_bill_month, session, actor, residents, timeline)
        )
    moves.schedule(timeline, months)
    timeline.run(as_of)
    activity.assess(session, as_of)


def _bill_month(
    session: Session, actor: Actor, residents: activity.Residents, timeline: Timeline, issue: date
) -> None:
    """The month ending the day before issue, billed on issue; its payers and its late charges
    (assessed the night after the 20 days' grace) planned."""
    due = issue + timedelta(days=21)
    run = open_run(
        session,
        actor,
        kind=InvoiceKind.UTILITY,
        cycle=(issue - timedelta(days=1)).strftime("%Y-%m"),
        issue_date=issue,
        due_date=due,
    )
    post_run(session, run, actor, RunOptions())
    residents.plan(timeline, due)
    timeline.at(due + timedelta(days=21), partial(activity.assess, session))


def _accounts(rng: random.Random, export: Export, ends: list[date], as_of: date) -> dict:
    """The old system's export of every household; returns the meters' reads after it."""
    later = {}
    for index in range(ACCOUNTS):
        business = index % 10 == 9
        details = _household(rng, index)
        export.add(
            "accounts.csv",
            former_number=former_number(index),
            **{**details, "language": details["language"].value, "paperless": details["paperless"]},
        )
        _parcel(rng, export, index, details, as_of)
        meter = _service_points(export, index, details)
        registers = _registers(rng, meter, ends, business)
        old_system.reads(export, meter, registers[:-AFTER_CONVERSION], DIAL_DIGITS)
        later[meter] = registers[-AFTER_CONVERSION:]
        old_system.balances(export, rng, index, ends[:-AFTER_CONVERSION], business)
        old_system.deposit(export, rng, index, business)
    export.add("accounts.csv", former_number=former_number(ACCOUNTS), **old_system.LANDLORD)
    return later


def _convert(session: Session, actor: Actor, export: Export, day: date, code_key: bytes) -> Posted:
    """Convert the export as the clerks would: report, compare, post (docs/conversion.md)."""
    with tempfile.TemporaryDirectory() as folder:
        export.write(Path(folder))
        # NOTE: the old system's trial balance agrees with its own export here; a real town
        # writes control_totals.csv from the old system's figures.
        expected = report_text(report(session, Path(folder)).lines)
        outcome = convert(
            session,
            actor,
            Path(folder),
            expected=("control_totals.csv", expected),
            as_of=day,
            code_key=code_key,
        )
    return outcome.posted


def _meter_route(session: Session, later: dict) -> int:
    """The reads taken after the conversion, through the readings import."""
    lines = ["meter_id,read_on,reading"]
    for meter, registers in later.items():
        lines += [f"{meter},{read[0]},{read[1]}" for read in registers if read is not None]
    result = import_csv(session, ROUTE, "readings", "\n".join(lines) + "\n", code_key=b"")
    return result.created


def load_demo(session: Session, *, as_of: date, code_key: bytes) -> str:
    """Convert the town from its old system and bill it since; returns a one-line summary."""
    rng = random.Random(54901)
    actor = Actor.system("demo loader")
    for email, role, name in STAFF:
        create_staff_user(session, actor, email=email, name=name, role=role, password=DEMO_PASSWORD)
    _rules(session, actor, as_of)
    # 25 reads in the old system (24 months of history), then the months billed here.
    ends = month_ends(as_of, 25 + AFTER_CONVERSION)
    export = Export()
    later = _accounts(rng, export, ends, as_of)
    assessments = export.rows.pop("assessments.csv")
    posted = _convert(session, actor, export, ends[-AFTER_CONVERSION - 1], code_key)
    import_csv(session, actor, "assessments", _csv(assessments), code_key=code_key)
    readings = posted.reads + _meter_route(session, later)
    moves = Moves(session, code_key, former_number(ACCOUNTS))
    moves.name_owners()
    _post_runs(session, actor, as_of, ends[-AFTER_CONVERSION:], moves)
    invoices = session.scalar(
        sa.select(sa.func.count()).select_from(Invoice).where(Invoice.converted.is_(False))
    )
    return (
        f"{ACCOUNTS + 1} accounts converted from the old system with their balances and deposits, "
        f"{readings} meter readings from {ends[0]} to {ends[-1]}, {posted.invoices} converted "
        f"bills and {invoices} invoices posted since, four households moved, "
        f"{len(STAFF)} staff users"
    )


def _csv(rows: list[dict]) -> str:
    """Rows as CSV text with their header."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()

"""The demo town of Maple Falls: about fifty households and businesses, ready to bill.

Deterministic: the same as-of date loads the same town. It goes through the
same services as real data (accounts are audited, numbers are sequenced).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import yaml
from sqlalchemy.orm import Session

from billing.accounts import create_account
from billing.models import (
    InvoiceKind,
    Language,
    MeterReading,
    Parcel,
    ParcelValuation,
    ReadingKind,
    ServicePoint,
)
from billing.rules import load_levy, load_penalty_rules, load_rate_plan
from billing.runs import RunOptions, open_run, post_run
from core.audit import Actor
from core.auth import create_staff_user

RULES = Path(__file__).parent / "demo_rules"

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


def _readings(
    rng: random.Random, point: ServicePoint, ends: list[date], business: bool
) -> list[MeterReading]:
    """Monthly reads with seasonal use; one meter rolls over, one leaks, one was missed last month."""
    limit = 10**point.dial_digits
    register = limit - 12_000 if point.meter_id == "W-000007" else rng.randint(100_000, 900_000)
    base = rng.randint(9_000, 30_000) if business else rng.randint(2_500, 6_500)
    reads = []
    for position, read_on in enumerate(ends):
        missed = position == len(ends) - 1 and point.meter_id == MISSING_READ_METER
        if not missed:
            reads.append(
                MeterReading(
                    service_point=point,
                    read_on=read_on,
                    reading=register,
                    kind=ReadingKind.ACTUAL,
                    recorded_by="demo meter route",
                )
            )
        leak = 6 if position == len(ends) - 2 and point.meter_id == LEAKING_METER else 1
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


def _parcel(rng: random.Random, index: int, account, details: dict, as_of: date) -> Parcel:
    """The account's home or business parcel with two years of values."""
    business = index % 10 == 9
    market = rng.randint(900, 4_200) * 100_00 * (3 if business else 1)
    flags = (
        []
        if business
        else rng.choice([[], [], ["homestead"], ["homestead", "senior"], ["homestead", "veteran"]])
    )
    parcel = Parcel(
        parcel_number=f"251-{index + 1:04d}-00",
        situs_street=details["mail_street"],
        situs_city=CITY,
        situs_zip=details["mail_zip"],
        property_class="commercial" if business else "residential",
        owner_account=account,
        exemption_flags=flags,
    )
    parcel.valuations = [
        ParcelValuation(
            tax_year=year, market_value_cents=value, assessed_value_cents=value * 95 // 100
        )
        for year, value in ((as_of.year - 1, market * 97 // 100), (as_of.year, market))
    ]
    return parcel


def _service_points(
    account, index: int, details: dict, plans: dict[str, int]
) -> list[ServicePoint]:
    """Water (metered), sewer (on the water meter) and, for homes, trash."""
    business = index % 10 == 9
    address = {
        "service_street": details["mail_street"],
        "service_city": CITY,
        "service_zip": details["mail_zip"][:5],
        "installed_on": INSTALLED,
        "account": account,
    }
    water = ServicePoint(
        service_kind="water",
        meter_id=f"W-{index:06d}",
        meter_size='1"' if business else '5/8"',
        dial_digits=7,
        meter_unit="gallons",
        rate_plan_id=plans["water"],
        **address,
    )
    sewer = ServicePoint(
        service_kind="sewer", rate_plan_id=plans["sewer"], usage_from=water, **address
    )
    points = [water, sewer]
    if not business:
        points.append(ServicePoint(service_kind="trash", rate_plan_id=plans["trash"], **address))
    return points


def _post_runs(session: Session, actor: Actor, as_of: date, ends: list[date]) -> int:
    """Bill last year's property tax and the two most recent utility months, as the clerks would."""
    options = RunOptions()
    posted = 0
    tax = open_run(
        session,
        actor,
        kind=InvoiceKind.TAX,
        cycle=str(as_of.year - 1),
        issue_date=date(as_of.year - 1, 12, 10),
        due_date=date(as_of.year, 1, 31),
    )
    post_run(session, tax, actor, options)
    posted += tax.invoices_posted
    for end in ends[-2:]:
        issue = end + timedelta(days=1)
        run = open_run(
            session,
            actor,
            kind=InvoiceKind.UTILITY,
            cycle=end.strftime("%Y-%m"),
            issue_date=issue,
            due_date=issue + timedelta(days=21),
        )
        post_run(session, run, actor, options)
        posted += run.invoices_posted
    return posted


def load_demo(session: Session, *, as_of: date, code_key: bytes) -> str:
    """Create the town and bill it; returns a one-line summary."""
    rng = random.Random(54901)
    actor = Actor.system("demo loader")
    for email, role, name in STAFF:
        create_staff_user(session, actor, email=email, name=name, role=role, password=DEMO_PASSWORD)
    plans = _rules(session, actor, as_of)
    ends = month_ends(as_of, 14)  # 14 reads give 13 months of consumption
    readings = 0
    for index in range(ACCOUNTS):
        details = _household(rng, index)
        account, _code = create_account(session, actor, details, code_key=code_key)
        session.add(_parcel(rng, index, account, details, as_of))
        points = _service_points(account, index, details, plans)
        session.add_all(points)
        session.add_all(reads := _readings(rng, points[0], ends, index % 10 == 9))
        readings += len(reads)
    session.flush()
    invoices = _post_runs(session, actor, as_of, ends)
    return (
        f"{ACCOUNTS} accounts and parcels, {readings} meter readings from {ends[0]} to {ends[-1]}, "
        f"{invoices} invoices posted, {len(STAFF)} staff users"
    )

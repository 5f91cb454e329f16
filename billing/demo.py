"""The demo town of Maple Falls: about fifty households and businesses, ready to bill.

Deterministic: the same as-of date loads the same town. It goes through the
same services as real data (accounts are audited, numbers are sequenced).
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy.orm import Session

from billing.accounts import create_account
from billing.chart import add_jurisdiction
from billing.models import (
    Language,
    MeterReading,
    Parcel,
    ParcelValuation,
    ReadingKind,
    ServicePoint,
)
from core.audit import Actor
from core.auth import create_staff_user

DEMO_PASSWORD = "maple-falls-demo"  # noqa: S105 - printed by `make run` for the demo town
STAFF = [
    ("admin@example.org", "admin", "Avery Admin"),
    ("supervisor@example.org", "supervisor", "Sam Supervisor"),
    ("clerk@example.org", "clerk", "Casey Clerk"),
    ("auditor@example.org", "auditor", "Ari Auditor"),
]
JURISDICTIONS = [
    ("city", "City of Maple Falls", "city"),
    ("county", "Lakeshore County", "county"),
    ("school", "Maple Falls Area School District", "school"),
    ("library", "Maple Falls Library District", "special"),
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
    """Monthly reads with seasonal use; one meter is close to rolling over."""
    limit = 10**point.dial_digits
    register = limit - 12_000 if point.meter_id == "W-000007" else rng.randint(100_000, 900_000)
    base = rng.randint(9_000, 30_000) if business else rng.randint(2_500, 6_500)
    reads = []
    for read_on in ends:
        reads.append(
            MeterReading(
                service_point=point,
                read_on=read_on,
                reading=register,
                kind=ReadingKind.ACTUAL,
                recorded_by="demo meter route",
            )
        )
        register = (register + int(base * SEASON[read_on.month] * rng.uniform(0.85, 1.15))) % limit
    return reads


def load_demo(session: Session, *, as_of: date, code_key: bytes) -> str:
    """Create the town; returns a one-line summary."""
    rng = random.Random(54901)
    actor = Actor.system("demo loader")
    for email, role, name in STAFF:
        create_staff_user(session, actor, email=email, name=name, role=role, password=DEMO_PASSWORD)
    for code, name, kind in JURISDICTIONS:
        add_jurisdiction(session, actor, code=code, name=name, kind=kind)
    ends = month_ends(as_of, 14)  # 14 reads give 13 months of consumption
    readings = 0
    for index in range(ACCOUNTS):
        details = _household(rng, index)
        business = index % 10 == 9
        account, _code = create_account(session, actor, details, code_key=code_key)
        street, zip_code = details["mail_street"], details["mail_zip"]
        market = rng.randint(900, 4_200) * 100_00 * (3 if business else 1)
        parcel = Parcel(
            parcel_number=f"251-{index + 1:04d}-00",
            situs_street=street,
            situs_city=CITY,
            situs_zip=zip_code,
            property_class="commercial" if business else "residential",
            owner_account=account,
            exemption_flags=[]
            if business
            else rng.choice(
                [[], [], ["homestead"], ["homestead", "senior"], ["homestead", "veteran"]]
            ),
        )
        parcel.valuations = [
            ParcelValuation(
                tax_year=year, market_value_cents=value, assessed_value_cents=value * 95 // 100
            )
            for year, value in ((as_of.year - 1, market * 97 // 100), (as_of.year, market))
        ]
        session.add(parcel)
        address = {"service_street": street, "service_city": CITY, "service_zip": zip_code[:5]}
        water = ServicePoint(
            account=account,
            service_kind="water",
            meter_id=f"W-{index:06d}",
            meter_size='1"' if business else '5/8"',
            dial_digits=7,
            meter_unit="gallons",
            dwelling_units=1,
            installed_on=INSTALLED,
            **address,
        )
        sewer = ServicePoint(
            account=account, service_kind="sewer", installed_on=INSTALLED, **address
        )
        points = [water, sewer]
        if not business:
            points.append(
                ServicePoint(
                    account=account, service_kind="trash", installed_on=INSTALLED, **address
                )
            )
        session.add_all(points)
        session.add_all(reads := _readings(rng, water, ends, business))
        readings += len(reads)
    session.flush()
    return (
        f"{ACCOUNTS} accounts, {ACCOUNTS} parcels, {len(JURISDICTIONS)} taxing jurisdictions, "
        f"{readings} meter readings from {ends[0]} to {ends[-1]}, {len(STAFF)} staff users"
    )

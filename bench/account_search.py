"""The clerks' account search on a county: p50 and p95 of the search the console calls,
against the `lower(column) LIKE '%word%'` search it replaced, measured in the same run.

PostgreSQL. The database is a copy (`seed_county.clone`) of the county seed's template of
`--accounts` accounts (bench/seed_county.py; built first when missing), migrated to the head,
so it has the search's trigram and pattern indexes (migration 383bdffc3061). The seed names
every holder "Resident N" on five streets without an e-mail, so the copy is given names a
clerk would type first (deterministic, by account id): 60 given names and 150 surnames, an
e-mail for 70% of the holders, 60 street names shared by the mailing and service addresses,
and a former number (`MF-000120`) for every 20th account; then ANALYZE.

The words: `--queries` searches drawn (seed 1) from the data in nine kinds, equally often:
a surname, the start of a surname, given name and surname, house number and street, the
first six digits of an account number, a whole account number, the middle of a parcel id,
the start of an e-mail, a former number. Each search runs once to warm up, then once
timed with the new search (accounts.search.search_accounts, as the console's account list
calls it with its page size) and once with the old LIKE query (kept here as it was); every
search must find the same accounts in the same order both ways, else the exit status is 1.

    .venv/bin/python bench/account_search.py [--accounts 20000] [--queries 240] [--template NAME]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import sqlalchemy as sa

os.environ.setdefault("MUNIBILL_DOTENV", os.devnull)
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import _results  # noqa: E402
import seed_county  # noqa: E402

TARGET_P95_MS = 100.0


def listed(text: str) -> tuple[str, ...]:
    """The words of a text."""
    return tuple(text.split())


GIVEN = listed(
    "Maria James John Robert Mary Patricia Jennifer Linda Michael William David Elizabeth "
    "Barbara Richard Joseph Susan Thomas Jessica Sarah Karen Lisa Nancy Daniel Betty Matthew "
    "Sandra Anthony Ashley Mark Donald Emily Steven Paul Andrew Kimberly Joshua Donna Kenneth "
    "Michelle Kevin Carol Brian Amanda George Melissa Timothy Deborah Ronald Stephanie Edward "
    "Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia Jacob Kathleen Gary Amy Lars Ingrid"
)
SURNAMES = listed(
    "Olson Johnson Anderson Nelson Peterson Larson Hanson Berg Lindqvist Smith Williams Brown "
    "Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson Thomas Taylor "
    "Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson "
    "Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Baker Hall "
    "Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz "
    "Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan "
    "Cooper Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood Bennett Gray Mendoza "
    "Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Kowalski "
    "Nowak Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch Richter "
    "Klein Wolf Neumann Schwarz Zimmermann Braun Kruger Hofmann Lange Schmitt Werner Krause "
    "Meier Lehmann Schmid Schulze Maier Kohler Herrmann Walter Mayer Huber Kaiser Fuchs Peters "
    "Moller Jung Hahn Keller Vogel Friedrich Gunther Haas Ziegler Frank"
)
STREETS = listed(
    "Maple Oak Elm Pine Cedar Birch Walnut Cherry Willow Spruce Aspen Hickory Poplar Linden "
    "Chestnut Juniper Magnolia Sycamore Laurel Hawthorn River Lake Hill Park Meadow Prairie "
    "Forest Valley Ridge Spring Sunset Highland Orchard Mill Church School Center Bridge "
    "Harbor Bay Washington Lincoln Jefferson Madison Monroe Jackson Franklin Grant Adams "
    "Wilson Garfield Lawrence Wisconsin Michigan Superior Fox Wolf Menominee Winnebago"
)
SUFFIXES = ("St", "Ave", "Rd", "Dr", "Ln", "Ct")
DOMAINS = ("example.com", "example.net", "mail.example.org", "example.edu")


def sql_array(words) -> str:
    """A PostgreSQL text array literal of plain words."""
    return "ARRAY[" + ", ".join(f"'{w}'" for w in words) + "]"


def name_the_town(app) -> None:
    """Give the copy names, e-mails, streets and former numbers a clerk would search by."""
    from core.extensions import db

    given, surname = sql_array(GIVEN), sql_array(SURNAMES)
    street = (
        f"((id * 37) % 1900 + 1)::text || ' ' || ({sql_array(STREETS)})[1 + (id * 7) % "
        f"{len(STREETS)}] || ' ' || ({sql_array(SUFFIXES)})[1 + id % {len(SUFFIXES)}]"
    )
    first = f"({given})[1 + (id * 7919) % {len(GIVEN)}]"
    last = f"({surname})[1 + (id * 104729) % {len(SURNAMES)}]"
    with app.app_context():
        db.session.execute(
            sa.text(
                f"UPDATE account SET holder_name = {first} || ' ' || {last}, "
                f"mail_street = {street}, "
                f"email = CASE WHEN id % 10 < 7 THEN lower({first}) || '.' || lower({last}) "
                f"|| (id % 97)::text || '@' || ({sql_array(DOMAINS)})[1 + id % {len(DOMAINS)}] "
                "END, "
                "former_number = CASE WHEN id % 20 = 0 THEN 'MF-' || lpad(id::text, 6, '0') END"
            )
        )
        db.session.execute(
            sa.text(
                "UPDATE service_point SET service_street = a.mail_street FROM account a "
                "WHERE service_point.account_id = a.id"
            )
        )
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE account, service_point, parcel"))


def words(app, count: int) -> list[str]:
    """`count` searches a clerk might type, drawn from the data (seed 1)."""
    from core.extensions import db

    rng = random.Random(1)
    with app.app_context():
        rows = db.session.execute(
            sa.text(
                "SELECT number, holder_name, email, mail_street, former_number FROM account "
                "ORDER BY id"
            )
        ).all()
        parcels = db.session.scalars(sa.text("SELECT parcel_number FROM parcel ORDER BY id")).all()
    former = [r.former_number for r in rows if r.former_number]
    emails = [r.email for r in rows if r.email]
    kinds = [
        lambda: rng.choice(rows).holder_name.split()[1].lower(),
        lambda: rng.choice(rows).holder_name.split()[1][:5],
        lambda: rng.choice(rows).holder_name,
        lambda: " ".join(rng.choice(rows).mail_street.split()[:2]),
        lambda: rng.choice(rows).number[:6],
        lambda: rng.choice(rows).number,
        lambda: rng.choice(parcels)[4:11],
        lambda: rng.choice(emails).split("@")[0][: rng.randint(5, 12)],
        lambda: rng.choice(former).lower(),
    ]
    return [kinds[i % len(kinds)]() for i in range(count)]


def like_search(session, text: str, *, limit: int = 50) -> list:
    """The search as it was before the trigram indexes: an OR of LIKEs over every account."""
    from accounts.models import Account, Parcel, ServicePoint
    from accounts.search import _like

    query = sa.select(Account).order_by(Account.number).limit(limit)
    for word in text.split()[:6]:
        pattern = _like(word.lower())
        service = sa.select(ServicePoint.id).where(
            ServicePoint.account_id == Account.id,
            sa.or_(
                sa.func.lower(ServicePoint.service_street).like(pattern, escape="\\"),
                ServicePoint.service_zip.startswith(word, autoescape=True),
            ),
        )
        parcel = sa.select(Parcel.id).where(
            Parcel.owner_account_id == Account.id,
            sa.func.lower(Parcel.parcel_number).like(pattern, escape="\\"),
        )
        query = query.where(
            sa.or_(
                Account.number.startswith(word, autoescape=True),
                sa.func.lower(Account.former_number).like(pattern, escape="\\"),
                sa.func.lower(Account.holder_name).like(pattern, escape="\\"),
                sa.func.lower(Account.email).like(pattern, escape="\\"),
                sa.func.lower(Account.mail_street).like(pattern, escape="\\"),
                sa.func.lower(Account.mail_city).like(pattern, escape="\\"),
                Account.mail_zip.startswith(word, autoescape=True),
                service.exists(),
                parcel.exists(),
            )
        )
    return list(session.scalars(query))


def timed(app, search, texts: list[str], page: int) -> tuple[list[float], list[list[int]]]:
    """Milliseconds of each search and the account ids each found."""
    from core.extensions import db

    times, found = [], []
    with app.app_context():
        for text in texts:
            start = time.perf_counter()
            accounts = search(db.session, text, limit=page)
            times.append((time.perf_counter() - start) * 1000)
            found.append([a.id for a in accounts])
            db.session.rollback()
    return times, found


def percentile(values: list[float], p: int) -> float:
    """The p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> int:
    """Copy the county, name it, search it both ways; print and report p50 and p95."""
    import flask_migrate

    from accounts.search import search_accounts
    from accounts.views import PAGE_SIZE
    from core import create_app

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=240)
    parser.add_argument("--template", help="default: munibill_county_<accounts>")
    args = parser.parse_args()
    url = sa.make_url(
        os.environ.get("BENCH_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/munibill_bench_account_search"
    )
    server = url.set(database="postgres").render_as_string(hide_password=False)
    template = seed_county.ensure_template(server, args.accounts, args.template)
    copy = seed_county.clone(template, url.database, server)
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": copy, "ENV": {"DATABASE_URL": copy, "SECRET_KEY": "b" * 40}}
    )
    with app.app_context():
        flask_migrate.upgrade()
    name_the_town(app)
    texts = words(app, args.queries)
    timed(app, search_accounts, texts, PAGE_SIZE)
    timed(app, like_search, texts, PAGE_SIZE)
    new, found_new = timed(app, search_accounts, texts, PAGE_SIZE)
    old, found_old = timed(app, like_search, texts, PAGE_SIZE)
    differ = [t for t, a, b in zip(texts, found_new, found_old, strict=True) if a != b]
    p50, p95 = percentile(new, 50), percentile(new, 95)
    old50, old95 = percentile(old, 50), percentile(old, 95)
    print(f"{args.accounts:,} accounts, {len(texts)} searches (page of {PAGE_SIZE})")
    print(f"  trigram search: p50 {p50:.1f} ms  p95 {p95:.1f} ms  max {max(new):.1f} ms")
    print(f"  LIKE search:    p50 {old50:.1f} ms  p95 {old95:.1f} ms  max {max(old):.1f} ms")
    slowest = sorted(zip(new, texts, strict=True), reverse=True)[:5]
    print("  slowest:", ", ".join(f"{text!r} {ms:.0f} ms" for ms, text in slowest))
    for text in differ:
        print(f"  DIFFERENT accounts found for {text!r}", file=sys.stderr)
    _results.report(
        "account search p95",
        figure=p95,
        unit="ms",
        baseline=old95,
        ratio=old95 / p95,
        target=f"p95 < {TARGET_P95_MS:.0f} ms at 1,000,000 accounts; the same accounts found",
        checks={
            f"p95 < {TARGET_P95_MS:.0f} ms": p95 < TARGET_P95_MS,
            "same accounts as the LIKE search": not differ,
        },
        database="postgresql",
        notes={
            "accounts": f"{args.accounts:,}",
            "searches": f"{len(texts)} in 9 kinds (see the script)",
            "p50 (LIKE p50)": f"{p50:.1f} ms ({old50:.1f} ms)",
            "ratio": "the LIKE search's p95 / the trigram search's p95 (higher is better)",
            "max (LIKE max)": f"{max(new):.1f} ms ({max(old):.1f} ms)",
        },
    )
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())

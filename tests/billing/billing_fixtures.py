"""Small billable towns for billing-run tests, built through the real services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa
import yaml
from flask import Flask

from accounts.models import MeterReading, Parcel, ParcelValuation, ServicePoint
from accounts.services import create_account, derive_access_code
from billing.models import Invoice, InvoiceKind
from billing.rules import load_levy, load_penalty_rules, load_rate_plan
from billing.runs import RunOptions, open_run, post_run
from core.audit import Actor
from core.extensions import db
from tests.conftest import account_data

RULES = Path(__file__).resolve().parents[2] / "demo" / "rules"
LOADER = Actor.system("test loader")
KEY = b"t" * 32
INSTALLED = date(2024, 1, 1)
#: Month-end reads: Jun 30 .. Sep 30, then Oct 31 (the October 2026 cycle).
READ_DATES = [
    date(2026, 6, 30),
    date(2026, 7, 31),
    date(2026, 8, 31),
    date(2026, 9, 30),
    date(2026, 10, 31),
]


def load_rules(session) -> dict[str, int]:
    """The demo tariffs and penalty rules; returns plan ids by service."""
    plans = {}
    for service in ("water", "sewer", "trash"):
        plans[service] = load_rate_plan(
            session, LOADER, yaml.safe_load((RULES / f"{service}.yaml").read_text())
        ).id
    load_penalty_rules(session, LOADER, yaml.safe_load((RULES / "penalties.yaml").read_text()))
    return plans


def load_demo_levy(session, tax_year: int = 2025) -> None:
    """The demo levy for a tax year, payable January 31 and July 31 of the next year."""
    levy = yaml.safe_load((RULES / "levy.yaml").read_text())
    levy["tax_year"] = tax_year
    levy["installments"] = [{"due": date(tax_year + 1, 1, 31)}, {"due": date(tax_year + 1, 7, 31)}]
    load_levy(session, LOADER, levy)


def household(
    session,
    plans,
    name: str,
    registers: list[int | None],
    *,
    dial_digits: int = 6,
    trash: bool = True,
    meter_size: str = '5/8"',
    installed_on: date = INSTALLED,
):
    """An account with a water meter (reads on READ_DATES; None skips a read), sewer on it and trash."""
    account, _code = create_account(session, LOADER, account_data(holder_name=name), code_key=KEY)
    place = {
        "service_street": "1 Oak St",
        "service_city": "Maple Falls",
        "service_zip": "54901",
        "installed_on": installed_on,
        "account": account,
    }
    water = ServicePoint(
        service_kind="water",
        meter_id=f"W-{name}",
        meter_size=meter_size,
        dial_digits=dial_digits,
        meter_unit="gallons",
        rate_plan_id=plans["water"],
        **place,
    )
    points = [
        water,
        ServicePoint(service_kind="sewer", rate_plan_id=plans["sewer"], usage_from=water, **place),
    ]
    if trash:
        points.append(ServicePoint(service_kind="trash", rate_plan_id=plans["trash"], **place))
    session.add_all(points)
    for read_on, register in zip(READ_DATES, registers, strict=True):
        if register is not None:
            session.add(
                MeterReading(
                    service_point=water, read_on=read_on, reading=register, recorded_by="test"
                )
            )
    session.flush()
    return account


def parcel(
    session, account, number: str, market_dollars: int | None, flags=(), tax_year: int = 2025
) -> Parcel:
    """A residential parcel owned by the account, valued for the tax year."""
    row = Parcel(
        parcel_number=number,
        situs_street="1 Oak St",
        situs_city="Maple Falls",
        situs_zip="54901",
        property_class="residential",
        owner_account=account,
        exemption_flags=list(flags),
    )
    if market_dollars is not None:
        row.valuations = [
            ParcelValuation(tax_year=tax_year, market_value_cents=market_dollars * 100)
        ]
    session.add(row)
    session.flush()
    return row


def tax_owner(session, name: str, parcel_number: str, market_dollars: int, actor: Actor = LOADER):
    """A household owning a parcel, billed the 2025 tax (due January 31 and July 31, 2026)."""
    load_demo_levy(session, 2025)
    owner = household(session, load_rules(session), name, [1000, 2000, 3000, 4000, 5000])
    parcel(session, owner, parcel_number, market_dollars)
    run = open_run(
        session,
        actor,
        kind=InvoiceKind.TAX,
        cycle="2025",
        issue_date=date(2025, 12, 10),
        due_date=date(2026, 1, 31),
    )
    post_run(session, run, actor, RunOptions())
    return owner


@dataclass
class BilledAccount:
    """A household with one open utility bill, and the access code printed on it."""

    number: str
    invoice_number: str
    owed_cents: int
    access_code: str = ""


def bill_households(
    app: Flask,
    *names: str,
    issue_date: date = date(2026, 11, 2),
    due_date: date = date(2026, 11, 23),
) -> list[BilledAccount]:
    """Households billed for the October 2026 cycle: one open invoice each, due November 23
    (unless told other dates)."""
    with app.app_context():
        plans = load_rules(db.session)
        accounts = [
            household(db.session, plans, name, [1000, 5000, 9000, 13000, 18400]) for name in names
        ]
        run = open_run(
            db.session,
            Actor.job("test"),
            kind=InvoiceKind.UTILITY,
            cycle="2026-10",
            issue_date=issue_date,
            due_date=due_date,
        )
        post_run(db.session, run, Actor.job("test"), RunOptions())
        db.session.commit()
        billed = []
        for account in accounts:
            invoice = db.session.scalar(sa.select(Invoice).where(Invoice.account_id == account.id))
            billed.append(
                BilledAccount(
                    account.number,
                    invoice.number,
                    invoice.balance_cents,
                    derive_access_code(KEY, account.number, 1),
                )
            )
        return billed

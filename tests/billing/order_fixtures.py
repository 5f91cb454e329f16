"""A landlord's house with a tenant billed for October 2026, for the service-order tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from accounts.locations import ServiceLocation
from accounts.models import Account, MeterReading, ServicePoint
from accounts.responsibility import ensure_location, set_owner
from accounts.services import create_account
from billing.models import InvoiceKind, RatePlan
from billing.rules import load_rate_plan
from billing.runs import RunOptions, open_run, post_run
from billing.service_orders import OrderSettings
from core.audit import Actor
from tests.billing.billing_fixtures import KEY, LOADER, READ_DATES, household
from tests.conftest import account_data

CLERK = Actor("user", "1", "clerk@town.example", "127.0.0.1")
SETTINGS = OrderSettings(RunOptions(), KEY)


@dataclass
class House:
    """The tenant's account, the landlord's, the location and its water meter."""

    tenant: Account
    landlord: Account
    location: ServiceLocation
    water: ServicePoint


def _plan(service: str, components: list[dict]) -> dict:
    """A monthly plan of the service whose fixed charges are prorated to the days billed."""
    return {
        "code": f"TEST-{service.upper()}",
        "name": f"Test {service}",
        "service_kind": service,
        "unit": "1,000 gallons",
        "versions": [
            {
                "effective_from": date(2025, 1, 1),
                "frequency": "monthly",
                "proration": "fixed",
                "components": components,
            }
        ],
    }


def load_plans(session) -> dict[str, int]:
    """Water $12.00 a month and $5.00 per 1,000 gallons; sewer $6.00 and $3.00 per 1,000
    gallons of the water meter; trash $18.00; fixed charges prorated to the days billed."""
    fixed = {"id": "base", "kind": "fixed", "description": "Service charge"}
    usage = {"id": "usage", "kind": "uniform", "description": "Usage"}
    documents = {
        "water": [{**fixed, "amount": "12.00"}, {**usage, "rate": "5.00"}],
        "sewer": [{**fixed, "amount": "6.00"}, {**usage, "rate": "3.00"}],
        "trash": [{**fixed, "amount": "18.00"}],
    }
    return {
        service: load_rate_plan(session, LOADER, _plan(service, components)).id
        for service, components in documents.items()
    }


def rented_house(session, name: str = "olson", billed: bool = True) -> House:
    """A tenant with water, sewer and trash at 1 Oak St, billed for October 2026 (read 18,400
    gallons on October 31); the landlord owns the house."""
    plans = load_plans(session)
    tenant = household(session, plans, name, [1000, 5000, 9000, 13000, 18400])
    landlord, _code = create_account(
        session, LOADER, account_data(holder_name="Lakeside Rentals LLC"), code_key=KEY
    )
    water = session.scalar(
        sa.select(ServicePoint).where(
            ServicePoint.account_id == tenant.id, ServicePoint.service_kind == "water"
        )
    )
    location = ensure_location(session, water)
    for point in tenant.service_points:
        ensure_location(session, point)
    set_owner(session, LOADER, location, landlord)
    if billed:
        run_cycle(session, "2026-10")
    return House(tenant, landlord, location, water)


def two_houses(session) -> tuple[House, House]:
    """The rented house and an empty one at 9 Elm St, both billed for October 2026."""
    rented = rented_house(session, billed=False)
    empty = vacant_house(session, "9 Elm St")
    run_cycle(session, "2026-10")
    return rented, empty


def run_cycle(session, cycle: str) -> dict:
    """Post a utility run for the month, issued the 2nd of the next month."""
    year, month = (int(part) for part in cycle.split("-"))
    issue = date(year + month // 12, month % 12 + 1, 2)
    run = open_run(
        session,
        Actor.job("test"),
        kind=InvoiceKind.UTILITY,
        cycle=cycle,
        issue_date=issue,
        due_date=issue.replace(day=23),
    )
    return post_run(session, run, Actor.job("test"), RunOptions())


def read(session, point: ServicePoint, on: date, value: int) -> None:
    """A meter read."""
    session.add(
        MeterReading(
            service_point_id=point.id,
            meter_installed_on=point.installed_on,
            read_on=on,
            reading=value,
            recorded_by="test",
        )
    )
    session.flush()


def vacant_house(session, street: str, owner_name: str = "Hillside Homes LLC") -> House:
    """A house owned by its landlord, empty since 2024 (the landlord answers for it), with a
    water meter read at month ends like the rented house's."""
    landlord, _code = create_account(
        session, LOADER, account_data(holder_name=owner_name), code_key=KEY
    )
    plans = {
        plan.service_kind: plan.id
        for plan in session.scalars(sa.select(RatePlan).where(RatePlan.code.like("TEST-%")))
    } or load_plans(session)
    water = ServicePoint(
        account_id=landlord.id,
        service_kind="water",
        service_street=street,
        service_city="Maple Falls",
        service_zip="54901",
        meter_id=f"W-{street}",
        meter_size='5/8"',
        dial_digits=6,
        meter_unit="gallons",
        rate_plan_id=plans["water"],
        installed_on=date(2024, 1, 1),
    )
    session.add(water)
    session.flush()
    for on, value in zip(READ_DATES, [100, 200, 300, 400, 500], strict=True):
        read(session, water, on, value)
    location = ensure_location(session, water)
    return House(landlord, landlord, location, water)

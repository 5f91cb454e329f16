"""Rating through real billing runs: a service started inside the cycle prorated, a senior
discount and per-cart charges on a posted invoice, and sewer on the winter average the
engine stored when the winter period was posted; flags and attributes set through the
imports and the API."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
import yaml

from accounts.imports import ImportFailed, import_csv
from accounts.models import Account, MeterReading, ServicePoint
from accounts.services import create_account
from billing.models import Invoice, InvoiceKind, WinterAverage, WinterUsage
from billing.rate_plan_format import parse_rate_plan
from billing.rating import rate_bill
from billing.rules import load_rate_plan
from billing.runs import RunOptions, open_run, post_run
from billing.winter import store_winter_usage, stored_averages, winter_of
from core.audit import Actor
from tests.billing.billing_fixtures import RULES, household, load_rules
from tests.conftest import account_data

JOB = Actor.job("billing_run")
LOADER = Actor.system("test loader")
CLERK = Actor("user", "3", "clerk@example.org", "127.0.0.1")
KEY = b"t" * 32
NORMAL = [1000, 5000, 9000, 13000, 18400]  # 5,400 gallons in October 2026

TRASH = {
    "code": "PRORATED-TRASH",
    "name": "Trash with extra carts",
    "service_kind": "trash",
    "versions": [
        {
            "effective_from": "2025-01-01",
            "frequency": "monthly",
            "proration": "fixed",
            "components": [
                {
                    "id": "base",
                    "kind": "fixed",
                    "description": "Solid waste base services",
                    "amount": "23.15",
                },
                {
                    "id": "carts",
                    "kind": "per_unit",
                    "description": "Extra carts",
                    "attribute": "extra_carts",
                    "unit": "cart",
                    "rate": "9.33",
                },
                {
                    "id": "senior",
                    "kind": "credit",
                    "description": "Senior discount",
                    "eligible": ["senior"],
                    "percent": 10,
                },
            ],
        }
    ],
}


def _run(session, cycle: str, issued: date):
    run = open_run(
        session,
        JOB,
        kind=InvoiceKind.UTILITY,
        cycle=cycle,
        issue_date=issued,
        due_date=date(issued.year, issued.month, 23),
    )
    post_run(session, run, JOB, RunOptions(batch_size=2))
    return run


def _lines(invoice: Invoice) -> list[tuple]:
    return [
        (line.description, line.quantity, line.unit_rate, line.amount_cents)
        for line in invoice.lines
    ]


def test_a_service_started_mid_cycle_is_prorated_and_a_senior_discount_posted(session):
    plan = load_rate_plan(session, LOADER, TRASH)
    account, _code = create_account(session, LOADER, account_data(), code_key=KEY)
    account.flags = ["senior"]
    session.add(
        ServicePoint(
            account=account,
            service_kind="trash",
            service_street="1 Oak St",
            service_city="Maple Falls",
            service_zip="54901",
            rate_plan_id=plan.id,
            installed_on=date(2026, 10, 17),
            attributes={"extra_carts": "2"},
        )
    )
    session.flush()
    _run(session, "2026-10", date(2026, 11, 2))
    invoice = session.scalar(sa.select(Invoice).where(Invoice.account_id == account.id))
    dates = " (2026-10-17 – 2026-10-31)"
    # 15 of October's 31 days: 0.4839 of a month.
    assert _lines(invoice) == [
        ("Solid waste base services" + dates, Decimal("0.4839"), Decimal("23.15"), 1120),
        ("Extra carts" + dates, Decimal("0.9678"), Decimal("9.33"), 903),
        ("Senior discount (10% of $20.23)" + dates, None, None, -202),
    ]
    assert invoice.total_cents == invoice.balance_cents == 1821


def test_sewer_outside_winter_is_billed_on_the_average_stored_in_winter(session):
    plans = load_rules(session)
    sewer = yaml.safe_load((RULES / "sewer.yaml").read_text())
    # NOTE: October is this test's winter, so that the fixture's reads make a winter period.
    sewer["versions"][0]["winter_average"] = {"months": [10], "default": 4, "bill": "lesser"}
    load_rate_plan(session, LOADER, sewer)
    account = household(session, plans, "olson", NORMAL, trash=False)
    _run(session, "2026-10", date(2026, 11, 2))
    point = session.scalar(sa.select(ServicePoint).where(ServicePoint.service_kind == "sewer"))
    stored = session.scalars(sa.select(WinterUsage)).all()
    assert [(u.service_point_id, u.winter, u.usage) for u in stored] == [
        (point.id, 2026, Decimal("5.4"))
    ]
    average = session.scalar(sa.select(WinterAverage))
    assert (average.service_point_id, average.periods, average.average) == (
        point.id,
        1,
        Decimal("5.4"),
    )
    water = session.scalar(sa.select(ServicePoint).where(ServicePoint.service_kind == "water"))
    session.add(
        MeterReading(
            service_point=water, read_on=date(2026, 11, 30), reading=27400, recorded_by="test"
        )
    )
    session.flush()
    _run(session, "2026-11", date(2026, 12, 1))
    november = session.scalar(
        sa.select(Invoice).where(
            Invoice.account_id == account.id, Invoice.period_end == date(2026, 11, 30)
        )
    )
    sewer_lines = [x for x in _lines(november) if x[0].startswith(("Sewer", "Billed"))]
    assert sewer_lines == [
        ("Billed on the winter average of 5.4 kgal (used 9 kgal)", None, None, 0),
        ("Sewer service charge", Decimal("1"), Decimal("14.50"), 1450),
        ("Sewer usage", Decimal("5.4"), Decimal("6.72"), 3629),
    ]


def test_flags_and_attributes_come_in_through_the_imports(session):
    load_rules(session)
    import_csv(
        session,
        CLERK,
        "accounts",
        "holder_name,mail_street,mail_city,mail_state,mail_zip,flags\n"
        "Maria Olson,412 Oak Street,Maple Falls,WI,54901,Senior;low_income\n",
        code_key=KEY,
    )
    account = session.scalar(sa.select(Account))
    assert account.flags == ["low_income", "senior"]
    header = (
        "account_number,service_kind,service_street,service_city,service_zip,rate_plan,"
        "installed_on,attributes\n"
    )
    import_csv(
        session,
        CLERK,
        "service_points",
        header + f"{account.number},trash,412 Oak Street,Maple Falls,54901,MF-TRASH,2024-01-01,"
        "extra_carts=2; impervious_area=3200.5\n",
        code_key=KEY,
    )
    point = session.scalar(sa.select(ServicePoint))
    assert point.attributes == {"extra_carts": "2", "impervious_area": "3200.5"}
    bad = header + f"{account.number},trash,1 Elm,Maple Falls,54901,MF-TRASH,2024-01-01,carts=two\n"
    try:
        import_csv(session, CLERK, "service_points", bad, code_key=KEY)
    except ImportFailed as failure:
        assert failure.errors == [
            "row 2, attributes: carts: 'two' is not a number like 3200 or 2.5 (got 'carts=two')"
        ]
    else:
        raise AssertionError("the import should have failed")


def test_a_clerk_sets_an_accounts_flags_through_the_api(app, client, api_headers):
    with app.app_context():
        from core.extensions import db

        account, _code = create_account(db.session, LOADER, account_data(), code_key=KEY)
        db.session.commit()
        number = account.number
    headers = api_headers("clerk")
    response = client.patch(
        f"/api/v1/accounts/{number}", json={"flags": ["senior"]}, headers=headers
    )
    assert response.status_code == 200 and response.json["flags"] == ["senior"]
    refused = client.patch(
        f"/api/v1/accounts/{number}", json={"flags": ["Senior Citizen"]}, headers=headers
    )
    assert refused.status_code == 422
    assert "flags" in str(refused.json)


def test_the_stored_average_is_the_mean_of_the_winter_periods_and_follows_a_rebill(session):
    # Santa Rosa, California, "Explanation of Wastewater (Sewer) Charges": winter periods of
    # 7,000, 5,000 and 6,000 gallons make a sewer cap of 6, billed 6 x $12.79 = $76.74.
    account, _code = create_account(session, LOADER, account_data(), code_key=KEY)
    point = ServicePoint(
        account=account,
        service_kind="sewer",
        service_street="1 Oak St",
        service_city="Santa Rosa",
        service_zip="95404",
        installed_on=date(2020, 1, 1),
    )
    session.add(point)
    session.flush()
    periods = [(date(2024, 12, 31), "7"), (date(2025, 1, 31), "5"), (date(2025, 2, 28), "6")]
    store_winter_usage(session, [(point.id, 2025, end, Decimal(u), "kgal") for end, u in periods])
    assert stored_averages(session, [point.id], up_to=2025) == {point.id: Decimal("6")}
    row = session.scalar(sa.select(WinterAverage))
    assert (row.winter, row.periods, row.average) == (2025, 3, Decimal("6"))
    cap = parse_rate_plan(
        {
            "code": "SANTA-ROSA-SEWER",
            "name": "Santa Rosa sewer",
            "service_kind": "sewer",
            "unit": "kgal",
            "versions": [
                {
                    "effective_from": "2024-07-01",
                    "frequency": "monthly",
                    "winter_average": {"months": [11, 12, 1, 2, 3], "default": 6},
                    "components": [
                        {"id": "usage", "kind": "uniform", "description": "Sewer usage fee", "rate": "12.79"}
                    ],
                }
            ],
        }
    )  # fmt: skip
    july = rate_bill(
        cap,
        period_end=date(2025, 7, 31),
        usage=Decimal(10),
        usage_unit="kgal",
        meter_size=None,
        dwelling_units=1,
        winter_average=stored_averages(session, [point.id], up_to=2025)[point.id],
    )
    assert [x.amount_cents for x in july] == [0, 7674]
    # A January period billed again (void and reissue) replaces its usage; no double count.
    store_winter_usage(session, [(point.id, 2025, date(2025, 1, 31), Decimal("8"), "kgal")])
    row = session.scalar(sa.select(WinterAverage))
    assert (row.periods, row.average) == (3, Decimal("7"))
    assert session.scalar(sa.select(sa.func.count()).select_from(WinterUsage)) == 3
    assert winter_of(date(2024, 12, 31), (11, 12, 1, 2, 3)) == 2025
    assert winter_of(date(2025, 1, 31), (1, 2, 3)) == 2025

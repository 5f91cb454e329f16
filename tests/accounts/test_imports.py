"""CSV imports: all rows or none, every error named by row and column."""

import sqlalchemy as sa

from accounts.imports import ImportFailed, import_csv
from accounts.models import Account, MeterReading, Parcel, ParcelValuation, ServicePoint
from core.audit import Actor
from core.models import AuditEvent
from tests.billing.billing_fixtures import load_rules

CLERK = Actor("user", "3", "clerk@example.org", "127.0.0.1")
KEY = b"k" * 32
ACCOUNTS = """holder_name,mail_street,mail_city,mail_state,mail_zip,email,language,paperless
Maria Olson,412 Oak Street,Maple Falls,WI,54901-2231,maria@example.org,es,true
Lakeside Diner LLC,9 Harbor Way,Maple Falls,WI,54902,,en,false
"""


def _count(session, model):
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def _import(session, kind, text, dry_run=False):
    return import_csv(session, CLERK, kind, text, code_key=KEY, dry_run=dry_run)


def _town(session):
    """Accounts, parcels, values, meters and reads through the imports."""
    load_rules(session)
    _import(session, "accounts", ACCOUNTS)
    numbers = session.scalars(sa.select(Account.number).order_by(Account.id)).all()
    _import(
        session,
        "parcels",
        "parcel_number,situs_street,situs_city,situs_zip,property_class,owner_account,exemptions\n"
        f"251-0001-00,412 Oak Street,Maple Falls,54901,residential,{numbers[0]},homestead;Senior\n",
    )
    _import(
        session,
        "service_points",
        "account_number,service_kind,service_street,service_city,service_zip,meter_id,meter_size,dial_digits,"
        "meter_unit,rate_plan,usage_from_meter,installed_on\n"
        f'{numbers[0]},water,412 Oak Street,Maple Falls,54901,W-1,5/8",6,gallons,MF-WATER,,2024-01-01\n'
        f"{numbers[0]},sewer,412 Oak Street,Maple Falls,54901,,,,,MF-SEWER,W-1,2024-01-01\n",
    )
    return numbers


def test_a_whole_town_comes_in_through_the_imports(session):
    numbers = _town(session)
    result = _import(
        session,
        "assessments",
        'parcel_number,tax_year,market_value,assessed_value\n251-0001-00,2026,"185,000.00",\n',
    )
    assert (result.rows, result.created) == (1, 1)
    _import(
        session,
        "readings",
        "meter_id,read_on,reading\nW-1,2026-09-30,13000\nW-1,2026-10-31,18400\n",
    )
    assert _count(session, Account) == 2 and _count(session, MeterReading) == 2
    parcel = session.scalar(sa.select(Parcel))
    assert (
        parcel.exemption_flags == ["homestead", "senior"]
        and parcel.owner_account.number == numbers[0]
    )
    assert session.scalar(sa.select(ParcelValuation.market_value_cents)) == 185_000_00
    sewer = session.scalar(sa.select(ServicePoint).where(ServicePoint.service_kind == "sewer"))
    assert sewer.usage_from.meter_id == "W-1"
    actions = session.scalars(
        sa.select(AuditEvent.action)
        .where(AuditEvent.action.like("import.%"))
        .order_by(AuditEvent.id)
    ).all()
    assert actions == [
        "import.accounts",
        "import.parcels",
        "import.service_points",
        "import.assessments",
        "import.readings",
    ]


def test_one_bad_row_imports_nothing_and_names_its_row_and_column(session):
    _town(session)
    text = (
        "meter_id,read_on,reading\n"
        "W-1,2026-09-30,13000\n"
        "W-1,2026-10-31,1234.5\n"
        "W-9,2026-10-31,100\n"
        "W-1,2023-12-31,5\n"
        "W-1,2026-09-30,13001\n"
        "W-1,2026-11-30,-4\n"
    )
    try:
        _import(session, "readings", text)
    except ImportFailed as failure:
        errors = failure.errors
    else:
        raise AssertionError("the import should have failed")
    assert errors == [
        "row 3, reading: 1234.5 is not a whole number",
        "row 4, meter_id: no meter W-9",
        "row 5, read_on: 2023-12-31 is before the meter was installed (2024-01-01)",
        "row 6, read_on: meter W-1 already has a read on 2026-09-30",
        "row 7, reading: must not be negative (got '-4')",
    ]
    assert _count(session, MeterReading) == 0


def test_a_bad_header_is_refused_before_any_row(session):
    try:
        _import(session, "accounts", "holder,mail_street\nX,Y\n")
    except ImportFailed as failure:
        assert "row 1, holder: unknown column" in failure.errors[0]
        assert "row 1, holder_name: required column is missing" in failure.errors
    assert _count(session, Account) == 0


def test_a_dry_run_checks_everything_and_stores_nothing(session):
    result = _import(session, "accounts", ACCOUNTS, dry_run=True)
    assert (result.rows, result.created, result.dry_run) == (2, 2, True)
    assert _count(session, Account) == 0


def test_account_rows_with_a_number_update_that_account(session):
    _import(session, "accounts", ACCOUNTS)
    number = session.scalar(sa.select(Account.number).order_by(Account.id))
    result = _import(
        session,
        "accounts",
        "account_number,holder_name,mail_street,mail_city,mail_state,mail_zip\n"
        f"{number},Maria Olson-Peterson,412 Oak Street,Maple Falls,wi,54901\n",
    )
    assert (result.created, result.updated) == (0, 1)
    account = session.scalar(sa.select(Account).where(Account.number == number))
    assert account.holder_name == "Maria Olson-Peterson" and account.mail_state == "WI"


PARCEL_HEADER = (
    "parcel_number,situs_street,situs_city,situs_zip,property_class,owner_account,exemptions,"
    "tax_ceilings\n"
)


def test_a_frozen_tax_ceiling_comes_in_with_the_parcel_and_shows_in_the_api(
    session, client, api_headers
):
    from tests.billing.billing_fixtures import load_demo_levy

    numbers = _town(session)
    load_demo_levy(session, 2025)  # its jurisdictions: county, city, school, ...
    _import(
        session,
        "parcels",
        PARCEL_HEADER + f"251-0001-00,412 Oak Street,Maple Falls,54901,residential,{numbers[0]},"
        "homestead;senior,school=1250.00; county=0\n",
    )
    parcel = session.scalar(sa.select(Parcel))
    assert parcel.tax_ceilings == {"school": 1_250_00, "county": 0}
    session.commit()
    answer = client.get("/api/v1/parcels/251-0001-00", headers=api_headers("auditor"))
    assert answer.json["tax_ceilings"] == {"school": 1_250_00, "county": 0}


def test_a_bad_tax_ceiling_imports_nothing_and_names_its_row(session):
    from tests.billing.billing_fixtures import load_demo_levy

    numbers = _town(session)
    load_demo_levy(session, 2025)
    owner = numbers[1]
    rows = [
        f"P-1,1 Elm St,Maple Falls,54901,residential,{owner},,school=-5.00\n",
        f"P-2,2 Elm St,Maple Falls,54901,residential,{owner},,school 500\n",
        f"P-3,3 Elm St,Maple Falls,54901,residential,{owner},,mars=500\n",
        f"P-4,4 Elm St,Maple Falls,54901,residential,{owner},,school=12.345\n",
    ]
    try:
        _import(session, "parcels", PARCEL_HEADER + "".join(rows))
    except ImportFailed as failure:
        errors = failure.errors
    else:
        raise AssertionError("the import should have failed")
    assert errors[0].startswith("row 2, tax_ceilings: school: a ceiling of -5.00 is below zero")
    assert errors[1].startswith("row 3, tax_ceilings: 'school 500' is not jurisdiction=dollars")
    assert errors[2] == "row 4, tax_ceilings: no taxing jurisdiction 'mars'"
    assert errors[3].startswith("row 5, tax_ceilings: school:")
    assert (
        session.scalar(
            sa.select(sa.func.count()).select_from(Parcel).where(Parcel.parcel_number.like("P-%"))
        )
        == 0
    )

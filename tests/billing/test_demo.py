"""The demo town loads through the real services, billed as clerks would bill it."""

from datetime import date

import sqlalchemy as sa

from billing.invoices import invoices_not_matching_lines
from billing.ledger import trial_balance, verify_chain
from billing.models import (
    Account,
    BillingRun,
    Invoice,
    MeterReading,
    Parcel,
    ServicePoint,
    TaxingJurisdiction,
)
from core.extensions import db
from core.models import StaffUser

AS_OF = date(2026, 11, 26)


def test_the_demo_town_loads_once_billed_with_thirteen_months_of_reads(app, runner):
    result = runner.invoke(args=["demo", "load", "--as-of", AS_OF.isoformat()])
    assert result.exit_code == 0, result.output
    assert "clerk@example.org" in result.output
    with app.app_context():
        session = db.session
        count = lambda model: session.scalar(sa.select(sa.func.count()).select_from(model))  # noqa: E731
        assert count(Account) == 50 and count(Parcel) == 50
        assert {u.role.value for u in session.scalars(sa.select(StaffUser))} == {
            "admin",
            "supervisor",
            "clerk",
            "auditor",
        }
        assert count(TaxingJurisdiction) == 5
        emails = session.scalars(sa.select(Account.email).where(Account.email.is_not(None))).all()
        assert emails and all(e.endswith("@example.org") for e in emails)
        meter = session.scalar(sa.select(ServicePoint).where(ServicePoint.meter_id == "W-000000"))
        reads = session.scalars(
            sa.select(MeterReading.read_on)
            .where(MeterReading.service_point_id == meter.id)
            .order_by(MeterReading.read_on)
        ).all()
        assert (
            len(reads) == 14 and reads[0] == date(2025, 9, 30) and reads[-1] == date(2026, 10, 31)
        )
        assert session.scalar(sa.select(sa.func.count()).where(Account.language == "es")) > 0
        # last year's tax and the two most recent utility months are billed
        assert count(Invoice) == 150
        runs = {r.cycle: r for r in session.scalars(sa.select(BillingRun))}
        assert set(runs) == {"2025", "2026-09", "2026-10"}
        october = runs["2026-10"].report
        assert {"missing_reading", "spike"} <= set(october["exception_counts"])
        assert {e["meter"] for e in october["exceptions"]} >= {"W-000013", "W-000021"}
        assert verify_chain(session).ok
        report = trial_balance(session)
        assert report.total_debit_cents == report.total_credit_cents > 0
        assert invoices_not_matching_lines(session) == []
    again = runner.invoke(args=["demo", "load", "--if-empty"])
    assert again.exit_code == 0 and "was not loaded" in again.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Account)) == 50


def test_a_demo_staff_login_works(app, runner, client):
    runner.invoke(args=["demo", "load", "--as-of", AS_OF.isoformat()])
    from billing.demo import DEMO_PASSWORD
    from tests.conftest import sign_in

    assert sign_in(client, "clerk@example.org", DEMO_PASSWORD).status_code == 302


def test_the_demo_prints_households_a_newcomer_can_look_up(app, runner, client):
    import re

    from tests.portal.conftest import quick_pay

    result = runner.invoke(args=["demo", "load", "--as-of", AS_OF.isoformat()])
    samples = re.findall(r"^  (\d{8})  ([0-9A-Z]{5}-[0-9A-Z]{5})  ", result.output, re.M)
    assert len(samples) == 3
    number, code = samples[0]
    assert quick_pay(client, number, code).status_code == 303
    assert number in client.get("/my/bill").text

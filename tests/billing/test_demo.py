"""The demo town loads through the real services and gives every later issue data to work with."""

from datetime import date

import sqlalchemy as sa

from billing.models import Account, MeterReading, Parcel, ServicePoint, TaxingJurisdiction
from core.extensions import db
from core.models import StaffUser

AS_OF = date(2026, 11, 26)


def test_the_demo_town_loads_once_with_thirteen_months_of_reads(app, runner):
    result = runner.invoke(args=["demo", "load", "--as-of", AS_OF.isoformat()])
    assert result.exit_code == 0, result.output
    assert "clerk@example.org" in result.output
    with app.app_context():
        session = db.session
        assert session.scalar(sa.select(sa.func.count()).select_from(Account)) == 50
        assert session.scalar(sa.select(sa.func.count()).select_from(Parcel)) == 50
        assert {u.role.value for u in session.scalars(sa.select(StaffUser))} == {
            "admin",
            "supervisor",
            "clerk",
            "auditor",
        }
        assert session.scalar(sa.select(sa.func.count()).select_from(TaxingJurisdiction)) == 4
        emails = session.scalars(sa.select(Account.email).where(Account.email.is_not(None))).all()
        assert emails and all(e.endswith("@example.org") for e in emails)
        meter = session.scalar(sa.select(ServicePoint).where(ServicePoint.meter_id == "W-000000"))
        reads = session.scalars(
            sa.select(MeterReading.read_on)
            .where(MeterReading.service_point_id == meter.id)
            .order_by(MeterReading.read_on)
        ).all()
        assert len(reads) == 14  # 13 months of consumption
        assert reads[-1] == date(2026, 10, 31) and reads[0] == date(2025, 9, 30)
        assert session.scalar(sa.select(sa.func.count()).where(Account.language == "es")) > 0
    again = runner.invoke(args=["demo", "load", "--if-empty"])
    assert again.exit_code == 0 and "was not loaded" in again.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Account)) == 50


def test_a_demo_staff_login_works(app, runner, client):
    runner.invoke(args=["demo", "load", "--as-of", AS_OF.isoformat()])
    from billing.demo import DEMO_PASSWORD
    from tests.conftest import sign_in

    assert sign_in(client, "clerk@example.org", DEMO_PASSWORD).status_code == 302

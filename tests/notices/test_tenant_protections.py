"""Tenants' protections before a shutoff: the occupants of a multi-unit (master-metered)
location, or of a landlord's rental, get a notice in English and Spanish together with the
shutoff notice, the rule's calendar days ahead; no shutoff happens before that; a tenant who
becomes a customer starts service in their own name without the landlord's arrears, and the
landlord's account stays delinquent but no longer answers for the location."""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from accounts.locations import BillTo, ServiceLocation
from accounts.models import Account, Language, ServicePoint
from accounts.responsibility import ensure_location, open_locations
from billing.medical_certificates import ShutoffError
from billing.position import UTILITY, account_position
from billing.shutoff_rules import load_shutoff_rule
from core.extensions import db
from core.models import AuditEvent
from notices.models import Notice, TenantNotice
from notices.shutoff_eligibility import shutoff_eligibility
from notices.shutoff_notices import issue_shutoff_notice
from notices.tenant_protections import tenant_becomes_customer
from tests.billing.order_fixtures import SETTINGS
from tests.notices.test_shutoff import CLERK, DAY, RULE, SHUTOFF_FROM, _pdftotext, _town


def _locate(account_id: int, *, units: int = 1, occupant: str | None = None) -> ServiceLocation:
    """Give the account's points their location (the account owns it); units on the meter."""
    points = db.session.scalars(
        sa.select(ServicePoint).where(ServicePoint.account_id == account_id)
    ).all()
    for point in points:
        location = ensure_location(db.session, point)
        point.dwelling_units = units if point.meter_id else 1
    location.occupant_name = occupant
    db.session.flush()
    return location


def _eligibility(account_id: int, on: date):
    return shutoff_eligibility(db.session, db.session.get(Account, account_id), on)


@pytest.fixture
def apartments(app):
    """A landlord's four-unit building on one meter, noticed on December 28, 2026."""
    ids = _town(app, [("landlord", "9 Elm St", False, Language.EN)])
    with app.app_context():
        _locate(ids[0], units=4)
        load_shutoff_rule(db.session, CLERK, RULE | {"tenant_notice_days_multi_unit": 14})
        issue_shutoff_notice(db.session, app.config, CLERK, db.session.get(Account, ids[0]), DAY)
        db.session.commit()
    return ids[0]


def _text(app, notice: TenantNotice, tmp_path: Path) -> str:
    path = Path(app.config["NOTICES_DIR"]) / notice.path
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.split())


def test_the_tenants_of_a_multi_unit_building_get_a_bilingual_notice(app, apartments, tmp_path):
    with app.app_context():
        notice = db.session.scalar(sa.select(TenantNotice))
        assert notice.multi_unit and notice.lead_days == 14
        assert notice.shutoff_not_before == DAY + timedelta(days=14) == date(2027, 1, 11)
        text = _text(app, notice, tmp_path)
        assert "To the tenants and occupants of 1 Oak St, Maple Falls 54901" in text
        assert "may be shut off on or after January 11, 2027" in text
        assert "without paying the amount owed on that account" in text
        assert "A los inquilinos y ocupantes de 1 Oak St" in text
        assert "puede cortarse a partir del 11 de enero de 2027" in text
        assert "sin pagar lo que se debe en esa cuenta" in text
        # The landlord's balance is the landlord's: the tenants' notice states no amount.
        assert "$" not in text


def test_no_shutoff_before_the_tenants_lead_time_has_passed(app, apartments):
    with app.app_context():
        # The shutoff notice alone would allow January 7; the tenants' 14 days say January 11.
        early = _eligibility(apartments, SHUTOFF_FROM)
        assert early.reasons == () and not early.may_shut_off
        assert early.held == (
            "the tenants at 1 Oak St, Maple Falls 54901 were told on 2026-12-28; no shutoff "
            "there before 2027-01-11",
        )
        assert early.shutoff_not_before == date(2027, 1, 11)
        assert _eligibility(apartments, date(2027, 1, 11)).may_shut_off


def test_a_detached_rental_of_a_landlord_gets_the_detached_lead(app, tmp_path):
    ids = _town(app, [("landlord", "9 Elm St", False, Language.EN)])
    with app.app_context():
        _locate(ids[0], occupant="Rita Tenant")
        issue_shutoff_notice(db.session, app.config, CLERK, db.session.get(Account, ids[0]), DAY)
        notice = db.session.scalar(sa.select(TenantNotice))
        assert not notice.multi_unit and notice.lead_days == 15
        assert notice.shutoff_not_before == date(2027, 1, 12)


def test_a_home_billed_to_its_occupant_gets_no_tenant_notice(app):
    ids = _town(app, [("olson", "1 Oak St", False, Language.EN)])
    with app.app_context():
        location = _locate(ids[0])
        assert location.bill_to == BillTo.OCCUPANT
        issue_shutoff_notice(db.session, app.config, CLERK, db.session.get(Account, ids[0]), DAY)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TenantNotice)) == 0
        assert _eligibility(ids[0], SHUTOFF_FROM).may_shut_off


def test_the_occupant_copy_stays_in_the_accounts_language(app):
    ids = _town(app, [("garcia", "9 Elm St", False, Language.ES)])
    with app.app_context():
        _locate(ids[0], units=3)
        account = db.session.get(Account, ids[0])
        row = issue_shutoff_notice(db.session, app.config, CLERK, account, DAY)
        copy = db.session.get(Notice, row.occupant_notice_id)
        assert "Al ocupante de 1 Oak St" in _pdftotext(app, copy)
        assert db.session.scalar(sa.select(TenantNotice)).multi_unit


def test_a_tenant_becomes_a_customer_without_the_landlords_arrears(app, apartments):
    with app.app_context():
        notice = db.session.scalar(sa.select(TenantNotice))
        owed = account_position(db.session, apartments, DAY).past_due_cents(UTILITY)
        on = date(2027, 1, 4)
        tenant_becomes_customer(
            db.session,
            CLERK,
            notice,
            holder_name="Ana Tenant",
            email="ana@example.org",
            on=on,
            settings=SETTINGS,
        )
        db.session.commit()
        tenant = db.session.get(Account, notice.tenant_account_id)
        assert tenant.holder_name == "Ana Tenant" and notice.became_customer_on == on
        assert account_position(db.session, tenant.id, on).owed_cents() == 0
        assert notice.location_id in open_locations(db.session, tenant.id)
        # The landlord still owes its past-due bills (collection goes on) ...
        assert account_position(db.session, apartments, on).past_due_cents(UTILITY) >= owed
        assert open_locations(db.session, apartments) == []
        # ... but its shutoff at the location has ended.
        found = _eligibility(apartments, date(2027, 1, 12))
        assert not found.may_shut_off
        assert found.held == (
            "the tenants became customers: the account answers for no service location now",
        )
        assert (
            db.session.scalar(
                sa.select(AuditEvent).where(AuditEvent.action == "tenant_notice.became_customer")
            ).summary["tenant_account_id"]
            == tenant.id
        )


def test_becoming_a_customer_twice_or_without_a_name_is_refused(app, apartments):
    with app.app_context():
        notice = db.session.scalar(sa.select(TenantNotice))
        with pytest.raises(ShutoffError, match="holder_name: the tenant's name is required"):
            tenant_becomes_customer(
                db.session, CLERK, notice, holder_name=" ", email=None, on=DAY, settings=SETTINGS
            )
        assert notice.tenant_account_id is None
        tenant_becomes_customer(
            db.session, CLERK, notice, holder_name="Ana", email=None, on=DAY, settings=SETTINGS
        )
        with pytest.raises(ShutoffError, match="became customers on 2026-12-28"):
            tenant_becomes_customer(
                db.session, CLERK, notice, holder_name="Bo", email=None, on=DAY, settings=SETTINGS
            )


def test_tenants_not_told_hold_the_shutoff_until_the_cli_tells_them(app, runner):
    ids = _town(app, [("landlord", "9 Elm St", False, Language.EN)])
    with app.app_context():
        account = db.session.get(Account, ids[0])
        issue_shutoff_notice(db.session, app.config, CLERK, account, DAY)
        # The building is found to be master-metered after the notice went out.
        _locate(ids[0], units=6)
        db.session.commit()
        number = account.number
        held = _eligibility(ids[0], SHUTOFF_FROM)
        assert held.held == (
            "the tenants at 1 Oak St, Maple Falls 54901 have not been sent their notice",
        )
    with time_machine.travel(datetime(2026, 12, 30, 18, 0, tzinfo=UTC), tick=False):
        told = runner.invoke(args=["shutoff", "tenant-notices", number])
        assert told.exit_code == 0, told.output
        assert "no shutoff there before 2027-01-09" in told.output
        again = runner.invoke(args=["shutoff", "tenant-notices", number])
        assert "every protected location was told already" in again.output
    with app.app_context():
        assert not _eligibility(ids[0], date(2027, 1, 8)).may_shut_off
        assert _eligibility(ids[0], date(2027, 1, 11)).may_shut_off


def test_the_cli_records_that_a_tenant_becomes_a_customer(app, runner, apartments):
    with app.app_context():
        notice_id = db.session.scalar(sa.select(TenantNotice.id))
    with time_machine.travel(datetime(2027, 1, 4, 18, 0, tzinfo=UTC), tick=False):
        refused = runner.invoke(args=["shutoff", "tenant-customer", str(notice_id), "--name", " "])
        assert refused.exit_code != 0 and "the tenant's name is required" in refused.output
        done = runner.invoke(
            args=["shutoff", "tenant-customer", str(notice_id), "--name", "Ana Tenant"]
        )
        assert done.exit_code == 0, done.output
        assert "service starts for Ana Tenant" in done.output
    with app.app_context():
        notice = db.session.get(TenantNotice, notice_id)
        assert notice.became_customer_on == date(2027, 1, 4)
        assert db.session.get(Account, notice.tenant_account_id).holder_name == "Ana Tenant"

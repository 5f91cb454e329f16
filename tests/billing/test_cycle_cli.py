"""`munibill cycles …`, `munibill service-kinds …` and `billing run --billing-cycle`."""

from datetime import date

import sqlalchemy as sa

from billing.models import BillingCycle, CyclePeriod, Invoice
from core.extensions import db
from ledger.models import GLAccount, ServiceKind
from tests.billing.billing_fixtures import load_rules
from tests.billing.cycle_fixtures import trash_household

CALENDAR = """cycle,name,frequency,period_start,period_end,read_date,bill_date,due_date
R7,Route 7 (north side),custom,2026-10-01,2026-11-15,2026-11-15,2026-11-17,2026-12-08
R7,,,2026-11-16,2026-12-31,2026-12-31,2027-01-04,2027-01-25
"""
OVERLAPPING = """cycle,name,frequency,period_start,period_end,read_date,bill_date,due_date
R8,Route 8,custom,2026-10-01,2026-11-15,2026-11-15,2026-11-17,2026-12-08
R8,,,2026-11-10,2026-12-31,2026-12-31,2027-01-04,2027-01-25
"""


def _run(runner, *args):
    return runner.invoke(args=list(args))


def test_a_cycle_is_created_given_a_calendar_and_accounts_and_billed_by_period(
    app, runner, tmp_path
):
    with app.app_context():
        trash = load_rules(db.session)["trash"]
        numbers = [trash_household(db.session, trash, f"n{i}").number for i in range(2)]
        db.session.commit()
    made = _run(
        runner,
        "cycles",
        "create",
        "q-north",
        "--name",
        "North quarterly",
        "--frequency",
        "quarterly",
    )
    assert made.exit_code == 0 and "Billing cycle Q-NORTH (quarterly) created." in made.output
    calendar = _run(
        runner,
        "cycles",
        "calendar",
        "Q-NORTH",
        "--first-start",
        "2026-10-01",
        "--until",
        "2026-12-31",
        "--due-days-after-bill",
        "20",
    )
    assert calendar.exit_code == 0, calendar.output
    assert (
        "2026-10-01 .. 2026-12-31  read 2026-12-31  bill 2027-01-01  due 2027-01-21"
        in calendar.output
    )
    moved = _run(runner, "cycles", "assign", "q-north", numbers[0])
    assert "1 accounts moved to Q-NORTH" in moved.output
    due = _run(runner, "cycles", "due", "--through", "2027-01-03")
    assert "Q-NORTH" in due.output and "bill 2027-01-01" in due.output
    posted = _run(
        runner,
        "billing",
        "run",
        "--kind",
        "utility",
        "--billing-cycle",
        "Q-NORTH",
        "--period-start",
        "2026-10-01",
        "--issue-date",
        "2027-01-01",
    )
    assert posted.exit_code == 0, posted.output
    assert "1 items: 1 invoices" in posted.output and "$54.75" in posted.output
    with app.app_context():
        invoice = db.session.scalar(sa.select(Invoice))
        assert (invoice.period_start, invoice.period_end, invoice.due_date) == (
            date(2026, 10, 1),
            date(2026, 12, 31),
            date(2027, 1, 21),
        )
    listed = _run(runner, "cycles", "list")
    assert "MONTHLY" in listed.output and "(default)" in listed.output
    assert "Q-NORTH" in listed.output and "1 accounts" in listed.output
    wrong = _run(
        runner,
        "billing",
        "run",
        "--kind",
        "utility",
        "--billing-cycle",
        "Q-NORTH",
        "--period-start",
        "2026-11-01",
    )
    assert wrong.exit_code != 0 and "has no period starting 2026-11-01" in wrong.output


def test_calendars_and_assignments_are_imported_from_csv_all_or_nothing(app, runner, tmp_path):
    with app.app_context():
        trash = load_rules(db.session)["trash"]
        number = trash_household(db.session, trash, "csv").number
        db.session.commit()
    good = tmp_path / "calendar.csv"
    good.write_text(CALENDAR)
    done = _run(runner, "cycles", "import", "calendars", str(good))
    assert done.exit_code == 0 and "2 rows imported; 1 cycles created." in done.output
    bad = tmp_path / "overlap.csv"
    bad.write_text(OVERLAPPING)
    refused = _run(runner, "cycles", "import", "calendars", str(bad))
    assert refused.exit_code != 0
    assert (
        "row 3: the period 2026-11-10..2026-12-31 overlaps row 2 (2026-10-01..2026-11-15)"
        in refused.output
    )
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(f"account,cycle\n{number},r7\n99999997,R7\n")
    missing = _run(runner, "cycles", "import", "accounts", str(accounts))
    assert missing.exit_code != 0 and "row 3, account: no account 99999997" in missing.output
    accounts.write_text(f"account,cycle\n{number},r7\n")
    assert _run(runner, "cycles", "import", "accounts", str(accounts)).exit_code == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CyclePeriod)) == 2
        assert (
            db.session.scalar(sa.select(BillingCycle.code).where(BillingCycle.code == "R8")) is None
        )
        r7 = db.session.scalar(sa.select(BillingCycle).where(BillingCycle.code == "R7"))
        from accounts.models import Account

        assert (
            db.session.scalar(sa.select(Account.billing_cycle_id).where(Account.number == number))
            == r7.id
        )


def test_a_service_kind_is_added_with_new_or_existing_gl_accounts(app, runner):
    added = _run(runner, "service-kinds", "add", "surface_water", "--name", "Surface water")
    assert added.exit_code == 0, added.output
    assert "Service surface_water added: revenue 40" in added.output
    again = _run(runner, "service-kinds", "add", "surface_water", "--name", "Again")
    assert again.exit_code != 0 and "code: service surface_water already exists" in again.output
    bad_code = _run(runner, "service-kinds", "add", "Fire Line", "--name", "Fire line")
    assert bad_code.exit_code != 0 and "code: 'Fire Line' is not a service code" in bad_code.output
    wrong_type = _run(
        runner, "service-kinds", "add", "fire_line", "--name", "Fire line", "--revenue-gl", "1000"
    )
    assert wrong_type.exit_code != 0
    assert (
        "revenue_gl: GL account 1000" in wrong_type.output
        and "is not an active revenue account" in wrong_type.output
    )
    unknown = _run(
        runner,
        "service-kinds",
        "add",
        "fire_line",
        "--name",
        "Fire line",
        "--receivable-gl",
        "1999",
    )
    assert unknown.exit_code != 0 and "receivable_gl: no GL account '1999'" in unknown.output
    with app.app_context():
        own = GLAccount(
            code="4090", name="Revenue - Fire protection", type="revenue", category="revenue"
        )
        db.session.add(own)
        db.session.commit()
    shared = _run(
        runner, "service-kinds", "add", "fire_line", "--name", "Fire line", "--revenue-gl", "4090"
    )
    assert shared.exit_code == 0 and "revenue 4090" in shared.output
    listed = _run(runner, "service-kinds", "list")
    assert "fire_line" in listed.output and "surface_water" in listed.output
    with app.app_context():
        assert db.session.get(ServiceKind, "fire_line").metered is False

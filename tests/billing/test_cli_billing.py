"""The clerk's commands: loading rules and files, previewing and posting a cycle."""

from datetime import date, timedelta

import sqlalchemy as sa

from accounts.models import Account
from billing.models import Invoice, InvoiceCharge, RatePlan, TaxYearLevy
from core.calendar import town_today
from core.extensions import db
from tests.billing.billing_fixtures import RULES, bill_households, household, load_rules


def test_rule_files_load_and_a_bad_one_is_refused_naming_the_place(app, runner, tmp_path):
    for command, name in (
        ("rates", "water"),
        ("rates", "sewer"),
        ("levies", "levy"),
        ("penalties", "penalties"),
    ):
        result = runner.invoke(args=[command, "import", str(RULES / f"{name}.yaml")])
        assert result.exit_code == 0, result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text((RULES / "trash.yaml").read_text().replace('amount: "18.25"', "amount: 18.25"))
    result = runner.invoke(args=["rates", "import", str(bad)])
    assert result.exit_code == 1
    assert "versions[0].components[0].amount" in result.output and "quote" in result.output
    dry = runner.invoke(args=["rates", "import", "--dry-run", str(RULES / "trash.yaml")])
    assert "nothing was stored" in dry.output
    with app.app_context():
        assert set(db.session.scalars(sa.select(RatePlan.code))) == {"MF-WATER", "MF-SEWER"}
        assert db.session.scalar(sa.select(TaxYearLevy.tax_year)) == 2025


def test_a_csv_with_a_bad_row_imports_nothing_and_lists_the_row(app, runner, tmp_path):
    path = tmp_path / "accounts.csv"
    path.write_text(
        "holder_name,mail_street,mail_city,mail_state,mail_zip\n"
        "Ana Lopez,1 Elm,Maple Falls,WI,54901\n"
        "Bo Chen,2 Elm,Maple Falls,Wisconsin,54901\n"
    )
    result = runner.invoke(args=["import", "accounts", str(path)])
    assert result.exit_code == 1
    assert "row 3, mail_state: Use the two-letter state code" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Account)) == 0
    path.write_text(path.read_text().replace("Wisconsin", "WI"))
    assert "2 rows, 2 created" in runner.invoke(args=["import", "accounts", str(path)]).output


def test_a_cycle_is_previewed_then_posted_from_the_command_line(app, runner):
    with app.app_context():
        household(db.session, load_rules(db.session), "olson", [1000, 5000, 9000, 13000, 18400])
        db.session.commit()
    args = [
        "billing",
        "run",
        "--kind",
        "utility",
        "--cycle",
        "2026-10",
        "--issue-date",
        "2026-11-02",
    ]
    preview = runner.invoke(args=[*args, "--dry-run"])
    assert preview.exit_code == 0, preview.output
    assert "1 invoices" in preview.output and "$107.84" in preview.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 0
    posted = runner.invoke(args=args)
    assert posted.exit_code == 0, posted.output
    assert "Posted: 1 invoices" in posted.output
    with app.app_context():
        invoice = db.session.scalar(sa.select(Invoice))
        assert invoice.due_date.isoformat() == "2026-11-23"  # issue date + UTILITY_DUE_DAYS
    bad = runner.invoke(args=["billing", "run", "--kind", "utility", "--cycle", "Oct"])
    assert bad.exit_code == 1 and "cycle" in bad.output


def test_a_meter_without_a_read_in_the_month_is_an_exception_not_a_crash(app, runner):
    with app.app_context():
        plans = load_rules(db.session)
        billed = household(db.session, plans, "olson", [1000, 5000, 9000, 13000, 18400]).number
        # one read, in September, and none in October: nothing to bill and nothing to estimate from
        held = household(db.session, plans, "nguyen", [None, None, None, 13000, None]).number
        db.session.commit()
    args = ["billing", "run", "--kind", "utility", "--cycle", "2026-10"]
    args += ["--issue-date", "2026-11-02"]
    preview = runner.invoke(args=[*args, "--dry-run"])
    assert preview.exit_code == 0, preview.output
    assert "2 items: 1 invoices, 1 held for review" in preview.output
    assert "Exceptions: missing_reading 1, no_history 1" in preview.output
    assert (
        f"HELD account {held} meter W-nguyen: no read in the period; "
        "the last read is 13,000 on 2026-09-30"
    ) in preview.output
    assert (
        f"HELD account {held} meter W-nguyen: no usage in earlier periods to estimate the read from"
    ) in preview.output
    posted = runner.invoke(args=args)
    assert posted.exit_code == 0, posted.output
    assert "Posted: 1 invoices" in posted.output
    with app.app_context():
        assert db.session.scalars(sa.select(Account.number).join(Invoice)).all() == [billed]


def test_penalties_are_not_assessed_from_the_command_line_for_a_day_still_to_come(app, runner):
    bill_households(app, "olson")  # with the demo penalty rules
    with app.app_context():
        today = town_today(app.config)
    for day in (today + timedelta(days=1), date(9999, 12, 31)):
        refused = runner.invoke(args=["penalties", "assess", "--as-of", day.isoformat()])
        assert refused.exit_code == 2
        [error] = [line for line in refused.output.splitlines() if line.startswith("Error")]
        assert error == f"Error: Invalid value for --as-of: Assess as of {today} or an earlier day."
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(InvoiceCharge)) == 0
    assessed = runner.invoke(
        args=["penalties", "assess", "--as-of", today.isoformat(), "--dry-run"]
    )
    assert assessed.exit_code == 0, assessed.output
    assert "past-due invoices checked" in assessed.output

"""A conversion from the old system: the worked example of docs/conversion.md (the small
town in tests/billing/conversion_town), then a regular billing run, penalties and a
reminder that use what was converted; and bad input refused with nothing half-done."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from accounts.imports import import_csv
from accounts.models import Account, Language, MeterReading, ReadingKind, ServicePoint
from accounts.services import search_accounts
from billing.adjustments import AdjustmentError, issue_credit_memo, void_invoice
from billing.conversion import check
from billing.conversion_post import ConversionFailed, ConversionRefused, convert, post, report
from billing.conversion_report import report_text
from billing.invoices import invoices_not_matching_lines
from billing.models import Deposit, Invoice, InvoiceCharge, InvoiceKind
from billing.penalty_service import assess_penalties
from billing.runs import RunOptions, open_run, post_run
from core.audit import Actor
from ledger.balances import account_credit, account_receivable, gl_balance, trial_balance
from ledger.chart import CONVERSION_CLEARING, DEPOSITS_HELD, STRIPE_CLEARING
from ledger.models import JournalEntry
from ledger.verify import verify_chain
from notices import reminders
from tests.billing.billing_fixtures import load_rules

TOWN = Path(__file__).parent / "conversion_town"
CLERK = Actor("user", "1", "clerk@example.org", "127.0.0.1")
KEY = b"t" * 32
CONVERSION_DAY = date(2026, 10, 31)


def _expected(directory: Path = TOWN) -> tuple[str, str]:
    """The clerk's expected control totals, as written from the old system's trial balance."""
    return ("control_totals.csv", (directory / "control_totals.csv").read_text())


def _convert(session, directory: Path = TOWN, **kwargs):
    """Post the conversion of a directory as the clerk, on the conversion day."""
    load_rules(session)
    return convert(
        session,
        CLERK,
        directory,
        expected=kwargs.pop("expected", _expected(directory)),
        as_of=CONVERSION_DAY,
        code_key=KEY,
        **kwargs,
    )


def _account(session, former: str) -> Account:
    return session.scalar(sa.select(Account).where(Account.former_number == former))


def _count(session, model) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def town(tmp_path) -> Path:
    """A copy of the worked example's files, to spoil one of them."""
    directory = tmp_path / "town"
    shutil.copytree(TOWN, directory)
    return directory


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_the_report_gives_the_control_totals_the_clerk_compares_with_the_old_system(session):
    load_rules(session)
    outcome = report(session, TOWN)
    assert report_text(outcome.lines) == (TOWN / "control_totals.csv").read_text()
    assert _count(session, Account) == 0


def test_the_worked_conversion_opens_each_account_with_its_balances_by_class(session):
    posted = _convert(session).posted
    assert posted.invoices == 6 and posted.entries == 4 and posted.deposits == 2
    olson, ortega, nguyen, kowalski = (_account(session, f"CB-100{n}") for n in range(1, 5))
    assert posted.accounts["CB-1001"] == olson.number != "CB-1001"
    assert olson.converted_on == CONVERSION_DAY
    assert (ortega.language, ortega.paperless, ortega.email) == (
        Language.ES,
        True,
        "luis.ortega@example.org",
    )
    assert account_receivable(session, olson.id) == 2000 + 4520 + 3010
    assert account_receivable(session, ortega.id) == 3800 + 2500
    # Nguyen owed 18.00 of trash and had 25.00 of credit: both are kept, not netted.
    assert (account_receivable(session, nguyen.id), account_credit(session, nguyen.id)) == (
        1800,
        2500,
    )
    assert account_receivable(session, kowalski.id) == 120000 + 1250
    assert gl_balance(session, CONVERSION_CLEARING) == 111380
    assert gl_balance(session, DEPOSITS_HELD) == 25000
    assert sum(d.amount_cents for d in session.scalars(sa.select(Deposit))) == 25000
    balance = trial_balance(session)
    assert balance.total_debit_cents == balance.total_credit_cents
    # Four opening entries and two deposits, chained.
    assert verify_chain(session).length == 6


def test_each_account_gets_one_opening_entry_against_the_clearing_account(session):
    _convert(session)
    entries = session.scalars(
        sa.select(JournalEntry).where(JournalEntry.source_type == "conversion")
    ).all()
    olson = _account(session, "CB-1001")
    assert sorted(e.source_id for e in entries) == sorted(
        a.number for a in session.scalars(sa.select(Account))
    )
    (entry,) = [e for e in entries if e.source_id == olson.number]
    assert entry.entry_date == CONVERSION_DAY
    lines = {(line.gl_account.code, line.debit_cents, line.credit_cents) for line in entry.lines}
    assert lines == {("1110", 6520, 0), ("1120", 3010, 0), (CONVERSION_CLEARING, 0, 9530)}


def test_converted_bills_keep_their_original_dates_one_line_per_class(session):
    _convert(session)
    olson = _account(session, "CB-1001")
    bills = session.scalars(
        sa.select(Invoice).where(Invoice.account_id == olson.id).order_by(Invoice.due_date)
    ).all()
    assert [(b.issue_date, b.due_date, b.total_cents, b.converted) for b in bills] == [
        (date(2026, 9, 1), date(2026, 9, 22), 2000, True),
        (date(2026, 10, 1), date(2026, 10, 22), 7530, True),
    ]
    assert [(line.amount_cents, line.description) for line in bills[1].lines] == [
        (4520, "Balance carried over from the former system: water (bill 88121)"),
        (3010, "Balance carried over from the former system: sewer (bill 88121)"),
    ]
    assert bills[1].lines[1].descriptions["es"] == (
        "Saldo traspasado del sistema anterior: alcantarillado (factura 88121)"
    )
    tax = session.scalar(sa.select(Invoice).where(Invoice.kind == InvoiceKind.TAX))
    assert (tax.due_date, tax.total_cents, tax.parcel_id is not None) == (
        date(2026, 7, 31),
        120000,
        True,
    )


def test_reads_stand_for_the_consumption_history_back_from_the_last_reading(session):
    _convert(session)
    point = session.scalar(sa.select(ServicePoint).where(ServicePoint.meter_id == "W-1002"))
    reads = [(r.read_on, r.reading) for r in point.readings]
    assert len(reads) == 13
    # 12 months of 3,000 gallons back from 1,500: the register had rolled over past 999,999.
    assert reads[0] == (date(2025, 9, 30), 965500)
    assert reads[-1] == (date(2026, 9, 30), 1500)
    olson = session.scalar(sa.select(ServicePoint).where(ServicePoint.meter_id == "W-1001"))
    assert [r.reading for r in olson.readings][:2] == [44000, 48000]
    assert len(olson.readings) == 25


def test_a_billing_run_after_the_conversion_estimates_from_the_converted_history(session):
    _convert(session)
    import_csv(
        session,
        CLERK,
        "readings",
        "meter_id,read_on,reading\nW-1002,2026-10-31,4600\n",
        code_key=KEY,
    )
    run = open_run(
        session,
        Actor.job("billing_run"),
        kind=InvoiceKind.UTILITY,
        cycle="2026-10",
        issue_date=date(2026, 11, 2),
        due_date=date(2026, 11, 23),
    )
    post_run(session, run, Actor.job("billing_run"), RunOptions())
    estimate = session.scalar(
        sa.select(MeterReading).where(MeterReading.kind == ReadingKind.ESTIMATED)
    )
    # No October read for W-1001: July 6,000, August 6,000 and September 4,000 gallons, as
    # converted, average 5,333 gallons.
    assert (estimate.read_on, estimate.reading) == (date(2026, 10, 31), 152000 + 5333)
    ortega = _account(session, "CB-1002")
    bill = session.scalar(
        sa.select(Invoice).where(Invoice.account_id == ortega.id, Invoice.converted.is_(False))
    )
    # 1,500 converted, 4,600 read on October 31: 3,100 gallons, billed in thousands.
    usage = {line.description: line.quantity for line in bill.lines if "usage" in line.description}
    assert usage == {
        "Water usage (0–3 kgal)": Decimal("3"),
        "Water usage (3–10 kgal)": Decimal("0.1"),
        "Sewer usage": Decimal("3.1"),
    }


def test_penalties_continue_on_converted_bills_without_charging_the_old_systems_twice(session):
    _convert(session)
    result = assess_penalties(session, CLERK, as_of=date(2026, 11, 12), rounding="half_up")
    charged = {
        (
            charge.invoice.account.former_number,
            charge.rule_id,
            charge.period_key,
        ): charge.amount_cents
        for charge in session.scalars(sa.select(InvoiceCharge))
    }
    # The September arrear's late charge (due Sep 22, charged Oct 12) and the tax's interest
    # and penalty for August to October were the old system's: they came over as CB-1004's
    # 12.50 of penalties. What falls due after the conversion day is charged here.
    assert charged == {
        ("CB-1001", "mf-utility-late", "once"): 100,
        ("CB-1002", "mf-utility-late", "once"): 100,
        ("CB-1003", "mf-utility-late", "once"): 100,
        ("CB-1004", "wi-74-47-1-interest", "2026-11"): 1200,
        ("CB-1004", "wi-74-47-2-penalty", "2026-11"): 600,
    }
    assert result.cents == sum(charged.values())


def test_a_reminder_after_the_conversion_names_the_converted_bills(app, session):
    _convert(session)
    planned = reminders.plan(session, app.config, date(2026, 11, 1), reminders.Outcome())
    by_account = {
        session.get(Account, p.account_id).former_number: sorted(
            stage.name for _i, stage in p.items
        )
        for p in planned
    }
    assert by_account["CB-1001"] == ["final", "past_due"]
    assert by_account["CB-1002"] == ["past_due"]
    assert by_account["CB-1004"] == ["final", "final"]


def test_the_former_number_finds_the_account_in_the_clerks_search(session):
    _convert(session)
    (found,) = search_accounts(session, "cb-1002")
    assert found.holder_name == "Luis Ortega"


def test_a_dry_run_checks_and_posts_everything_then_keeps_nothing(session):
    outcome = _convert(session, dry_run=True)
    assert len(outcome.posted.accounts) == 4
    assert _count(session, Account) == 0
    assert _count(session, JournalEntry) == 0


def test_an_opening_balance_without_a_due_date_is_refused_with_its_place(session, town):
    _replace(
        town / "balances.csv",
        "2026-10-01,2026-10-22,2026-09-01,2026-09-30,,88122",
        "2026-10-01,,2026-09-01,2026-09-30,,88122",
    )
    with pytest.raises(ConversionFailed) as refused:
        _convert(session, town)
    assert refused.value.problems == [
        "balances.csv, row 5, due_date: an amount owed needs its original due date",
    ]
    assert _count(session, Account) == 0 and _count(session, JournalEntry) == 0


def test_a_former_number_used_twice_is_refused_naming_both_rows(session, town):
    _replace(town / "accounts.csv", "CB-1003,Mai Nguyen", "CB-1002,Mai Nguyen")
    with pytest.raises(ConversionFailed) as refused:
        _convert(session, town)
    assert (
        "accounts.csv, row 4, former_number: former number CB-1002 is used twice (also row 3)"
        in (refused.value.problems)
    )
    assert _count(session, Account) == 0


def test_a_former_number_already_converted_is_refused(session):
    _convert(session)
    with pytest.raises(ConversionFailed) as refused:
        convert(session, CLERK, TOWN, expected=_expected(), as_of=CONVERSION_DAY, code_key=KEY)
    olson = _account(session, "CB-1001")
    assert (
        f"accounts.csv, row 2, former_number: former number CB-1001 already belongs to account "
        f"{olson.number}"
    ) in refused.value.problems
    assert _count(session, Account) == 4


def test_every_bad_row_of_every_file_is_named_at_once(session, town):
    _replace(town / "deposits.csv", "150.00", "150.005")
    _replace(
        town / "history.csv", "W-1002,2026-08-31,2026-09-30,3000", "W-1002,2026-08-31,2026-09-30,-3"
    )
    _replace(town / "balances.csv", "CB-1003,trash", "CB-1003,gas")
    with pytest.raises(ConversionFailed) as refused:
        _convert(session, town)
    problems = refused.value.problems
    assert any(p.startswith("deposits.csv, row 2, amount:") for p in problems)
    assert any(
        p.startswith("history.csv, row 37, consumption: must not be negative") for p in problems
    )
    assert any(
        p.startswith("balances.csv, row 8, receivable_class: no receivable class 'gas'")
        for p in problems
    )
    assert _count(session, Account) == 0


def test_control_totals_that_differ_post_nothing(session, town):
    _replace(town / "control_totals.csv", "balance:water,3,103.20", "balance:water,3,103.02")
    with pytest.raises(ConversionFailed) as refused:
        _convert(session, town)
    assert refused.value.problems == [
        "control_totals.csv, row 10, balance:water: expected 103.02 in 3 row(s); "
        "the files hold 103.20 in 3",
    ]
    assert _count(session, Account) == 0 and _count(session, JournalEntry) == 0


def test_posting_without_expected_control_totals_is_refused(session):
    with pytest.raises(ConversionFailed) as refused:
        _convert(session, expected=None)
    assert refused.value.problems == [
        "control_totals.csv: posting needs the expected control totals"
    ]


def test_history_that_does_not_follow_on_from_the_last_reading_is_refused(session, town):
    _replace(town / "readings.csv", "W-1002,2026-09-30,1500", "W-1002,2026-10-15,1500")
    with pytest.raises(ConversionFailed) as refused:
        _convert(session, town)
    assert any(
        "history.csv, row 37, period_end: meter W-1002's periods must follow each other back" in p
        for p in refused.value.problems
    )


def test_the_cli_reports_then_posts_in_one_transaction(runner, ctx, town, tmp_path):
    from core.extensions import db

    load_rules(db.session)
    db.session.commit()
    result = runner.invoke(args=["conversion", "report", str(town)])
    assert result.exit_code == 0, result.output
    assert result.output == (town / "control_totals.csv").read_text()
    numbers = tmp_path / "numbers.csv"
    result = runner.invoke(
        args=[
            "conversion",
            "post",
            str(town),
            "--control",
            str(town / "control_totals.csv"),
            "--as-of",
            "2026-10-31",
            "--numbers",
            str(numbers),
        ]
    )
    assert result.exit_code == 0, result.output
    assert (
        "4 accounts, 6 converted invoices, 4 opening entries, 2 deposits, 38 reads" in result.output
    )
    assert numbers.read_text().splitlines()[0] == "former_number,account_number,access_code"
    assert len(numbers.read_text().splitlines()) == 5


def test_the_clearing_account_must_move_by_the_control_total_or_nothing_is_posted(session):
    load_rules(session)
    conv, problems = check(session, TOWN)
    assert not problems
    lines = [
        replace(line, amount=line.amount + 1) if line.item == "clearing" else line
        for line in report(session, TOWN).lines
    ]
    savepoint = session.begin_nested()
    with pytest.raises(
        ConversionRefused, match="moved by 111380 cents, the control totals by 111381"
    ):
        post(session, CLERK, conv, lines, as_of=CONVERSION_DAY, code_key=KEY)
    savepoint.rollback()
    assert _count(session, Account) == 0 and _count(session, JournalEntry) == 0


def test_the_cli_dry_run_checks_everything_and_stores_nothing(runner, ctx):
    from core.extensions import db

    load_rules(db.session)
    db.session.commit()
    result = runner.invoke(
        args=["conversion", "check", str(TOWN), "--control", str(TOWN / "control_totals.csv")]
    )
    assert result.exit_code == 0, result.output
    assert "Dry run: 4 accounts would be converted; nothing stored." in result.output
    assert _count(db.session, Account) == 0


def test_the_cli_names_every_problem_and_fails(runner, ctx, town):
    from core.extensions import db

    load_rules(db.session)
    db.session.commit()
    _replace(town / "accounts.csv", "CB-1003,Mai Nguyen", "CB-1002,Mai Nguyen")
    result = runner.invoke(args=["conversion", "report", str(town)])
    assert result.exit_code == 1
    assert "accounts.csv, row 4, former_number: former number CB-1002 is used twice" in (
        result.output
    )


def test_a_converted_bill_is_lowered_by_a_credit_memo_never_voided(session):
    _convert(session)
    nguyen = _account(session, "CB-1003")
    bill = session.scalar(sa.select(Invoice).where(Invoice.account_id == nguyen.id))
    with pytest.raises(AdjustmentError, match="converted from the old system"):
        void_invoice(session, CLERK, bill, reason="billed twice", on=date(2026, 11, 2))
    issue_credit_memo(
        session,
        CLERK,
        bill,
        amount_cents=500,
        reason="old system overbilled the cart",
        on=date(2026, 11, 2),
    )
    assert (bill.balance_cents, account_receivable(session, nguyen.id)) == (1300, 1300)
    assert invoices_not_matching_lines(session) == []


def test_a_payment_settles_converted_bills_oldest_first_and_the_ledger_follows(session):
    from payments.models import Channel, Tender
    from payments.services import record_payment, settle_payment

    _convert(session)
    olson = _account(session, "CB-1001")
    payment = record_payment(
        session,
        CLERK,
        account=olson,
        amount_cents=5000,
        invoice_numbers=[],
        channel=Channel.ONLINE,
        tender=Tender.CARD,
    )
    settle_payment(session, CLERK, payment, on=date(2026, 11, 3), cash_gl=STRIPE_CLEARING)
    september, october = session.scalars(
        sa.select(Invoice).where(Invoice.account_id == olson.id).order_by(Invoice.due_date)
    ).all()
    # 20.00 settles the September arrear; 30.00 goes to October's 75.30.
    assert (september.balance_cents, october.balance_cents) == (0, 4530)
    assert account_receivable(session, olson.id) == 4530


def test_each_converted_service_address_is_a_location_its_account_answers_for(session):
    from accounts.locations import ServiceLocation
    from accounts.responsibility import history

    _convert(session)
    olson = _account(session, "CB-1001")
    points = session.scalars(sa.select(ServicePoint).where(ServicePoint.account_id == olson.id))
    (location_id,) = {p.location_id for p in points}
    location = session.get(ServiceLocation, location_id)
    # Water, sewer and trash at one address: one premises, owned by the converted account,
    # which answers for it from the installation (so a service order can stop or move it).
    assert location is not None and location.owner_account_id == olson.id
    (responsible,) = history(session, location.id)
    assert responsible.account_id == olson.id and responsible.ends_on is None
    assert session.scalar(sa.select(sa.func.count()).where(ServicePoint.location_id.is_(None))) == 0

"""Two runs of overlapping cycles posting at once never bill one account's day twice."""

import threading
from datetime import date

from sqlalchemy.orm import Session

from billing import billed_periods
from billing.cycles import assign_accounts, default_cycle, month_period
from billing.models import BillingRun, InvoiceKind
from billing.runs import RunOptions, open_run, post_run
from core.extensions import db
from tests.billing.billing_fixtures import load_rules
from tests.billing.cycle_fixtures import (
    CLERK,
    billed_days,
    period_of,
    standard_cycle,
    trash_household,
)


def _post_in_thread(engine, run_id: int, results: dict, key: str) -> threading.Thread:
    """Post a run on a connection of its own, in a thread; its report (or error) goes in results."""

    def post() -> None:
        with Session(engine) as session:
            try:
                run = session.get(BillingRun, run_id)
                results[key] = post_run(session, run, CLERK, RunOptions())
            except Exception as error:  # noqa: BLE001 - the test reads it
                results[key] = error

    thread = threading.Thread(target=post)
    thread.start()
    return thread


def test_two_runs_of_overlapping_cycles_posting_at_once_bill_the_account_once(app, monkeypatch):
    with app.app_context():
        session = db.session
        trash = load_rules(session)["trash"]
        account = trash_household(session, trash, "racer")
        quarterly = standard_cycle(
            session, "QR", "quarterly", date(2026, 10, 1), date(2026, 12, 31)
        )
        month = month_period(session, "2026-10", 21)
        monthly_run = open_run(
            session,
            CLERK,
            kind=InvoiceKind.UTILITY,
            cycle="",
            period=month,
            issue_date=month.bill_date,
            due_date=month.due_date,
        )
        quarter = period_of(session, quarterly, date(2026, 10, 1))
        quarterly_run = open_run(
            session,
            CLERK,
            kind=InvoiceKind.UTILITY,
            cycle="",
            period=quarter,
            issue_date=quarter.bill_date,
            due_date=quarter.due_date,
        )
        ids = monthly_run.id, quarterly_run.id
        session.commit()
        engine = db.engine
        # Both runs have computed their bills of the account before either claims its days:
        # the monthly run while the account was on the monthly cycle, the quarterly one after
        # a clerk moved it.
        computed, both = threading.Event(), threading.Barrier(2, timeout=30)
        claim = billed_periods.claim

        def claim_when_both_computed(claiming, periods):
            computed.set()
            both.wait()
            return claim(claiming, periods)

        monkeypatch.setattr(billed_periods, "claim", claim_when_both_computed)
        results: dict = {}
        first = _post_in_thread(engine, ids[0], results, "monthly")
        assert computed.wait(30)
        assign_accounts(session, CLERK, quarterly, [account.number])
        session.commit()
        second = _post_in_thread(engine, ids[1], results, "quarterly")
        first.join(60)
        second.join(60)
        assert not any(isinstance(r, Exception) for r in results.values()), results
        days = billed_days(session, account.id)
        assert len(days) == 1, days
        invoices = sorted((results["monthly"]["invoices"], results["quarterly"]["invoices"]))
        skipped = results["monthly"]["already_billed"] + results["quarterly"]["already_billed"]
        assert (invoices, skipped) == ([0, 1], 1)
        assert default_cycle(session).id != quarterly.id

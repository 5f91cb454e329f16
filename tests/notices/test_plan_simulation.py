"""Four months of the scheduler's nightly jobs over four households: penalties and reminders
pause exactly while a plan is current, plans default exactly the first day past their grace
days, the resident is told, and collection resumes (docs/arrangements.md)."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from billing.arrangements import PlanRequest, accept_plan, propose_plan
from billing.models import Invoice, InvoiceCharge, InvoiceStatus, PaymentPlan, PlanStatus
from billing.position import account_position
from core.extensions import db
from core.scheduling import find, run_entry
from notices.models import Reminder
from scheduler import SCHEDULE
from tests.billing.billing_fixtures import bill_households
from tests.billing.plan_fixtures import CLERK, account_of, add_rule, pay

#: The nightly jobs in the order the schedule runs them.
NIGHTLY = [
    find(SCHEDULE, n) for n in ("review_payment_plans", "assess_late_fees", "send_reminders")
]
FIRST, LAST = date(2026, 11, 24), date(2027, 3, 10)


def _plan(number: str, day: date, down_fifth: bool = True) -> int:
    """A plan made and accepted on a day: a fifth down, three monthly installments."""
    account = account_of(number)
    owed = db.session.scalar(
        sa.select(sa.func.sum(Invoice.balance_cents)).where(Invoice.account_id == account.id)
    )
    plan = propose_plan(
        db.session,
        CLERK,
        account,
        PlanRequest(("utility",), int(owed) // 5, 3),
        as_of=day,
        via="clerk",
    )
    accept_plan(db.session, CLERK, plan, how="counter", on=day, at=datetime.now(UTC))
    db.session.commit()
    return plan.id


@pytest.fixture
def simulated(app):
    """Run the nightly jobs every day from FIRST to LAST; returns what each day looked like."""
    kept, broken, unpaid, without = bill_households(app, "kept", "broken", "unpaid", "without")
    with app.app_context():
        add_rule(db.session)
        db.session.commit()
    plans: dict[str, int] = {}
    statuses: dict[str, dict[date, PlanStatus]] = defaultdict(dict)
    payments: dict[date, list[tuple[str, int]]] = defaultdict(list)
    day = FIRST
    while day <= LAST:
        with app.app_context():
            if day == date(2026, 11, 24):
                plans["unpaid"] = _plan(unpaid.number, day)
            if day == date(2026, 11, 30):
                plans["kept"] = _plan(kept.number, day)
                plans["broken"] = _plan(broken.number, day)
                for name, account in (("kept", kept), ("broken", broken)):
                    plan = db.session.get(PaymentPlan, plans[name])
                    for part in plan.installments:
                        if name == "kept" or part.number == 0:
                            payments[part.due_date].append((account.number, part.amount_cents))
        with time_machine.travel(datetime(day.year, day.month, day.day, 8, 0, tzinfo=UTC)):
            for entry in NIGHTLY:
                run = run_entry(app, entry)
                assert run.as_of == day and run.status.value == "succeeded", run.error
        with app.app_context():
            for number, cents in payments.pop(day, []):
                pay(number, cents, day)
            for name, plan_id in plans.items():
                statuses[name][day] = db.session.get(PaymentPlan, plan_id).status
        day += timedelta(days=1)
    return {
        "accounts": {"kept": kept, "broken": broken, "unpaid": unpaid, "without": without},
        "plans": plans,
        "statuses": statuses,
    }


def _reminders(number: str) -> dict[str, date]:
    account = account_of(number)
    return dict(
        db.session.execute(
            sa.select(Reminder.stage, Reminder.sent_on).where(Reminder.account_id == account.id)
        ).all()
    )


def _charges(number: str) -> list[date]:
    account = account_of(number)
    return db.session.scalars(
        sa.select(InvoiceCharge.assessed_on).join(Invoice).where(Invoice.account_id == account.id)
    ).all()


def _first_day(statuses: dict[date, PlanStatus], status: PlanStatus) -> date | None:
    return min((d for d, s in statuses.items() if s == status), default=None)


def test_plans_default_exactly_the_first_day_past_their_grace_days(app, simulated):
    statuses = simulated["statuses"]
    # the down payment due November 24, ten grace days: missed on December 5
    assert _first_day(statuses["unpaid"], PlanStatus.DEFAULTED) == date(2026, 12, 5)
    # the first installment due December 30 was never paid: missed on January 10
    assert _first_day(statuses["broken"], PlanStatus.DEFAULTED) == date(2027, 1, 10)
    assert statuses["broken"][date(2027, 1, 9)] == PlanStatus.CURRENT
    # every installment paid on its due date: never defaulted, completed after the last
    assert PlanStatus.DEFAULTED not in statuses["kept"].values()
    assert _first_day(statuses["kept"], PlanStatus.COMPLETED) == date(2027, 3, 1)
    with app.app_context():
        broken = db.session.get(PaymentPlan, simulated["plans"]["broken"])
        assert (broken.ended_on, broken.missed_installment) == (date(2027, 1, 10), 1)


def test_penalties_pause_while_a_plan_is_current_and_resume_after_it_defaults(app, simulated):
    accounts = simulated["accounts"]
    with app.app_context():
        # the one-time late charge falls 20 days after the November 23 due date
        without = _charges(accounts["without"].number)
        assert len(without) == 1
        charge_day = without[0]
        # defaulted December 5, before that day: charged like any late bill
        assert _charges(accounts["unpaid"].number) == [charge_day]
        # current on that day: never charged, not even once the plan defaulted in January
        assert _charges(accounts["broken"].number) == []
        assert _charges(accounts["kept"].number) == []


def test_reminders_pause_while_a_plan_is_current_and_resume_the_day_it_defaults(app, simulated):
    accounts = simulated["accounts"]
    with app.app_context():
        assert _reminders(accounts["without"].number) == {
            "due": date(2026, 11, 24),
            "past_due": date(2026, 12, 3),
            "final": date(2026, 12, 23),
        }
        # under the plan from November 24: nothing until it defaulted on December 5
        assert _reminders(accounts["unpaid"].number) == {
            "past_due": date(2026, 12, 5),
            "final": date(2026, 12, 23),
        }
        # under the plan from November 30 to its default on January 10: the final notice then
        assert _reminders(accounts["broken"].number) == {
            "due": date(2026, 11, 24),
            "final": date(2027, 1, 10),
        }
        assert _reminders(accounts["kept"].number) == {"due": date(2026, 11, 24)}


def test_a_completed_plan_leaves_its_bill_paid_and_a_defaulted_one_its_balance_due(app, simulated):
    accounts = simulated["accounts"]
    with app.app_context():
        kept = db.session.scalar(
            sa.select(Invoice).where(Invoice.account_id == account_of(accounts["kept"].number).id)
        )
        assert kept.status == InvoiceStatus.PAID
        broken = db.session.get(PaymentPlan, simulated["plans"]["broken"])
        owed = db.session.scalar(
            sa.select(Invoice.balance_cents).where(Invoice.account_id == broken.account_id)
        )
        assert owed == broken.included_cents - broken.down_payment_cents
        # defaulting changed what is due, not what is owed
        before, after = (
            account_position(db.session, broken.account_id, day).owed_cents()
            for day in (date(2027, 1, 9), date(2027, 1, 10))
        )
        assert before == after == owed


def test_each_resident_whose_plan_defaulted_is_told_once(app, simulated):
    accounts = simulated["accounts"]
    told = [
        message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted(Path(app.config["OUTBOX_DIR"]).glob("*.eml"))
    ]
    endings = [m for m in told if "payment plan has ended" in m["Subject"]]
    bodies = [m.get_body(("plain",)).get_content() for m in endings]
    assert sorted(b.splitlines()[0] for b in bodies) == sorted(
        f"Account {accounts[name].number}" for name in ("unpaid", "broken")
    )
    assert all(any(p.get_filename() for p in m.iter_attachments()) for m in endings)

"""Payment plans against the database: made within the rule from the past-due balance, one at
a time per account, accepted, paid toward by what settles the included bills, and asked by
shutoff through is_under_current_plan."""

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from accounts.models import Language
from billing.arrangements import (
    PlanRequest,
    accept_plan,
    cancel_plan,
    is_under_current_plan,
    plan_standing,
    propose_plan,
    review_plans,
)
from billing.arrangements_terms import PlanError
from billing.models import Invoice, PlanStatus
from billing.position import account_position
from core.extensions import db
from core.money import format_cents
from ledger.models import JournalEntry
from tests.billing.billing_fixtures import bill_households
from tests.billing.plan_fixtures import CLERK, account_of, add_rule, pay

DAY = date(2026, 11, 30)  # a week after the bills' due date


@pytest.fixture
def town(app):
    return bill_households(app, "olson", "nguyen")


def propose(number, down, count=3, groups=("utility",), via="clerk", day=DAY):
    return propose_plan(
        db.session,
        CLERK,
        account_of(number),
        PlanRequest(tuple(groups), down, count),
        as_of=day,
        via=via,
    )


def test_a_plan_schedules_the_past_due_balance_and_posts_nothing(ctx, town):
    add_rule(db.session)
    entries = db.session.scalar(sa.select(sa.func.count()).select_from(JournalEntry))
    owed = account_position(db.session, account_of(town[0].number).id, DAY).owed_cents()
    plan = propose(town[0].number, down=owed // 5)
    assert plan.included_cents == owed == town[0].owed_cents
    assert sum(i.amount_cents for i in plan.installments) == owed
    assert [i.number for i in plan.installments] == [0, 1, 2, 3]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(JournalEntry)) == entries
    assert account_position(db.session, plan.account_id, DAY).owed_cents() == owed


def test_a_second_plan_on_the_same_account_is_refused(ctx, town):
    add_rule(db.session)
    propose(town[0].number, down=town[0].owed_cents // 5)
    with pytest.raises(PlanError, match="already has a payment plan"):
        propose(town[0].number, down=town[0].owed_cents // 5)


def test_a_bill_not_yet_past_due_is_not_a_plans_balance(ctx, town):
    add_rule(db.session)
    with pytest.raises(PlanError, match="no past-due balance"):
        propose(town[0].number, down=100, day=date(2026, 11, 20))


def test_bad_terms_are_refused_with_their_reason_and_nothing_is_stored(ctx, town):
    add_rule(db.session)
    balance = town[0].owed_cents
    with pytest.raises(PlanError, match="down payment must be at least"):
        propose(town[0].number, down=balance // 20)
    with pytest.raises(PlanError, match="at most 6 installments"):
        propose(town[0].number, down=balance // 5, count=7)
    with pytest.raises(PlanError, match="do not allow property tax"):
        propose(town[0].number, down=balance // 5, groups=("utility", "tax"))
    assert not is_under_current_plan(db.session, account_of(town[0].number).id, DAY)
    assert propose(town[0].number, down=balance // 5).status == PlanStatus.PROPOSED


def test_a_resident_may_not_request_when_the_rule_keeps_plans_to_the_counter(ctx, town):
    add_rule(db.session, residents_may_request=False)
    with pytest.raises(PlanError, match="visit the town office"):
        propose(town[0].number, down=town[0].owed_cents // 5, via="resident")


def test_under_a_current_plan_only_from_acceptance_until_it_ends(ctx, town):
    add_rule(db.session)
    plan = propose(town[0].number, down=town[0].owed_cents // 5)
    account_id = plan.account_id
    invoice_id = plan.invoices[0].invoice_id
    assert not is_under_current_plan(db.session, account_id, DAY)  # proposed, not accepted
    accept_plan(db.session, CLERK, plan, how="counter", on=DAY, at=datetime.now(UTC))
    assert is_under_current_plan(db.session, account_id, DAY)
    assert is_under_current_plan(db.session, account_id, DAY, invoice_id=invoice_id)
    assert not is_under_current_plan(db.session, account_id, DAY, invoice_id=invoice_id + 999)
    assert not is_under_current_plan(db.session, account_of(town[1].number).id, DAY)
    cancel_plan(db.session, CLERK, plan, on=date(2026, 12, 15), reason="resident moved")
    assert is_under_current_plan(db.session, account_id, date(2026, 12, 14))
    assert not is_under_current_plan(db.session, account_id, date(2026, 12, 15))


def test_what_settles_the_included_bill_pays_the_installments_in_order(ctx, town):
    add_rule(db.session)
    plan = propose(town[0].number, down=town[0].owed_cents // 5)
    accept_plan(db.session, CLERK, plan, how="online", on=DAY, at=datetime.now(UTC))
    db.session.commit()
    down = plan.installments[0].amount_cents
    pay(town[0].number, down + 100, DAY)
    now = plan_standing(db.session, plan, date(2026, 12, 30))
    assert now.paid_cents == down + 100
    assert now.next_unpaid.number == 1
    assert now.due_now_cents == plan.installments[1].amount_cents - 100
    assert now.remaining_cents == plan.included_cents - down - 100


def test_a_notice_made_while_the_plan_is_current_names_the_installment_to_pay(app, ctx, town):
    from notices import content
    from notices.plan_letters import plan_bill_lines

    add_rule(db.session)
    plan = propose(town[0].number, down=town[0].owed_cents // 4)
    account = account_of(town[0].number)
    assert plan_bill_lines(db.session, account, DAY) == ()  # proposed: not current yet
    accept_plan(db.session, CLERK, plan, how="counter", on=DAY, at=datetime.now(UTC))
    db.session.commit()
    down = plan.installments[0].amount_cents
    invoice = db.session.get(Invoice, plan.invoices[0].invoice_id)
    notice = content.bill(db.session, app.config, invoice, on=DAY)
    assert (
        f"Payment plan: {format_cents(down)} due November 30, 2026 (down payment); "
        f"{format_cents(plan.included_cents)} of the plan is left." in notice.messages
    )
    pay(town[0].number, down, DAY)
    account.language = Language.ES
    (line,) = plan_bill_lines(db.session, account, date(2026, 12, 1))
    first = plan.installments[1]
    assert line.startswith(f"Plan de pagos: {format_cents(first.amount_cents)} vence el")
    assert "(cuota 1)" in line


def test_a_payment_made_before_the_plan_is_out_of_its_balance_not_paid_toward_it(ctx, town):
    add_rule(db.session)
    pay(town[0].number, 1_000, DAY)
    plan = propose(town[0].number, down=town[0].owed_cents // 4)
    assert plan.included_cents == town[0].owed_cents - 1_000
    assert plan_standing(db.session, plan, DAY).paid_cents == 0


def test_a_proposal_never_accepted_lapses_once_its_down_payment_is_late(ctx, town):
    add_rule(db.session)
    plan = propose(town[0].number, down=town[0].owed_cents // 4)
    assert review_plans(db.session, CLERK, date(2026, 12, 10)).lapsed == []
    assert review_plans(db.session, CLERK, date(2026, 12, 11)).lapsed == [plan.id]
    assert (plan.status, plan.ended_on) == (PlanStatus.CANCELLED, date(2026, 12, 11))
    # the account may ask again
    assert propose(town[0].number, down=town[0].owed_cents // 4, day=date(2026, 12, 11))

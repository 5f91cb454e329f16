"""A year of collections (2027) over a town of seven trash households on the town's monthly
cycle, the scheduler's nightly jobs run every day on the town's clock in the schedule's order,
the crews entering their results the same day: no household is shut off against the rule,
every shutoff notice went out with its lead time, every reconnection order was made the town
day of its payment, plans default exactly when they should, and the ledger balances
(docs/shutoff.md, docs/arrangements.md, docs/scheduler.md).

The daily jobs run are every cron entry of scheduler.SCHEDULE in the order of their hour
(`utility_billing_run` with SCHEDULED_BILLING_RUNS on, the plan review, the late fees, the
late-payment deposits, the portal sessions' purge, the reminders, the shutoff notices, the
door hangers, the shutoff orders) and `tell_bank_returns` once a day; `credit_deposit_interest`
on its day. Left out because they call Stripe or Twilio over the network: `charge_autopay`,
`refund_deposits`, `janitor`, `processor_fees`, `reconcile_stripe` (Stripe) and
`send_held_texts` (Twilio; no household takes texts).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine

from accounts.models import Account
from billing.arrangements import PlanRequest, accept_plan, propose_plan
from billing.closed_days import town_working_calendar
from billing.medical_certificates import record_certificate
from billing.models import (
    DoorHanger,
    OrderState,
    PaymentPlan,
    PlanStatus,
    ReconnectionOrder,
    ShutoffOrder,
)
from billing.position import UTILITY, account_position
from billing.shutoff_rules import earliest_shutoff, load_shutoff_rule, no_shutoff_because
from core.calendar import town_date
from core.extensions import db
from core.scheduling import find, run_entry
from ledger.balances import trial_balance
from notices.models import AppealChannel, ShutoffAppeal, ShutoffNotice
from notices.shutoff_appeals import decide_appeal, file_appeal
from notices.shutoff_eligibility import shutoff_eligibility
from notices.shutoff_field_results import SHUT_OFF, Result, enter_result, reconnect
from payments.counter import open_drawer, take_counter_payment
from payments.models import CashDrawer, Channel, Payment, Tender
from payments.services import record_payment
from scheduler import SCHEDULE
from tests.billing.billing_fixtures import load_rules
from tests.billing.cycle_fixtures import trash_household
from tests.billing.plan_fixtures import CLERK, add_rule, pay
from tests.payments.signing import deliver, intent_event

ZONE = ZoneInfo("America/Chicago")
FIRST, LAST = date(2027, 1, 1), date(2027, 12, 31)
SUPERVISOR = CLERK.__class__("user", "2", "supervisor@example.org", "127.0.0.1")
HEAT = {"name": "Heat moratorium", "starts": "2027-07-01", "ends": "2027-07-31"}
RULE = {
    "effective": "2026-01-01",
    "min_past_due": "30.00",
    "min_days_past_due": 30,
    "notice_lead_days": 7,
    "final_notice_hours": 48,
    "reconnection_fee": "35.00",
    "moratoria": [HEAT],
    "appeal_days": 15,
    "appeal_denial_lead_days": 5,
}
#: Stripe or the network: not run (see the module's docstring).
LEFT_OUT = {
    "charge_autopay",
    "refund_deposits",
    "janitor",
    "processor_fees",
    "reconcile_stripe",
    "send_held_texts",
}
DAILY = sorted(
    (
        e
        for e in SCHEDULE
        if e.trigger == "cron" and "day" not in e.arguments and e.name not in LEFT_OUT
    ),
    key=lambda e: (e.arguments["hour"], e.arguments["minute"]),
)
YEARLY = find(SCHEDULE, "credit_deposit_interest")
BANK_RETURNS = find(SCHEDULE, "tell_bank_returns")
#: The medical certificate on file for the "medical" household.
CERTIFIED = (date(2027, 2, 1), date(2027, 5, 31))
#: The "appeal" household's appeal: filed by phone, denied by a supervisor.
APPEAL_FILED, APPEAL_DENIED = date(2027, 2, 25), date(2027, 3, 10)
#: The plan households accept their plan at the counter on this day (noticed on Feb 23).
PLAN_DAY = date(2027, 2, 26)
#: Pays every bill the day it is issued until May; then nothing until shut off (the notice's
#: lead time ends in the heat moratorium).
STOPS_PAYING = date(2027, 5, 1)
#: The plan rule's grace days (tests.billing.plan_fixtures.add_rule).
GRACE_DAYS = 10
#: One trash cart's monthly bill.
MONTHLY = 1825


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment on the town's clock."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


@dataclass
class Year:
    """What the simulation saw."""

    ids: dict[str, int]
    plans: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, dict[date, PlanStatus]] = field(default_factory=lambda: defaultdict(dict))
    #: Each order's eligibility and position the day it was issued (order id ->).
    at_issue: dict[int, tuple] = field(default_factory=dict)
    #: Each payment that followed a shutoff: (account id, payment id, the town's moment).
    reconnecting: list[tuple[int, int, datetime]] = field(default_factory=list)


def _owed(account_id: int, day: date) -> int:
    return account_position(db.session, account_id, day).owed_cents()


def _plan(account_id: int, day: date) -> int:
    """A plan of everything owed on the utility bills: a fifth down, three installments."""
    account = db.session.get(Account, account_id)
    plan = propose_plan(
        db.session,
        CLERK,
        account,
        PlanRequest(("utility",), _owed(account_id, day) // 5, 3),
        as_of=day,
        via="clerk",
    )
    accept_plan(db.session, CLERK, plan, how="counter", on=day, at=at(day, 11))
    db.session.commit()
    return plan.id


def _card_at_night(client, account_id: int, cents: int, moment: datetime) -> Payment:
    """A card payment Stripe confirms by webhook at a moment of the night."""
    payment = record_payment(
        db.session,
        CLERK,
        account=db.session.get(Account, account_id),
        amount_cents=cents,
        invoice_numbers=[],
        channel=Channel.ONLINE,
        tender=Tender.CARD,
    )
    payment.stripe_payment_intent_id = f"pi_year_{payment.id}"
    db.session.commit()
    event = intent_event("payment_intent.succeeded", payment, created=int(moment.timestamp()))
    assert deliver(client, event).status_code == 200
    return payment


def simulate(app, client) -> Year:
    app.config["SCHEDULED_BILLING_RUNS"] = True
    with app.app_context():
        trash = load_rules(db.session)["trash"]
        names = ("prompt", "night", "counter", "heat", "medical", "kept", "broken", "appeal")
        ids = {name: trash_household(db.session, trash, name).id for name in names}
        add_rule(db.session)
        load_shutoff_rule(db.session, CLERK, RULE)
        record_certificate(
            db.session,
            CLERK,
            db.session.get(Account, ids["medical"]),
            starts_on=CERTIFIED[0],
            ends_on=CERTIFIED[1],
            certified_by="Maple Falls Clinic",
        )
        drawer_id = open_drawer(db.session, CLERK).id
        db.session.commit()
    year = Year(ids)
    night_pay: dict[date, list[int]] = defaultdict(list)
    counter_pay: dict[date, list[int]] = defaultdict(list)
    installments: dict[date, list[tuple[int, int]]] = defaultdict(list)
    day = FIRST
    while day <= LAST:
        for entry in DAILY:
            with time_machine.travel(at(day, entry.arguments["hour"], entry.arguments["minute"])):
                run = run_entry(app, entry)
                assert run.as_of == day and run.status.value == "succeeded", (entry.name, run.error)
        with time_machine.travel(at(day, 7)):
            for entry in [BANK_RETURNS] + ([YEARLY] if (day.month, day.day) == (1, 2) else []):
                run = run_entry(app, entry)
                assert run.status.value == "succeeded", (entry.name, run.error)
        with time_machine.travel(at(day, 9)), app.app_context():
            # the residents who pay: the prompt one each bill, the heat one until May
            if day.day == 1:
                for name in ("prompt",) + (("heat",) if day < STOPS_PAYING else ()):
                    owed = _owed(ids[name], day)
                    if owed > 0:
                        pay(db.session.get(Account, ids[name]).number, owed, day)
            if day == APPEAL_FILED:
                file_appeal(
                    db.session,
                    CLERK,
                    db.session.get(Account, ids["appeal"]),
                    statement="I was in the hospital and could not pay",
                    channel=AppealChannel.PHONE,
                    at=at(day, 9),
                    on=day,
                )
                db.session.commit()
            if day == APPEAL_DENIED:
                appeal = db.session.scalar(
                    sa.select(ShutoffAppeal).where(ShutoffAppeal.account_id == ids["appeal"])
                )
                decide_appeal(
                    db.session,
                    SUPERVISOR,
                    appeal,
                    upheld=False,
                    resident_reasons="The bills are owed.",
                    at=at(day, 9),
                    on=day,
                )
                db.session.commit()
        with time_machine.travel(at(day, 10)), app.app_context():
            for order in db.session.scalars(
                sa.select(ShutoffOrder).where(
                    ShutoffOrder.work_on == day, ShutoffOrder.state == OrderState.ISSUED
                )
            ).all():
                account = db.session.get(Account, order.account_id)
                year.at_issue[order.id] = (
                    shutoff_eligibility(db.session, account, day),
                    account_position(db.session, order.account_id, day).past_due_cents(UTILITY),
                )
                enter_result(db.session, app.config, CLERK, order, Result(SHUT_OFF, at(day, 10)))
                db.session.commit()
                if order.account_id in (ids["night"],):
                    night_pay[day].append(order.account_id)
                else:
                    counter_pay[day + timedelta(days=1)].append(order.account_id)
        with time_machine.travel(at(day, 11)), app.app_context():
            if day == PLAN_DAY:
                for name in ("kept", "broken"):
                    year.plans[name] = _plan(ids[name], day)
                    plan = db.session.get(PaymentPlan, year.plans[name])
                    for part in plan.installments:
                        if name == "kept" or part.number == 0:
                            installments[part.due_date].append((ids[name], part.amount_cents))
            for account_id, cents in installments.pop(day, []):
                pay(db.session.get(Account, account_id).number, cents, day)
            if "kept" in year.plans and day.day == 1 and day > PLAN_DAY:
                # the kept plan's household pays each new bill too
                pay(db.session.get(Account, ids["kept"]).number, MONTHLY, day)
            for account_id in counter_pay.pop(day, []):
                receipt = take_counter_payment(
                    db.session,
                    CLERK,
                    drawer=db.session.get(CashDrawer, drawer_id),
                    account=db.session.get(Account, account_id),
                    amount_cents=_owed(account_id, day),
                    tender=Tender.CASH,
                    reference=None,
                    invoice_numbers=[],
                    on=day,
                )
                db.session.commit()
                year.reconnecting.append((account_id, receipt.payment_id, at(day, 11)))
            for name, plan_id in year.plans.items():
                year.statuses[name][day] = db.session.get(PaymentPlan, plan_id).status
        with time_machine.travel(at(day, 16)), app.app_context():
            for order in db.session.scalars(
                sa.select(ReconnectionOrder).where(ReconnectionOrder.reconnected_at.is_(None))
            ).all():
                reconnect(db.session, CLERK, order.number, at=at(day, 16))
                db.session.commit()
        for account_id in night_pay.pop(day, []):
            moment = at(day, 23, 30)  # the next day already in UTC
            with time_machine.travel(moment), app.app_context():
                payment = _card_at_night(client, account_id, _owed(account_id, day), moment)
                year.reconnecting.append((account_id, payment.id, moment))
        day += timedelta(days=1)
    return year


@pytest.mark.long
def test_a_year_of_collections_follows_the_rule_every_day(app, client):
    year = simulate(app, client)
    with app.app_context():
        calendar = town_working_calendar(db.session, app.config.get("MUNICIPALITY_STATE", ""))
        ids = year.ids
        orders = db.session.scalars(sa.select(ShutoffOrder).order_by(ShutoffOrder.id)).all()
        shut = [o for o in orders if o.state == OrderState.SHUT_OFF]
        by_account = defaultdict(list)
        for order in shut:
            by_account[order.account_id].append(order.work_on)
        shutoffs = {name: by_account.get(i, []) for name, i in ids.items()}
        notices = defaultdict(list)
        for notice in db.session.scalars(sa.select(ShutoffNotice).order_by(ShutoffNotice.id)):
            notices[notice.account_id].append(notice)

        # every shutoff on a day the rule allowed, the door hanger and notice lead passed
        for order in shut:
            found, past_due = year.at_issue[order.id]
            assert found.may_shut_off, (order.number, found)
            assert found.not_today is None and found.reasons == () and found.held == ()
            assert calendar.closed_because(order.work_on) is None
            assert not ("2027-07-01" <= order.work_on.isoformat() <= "2027-07-31")
            assert order.amount_cents == past_due == found.past_due_cents
            notice = db.session.scalar(
                sa.select(ShutoffNotice).where(
                    ShutoffNotice.account_id == order.account_id,
                    ShutoffNotice.invoice_id == order.invoice_id,
                )
            )
            assert notice.earliest_shutoff_on <= order.work_on
            hanger = db.session.scalar(
                sa.select(DoorHanger).where(
                    DoorHanger.account_id == order.account_id,
                    DoorHanger.invoice_id == order.invoice_id,
                )
            )
            assert hanger.shutoff_on <= order.work_on
            # hung by the 06:30 job, at least final_notice_hours before the crew's 10:00
            assert at(hanger.hung_on, 6, 30) + timedelta(hours=48) <= at(order.work_on, 10)

        # every notice's earliest shutoff is its lead time
        for notice in db.session.scalars(sa.select(ShutoffNotice)):
            assert notice.earliest_shutoff_on == earliest_shutoff(
                calendar, [HEAT], notice.issued_on, 7
            ), notice.issued_on

        # every reconnection order made the town day of its payment
        reconnections = db.session.scalars(sa.select(ReconnectionOrder)).all()
        assert len(reconnections) == len(shut)
        for account_id, _payment, moment in year.reconnecting:
            order = db.session.scalar(
                sa.select(ReconnectionOrder)
                .where(ReconnectionOrder.account_id == account_id)
                .where(ReconnectionOrder.paid_at >= moment.astimezone(UTC) - timedelta(minutes=1))
                .order_by(ReconnectionOrder.id)
                .limit(1)
            )
            assert order is not None, (account_id, moment)
            assert town_date(order.paid_at, ZONE) == moment.date()
            assert town_date(order.created_at, ZONE) == moment.date()
            # the crew turns it back on at 16:00: that day, or the next for a night payment
            done = town_date(order.reconnected_at, ZONE)
            assert done == moment.date() + timedelta(days=1 if moment.hour >= 16 else 0)

        # the one who pays on time is never noticed; the ones who never pay are shut off
        assert shutoffs["prompt"] == [] and notices[ids["prompt"]] == []
        assert shutoffs["night"] and shutoffs["counter"]
        # no shutoff in the heat moratorium: the lead time ending in it moved to August 2
        heat_notice = notices[ids["heat"]][0]
        assert heat_notice.earliest_shutoff_on == date(2027, 8, 2)
        assert shutoffs["heat"][0] == date(2027, 8, 2)
        assert all(d.month != 7 for days in shutoffs.values() for d in days)
        # the medical certificate: neither noticed nor shut off while it holds; after, both
        medical = notices[ids["medical"]]
        assert all(not CERTIFIED[0] <= n.issued_on <= CERTIFIED[1] for n in medical)
        assert medical[0].issued_on == CERTIFIED[1] + timedelta(days=1)
        assert all(d > CERTIFIED[1] for d in shutoffs["medical"])
        # the appeal: no shutoff while pending, none before the lead time after its denial
        after_denial = earliest_shutoff(calendar, [HEAT], APPEAL_DENIED, 5)
        assert shutoffs["appeal"][0] == after_denial == date(2027, 3, 17)
        # plans: the kept one completes and is never shut off; the broken one defaults exactly
        # the first day past its grace days after the missed installment, then collection resumes
        kept = year.statuses["kept"]
        assert PlanStatus.DEFAULTED not in kept.values() and shutoffs["kept"] == []
        assert kept[LAST] == PlanStatus.COMPLETED
        broken = db.session.get(PaymentPlan, year.plans["broken"])
        missed = broken.installments[1].due_date + timedelta(days=GRACE_DAYS + 1)
        statuses = year.statuses["broken"]
        assert min(d for d, s in statuses.items() if s == PlanStatus.DEFAULTED) == missed
        assert statuses[missed - timedelta(days=1)] == PlanStatus.CURRENT
        assert broken.ended_on == missed
        assert all(d >= missed for d in shutoffs["broken"])
        # its notice's date has passed: the door hanger that day, the shutoff 48 hours on
        hung = db.session.scalar(
            sa.select(sa.func.min(DoorHanger.hung_on)).where(
                DoorHanger.account_id == broken.account_id
            )
        )
        assert hung == missed
        resumed = missed + timedelta(days=2)
        while no_shutoff_because(calendar, [HEAT], resumed):
            resumed += timedelta(days=1)
        assert shutoffs["broken"][0] == resumed

        # the ledger balances
        balance = trial_balance(db.session)
        assert balance.total_debit_cents == balance.total_credit_cents

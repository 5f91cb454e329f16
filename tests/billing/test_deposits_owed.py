"""The deposit rules at work: a start of service asks the deposit the rules in force ask; under
`collect: first_bill` the account's first regular bill carries it as a line credited to GL 2020
(never revenue), held in the register from that bill; under `before_service` the order and the
account are flagged until a clerk takes it; the late-payment job asks it once."""

from __future__ import annotations

import io
import re
from datetime import date
from html import unescape

import pypdf
import sqlalchemy as sa

from accounts.locations import OrderKind, OrderStatus, ServiceLocation
from accounts.models import Language
from accounts.services import create_account
from billing.deposit_billing import DEPOSIT_LINE
from billing.deposit_checks import load_deposit_rules
from billing.deposit_owed import open_owed, owed_for_order
from billing.deposits import hold_deposit
from billing.jobs import ask_late_payment_deposits
from billing.models import (
    BillingRun,
    Deposit,
    DepositStatus,
    Invoice,
    InvoiceKind,
    OwedDeposit,
    OwedStatus,
)
from billing.position import UTILITY, account_position
from billing.runs import RunOptions, open_run, post_run, preview_run
from billing.service_orders import confirm, new_order
from core.audit import Actor
from core.extensions import db
from core.jobs import JobContext
from core.models import AuditEvent
from ledger import chart
from ledger.balances import account_receivable, gl_balance, trial_balance
from ledger.deposit_register import register_tie
from ledger.models import GLAccount, JournalEntry, JournalLine
from ledger.verify import verify_chain
from notices import content
from notices.render import render
from tests.billing.billing_fixtures import KEY
from tests.billing.order_fixtures import (
    CLERK,
    SETTINGS,
    read,
    rented_house,
    run_cycle,
    two_houses,
)
from tests.billing.test_service_orders import FORWARD, _stop
from tests.conftest import account_data

JOB = Actor.job("test")
START = date(2026, 11, 21)
DEPOSIT = 15000
MONEY = r"-?\$[\d,]+\.\d\d"


def _rules(session, *, collect="first_bill", who=None, amount=None) -> None:
    version = {
        "effective": "2020-01-01",
        "who": who or {"renters": True, "commercial": True},
        "amount": amount or {"fixed": "150.00"},
        "collect": collect,
        "refund": {"after_months": 12, "method": "credit"},
    }
    load_deposit_rules(session, JOB, {"versions": [version]})


def _start(session, house, name="Ana Ruiz", on=START, reading=20300, **fields):
    """A clerk's start for a new holder at the house, carried out that day."""
    order = new_order(
        session,
        CLERK,
        status=OrderStatus.CONFIRMED,
        kind=OrderKind.START,
        location_id=house.location.id,
        effective_on=on,
        holder_name=name,
        reading=reading,
        **fields,
    )
    return confirm(session, CLERK, order, SETTINGS, on)


def _moved_in(session, collect="first_bill"):
    """The tenant moved out on November 15; Ana Ruiz, a renter, moved in on November 21."""
    house = rented_house(session)
    _stop(session, house)
    _rules(session, collect=collect)
    order = _start(session, house)
    read(session, house.water, date(2026, 11, 30), 20500)
    return house, order


def _bill_of(session, account_id: int, period_end: date) -> Invoice:
    return session.scalar(
        sa.select(Invoice).where(Invoice.account_id == account_id, Invoice.period_end == period_end)
    )


def _deposit_lines(invoice: Invoice) -> list:
    return [line for line in invoice.lines if (line.source or "").startswith("deposit")]


def _text(document) -> str:
    """The notice as a resident reads it: its PDF's text, white space folded."""
    reader = pypdf.PdfReader(io.BytesIO(render(document)))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def _after(label: str, text: str) -> int:
    found = re.search(re.escape(label) + r"\s*(" + MONEY + ")", text)
    assert found, f"{label!r} is not on the notice: {text[:400]}"
    dollars, cents = found.group(1).lstrip("-$").replace(",", "").split(".")
    return int(dollars) * 100 + int(cents)


def _entry_lines(session, invoice: Invoice) -> list[tuple[str, int, int, int | None]]:
    """The invoice's own journal entry: (GL code, debit, credit, billing account) per line."""
    return session.execute(
        sa.select(
            GLAccount.code,
            JournalLine.debit_cents,
            JournalLine.credit_cents,
            JournalLine.account_id,
        )
        .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .where(JournalEntry.source_type == "invoice", JournalEntry.source_id == invoice.number)
    ).all()


def test_a_renters_first_regular_bill_carries_the_deposit_as_a_liability(app, session):
    house, order = _moved_in(session)
    ana = order.new_account
    assert "renter" in ana.flags
    owed = owed_for_order(session, order.id)
    assert (owed.amount_cents, owed.reasons, owed.collect, owed.status) == (
        DEPOSIT,
        "renter",
        "first_bill",
        OwedStatus.OWED,
    )

    run_cycle(session, "2026-11")

    bill = _bill_of(session, ana.id, date(2026, 11, 30))
    (line,) = _deposit_lines(bill)
    assert (line.description, line.amount_cents) == (DEPOSIT_LINE["en"], DEPOSIT)
    assert line.descriptions == DEPOSIT_LINE
    service = bill.total_cents - DEPOSIT
    assert service > 0
    # the journal: the receivable of the account is debited the whole bill; GL 2020 is credited
    # the deposit for the account; revenue only the service
    entry = _entry_lines(session, bill)
    assert (
        sum(d for _c, d, _cr, _a in entry)
        == sum(cr for _c, _d, cr, _a in entry)
        == bill.total_cents
    )
    assert [(c, cr, a) for c, _d, cr, a in entry if c == chart.DEPOSITS_HELD] == [
        (chart.DEPOSITS_HELD, DEPOSIT, ana.id)
    ]
    revenue = {code for code, _d, cr, _a in entry if cr and code != chart.DEPOSITS_HELD}
    assert revenue and all(code.startswith("40") for code in revenue)
    assert sum(cr for c, _d, cr, _a in entry if c in revenue) == service
    # the register holds it from the bill's own entry; it ties to GL 2020 and the chain verifies
    deposit = session.scalar(sa.select(Deposit).where(Deposit.account_id == ana.id))
    assert (deposit.source, deposit.reference, deposit.held_cents, deposit.held_since) == (
        "first_bill",
        bill.number,
        DEPOSIT,
        bill.issue_date,
    )
    (movement,) = deposit.movements
    assert movement.journal_entry_id == session.scalar(
        sa.select(JournalEntry.id).where(JournalEntry.source_id == bill.number)
    )
    assert (owed.status, owed.invoice_id, owed.deposit_id) == (
        OwedStatus.BILLED,
        bill.id,
        deposit.id,
    )
    assert gl_balance(session, chart.DEPOSITS_HELD) == DEPOSIT
    tie = register_tie(session)
    assert (tie.register_cents, tie.ledger_cents, tie.ties) == (DEPOSIT, DEPOSIT, True)
    rows = {row.code: row for row in trial_balance(session).rows}
    assert rows[chart.DEPOSITS_HELD].balance_cents == DEPOSIT
    assert verify_chain(session).ok

    # the resident's bill: the deposit line and a total that are the account's position
    position = account_position(session, ana.id, bill.issue_date)
    assert position.owed_cents(UTILITY) == bill.total_cents == account_receivable(session, ana.id)
    text = _text(content.bill(session, app.config, bill))
    assert re.search(re.escape(DEPOSIT_LINE["en"]) + r".*?\$150\.00", text)
    assert _after("TOTAL DUE", text) == bill.total_cents
    assert _after("Current charges", text) == bill.total_cents
    ana.language = Language.ES
    assert DEPOSIT_LINE["es"] in _text(content.bill(session, app.config, bill))


def test_the_second_months_bill_has_no_deposit_line_and_a_rerun_bills_it_nowhere(session):
    house, order = _moved_in(session)
    ana = order.new_account
    run_cycle(session, "2026-11")
    read(session, house.water, date(2026, 12, 31), 21500)

    run_cycle(session, "2026-12")
    run = session.scalar(sa.select(BillingRun).where(BillingRun.cycle == "2026-11"))
    post_run(session, run, JOB, RunOptions())

    december = _bill_of(session, ana.id, date(2026, 12, 31))
    assert december is not None and _deposit_lines(december) == []
    lines = session.scalars(
        sa.select(Invoice).where(Invoice.account_id == ana.id, Invoice.kind == InvoiceKind.UTILITY)
    ).all()
    assert sum(len(_deposit_lines(invoice)) for invoice in lines) == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(Deposit)) == 1
    assert gl_balance(session, chart.DEPOSITS_HELD) == DEPOSIT
    assert register_tie(session).ties


def test_a_previewed_run_left_unposted_leaves_the_deposit_owed(session):
    _house, order = _moved_in(session)
    run = open_run(
        session,
        JOB,
        kind=InvoiceKind.UTILITY,
        cycle="2026-11",
        issue_date=date(2026, 12, 2),
        due_date=date(2026, 12, 23),
    )
    report = preview_run(session, run, RunOptions())
    deposits = [t for t in report["totals"] if t["gl_code"] == chart.DEPOSITS_HELD]
    assert deposits == [
        {"gl_code": chart.DEPOSITS_HELD, "name": deposits[0]["name"], "cents": DEPOSIT}
    ]
    owed = owed_for_order(session, order.id)
    assert owed.status == OwedStatus.OWED
    assert session.scalar(sa.select(sa.func.count()).select_from(Deposit)) == 0
    assert gl_balance(session, chart.DEPOSITS_HELD) == 0


def test_a_final_bill_before_any_regular_bill_drops_the_deposit_owed(session):
    house, order = _moved_in(session)
    ana = order.new_account
    stop = new_order(
        session,
        CLERK,
        status=OrderStatus.CONFIRMED,
        kind=OrderKind.STOP,
        location_id=house.location.id,
        account_id=ana.id,
        effective_on=date(2026, 11, 25),
        reading=20400,
        forward_street="88 Harbor Rd",
        forward_city="Duluth",
        forward_state="MN",
        forward_zip="55802",
    )
    confirm(session, CLERK, stop, SETTINGS, date(2026, 11, 26))

    final = session.get(Invoice, stop.final_invoice_id)
    assert final.total_cents > 0 and _deposit_lines(final) == []
    owed = owed_for_order(session, order.id)
    assert (owed.status, owed.closed_on) == (OwedStatus.DROPPED, date(2026, 11, 25))
    assert session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "deposit.owed_dropped")
    ).object_id == str(owed.id)
    run_cycle(session, "2026-11")
    assert session.scalar(sa.select(sa.func.count()).select_from(Deposit)) == 0
    assert gl_balance(session, chart.DEPOSITS_HELD) == 0


def _new_house(session, owner, street: str) -> ServiceLocation:
    """A new house at an address, owned by an account, never served before."""
    location = ServiceLocation(
        street=street, city="Maple Falls", zip="54901", owner_account_id=owner.id
    )
    session.add(location)
    session.flush()
    return location


def _start_at(session, location, account):
    order = new_order(
        session,
        CLERK,
        status=OrderStatus.CONFIRMED,
        kind=OrderKind.START,
        location_id=location.id,
        account_id=account.id,
        effective_on=START,
    )
    return confirm(session, CLERK, order, SETTINGS, START)


def test_an_owner_moving_in_is_not_asked_and_a_tenant_of_theirs_is(session):
    _rules(session, who={"renters": True})
    owner, _code = create_account(session, JOB, account_data(holder_name="Ines Park"), code_key=KEY)
    tenant, _code = create_account(session, JOB, account_data(holder_name="Ben Ruiz"), code_key=KEY)
    home = _new_house(session, owner, "4 Birch Ln")
    rental = _new_house(session, owner, "6 Birch Ln")

    owners_start = _start_at(session, home, owner)
    tenants_start = _start_at(session, rental, tenant)

    assert "renter" not in (owner.flags or [])
    assert owed_for_order(session, owners_start.id) is None
    assert open_owed(session, owner.id) is None
    assert "renter" in tenant.flags
    assert owed_for_order(session, tenants_start.id).reasons == "renter"


def test_a_business_is_asked_even_in_the_premises_it_owns(session):
    _rules(session, who={"renters": True, "commercial": True})
    shop, _code = create_account(
        session, JOB, account_data(holder_name="Birch Lane Bakery"), code_key=KEY
    )
    shop.flags = ["commercial"]
    premises = _new_house(session, shop, "10 Birch Ln")

    order = _start_at(session, premises, shop)

    owed = owed_for_order(session, order.id)
    assert (owed.reasons, owed.amount_cents, owed.status) == (
        "commercial",
        DEPOSIT,
        OwedStatus.OWED,
    )


def test_a_transfer_asks_the_deposit_of_the_account_opened_at_the_new_address(session):
    rented, empty = two_houses(session)
    _rules(session)
    order = new_order(
        session,
        CLERK,
        status=OrderStatus.CONFIRMED,
        kind=OrderKind.TRANSFER,
        location_id=rented.location.id,
        account_id=rented.tenant.id,
        new_location_id=empty.location.id,
        effective_on=date(2026, 11, 15),
        holder_name="Maria Olson",
        reading=20000,
        **FORWARD,
    )
    confirm(session, CLERK, order, SETTINGS, date(2026, 11, 16))

    owed = owed_for_order(session, order.id)
    assert (owed.account_id, owed.reasons, owed.amount_cents) == (
        order.new_account_id,
        "renter",
        DEPOSIT,
    )
    assert open_owed(session, rented.tenant.id) is None


def test_no_rules_loaded_asks_nothing(session):
    house = rented_house(session)
    _stop(session, house)
    order = _start(session, house)
    assert owed_for_order(session, order.id) is None
    assert session.scalar(sa.select(sa.func.count()).select_from(OwedDeposit)) == 0


def test_before_service_the_start_is_flagged_until_a_clerk_takes_the_deposit(
    app, client, signed_in, api_headers
):
    with app.app_context():
        house, order = _moved_in(db.session, collect="before_service")
        ana_id, order_id = order.new_account_id, order.id
        number = order.new_account.number
        db.session.commit()
    headers = api_headers("clerk")
    answer = client.get(f"/api/v1/service-orders/{order_id}", headers=headers).get_json()
    assert answer["deposit"]["amount_cents"] == DEPOSIT
    assert (answer["deposit"]["collect"], answer["deposit"]["status"]) == (
        "before_service",
        "owed",
    )
    assert answer["deposit"]["reasons"] == ["renter"]
    clerk = signed_in("clerk")
    orders_page = unescape(clerk.get("/staff/service-orders/").text)
    assert "Deposit owed $150.00 (renter): take it at the counter" in orders_page
    account_page = unescape(clerk.get(f"/staff/accounts/{number}").text)
    assert "Deposit owed $150.00" in account_page

    with app.app_context():
        # the run bills no deposit that is taken at the counter
        run_cycle(db.session, "2026-11")
        bill = _bill_of(db.session, ana_id, date(2026, 11, 30))
        assert _deposit_lines(bill) == []
        deposit = hold_deposit(
            db.session,
            CLERK,
            account_id=ana_id,
            amount_cents=DEPOSIT,
            held_since=date(2026, 12, 3),
            offset_gl_code=chart.CASH_DRAWER,
            source="counter",
            reference="R-2001",
        )
        owed = owed_for_order(db.session, order_id)
        assert (owed.status, owed.deposit_id) == (OwedStatus.TAKEN, deposit.id)
        assert register_tie(db.session).ties
        db.session.commit()
    answer = client.get(f"/api/v1/service-orders/{order_id}", headers=headers).get_json()
    assert answer["deposit"]["status"] == "taken"
    assert "Deposit owed" not in unescape(clerk.get(f"/staff/accounts/{number}").text)
    assert "Deposit $150.00 taken on 2026-12-03" in unescape(
        clerk.get("/staff/service-orders/").text
    )


def test_a_smaller_deposit_taken_leaves_the_rest_owed(session):
    _house, order = _moved_in(session, collect="before_service")
    hold_deposit(
        session,
        CLERK,
        account_id=order.new_account_id,
        amount_cents=5000,
        held_since=START,
        offset_gl_code=chart.CASH_DRAWER,
        source="counter",
    )
    owed = owed_for_order(session, order.id)
    assert (owed.status, owed.amount_cents) == (OwedStatus.OWED, DEPOSIT - 5000)


def _late_rules(session, collect="first_bill") -> None:
    _rules(
        session,
        collect=collect,
        who={"late_payments": {"count": 1, "months": 12}},
        amount={"average_bill": {"multiple": "2", "bills": 12, "minimum": "100.00"}},
    )


def _context(app, as_of: date, dry_run: bool = False) -> JobContext:
    return JobContext(actor=JOB, as_of=as_of, config=app.config, dry_run=dry_run)


def test_the_late_payment_job_asks_a_deposit_once_and_the_next_bill_carries_it(app, session):
    house = rented_house(session)  # the October bill, due November 23, is never paid
    _late_rules(session)
    olson = house.tenant
    october = _bill_of(session, olson.id, date(2026, 10, 31))
    session.commit()  # the job commits (or, dry, rolls back) its own work

    assert ask_late_payment_deposits(session, _context(app, date(2026, 11, 23))) == {
        "accounts": 0,
        "cents": 0,
    }  # not late on its due date
    assert (
        ask_late_payment_deposits(session, _context(app, date(2026, 11, 24), True))["accounts"] == 1
    )
    assert open_owed(session, olson.id) is None  # a dry run asks nothing
    counts = ask_late_payment_deposits(session, _context(app, date(2026, 11, 24)))
    # twice the average of its one bill for service
    assert counts == {"accounts": 1, "cents": 2 * october.total_cents}
    assert ask_late_payment_deposits(session, _context(app, date(2026, 11, 25))) == {
        "accounts": 0,
        "cents": 0,
    }
    owed = open_owed(session, olson.id)
    assert (owed.reasons, owed.collect, owed.service_order_id) == (
        "late_payments",
        "first_bill",
        None,
    )
    audit = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "deposit.owed")).all()
    assert [event.object_id for event in audit] == [str(owed.id)]

    read(session, house.water, date(2026, 11, 30), 20500)
    run_cycle(session, "2026-11")
    november = _bill_of(session, olson.id, date(2026, 11, 30))
    (line,) = _deposit_lines(november)
    assert line.amount_cents == 2 * october.total_cents
    assert owed.status == OwedStatus.BILLED
    # a deposit held now: the job asks no more, even though the account is still late
    assert ask_late_payment_deposits(session, _context(app, date(2026, 12, 26)))["accounts"] == 0
    assert (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(Deposit)
            .where(Deposit.status == DepositStatus.HELD)
        )
        == 1
    )
    assert register_tie(session).ties

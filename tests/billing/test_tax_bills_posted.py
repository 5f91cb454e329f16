"""Tax bills as towns bill them, posted: charges, assessments, credits and ceilings on the
invoice and in a balanced journal; the early-payment discount stored, honoured when paid in
full in time and refused a day late or a cent short; bad levy lines refused at load."""

from __future__ import annotations

import copy
from datetime import date

import pytest
import sqlalchemy as sa
import yaml

from accounts.models import Parcel, ParcelValuation
from accounts.services import create_account
from billing.computed import RuleError
from billing.models import (
    Invoice,
    InvoiceDiscount,
    InvoiceKind,
    InvoiceStatus,
    Settlement,
    SettlementKind,
)
from billing.position import account_position
from billing.rules import load_levy
from billing.runs import RunOptions, open_run, post_run
from core.audit import Actor
from core.money import format_cents
from ledger import chart
from ledger.balances import account_receivable, gl_balance
from ledger.models import GLAccount, JournalEntry, JournalLine
from payments.models import Channel, Tender
from payments.services import record_payment, settle_payment
from tests.billing.billing_fixtures import KEY, RULES
from tests.conftest import account_data

LOADER = Actor.system("test loader")
CLERK = Actor("user", "7", "clerk@example.org", "127.0.0.1")
PAY_BY = date(2025, 12, 31)


def levy_document(**changes) -> dict:
    """The demo levy for 2025 (two installments) with a stormwater charge, a sidewalk district,
    a state credit for primary residences and a 4% discount for paying in full by Dec 31."""
    document = yaml.safe_load((RULES / "levy.yaml").read_text())
    document["tax_year"] = 2025
    document["installments"] = [{"due": "2026-01-31"}, {"due": "2026-07-31"}]
    document["discounts"] = [{"pay_by": PAY_BY.isoformat(), "percent": "4"}]
    document["discount_account"] = "4900"
    document["charges"] = [
        {
            "code": "stormwater",
            "name": "Stormwater management assessment",
            "gl_account": "4040",
            "amounts": {"residential": "40.00"},
        }
    ]
    document["special_assessments"] = [
        {
            "code": "sidewalk",
            "name": "Oak Street sidewalk district",
            "gl_account": "4040",
            "rate": "12.50",
            "unit": "front foot",
            "parcels": [{"parcel": "P-100", "units": "80"}],
        }
    ]
    document["credits"] = [
        {
            "code": "lottery",
            "name": "Lottery and gaming credit",
            "receivable_account": "1200",
            "amount": "200.00",
            "eligibility": "primary-residence",
        }
    ]
    document.update(changes)
    return document


def owner_with_parcel(session, number="P-100", *, flags=(), ceilings=None, market=300_000_00):
    """An owner and a residential parcel valued for 2025."""
    account, _code = create_account(
        session, LOADER, account_data(holder_name="Ida Lund"), code_key=KEY
    )
    session.add(
        Parcel(
            parcel_number=number,
            situs_street="1 Oak St",
            situs_city="Maple Falls",
            situs_zip="54901",
            property_class="residential",
            owner_account=account,
            exemption_flags=list(flags),
            tax_ceilings=ceilings,
            valuations=[ParcelValuation(tax_year=2025, market_value_cents=market)],
        )
    )
    session.flush()
    return account


def bill_tax(session, document=None) -> None:
    """Load the levy and post the 2025 tax run (issued December 10, 2025)."""
    load_levy(session, LOADER, document or levy_document())
    run = open_run(
        session,
        LOADER,
        kind=InvoiceKind.TAX,
        cycle="2025",
        issue_date=date(2025, 12, 10),
        due_date=date(2026, 1, 31),
    )
    post_run(session, run, LOADER, RunOptions())


def invoice_of(session, account) -> Invoice:
    """The account's one tax invoice."""
    return session.scalar(sa.select(Invoice).where(Invoice.account_id == account.id))


def journal(session, source_type: str, source_id: str) -> dict[tuple[str, bool], int]:
    """An entry's lines as {(GL code, for the billing account): debit - credit}."""
    rows = session.execute(
        sa.select(
            GLAccount.code,
            JournalLine.account_id,
            JournalLine.debit_cents,
            JournalLine.credit_cents,
        )
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
        .where(JournalEntry.source_type == source_type, JournalEntry.source_id == source_id)
    ).all()
    found: dict[tuple[str, bool], int] = {}
    for code, account_id, debit, credit in rows:
        key = (code, account_id is not None)
        found[key] = found.get(key, 0) + debit - credit
    return found


def test_the_tax_bill_posts_its_assessments_and_credit_each_to_its_own_account(session):
    owner = owner_with_parcel(session, flags=["primary-residence"])
    bill_tax(session)
    invoice = invoice_of(session, owner)
    lines = [(line.description, line.category.value, line.amount_cents) for line in invoice.lines]
    levies = [cents for _d, category, cents in lines if category == "tax"]
    assert lines[len(levies) :] == [
        ("Stormwater management assessment", "fee", 40_00),
        ("Oak Street sidewalk district", "fee", 1_000_00),
        ("Lottery and gaming credit", "credit", -200_00),
    ]
    assert invoice.total_cents == sum(levies) + 40_00 + 1_000_00 - 200_00
    assert sum(i.amount_cents for i in invoice.installments) == invoice.total_cents
    entry = journal(session, "invoice", invoice.number)
    assert sum(entry.values()) == 0  # balanced
    assert entry[(chart.TAX_RECEIVABLE, True)] == invoice.total_cents  # the owner owes the net
    assert entry[("1200", False)] == 200_00  # the state owes the credit
    assert entry[("4040", False)] == -1_040_00  # the assessments' revenue
    assert account_receivable(session, owner.id) == invoice.total_cents
    assert (
        account_position(session, owner.id, date(2025, 12, 10)).owed_cents() == invoice.total_cents
    )
    assert gl_balance(session, "1200") == 200_00


def test_a_frozen_ceiling_on_the_parcel_caps_that_levy_on_the_posted_bill(session):
    free = owner_with_parcel(session, "P-200")
    frozen = owner_with_parcel(session, "P-201", ceilings={"school": 1_000_00})
    bill_tax(session, levy_document(charges=[], special_assessments=[], credits=[]))
    school = {line.source: line.amount_cents for line in invoice_of(session, free).lines}
    capped = {line.source: line.amount_cents for line in invoice_of(session, frozen).lines}
    assert capped["levy:2025:ceiling:school"] == -(school["levy:2025:school"] - 1_000_00)
    assert invoice_of(session, frozen).total_cents == invoice_of(session, free).total_cents - (
        school["levy:2025:school"] - 1_000_00
    )
    invoice = invoice_of(session, frozen)
    assert sum(journal(session, "invoice", invoice.number).values()) == 0


def pay(session, account, cents: int, on: date):
    """A card payment of the account, settled on the town's date `on`."""
    payment = record_payment(
        session,
        CLERK,
        account=account,
        amount_cents=cents,
        invoice_numbers=[],
        channel=Channel.ONLINE,
        tender=Tender.CARD,
    )
    settle_payment(session, CLERK, payment, on=on, cash_gl=chart.STRIPE_CLEARING)
    return payment


def discounted_bill(session):
    """An owner billed with the 4% discount; (account, invoice, discount row)."""
    owner = owner_with_parcel(session)
    bill_tax(session)
    invoice = invoice_of(session, owner)
    discount = session.scalar(
        sa.select(InvoiceDiscount).where(InvoiceDiscount.invoice_id == invoice.id)
    )
    return owner, invoice, discount


def test_the_discount_is_stored_with_the_invoice(session):
    _owner, invoice, discount = discounted_bill(session)
    four_percent = (invoice.total_cents * 4 + 50) // 100
    assert (discount.pay_by, discount.installment_number) == (PAY_BY, 0)
    assert discount.discount_cents == four_percent
    assert discount.amount_due_cents == invoice.total_cents - four_percent
    assert session.get(GLAccount, discount.gl_account_id).code == "4900"


def test_paying_the_discounted_amount_by_the_date_settles_the_bill_in_full(session):
    owner, invoice, discount = discounted_bill(session)
    payment = pay(session, owner, discount.amount_due_cents, PAY_BY)
    session.refresh(invoice)
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.balance_cents == 0
    assert [i.balance_cents for i in invoice.installments] == [0, 0]
    assert account_position(session, owner.id, PAY_BY).owed_cents() == 0
    assert account_receivable(session, owner.id) == 0
    entry = journal(session, "payment", str(payment.id))
    assert sum(entry.values()) == 0
    assert entry[(chart.TAX_RECEIVABLE, True)] == -discount.amount_due_cents
    # The discount is its own entry: debit the discount account, credit the receivable.
    assert journal(session, "discount", invoice.number) == {
        ("4900", False): discount.discount_cents,
        (chart.TAX_RECEIVABLE, True): -discount.discount_cents,
    }
    discounted = session.scalars(
        sa.select(Settlement.amount_cents).where(
            Settlement.invoice_id == invoice.id, Settlement.kind == SettlementKind.DISCOUNT
        )
    ).all()
    assert sum(discounted) == discount.discount_cents
    assert gl_balance(session, "4900") == -discount.discount_cents  # a contra-revenue debit


def test_paying_it_a_day_late_still_owes_the_discount(session):
    owner, invoice, discount = discounted_bill(session)
    late = date(2026, 1, 1)
    pay(session, owner, discount.amount_due_cents, late)
    session.refresh(invoice)
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID
    assert account_position(session, owner.id, late).owed_cents() == discount.discount_cents
    assert account_receivable(session, owner.id) == discount.discount_cents
    assert gl_balance(session, "4900") == 0


def test_a_payment_a_cent_short_gets_no_discount(session):
    owner, invoice, discount = discounted_bill(session)
    pay(session, owner, discount.amount_due_cents - 1, PAY_BY)
    assert account_position(session, owner.id, PAY_BY).owed_cents() == discount.discount_cents + 1
    assert gl_balance(session, "4900") == 0


def test_paying_in_full_in_time_leaves_the_discount_as_credit_on_the_account(session):
    owner, invoice, discount = discounted_bill(session)
    pay(session, owner, invoice.total_cents, PAY_BY)
    position = account_position(session, owner.id, PAY_BY)
    assert position.owed_cents() == 0
    assert position.credit_cents == discount.discount_cents


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {
                "charges": [
                    {
                        "code": "fire",
                        "name": "Fire",
                        "gl_account": "4777",
                        "amounts": {"residential": "5"},
                    }
                ]
            },
            "charges[0].gl_account: no GL account '4777' in the chart of accounts",
        ),
        (
            {
                "credits": [
                    {"code": "state", "name": "State", "receivable_account": "4040", "amount": "5"}
                ]
            },
            "credits[0].receivable_account: GL account '4040' is revenue, not an asset",
        ),
        (
            {
                "credits": [
                    {"code": "state", "name": "State", "receivable_account": "1000", "amount": "5"}
                ]
            },
            "credits[0].receivable_account: GL account '1000' is not a receivable account",
        ),
        ({"discount_account": "1000"}, "discount_account: GL account '1000' is asset"),
        ({"discount_account": None}, "discount_account: is missing"),
        (
            {
                "special_assessments": [
                    {
                        "code": "sidewalk",
                        "name": "Sidewalk",
                        "gl_account": "4040",
                        "rate": "10",
                        "unit": "front foot",
                        "parcels": [
                            {"parcel": "P-100", "units": "5"},
                            {"parcel": "NOPE-1", "units": "5"},
                        ],
                    }
                ]
            },
            "special_assessments[0].parcels[1].parcel: no parcel 'NOPE-1'",
        ),
    ],
)
def test_a_levy_naming_what_the_books_lack_is_refused_at_load(session, change, message):
    owner_with_parcel(session)
    document = levy_document(**change)
    document = {k: v for k, v in document.items() if v is not None}
    with pytest.raises(RuleError) as caught:
        load_levy(session, LOADER, copy.deepcopy(document))
    assert message in str(caught.value)


def test_the_tax_bill_says_what_to_pay_by_the_discount_date(app, session):
    from notices.content import bill

    owner, invoice, discount = discounted_bill(session)
    document = bill(session, app.config, invoice)
    assert document.messages == (
        f"Pay {format_cents(discount.amount_due_cents)} by 12/31/2025 and this bill is paid in "
        f"full: a 4% early-payment discount of {format_cents(discount.discount_cents)}.",
    )
    assert sum(s.amount_due_cents for s in document.stubs) == invoice.total_cents
    after = bill(session, app.config, invoice, on=date(2026, 1, 1))
    assert after.messages == ()


def test_the_printed_tax_bill_shows_the_assessments_the_credit_and_the_discount(app, session):
    from notices.content import bill
    from notices.issuing import render_notice
    from tests.notices.test_render import pages_text

    owner = owner_with_parcel(session, flags=["primary-residence"])
    bill_tax(session)
    invoice = invoice_of(session, owner)
    discount = session.scalar(
        sa.select(InvoiceDiscount).where(InvoiceDiscount.invoice_id == invoice.id)
    )
    text = " ".join(pages_text(render_notice(bill(session, app.config, invoice)).pdf))
    assert "Stormwater management assessment" in text and "$40.00" in text
    assert "Oak Street sidewalk district" in text and "$1,000.00" in text
    assert "Lottery and gaming credit" in text and "-$200.00" in text
    assert f"Pay {format_cents(discount.amount_due_cents)} by 12/31/2025" in text
    assert format_cents(invoice.total_cents) in text


def test_the_statement_shows_the_payment_and_the_discount_apart(app, session):
    from notices.statements import statement

    owner, invoice, discount = discounted_bill(session)
    pay(session, owner, discount.amount_due_cents, PAY_BY)
    document = statement(session, app.config, owner, date(2025, 12, 1), PAY_BY)
    rows = [(row.description, row.amount_cents) for row in document.activity]
    assert rows[0] == (f"Bill {invoice.number}", invoice.total_cents)
    assert (f"Early-payment discount, bill {invoice.number}", -discount.discount_cents) in rows
    assert [cents for text, cents in rows if text.startswith("Payment")] == [
        -discount.amount_due_cents
    ]
    assert document.summary.total_due_cents == 0


def test_a_bill_paid_with_its_discount_is_offered_no_second_one(session):
    from payments.discounts import offers_of

    owner, invoice, discount = discounted_bill(session)
    assert [o.discount_cents for o in offers_of(session, [invoice.id])[invoice.id]] == [
        discount.discount_cents
    ]
    pay(session, owner, discount.amount_due_cents, PAY_BY)
    assert offers_of(session, [invoice.id]) == {}


def test_an_installment_paid_by_its_discount_date_is_settled_and_the_next_still_owed(app, session):
    from notices.content import bill

    document = levy_document(
        charges=[],
        special_assessments=[],
        credits=[],
        discounts=[{"pay_by": "2026-01-31", "percent": "5", "installment": 1}],
    )
    owner = owner_with_parcel(session)
    bill_tax(session, document)
    invoice = invoice_of(session, owner)
    first, second = invoice.installments
    discount = session.scalar(
        sa.select(InvoiceDiscount).where(InvoiceDiscount.invoice_id == invoice.id)
    )
    assert discount.installment_number == 1
    assert discount.discount_cents == (first.amount_cents * 5 + 50) // 100
    message = bill(session, app.config, invoice).messages[0]
    assert message.startswith(
        f"Pay {format_cents(first.amount_cents - discount.discount_cents)} by 01/31/2026 and "
        "installment 1 is paid in full"
    )
    pay(session, owner, first.amount_cents - discount.discount_cents, date(2026, 1, 31))
    session.refresh(invoice)
    assert [i.balance_cents for i in invoice.installments] == [0, second.amount_cents]
    position = account_position(session, owner.id, date(2026, 1, 31))
    assert position.owed_cents() == second.amount_cents
    assert account_receivable(session, owner.id) == second.amount_cents
    assert journal(session, "discount", f"{invoice.number}/1") == {
        ("4900", False): discount.discount_cents,
        (chart.TAX_RECEIVABLE, True): -discount.discount_cents,
    }


def test_an_installment_paid_a_day_after_its_discount_date_still_owes_the_discount(session):
    document = levy_document(
        charges=[],
        special_assessments=[],
        credits=[],
        discounts=[{"pay_by": "2026-01-31", "percent": "5", "installment": 1}],
    )
    owner = owner_with_parcel(session)
    bill_tax(session, document)
    invoice = invoice_of(session, owner)
    first, second = invoice.installments
    discount = session.scalar(
        sa.select(InvoiceDiscount).where(InvoiceDiscount.invoice_id == invoice.id)
    )
    pay(session, owner, first.amount_cents - discount.discount_cents, date(2026, 2, 1))
    position = account_position(session, owner.id, date(2026, 2, 1))
    assert position.owed_cents() == second.amount_cents + discount.discount_cents
    assert gl_balance(session, "4900") == 0

"""A town with delinquent property tax: owners billed the 2025 tax (due January 31 and July 31,
2026), one who paid, interest and penalty assessed through the spring, a lien sale rule."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from accounts.models import Account
from billing.lien_rules import load_lien_rule
from billing.models import Invoice, InvoiceKind
from billing.penalty_service import assess_penalties
from billing.runs import RunOptions, open_run, post_run
from core.audit import Actor
from ledger import chart
from payments.models import Channel, Tender
from payments.services import record_payment, settle_payment
from tests.billing.billing_fixtures import household, load_demo_levy, load_rules, parcel

LOADER = Actor.system("test loader")
CLERK = Actor("user", "7", "clerk@example.org", "127.0.0.1")
#: A resident paying on the portal.
RESIDENT = Actor("resident", "3", "owner@example.org", "127.0.0.1")
#: The instant the lien tests run at (December 6, 2026, midday in the town): they never read
#: the real clock, so none starts failing on a later day.
NOW = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
#: Penalties and interest assessed through this day (February and March of delinquency).
ASSESSED = date(2026, 3, 15)
RULE = {
    "effective": "2026-01-01",
    "sale": {"days_after_delinquency": 60},
    "min_amount": "25.00",
    "excluded_flags": ["senior-deferral"],
    "closes_online": True,
    "cost_per_parcel": "15.00",
}
#: (holder, parcel number, market dollars, exemption flags)
OWNERS = [
    ("Ada Berg", "P-100", 200_000, ()),
    ("Bo Chen", "P-200", 300_000, ()),
    ("Cy Dahl", "P-300", 150_000, ("senior-deferral",)),
    ("Di Eng", "P-400", 250_000, ()),
]


def delinquent_town(session) -> dict[str, Account]:
    """The owners by parcel number; P-400's owner paid the first installment before it was
    due, so only the others are delinquent from February 1, 2026."""
    load_demo_levy(session, 2025)
    plans = load_rules(session)
    owners = {}
    for holder, number, market, flags in OWNERS:
        account = household(
            session, plans, holder.split()[0].lower(), [1000, 2000, 3000, 4000, 5000]
        )
        account.holder_name = holder
        parcel(session, account, number, market, flags)
        owners[number] = account
    run = open_run(
        session,
        LOADER,
        kind=InvoiceKind.TAX,
        cycle="2025",
        issue_date=date(2025, 12, 10),
        due_date=date(2026, 1, 31),
    )
    post_run(session, run, LOADER, RunOptions())
    first = tax_invoice(session, owners["P-400"]).installments[0]
    pay(session, owners["P-400"], first.amount_cents, date(2026, 1, 20))
    assess_penalties(session, LOADER, as_of=ASSESSED, rounding="half_up")
    load_lien_rule(session, CLERK, RULE)
    session.flush()
    return owners


def tax_invoice(session, account: Account) -> Invoice:
    """The account's tax invoice."""
    return session.scalar(
        sa.select(Invoice).where(Invoice.account_id == account.id, Invoice.kind == InvoiceKind.TAX)
    )


def pay(
    session, account, cents: int, on: date, *, channel=Channel.MAIL, invoices=None, actor=CLERK
):
    """A payment of the account's tax bill (a mailed check unless told), recorded and settled."""
    payment = record_payment(
        session,
        actor,
        account=account,
        amount_cents=cents,
        invoice_numbers=invoices
        if invoices is not None
        else [tax_invoice(session, account).number],
        channel=channel,
        tender=Tender.CHECK if channel == Channel.MAIL else Tender.CARD,
    )
    settle_payment(session, CLERK, payment, on=on, cash_gl=chart.STRIPE_CLEARING)
    return payment

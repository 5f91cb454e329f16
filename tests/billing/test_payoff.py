"""Tax payoff quotes: the projected penalties and interest are what the daily assessment posts
when the clock reaches the good-through date, the amount is what the position then says the
parcel's tax owes, and bad dates are refused with the reason and write nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from accounts.models import Parcel
from billing.models import InvoiceCharge, PayoffQuote, QuoteStatus
from billing.payoff import PayoffRefused, Requested, expire_quotes, quote
from billing.penalty_service import assess_penalties
from billing.position import TAX, account_position
from core.audit import Actor
from tests.billing.billing_fixtures import tax_owner

CLERK = Actor("user", "1", "clerk@example.org", "127.0.0.1")
JOB = Actor.job("assess_late_fees")
#: The 2025 tax (due January 31 and July 31, 2026) is delinquent on both installments.
TODAY = date(2026, 11, 26)
LENDER = Requested("lender", "First Lakeshore Bank", "PO Box 12\nMaple Falls, WI 54901")


def _parcel(session, number: str = "P-100") -> Parcel:
    """A parcel billed the 2025 tax, its penalties assessed through today."""
    tax_owner(session, f"Owner {number}", number, 250_000)
    assess_penalties(session, JOB, as_of=TODAY, rounding="half_up")
    return session.scalar(sa.select(Parcel).where(Parcel.parcel_number == number))


def _charged(session) -> int:
    """Every penalty and interest charge posted so far."""
    return session.scalar(sa.select(sa.func.coalesce(sa.func.sum(InvoiceCharge.amount_cents), 0)))


def test_the_projection_is_what_the_daily_assessment_posts_by_the_good_through_date(session):
    parcel = _parcel(session)
    through = date(2027, 2, 10)
    issued = quote(session, CLERK, parcel, through, LENDER, today=TODAY, rounding="half_up")
    assert issued.projected_cents > 0
    before = _charged(session)
    day = TODAY
    while day < through:
        day += timedelta(days=1)
        assess_penalties(session, JOB, as_of=day, rounding="half_up")
    assert _charged(session) - before == issued.projected_cents
    position = account_position(session, parcel.owner_account_id, through)
    assert position.owed_cents(TAX) == issued.amount_cents
    for line in issued.lines:
        assert (
            line["total_cents"]
            == line["principal_cents"] + line["charges_cents"] + (line["projected_cents"])
        )


def test_todays_part_of_the_quote_is_the_position_today(session):
    parcel = _parcel(session)
    issued = quote(session, CLERK, parcel, TODAY, LENDER, today=TODAY, rounding="half_up")
    assert issued.projected_cents == 0
    assert issued.amount_cents == account_position(
        session, parcel.owner_account_id, TODAY
    ).owed_cents(TAX)
    assert [(line["tax_year"], line["installment"]) for line in issued.lines] == [
        (2025, 1),
        (2025, 2),
    ]
    assert issued.number.startswith("PQ-2026-")


def test_quoting_writes_no_charge_and_leaves_the_ledger_as_it_was(session):
    parcel = _parcel(session)
    before = _charged(session)
    quote(session, CLERK, parcel, date(2027, 1, 20), LENDER, today=TODAY, rounding="half_up")
    assert _charged(session) == before


@pytest.mark.parametrize(
    ("good_through", "message"),
    [
        (TODAY - timedelta(days=1), "a payoff quote cannot be for a past date"),
        (TODAY + timedelta(days=91), "at most 90 days ahead"),
    ],
)
def test_a_past_or_too_distant_date_is_refused_with_the_reason_and_writes_nothing(
    session, good_through, message
):
    parcel = _parcel(session)
    with pytest.raises(PayoffRefused) as refused:
        quote(session, CLERK, parcel, good_through, LENDER, today=TODAY, rounding="half_up")
    assert refused.value.field == "good_through"
    assert message in refused.value.message
    assert session.scalar(sa.select(sa.func.count(PayoffQuote.id))) == 0


def test_a_requester_without_an_address_is_refused(session):
    parcel = _parcel(session)
    with pytest.raises(PayoffRefused) as refused:
        quote(
            session,
            CLERK,
            parcel,
            TODAY,
            Requested("title_company", "Badger Title", " "),
            today=TODAY,
            rounding="half_up",
        )
    assert refused.value.field == "requester_address"


def test_a_new_quote_for_the_same_requester_supersedes_the_old_and_old_ones_expire(session):
    parcel = _parcel(session)
    first = quote(session, CLERK, parcel, TODAY, LENDER, today=TODAY, rounding="half_up")
    second = quote(
        session, CLERK, parcel, date(2026, 12, 15), LENDER, today=TODAY, rounding="half_up"
    )
    assert (first.status, second.status) == (QuoteStatus.SUPERSEDED, QuoteStatus.OPEN)
    assert second.number != first.number
    assert expire_quotes(session, date(2026, 12, 16)) == 1
    session.refresh(second)
    assert second.status == QuoteStatus.EXPIRED

"""Tax payoff quotes: the amount that pays a parcel's property tax off if paid on or before a
good-through date (docs/payoff-quotes.md).

A quote covers every open tax invoice of the parcel (all years and installments): each
installment's unpaid principal, the penalties and interest already posted (both as the one
account position, billing.position, says today), and those the town's penalty rule sets will
assess from today through the good-through date. The projection is the normal penalty
assessment (billing.penalty_service) run as of the good-through date on the parcel's invoices,
in a savepoint that is rolled back: the same rule sets, calendar and rounding, never a second
formula.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from accounts.models import Parcel
from billing.models import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    PayoffQuote,
    QuoteStatus,
    Requester,
)
from billing.penalty_service import assess_penalties
from billing.position import account_position
from core.audit import Actor, record
from core.numbering import next_number

#: How far ahead a quote may be good through, unless the town sets PAYOFF_QUOTE_MAX_DAYS.
MAX_DAYS = 90
OPEN = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)


class PayoffRefused(ValueError):
    """A quote that cannot be issued; `field` names what is wrong, nothing was written."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True)
class QuoteLine:
    """One installment of one tax invoice, as the quote and its letter list it."""

    invoice: str
    tax_year: int
    #: 0 for an invoice without installments.
    installment: int
    due_date: str
    principal_cents: int
    #: Penalties and interest posted and unpaid today.
    charges_cents: int
    #: Penalties and interest the rules will assess from today through the good-through date.
    projected_cents: int

    @property
    def total_cents(self) -> int:
        """What pays this installment off through the good-through date."""
        return self.principal_cents + self.charges_cents + self.projected_cents

    def as_json(self) -> dict:
        """The stored form (PayoffQuote.lines)."""
        return asdict(self) | {"total_cents": self.total_cents}


@dataclass(frozen=True)
class Requested:
    """Who the quote is for."""

    requester: str
    name: str
    address: str


def open_tax_invoices(session: Session, parcel_id: int) -> list[Invoice]:
    """The parcel's tax invoices that still owe something, oldest due first."""
    return list(
        session.scalars(
            sa.select(Invoice)
            .where(
                Invoice.parcel_id == parcel_id,
                Invoice.kind == InvoiceKind.TAX,
                Invoice.status.in_(OPEN),
            )
            .options(selectinload(Invoice.installments))
            .order_by(Invoice.due_date, Invoice.id)
        )
    )


def tax_invoice_ids(session: Session, parcel_id: int) -> list[int]:
    """Every tax invoice of the parcel, paid or not (a quote payment may settle only these)."""
    return list(
        session.scalars(
            sa.select(Invoice.id).where(
                Invoice.parcel_id == parcel_id, Invoice.kind == InvoiceKind.TAX
            )
        )
    )


def projected_charges(
    session: Session,
    invoices: list[Invoice],
    through: date,
    *,
    rounding: str,
    town_state: str,
) -> dict[tuple[str, int], int]:
    """The penalties and interest the assessment would post as of `through` and has not yet,
    by (invoice number, installment): the assessment itself, rolled back."""
    if not invoices:
        return {}
    result = assess_penalties(
        session,
        Actor.system("payoff quote"),
        as_of=through,
        rounding=rounding,
        dry_run=True,
        town_state=town_state,
        invoice_ids=[i.id for i in invoices],
    )
    projected: dict[tuple[str, int], int] = defaultdict(int)
    for number, installment, _category, cents in result.charged:
        projected[(number, installment)] += cents
    return dict(projected)


def quote_lines(
    session: Session,
    parcel: Parcel,
    through: date,
    today: date,
    *,
    rounding: str,
    town_state: str = "",
) -> list[QuoteLine]:
    """Each open installment of the parcel's tax: owed today (the position) and projected."""
    invoices = open_tax_invoices(session, parcel.id)
    position = account_position(session, parcel.owner_account_id, today)
    projected = projected_charges(
        session, invoices, through, rounding=rounding, town_state=town_state
    )
    lines = []
    for invoice in invoices:
        parts = sorted(invoice.installments, key=lambda i: i.number) or [None]
        for part in parts:
            number = part.number if part is not None else 0
            principal = part.balance_cents if part is not None else invoice.balance_cents
            owed = position.by_installment.get((invoice.id, number), 0)
            extra = projected.get((invoice.number, number), 0)
            if not (owed or extra):
                continue
            lines.append(
                QuoteLine(
                    invoice=invoice.number,
                    tax_year=invoice.period_start.year,
                    installment=number,
                    due_date=(part.due_date if part is not None else invoice.due_date).isoformat(),
                    principal_cents=principal,
                    charges_cents=owed - principal,
                    projected_cents=extra,
                )
            )
    return lines


def check_good_through(good_through: date, today: date, max_days: int) -> None:
    """Refuse a past date and one further ahead than the town quotes."""
    if good_through < today:
        raise PayoffRefused(
            "good_through",
            f"a payoff quote cannot be for a past date ({good_through.isoformat()} is before "
            f"today, {today.isoformat()})",
        )
    last = today + timedelta(days=max_days)
    if good_through > last:
        raise PayoffRefused(
            "good_through",
            f"a payoff quote can be good through at most {max_days} days ahead "
            f"({last.isoformat()})",
        )


def check_requested(requested: Requested) -> None:
    """Refuse an unknown requester or a missing name or address."""
    if requested.requester not in {r.value for r in Requester}:
        raise PayoffRefused("requester", "the requester is the owner, a title company or a lender")
    if not requested.name.strip() or len(requested.name.strip()) > 200:
        raise PayoffRefused("requester_name", "enter the requester's name (at most 200 characters)")
    if not requested.address.strip() or len(requested.address.strip()) > 500:
        raise PayoffRefused(
            "requester_address", "enter the requester's mailing address (at most 500 characters)"
        )


def expire_quotes(session: Session, today: date) -> int:
    """Mark the open quotes whose good-through date has passed as expired; how many."""
    result = session.execute(
        sa.update(PayoffQuote)
        .where(PayoffQuote.status == QuoteStatus.OPEN, PayoffQuote.good_through < today)
        .values(status=QuoteStatus.EXPIRED)
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount or 0


def quote(
    session: Session,
    actor: Actor,
    parcel: Parcel,
    good_through: date,
    requested: Requested,
    *,
    today: date,
    rounding: str,
    town_state: str = "",
    max_days: int = MAX_DAYS,
) -> PayoffQuote:
    """Issue and store a payoff quote for a parcel, good through a date; flushes.

    A parcel that owes nothing gets a quote of zero (its letter says nothing is owed), which a
    title company can close on.
    """
    check_good_through(good_through, today, max_days)
    check_requested(requested)
    lines = quote_lines(
        session, parcel, good_through, today, rounding=rounding, town_state=town_state
    )
    account = parcel.owner_account
    owner = requested.requester == Requester.OWNER
    for older in session.scalars(
        sa.select(PayoffQuote).where(
            PayoffQuote.parcel_id == parcel.id,
            PayoffQuote.status == QuoteStatus.OPEN,
            PayoffQuote.requester == Requester(requested.requester),
            PayoffQuote.requester_name == requested.name.strip(),
        )
    ):
        older.status = QuoteStatus.SUPERSEDED
    row = PayoffQuote(
        number=f"PQ-{today.year}-{next_number(session, 'payoff_quote', today.year):06d}",
        parcel_id=parcel.id,
        account_id=account.id,
        requester=Requester(requested.requester),
        requester_name=requested.name.strip(),
        requester_address=requested.address.strip(),
        language="es" if owner and str(account.language).lower() == "es" else "en",
        issued_on=today,
        good_through=good_through,
        amount_cents=sum(line.total_cents for line in lines),
        projected_cents=sum(line.projected_cents for line in lines),
        lines=[line.as_json() for line in lines],
        status=QuoteStatus.OPEN,
        issued_by=actor.label,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "payoff.quote",
        row,
        parcel=parcel.parcel_number,
        good_through=good_through.isoformat(),
        amount_cents=row.amount_cents,
        requester=requested.requester,
    )
    return row


def find_quote(session: Session, number: str) -> PayoffQuote | None:
    """A quote by its number."""
    return session.scalar(sa.select(PayoffQuote).where(PayoffQuote.number == number.strip()))


def owner_requested(parcel: Parcel) -> Requested:
    """The parcel's owner as the requester, at the owner account's mailing address."""
    account = parcel.owner_account
    street = "\n".join(s for s in (account.mail_street, account.mail_street2) if s)
    city = f"{account.mail_city}, {account.mail_state} {account.mail_zip}"
    return Requested(Requester.OWNER.value, account.holder_name, f"{street}\n{city}")


def issue(
    session: Session,
    actor: Actor,
    config: Mapping,
    parcel_number: str,
    good_through: date,
    requested: Requested | None,
    *,
    today: date,
) -> PayoffQuote:
    """Issue a quote for a parcel named by its number, with the town's settings; the owner
    asks when no requester is given. Flushes."""
    parcel = session.scalar(sa.select(Parcel).where(Parcel.parcel_number == parcel_number.strip()))
    if parcel is None:
        raise PayoffRefused("parcel", f"no parcel {parcel_number.strip()!r}")
    return quote(
        session,
        actor,
        parcel,
        good_through,
        requested or owner_requested(parcel),
        today=today,
        rounding=config["ROUNDING_RULE"],
        town_state=config.get("MUNICIPALITY_STATE", ""),
        max_days=int(config.get("PAYOFF_QUOTE_MAX_DAYS", MAX_DAYS)),
    )

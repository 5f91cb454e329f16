"""Recording, settling and failing payments.

A payment is recorded (pending) before anything reaches Stripe; it settles
invoices only when a verified success arrives (webhook or reconciliation).
Settling is idempotent and serialised per account, so two successes for the
same invoice at the same moment leave one paid invoice and the rest as credit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from accounts.models import Account
from billing.liens import LIEN_REFUSAL, closing_liens, redeem_liens, refusal_of
from billing.models import Invoice, Settlement, SettlementKind
from billing.receivables import fill
from billing.reconnection import reconnect_paid
from core.audit import Actor, record, record_many
from core.db import bulk_insert, utcnow
from core.money import format_cents
from core.numbering import reserve_numbers
from ledger import chart
from ledger.chart import gl_codes
from ledger.posting import EntrySpec, Posting, post_entries
from payments.allocation import Allocation, allocate
from payments.book import OPEN, Book, owed_items
from payments.discounts import honoured, settle_discounts
from payments.fee_charges import post_own_line_fees
from payments.models import CashDrawer, Channel, Payment, PaymentStatus, Receipt, Tender

#: What a payer reads while a payment of the same bills waits for Stripe's word.
BEING_CONFIRMED = "a payment for these bills is being confirmed; try again in a few minutes"


class PaymentRefused(ValueError):
    """A payment that cannot be made; `field` names what is wrong, nothing was recorded."""

    def __init__(
        self, field: str, message: str, template: str | None = None, params: dict | None = None
    ):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message
        #: The message as a sentence with %(name)s places, and their words, for a page that
        #: shows it in the reader's language (None: the message has no translation).
        self.template, self.params = template, params or {}


def _open_invoices(session: Session, account_id: int) -> list[Invoice]:
    """The account's invoices that still owe something, oldest due first."""
    query = (
        sa.select(Invoice)
        .where(Invoice.account_id == account_id, Invoice.status.in_(OPEN))
        .options(selectinload(Invoice.installments))
        .order_by(Invoice.due_date, Invoice.id)
    )
    return list(session.scalars(query))


def _chosen(session: Session, account: Account, invoice_numbers: list[str]) -> list[Invoice]:
    """The invoices a payer chose, each checked to be the account's and still open."""
    invoices = []
    for number in dict.fromkeys(invoice_numbers):  # each chosen bill once, in the order given
        invoice = session.scalar(sa.select(Invoice).where(Invoice.number == number))
        if invoice is None or invoice.account_id != account.id:
            raise PaymentRefused(
                "invoices", f"invoice {number} is not a bill of account {account.number}"
            )
        if invoice.status not in OPEN:
            raise PaymentRefused(
                "invoices", f"invoice {number} is {invoice.status.value.replace('_', ' ')}"
            )
        invoices.append(invoice)
    return invoices


def record_payment(
    session: Session,
    actor: Actor,
    *,
    account: Account,
    amount_cents: int,
    invoice_numbers: list[str],
    channel: Channel,
    tender: Tender,
    minimum_cents: int = 100,
    drawer: CashDrawer | None = None,
) -> Payment:
    """Check the amount against what is owed and record a pending payment; flushes."""
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        raise PaymentRefused("amount_cents", "enter an amount greater than zero")
    chosen = _chosen(session, account, invoice_numbers)
    if _being_confirmed(session, account.id, [i.id for i in chosen]):
        raise PaymentRefused("invoices", BEING_CONFIRMED)
    invoices = chosen or _open_invoices(session, account.id)
    # NOTE: a clerk's card page is the counter (a redemption is taken there); residents, quick
    # pay and autopay are not.
    if channel == Channel.ONLINE and actor.kind != "user":
        chosen, invoices = _open_online(session, chosen, invoices)
    owed = sum(item.balance_cents for item in owed_items(session, invoices))
    if owed == 0:
        raise PaymentRefused("invoices", "nothing is owed on this account")
    if amount_cents > owed:
        raise PaymentRefused(
            "amount_cents", f"the most you can pay is {format_cents(owed)}, what is owed"
        )
    if amount_cents < min(minimum_cents, owed):
        raise PaymentRefused(
            "amount_cents", f"the least you can pay is {format_cents(min(minimum_cents, owed))}"
        )
    payment = Payment(
        account_id=account.id,
        channel=channel,
        tender=tender,
        amount_cents=amount_cents,
        invoice_ids=[i.id for i in chosen],
        created_by=actor.label,
        drawer_id=drawer.id if drawer is not None else None,
    )
    session.add(payment)
    session.flush()
    record(
        session,
        actor,
        "payment.record",
        payment,
        amount_cents=amount_cents,
        invoices=[i.number for i in chosen],
    )
    return payment


def _open_online(
    session: Session, chosen: list[Invoice], invoices: list[Invoice]
) -> tuple[list[Invoice], list[Invoice]]:
    """The invoices an online payment may pay: a chosen invoice under a lien that closes online
    payment is refused with the reason; with none chosen ("pay everything"), the open invoices
    not under such a lien, pinned as chosen so the allocation pays only those."""
    closed = closing_liens(session, [i.id for i in invoices])
    if not closed:
        return chosen, invoices
    payable = [i for i in invoices if i.id not in closed]
    if chosen or not payable:
        message, params = refusal_of(closed)
        raise PaymentRefused("invoices", message, LIEN_REFUSAL, params)
    return payable, payable


def _being_confirmed(session: Session, account_id: int, invoice_ids: list[int]) -> bool:
    """True while a payment of the account that may pay these invoices has an unknown outcome."""
    # NOTE: no chosen invoices means the oldest first, which may be any of them; so an unknown
    # payment without chosen invoices, or a new one without, overlaps every other.
    unknown = session.scalars(
        sa.select(Payment.invoice_ids).where(
            Payment.account_id == account_id, Payment.status == PaymentStatus.UNKNOWN
        )
    ).all()
    return any(not ids or not invoice_ids or set(ids) & set(invoice_ids) for ids in unknown)


def _apply(
    settlements: list[dict],
    book: Book,
    payment: Payment,
    allocation: Allocation,
    on: date,
    now: datetime,
    penalty_gl: int,
    codes: dict[int, str],
) -> list[Posting]:
    """Lower the balances the allocation settles, add its settlement rows, return the receivable credits."""
    invoices = {i.id: i for i in book.invoices[payment.account_id]}
    charges = {c.id: c for i in invoices for c in book.charges[i]}
    credits: list[Posting] = []
    for part in allocation.parts:
        invoice = invoices[part.invoice_id]
        if part.charge_id is not None:
            charges[part.charge_id].balance_cents -= part.cents
            pieces = {penalty_gl: part.cents}
        else:
            outstanding = book.outstanding[invoice.id]
            pieces = fill(outstanding, part.cents)
            for gl_id, cents in pieces.items():
                outstanding[gl_id] -= cents
            invoice.balance_cents -= part.cents
            for installment in invoice.installments:
                if installment.number == part.installment_number:
                    installment.balance_cents -= part.cents
        for gl_id, cents in pieces.items():
            settlements.append(
                {
                    "invoice_id": invoice.id,
                    "installment_number": part.installment_number,
                    "charge_id": part.charge_id,
                    "receivable_gl_id": gl_id,
                    "kind": SettlementKind.PAYMENT,
                    "source_id": str(payment.id),
                    "amount_cents": cents,
                    "settled_on": on,
                    "created_at": now,
                }
            )
            credits.append(Posting(codes[gl_id], credit_cents=cents, account_id=invoice.account_id))
    for invoice_id in dict.fromkeys(part.invoice_id for part in allocation.parts):
        book.refresh_status(invoices[invoice_id])
    return credits


def settle_payments(
    session: Session,
    actor: Actor,
    payments: Sequence[tuple[Payment, date]],
    *,
    cash_gl: str,
    at: Mapping[int, datetime] | None = None,
) -> list[Receipt | None]:
    """Settle many succeeded payments in the caller's transaction with a few statements each batch.

    For each (payment, ledger date): allocate what its account owes, lower the
    balances, post the entry and issue the receipt, in payment id order, exactly
    as if they were settled one after another. A payment already settled gives
    None and changes nothing, so a batch is safe to run twice. `at` gives the
    moment of a payment by its id (Stripe's success) for its receipt; else now.
    """
    ids = sorted({p.id for p, _ in payments})
    if not ids:
        return []
    # NOTE: the row locks make a second settlement of the same payment wait, then see it settled.
    locked = {
        p.id: p
        for p in session.scalars(
            sa.select(Payment)
            .where(Payment.id.in_(ids))
            .order_by(Payment.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    due = sorted(
        {p.id: (locked[p.id], on) for p, on in payments}.values(), key=lambda item: item[0].id
    )
    due = [(p, on) for p, on in due if p.status != PaymentStatus.SUCCEEDED]
    receipts: dict[int, Receipt] = {}
    if due:
        receipts = _settle_stored(session, actor, due, cash_gl, at or {})
        post_own_line_fees(session, actor, due, cash_gl=cash_gl)
    return [receipts.get(p.id) for p, _ in payments]


def _settle_stored(
    session: Session,
    actor: Actor,
    due: list[tuple[Payment, date]],
    cash_gl: str,
    at: Mapping[int, datetime],
) -> dict[int, Receipt]:
    """Settle payments known to be unsettled and locked; returns their receipts by payment id."""
    book = Book.locked(session, {p.account_id for p, _ in due})
    settled = settle_in_book(session, book, due, cash_gl, at)
    receipts = {pid: Receipt(**values) for pid, values in settled.receipts.items()}
    session.add_all(receipts.values())
    session.flush()
    write_settled(session, actor, settled, book)
    return receipts


@dataclass
class Settled:
    """What settling a batch of payments comes to, before it is written."""

    #: The receipt's values by payment id (Receipt's columns).
    receipts: dict[int, dict] = field(default_factory=dict)
    settlements: list[dict] = field(default_factory=list)
    entries: list[EntrySpec] = field(default_factory=list)


def settle_in_book(
    session: Session,
    book: Book,
    due: Sequence[tuple[Payment, date]],
    cash_gl: str,
    at: Mapping[int, datetime],
) -> Settled:
    """Allocate each payment against its book in order, lower the balances there and mark it
    succeeded; the receipts, settlements and entries it comes to (nothing written yet)."""
    codes = gl_codes(session)
    penalty_gl = {code: gl_id for gl_id, code in codes.items()}[chart.PENALTY_RECEIVABLE]
    years = Counter(on.year for _, on in due)
    numbers = {
        year: iter(reserve_numbers(session, "receipt", year, n)) for year, n in years.items()
    }
    now = utcnow()
    done = Settled()
    settlements, entries = done.settlements, done.entries
    for payment, on in due:
        owed = book.owed(payment.account_id)
        chosen = payment.invoice_ids or None
        offers = [
            o for i in book.open_invoices(payment.account_id) for o in book.offers.get(i.id, [])
        ]
        grants = honoured(payment.amount_cents, owed, offers, on, only_invoices=chosen)
        owed_before = book.receivable[payment.account_id]
        postings = [Posting(cash_gl, debit_cents=payment.amount_cents)]
        discounted = settle_discounts(settlements, book, payment, grants, on, now, codes, entries)
        allocation = allocate(
            payment.amount_cents, book.owed(payment.account_id), only_invoices=chosen
        )
        owed_before -= discounted
        postings += _apply(settlements, book, payment, allocation, on, now, penalty_gl, codes)
        if allocation.credit_cents:
            postings.append(
                Posting(
                    chart.UNAPPLIED_CREDITS,
                    credit_cents=allocation.credit_cents,
                    account_id=payment.account_id,
                )
            )
        book.receivable[payment.account_id] = owed_before - allocation.applied_cents
        payment.status, payment.succeeded_at = PaymentStatus.SUCCEEDED, now
        payment.failure_code = payment.failure_message = None
        done.receipts[payment.id] = {
            "number": f"R-{on.year}-{next(numbers[on.year]):06d}",
            "payment_id": payment.id,
            "account_id": payment.account_id,
            "amount_cents": payment.amount_cents,
            "tender": payment.tender,
            "paid": [
                {
                    "invoice": p.invoice_number,
                    "installment": p.installment_number,
                    "category": p.category,
                    "cents": p.cents,
                }
                for p in allocation.parts
            ],
            "credit_cents": allocation.credit_cents,
            "balance_after_cents": owed_before - allocation.applied_cents,
            "issued_at": now,
            "paid_on": on,
            "paid_at": at.get(payment.id, now),
        }
        entries.append(
            EntrySpec(
                postings,
                entry_date=on,
                source_type="payment",
                source_id=str(payment.id),
                memo=f"Payment {payment.id} ({payment.tender.value}) "
                f"for account {book.numbers[payment.account_id]}",
            )
        )
    return done


def write_settled(session: Session, actor: Actor, settled: Settled, book: Book) -> None:
    """Write a batch's settlements, its audit events and its journal entries (receipts stored)."""
    bulk_insert(session, Settlement.__table__, settled.settlements)
    redeem_liens(session, actor, sorted({s["invoice_id"] for s in settled.settlements}))
    record_many(
        session,
        actor,
        "payment.settle",
        "Payment",
        {
            payment_id: {"receipt": values["number"], "credit_cents": values["credit_cents"]}
            for payment_id, values in settled.receipts.items()
        },
    )
    # NOTE: a shut-off account whose past-due bills this batch cleared gets its reconnection
    # order in this same transaction, whatever the channel and the hour (one query a batch).
    paid_at: dict[int, datetime] = {}
    for values in settled.receipts.values():
        moment = values["paid_at"]
        paid_at[values["account_id"]] = max(paid_at.get(values["account_id"], moment), moment)
    reconnect_paid(session, actor, paid_at)
    # NOTE: posted last: the ledger head is locked from here to the commit, so keep that short.
    post_entries(session, settled.entries, actor=actor, account_numbers=book.numbers)


def settle_payment(
    session: Session,
    actor: Actor,
    payment: Payment,
    *,
    on: date,
    cash_gl: str,
    at: datetime | None = None,
) -> Receipt | None:
    """Apply a succeeded payment to what its account owes, post it and issue its receipt.

    Safe to call twice: a payment already settled returns None and changes nothing.
    `at` is the moment of the payment (Stripe's), if not now.
    """
    moments = {payment.id: at} if at is not None else None
    return settle_payments(session, actor, [(payment, on)], cash_gl=cash_gl, at=moments)[0]


def fail_payment(
    session: Session, actor: Actor, payment: Payment, *, code: str | None, message: str
) -> bool:
    """Record why a payment failed, unless it already succeeded (a late failure changes nothing)."""
    if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED):
        return False
    payment.status, payment.failure_code, payment.failure_message = (
        PaymentStatus.FAILED,
        code,
        message[:500],
    )
    record(session, actor, "payment.fail", payment, code=code, message=message[:200])
    return True


def mark_unknown(session: Session, actor: Actor, payment: Payment, *, detail: str) -> bool:
    """Stripe gave no answer to the charge: the payment waits for the janitor to ask Stripe."""
    if payment.status != PaymentStatus.PENDING:
        return False
    payment.status = PaymentStatus.UNKNOWN
    record(session, actor, "payment.unknown", payment, detail=detail[:200])
    return True


def mark_payment(session: Session, actor: Actor, payment: Payment, status: PaymentStatus) -> bool:
    """Move a pending (or unknown) payment to pending, processing or canceled; a settled or
    failed one stays as it is."""
    if (
        payment.status
        not in (PaymentStatus.PENDING, PaymentStatus.PROCESSING, PaymentStatus.UNKNOWN)
        or payment.status == status
    ):
        return False
    payment.status = status
    record(session, actor, f"payment.{status.value}", payment)
    return True

"""Recording, settling and failing payments.

A payment is recorded (pending) before anything reaches Stripe; it settles
invoices only when a verified success arrives (webhook or reconciliation).
Settling is idempotent and serialised per account, so two successes for the
same invoice at the same moment leave one paid invoice and the rest as credit.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from accounts.models import Account
from billing.models import Invoice, InvoiceCharge, InvoiceStatus, Settlement, SettlementKind
from billing.receivables import fill, outstanding_by_receivables
from core.audit import Actor, record, record_many
from core.db import bulk_insert, utcnow
from core.money import format_cents
from core.numbering import reserve_numbers
from ledger import chart
from ledger.balances import accounts_receivable
from ledger.chart import gl_codes
from ledger.posting import EntrySpec, Posting, post_entries
from payments.allocation import Allocation, Owed, allocate
from payments.discounts import honoured, offers_of, settle_discounts
from payments.fee_charges import post_own_line_fees
from payments.models import CashDrawer, Channel, Payment, PaymentStatus, Receipt, Tender

OPEN = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)
#: What a payer reads while a payment of the same bills waits for Stripe's word.
BEING_CONFIRMED = "a payment for these bills is being confirmed; try again in a few minutes"


class PaymentRefused(ValueError):
    """A payment that cannot be made; `field` names what is wrong, nothing was recorded."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _open_invoices(session: Session, account_id: int) -> list[Invoice]:
    """The account's invoices that still owe something, oldest due first."""
    query = (
        sa.select(Invoice)
        .where(Invoice.account_id == account_id, Invoice.status.in_(OPEN))
        .options(selectinload(Invoice.installments))
        .order_by(Invoice.due_date, Invoice.id)
    )
    return list(session.scalars(query))


def _owed_charges(session: Session, invoice_ids: list[int]) -> list[InvoiceCharge]:
    """The penalties and interest still owed on the invoices (unwaived, with a balance)."""
    if not invoice_ids:
        return []
    return list(
        session.scalars(
            sa.select(InvoiceCharge)
            .where(
                InvoiceCharge.invoice_id.in_(invoice_ids),
                InvoiceCharge.balance_cents > 0,
                InvoiceCharge.waived_at.is_(None),
            )
            .order_by(InvoiceCharge.id)
        )
    )


def owed_items(session: Session, invoices: list[Invoice]) -> list[Owed]:
    """Everything the invoices still owe, as the allocation module sees it."""
    return _owed(invoices, _owed_charges(session, [i.id for i in invoices]))


def _owed(invoices: list[Invoice], charges: list[InvoiceCharge]) -> list[Owed]:
    """The invoices' principal (per installment) and their charges, as allocation items."""
    items = []
    for invoice in invoices:
        parts = [(i.number, i.due_date, i.balance_cents) for i in invoice.installments] or [
            (0, invoice.due_date, invoice.balance_cents)
        ]
        for number, due, balance in parts:
            if balance > 0:
                items.append(
                    Owed(invoice.id, invoice.number, due, number, None, "principal", None, balance)
                )
    due_of = {(i.id, n.number): n.due_date for i in invoices for n in i.installments}
    by_id = {i.id: i for i in invoices}
    for charge in charges:
        if charge.balance_cents <= 0 or charge.invoice_id not in by_id:
            continue
        invoice = by_id[charge.invoice_id]
        due = due_of.get((invoice.id, charge.installment_number), invoice.due_date)
        items.append(
            Owed(
                invoice.id,
                invoice.number,
                due,
                charge.installment_number,
                charge.id,
                charge.category.value,
                charge.assessed_on,
                charge.balance_cents,
            )
        )
    return items


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


class _Book:
    """What the accounts of a batch owe, read once under lock and kept current as payments settle."""

    def __init__(self, session: Session, account_ids: set[int]):
        # NOTE: invoices are locked in id order, the same order in every batch, so
        # two batches touching the same account queue instead of deadlocking.
        invoices = session.scalars(
            sa.select(Invoice)
            .where(Invoice.account_id.in_(account_ids), Invoice.status.in_(OPEN))
            .options(selectinload(Invoice.installments))
            .order_by(Invoice.id)
            .with_for_update(of=Invoice)
        ).all()
        self.invoices: dict[int, list[Invoice]] = defaultdict(list)
        for invoice in sorted(invoices, key=lambda i: (i.due_date, i.id)):
            self.invoices[invoice.account_id].append(invoice)
        self.charges: dict[int, list[InvoiceCharge]] = defaultdict(list)
        for charge in _owed_charges(session, [i.id for i in invoices]):
            self.charges[charge.invoice_id].append(charge)
        self.outstanding = outstanding_by_receivables(session, [i.id for i in invoices])
        self.offers = offers_of(session, [i.id for i in invoices])
        self.receivable = accounts_receivable(session, account_ids)
        self.numbers = dict(
            session.execute(
                sa.select(Account.id, Account.number).where(Account.id.in_(account_ids))
            ).all()
        )

    def open_invoices(self, account_id: int) -> list[Invoice]:
        """The account's invoices that still owe something now, oldest due first."""
        return [i for i in self.invoices[account_id] if i.status in OPEN]

    def owed(self, account_id: int) -> list[Owed]:
        """What the account owes now, as allocation items."""
        invoices = self.open_invoices(account_id)
        return _owed(invoices, [c for i in invoices for c in self.charges[i.id]])

    def refresh_status(self, invoice: Invoice) -> None:
        """Open, partially paid or paid from the balances held here (as billing.refresh_status)."""
        if invoice.balance_cents == 0 and not any(
            c.balance_cents for c in self.charges[invoice.id]
        ):
            invoice.status = InvoiceStatus.PAID
        elif invoice.balance_cents < invoice.total_cents:
            invoice.status = InvoiceStatus.PARTIALLY_PAID
        else:
            invoice.status = InvoiceStatus.OPEN


def _apply(
    settlements: list[dict],
    book: _Book,
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
        receipts = _settle(session, actor, due, cash_gl, at or {})
        post_own_line_fees(session, actor, due, cash_gl=cash_gl)
    return [receipts.get(p.id) for p, _ in payments]


def _settle(
    session: Session,
    actor: Actor,
    due: list[tuple[Payment, date]],
    cash_gl: str,
    at: Mapping[int, datetime],
) -> dict[int, Receipt]:
    """Settle payments known to be unsettled and locked; returns their receipts by payment id."""
    book = _Book(session, {p.account_id for p, _ in due})
    codes = gl_codes(session)
    penalty_gl = {code: gl_id for gl_id, code in codes.items()}[chart.PENALTY_RECEIVABLE]
    years = Counter(on.year for _, on in due)
    numbers = {
        year: iter(reserve_numbers(session, "receipt", year, n)) for year, n in years.items()
    }
    now = utcnow()
    receipts: dict[int, Receipt] = {}
    entries: list[EntrySpec] = []
    settlements: list[dict] = []
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
        receipt = Receipt(
            number=f"R-{on.year}-{next(numbers[on.year]):06d}",
            payment_id=payment.id,
            account_id=payment.account_id,
            amount_cents=payment.amount_cents,
            tender=payment.tender,
            paid=[
                {
                    "invoice": p.invoice_number,
                    "installment": p.installment_number,
                    "category": p.category,
                    "cents": p.cents,
                }
                for p in allocation.parts
            ],
            credit_cents=allocation.credit_cents,
            balance_after_cents=owed_before - allocation.applied_cents,
            issued_at=now,
            paid_on=on,
            paid_at=at.get(payment.id, now),
        )
        session.add(receipt)
        receipts[payment.id] = receipt
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
    session.flush()
    bulk_insert(session, Settlement.__table__, settlements)
    record_many(
        session,
        actor,
        "payment.settle",
        "Payment",
        {
            payment.id: {
                "receipt": receipts[payment.id].number,
                "credit_cents": receipts[payment.id].credit_cents,
            }
            for payment, _ in due
        },
    )
    # NOTE: posted last: the ledger head is locked from here to the commit, so keep that short.
    post_entries(session, entries, actor=actor, account_numbers=book.numbers)
    return receipts


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

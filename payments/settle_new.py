"""Payments recorded and settled at once, a whole file of them: lockbox and bill-pay items.

The same book, allocation, settlements, receipts and journal entries as every other
payment (payments.book.Book, payments.services.settle_in_book and write_settled: one truth);
only the reading and writing are done by the set. The open invoices of all the file's
accounts are read with a few Core queries under the same row locks, each payment is
written already settled, and payments, receipts, invoices and installments go in with
bulk statements (COPY and one UPDATE from arrays on PostgreSQL) instead of one ORM
object each. The journal is posted with post_entries, so the hash chain is the one a
payment at a time would give.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.models import Invoice, InvoiceInstallment, InvoiceStatus
from core.audit import Actor, record_many
from core.db import among, bulk_insert, utcnow
from core.numbering import reserve_ids
from payments.book import OPEN, Book
from payments.models import Channel, Payment, PaymentStatus, Receipt, Tender
from payments.services import settle_in_book, write_settled

#: Accounts whose open invoices are read by one query on SQLite (its limit of parameters).
READ_CHUNK = 5000


@dataclass
class NewPayment:
    """A payment not stored yet, settled as it is written: the fields settling reads and sets."""

    id: int
    account_id: int
    amount_cents: int
    tender: Tender
    tender_reference: str | None = None
    invoice_ids: list[int] = field(default_factory=list)
    status: PaymentStatus = PaymentStatus.PENDING
    succeeded_at: datetime | None = None
    failure_code: str | None = None
    failure_message: str | None = None


@dataclass
class _Installment:
    """An open invoice's installment as the book keeps it."""

    id: int
    number: int
    due_date: date
    balance_cents: int


@dataclass
class _Invoice:
    """An open invoice as the book keeps it (the fields an Invoice row offers the book)."""

    id: int
    number: str
    account_id: int
    due_date: date
    total_cents: int
    balance_cents: int
    status: InvoiceStatus
    installments: list[_Installment] = field(default_factory=list)


def new_payment_ids(session: Session, count: int) -> list[int]:
    """Ids for `count` payments about to be settled, in ascending order."""
    return sorted(reserve_ids(session, Payment.__table__, count))


def _open_invoices(session: Session, account_ids: list[int]) -> list[_Invoice]:
    """The accounts' open invoices with their installments, locked in id order (as Book.locked)."""
    table, parts = Invoice.__table__, InvoiceInstallment.__table__
    rows = session.execute(
        sa.select(
            table.c.id,
            table.c.number,
            table.c.account_id,
            table.c.due_date,
            table.c.total_cents,
            table.c.balance_cents,
            table.c.status,
        )
        .where(among(session, table.c.account_id, account_ids), table.c.status.in_(OPEN))
        .order_by(table.c.id)
        .with_for_update()
    ).all()
    invoices = {row.id: _Invoice(*row) for row in rows}
    if invoices:
        for row in session.execute(
            sa.select(parts.c.id, parts.c.invoice_id, parts.c.number, parts.c.due_date)
            .add_columns(parts.c.balance_cents)
            .where(among(session, parts.c.invoice_id, invoices))
            .order_by(parts.c.invoice_id, parts.c.number)
        ):
            invoices[row.invoice_id].installments.append(
                _Installment(row.id, row.number, row.due_date, row.balance_cents)
            )
    return list(invoices.values())


def _book(session: Session, account_ids: set[int]) -> Book:
    """The book of the accounts: on PostgreSQL one query, so that the invoices are locked in id
    order as every other settlement locks them (no deadlock); on SQLite, which locks the whole
    database, a chunk of accounts at a time."""
    book, ordered = Book(), sorted(account_ids)
    whole = session.get_bind().dialect.name == "postgresql"
    step = max(len(ordered), 1) if whole else READ_CHUNK
    for start in range(0, len(ordered), step):
        chunk = ordered[start : start + step]
        book.add(session, _open_invoices(session, chunk), set(chunk))
    return book


def settle_new_payments(
    session: Session,
    actor: Actor,
    payments: Sequence[NewPayment],
    *,
    on: date,
    cash_gl: str,
    channel: Channel,
) -> dict[int, dict]:
    """Record and settle new payments (ids from new_payment_ids) in id order, as settle_payments
    would one after another; returns their receipts' values by payment id. Flushes."""
    if not payments:
        return {}
    book = _book(session, {p.account_id for p in payments})
    before = _balances(book)
    settled = settle_in_book(session, book, [(p, on) for p in payments], cash_gl, {})
    _payment_rows(session, actor, payments, channel)
    _write_balances(session, book, before)
    bulk_insert(session, Receipt.__table__, list(settled.receipts.values()))
    write_settled(session, actor, settled, book)
    return settled.receipts


def _payment_rows(
    session: Session, actor: Actor, payments: Sequence[NewPayment], channel: Channel
) -> None:
    """The payments' rows as they stand once settled, and their record in the audit log."""
    now = utcnow()
    bulk_insert(
        session,
        Payment.__table__,
        [
            {
                "id": p.id,
                "account_id": p.account_id,
                "channel": channel,
                "tender": p.tender,
                "status": p.status,
                "amount_cents": p.amount_cents,
                "currency": "usd",
                "invoice_ids": p.invoice_ids,
                "tender_reference": p.tender_reference,
                "succeeded_at": p.succeeded_at,
                "created_by": actor.label,
                "created_at": now,
                "updated_at": now,
            }
            for p in payments
        ],
    )
    record_many(
        session,
        actor,
        "payment.record",
        "Payment",
        {str(p.id): {"amount_cents": p.amount_cents, "invoices": []} for p in payments},
    )


def _balances(book: Book) -> dict[tuple[str, int], tuple]:
    """What each invoice and installment of the book holds now, to write only what changes."""
    held: dict[tuple[str, int], tuple] = {}
    for invoices in book.invoices.values():
        for invoice in invoices:
            held[("invoice", invoice.id)] = (invoice.balance_cents, invoice.status)
            for part in invoice.installments:
                held[("installment", part.id)] = (part.balance_cents,)
    return held


def _write_balances(session: Session, book: Book, before: dict[tuple[str, int], tuple]) -> None:
    """Store the new balances (and statuses) of the invoices and installments that changed."""
    now = _balances(book)
    changed = [key for key, value in now.items() if before[key] != value]
    invoices = [(i, *now[("invoice", i)]) for kind, i in changed if kind == "invoice"]
    parts = [(i, *now[("installment", i)]) for kind, i in changed if kind == "installment"]
    _update(session, Invoice.__table__, invoices, ("balance_cents", "status"))
    _update(session, InvoiceInstallment.__table__, parts, ("balance_cents",))
    # NOTE: rows of these invoices the session already holds would show the old balances.
    ids = {Invoice: {row[0] for row in invoices}, InvoiceInstallment: {row[0] for row in parts}}
    for obj in list(session.identity_map.values()):
        if type(obj) in ids and obj.id in ids[type(obj)]:
            session.expire(obj)


def _update(session: Session, table: sa.Table, rows: list[tuple], columns: tuple[str, ...]):
    """Set columns of many rows by id: one UPDATE from arrays on PostgreSQL, executemany else."""
    if not rows:
        return
    values = [[v.value if isinstance(v, InvoiceStatus) else v for v in row] for row in rows]
    if session.get_bind().dialect.name == "postgresql":
        types = {"id": "bigint", "balance_cents": "bigint", "status": "varchar"}
        names = ("id", *columns)
        arrays = ", ".join(f"CAST(:{n} AS {types[n]}[])" for n in names)
        sets = ", ".join(f"{n} = v.{n}" for n in columns)
        statement = (
            f"UPDATE {table.name} SET {sets} "  # noqa: S608 - names from the model
            f"FROM unnest({arrays}) AS v({', '.join(names)}) WHERE {table.name}.id = v.id"
        )
        session.execute(
            sa.text(statement), {n: [row[k] for row in values] for k, n in enumerate(names)}
        )
        return
    session.execute(
        table.update()
        .where(table.c.id == sa.bindparam("row_id"))
        .values({n: sa.bindparam(f"new_{n}") for n in columns}),
        [
            {"row_id": row[0], **{f"new_{n}": row[k + 1] for k, n in enumerate(columns)}}
            for row in values
        ],
    )

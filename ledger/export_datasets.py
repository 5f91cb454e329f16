"""What each auditor export reads: its columns, tables, order and the column its period filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from core.db import UTCDateTime
from core.models import AuditEvent
from ledger.models import GLAccount, JournalEntry, JournalLine, subledger_account


@dataclass(frozen=True)
class Column:
    """One exported column: its name, its SQL expression and how its value is written."""

    name: str
    expr: Any
    #: text, int, date (YYYY-MM-DD), timestamp (UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ) or json.
    kind: str = "text"


@dataclass(frozen=True)
class Dataset:
    """What one export reads: columns, tables, order and the column its period filters."""

    name: str
    columns: tuple[Column, ...]
    source: Any
    order_by: tuple
    date_column: Any
    dated_by: str
    #: Filters beyond the period that this dataset takes.
    filters: tuple[str, ...] = ()


journal_entry = JournalEntry.__table__


journal_line = JournalLine.__table__


gl_account = GLAccount.__table__


_account = subledger_account


_reversed = journal_entry.alias("reversed_entry")


# NOTE: the tables of billing and payments are named here, not imported: the ledger imports
# only core. Each column named here exists in its model (tests/test_architecture.py).
_invoice = sa.table(
    "invoice",
    *(
        sa.column(n, sa.BigInteger)
        for n in (
            "id",
            "account_id",
            "total_cents",
            "balance_cents",
            "replaces_id",
            "billing_run_id",
            "parcel_id",
        )
    ),
    *(sa.column(n, sa.String) for n in ("number", "kind", "status", "void_reason")),
    *(sa.column(n, sa.Date) for n in ("period_start", "period_end", "issue_date", "due_date")),
    *(sa.column(n, UTCDateTime()) for n in ("created_at", "voided_at")),
)


_replaced = _invoice.alias("replaced_invoice")


_parcel = sa.table("parcel", sa.column("id", sa.BigInteger), sa.column("parcel_number", sa.String))


audit_event = AuditEvent.__table__


_payment = sa.table(
    "payment",
    *(sa.column(n, sa.BigInteger) for n in ("id", "account_id", "amount_cents", "fee_cents")),
    *(sa.column(n, UTCDateTime()) for n in ("created_at", "succeeded_at", "voided_at")),
    *(
        sa.column(n, sa.String)
        for n in (
            "channel",
            "tender",
            "status",
            "currency",
            "stripe_payment_intent_id",
            "tender_reference",
            "void_reason",
            "failure_code",
            "created_by",
        )
    ),
    sa.column("drawer_id", sa.BigInteger),
)


_receipt = sa.table(
    "receipt",
    sa.column("payment_id", sa.BigInteger),
    sa.column("number", sa.String),
    sa.column("issued_at", UTCDateTime()),
)


LEDGER = Dataset(
    "ledger",
    (
        Column("seq", journal_entry.c.seq, "int"),
        Column("entry_date", journal_entry.c.entry_date, "date"),
        Column("posted_at", journal_entry.c.posted_at, "timestamp"),
        Column("source_type", journal_entry.c.source_type),
        Column("source_id", journal_entry.c.source_id),
        Column("actor", journal_entry.c.actor_label),
        Column("memo", journal_entry.c.memo),
        Column("reverses_seq", _reversed.c.seq, "int"),
        Column("prev_hash", journal_entry.c.prev_hash),
        Column("hash", journal_entry.c.hash),
        Column("line", journal_line.c.position, "int"),
        Column("gl_code", gl_account.c.code),
        Column("account_number", _account.c.number),
        Column("debit_cents", journal_line.c.debit_cents, "int"),
        Column("credit_cents", journal_line.c.credit_cents, "int"),
    ),
    # NOTE: from the entries, so a checkpoint (an entry without lines) is one row whose
    # line columns are empty.
    journal_entry.outerjoin(journal_line, journal_line.c.entry_id == journal_entry.c.id)
    .outerjoin(gl_account, gl_account.c.id == journal_line.c.gl_account_id)
    .outerjoin(_account, _account.c.id == journal_line.c.account_id)
    .outerjoin(_reversed, _reversed.c.id == journal_entry.c.reverses_id),
    (journal_entry.c.seq, journal_line.c.position),
    journal_entry.c.entry_date,
    "entry_date",
    ("gl", "source", "through_seq"),
)


PAYMENTS = Dataset(
    "payments",
    (
        Column("id", _payment.c.id, "int"),
        Column("created_at", _payment.c.created_at, "timestamp"),
        Column("account_number", _account.c.number),
        Column("channel", _payment.c.channel),
        Column("tender", _payment.c.tender),
        Column("status", _payment.c.status),
        Column("amount_cents", _payment.c.amount_cents, "int"),
        Column("currency", _payment.c.currency),
        Column("fee_cents", _payment.c.fee_cents, "int"),
        Column("succeeded_at", _payment.c.succeeded_at, "timestamp"),
        Column("voided_at", _payment.c.voided_at, "timestamp"),
        Column("void_reason", _payment.c.void_reason),
        Column("failure_code", _payment.c.failure_code),
        Column("stripe_payment_intent_id", _payment.c.stripe_payment_intent_id),
        Column("tender_reference", _payment.c.tender_reference),
        Column("drawer_id", _payment.c.drawer_id, "int"),
        Column("created_by", _payment.c.created_by),
        Column("receipt_number", _receipt.c.number),
        Column("receipt_issued_at", _receipt.c.issued_at, "timestamp"),
    ),
    _payment.join(_account, _account.c.id == _payment.c.account_id).outerjoin(
        _receipt, _receipt.c.payment_id == _payment.c.id
    ),
    (_payment.c.id,),
    _payment.c.created_at,
    "created_at",
)


INVOICES = Dataset(
    "invoices",
    (
        Column("id", _invoice.c.id, "int"),
        Column("number", _invoice.c.number),
        Column("account_number", _account.c.number),
        Column("kind", _invoice.c.kind),
        Column("status", _invoice.c.status),
        Column("period_start", _invoice.c.period_start, "date"),
        Column("period_end", _invoice.c.period_end, "date"),
        Column("issue_date", _invoice.c.issue_date, "date"),
        Column("due_date", _invoice.c.due_date, "date"),
        Column("total_cents", _invoice.c.total_cents, "int"),
        Column("balance_cents", _invoice.c.balance_cents, "int"),
        Column("parcel_number", _parcel.c.parcel_number),
        Column("replaces_number", _replaced.c.number),
        Column("billing_run_id", _invoice.c.billing_run_id, "int"),
        Column("voided_at", _invoice.c.voided_at, "timestamp"),
        Column("void_reason", _invoice.c.void_reason),
        Column("created_at", _invoice.c.created_at, "timestamp"),
    ),
    _invoice.join(_account, _account.c.id == _invoice.c.account_id)
    .outerjoin(_parcel, _parcel.c.id == _invoice.c.parcel_id)
    .outerjoin(_replaced, _replaced.c.id == _invoice.c.replaces_id),
    (_invoice.c.id,),
    _invoice.c.issue_date,
    "issue_date",
)


AUDIT = Dataset(
    "audit",
    (
        Column("id", audit_event.c.id, "int"),
        Column("occurred_at", audit_event.c.occurred_at, "timestamp"),
        Column("actor_type", audit_event.c.actor_type),
        Column("actor_id", audit_event.c.actor_id),
        Column("actor", audit_event.c.actor_label),
        Column("action", audit_event.c.action),
        Column("object_type", audit_event.c.object_type),
        Column("object_id", audit_event.c.object_id),
        Column("origin", audit_event.c.origin),
        Column("summary", audit_event.c.summary, "json"),
    ),
    audit_event,
    (audit_event.c.id,),
    audit_event.c.occurred_at,
    "occurred_at",
    ("action", "actor"),
)


_deposit = sa.table(
    "deposit",
    *(sa.column(n, sa.BigInteger) for n in ("id", "account_id", "amount_cents", "held_cents")),
    sa.column("held_since", sa.Date),
    *(sa.column(n, sa.String) for n in ("source", "offset_gl_code", "status")),
)


_deposit_movement = sa.table(
    "deposit_movement",
    *(
        sa.column(n, sa.BigInteger)
        for n in ("id", "deposit_id", "amount_cents", "journal_entry_id")
    ),
    sa.column("moved_on", sa.Date),
    *(sa.column(n, sa.String) for n in ("kind", "reference", "recorded_by")),
)


#: The deposit register: every movement of every deposit, with the entry that booked it. The
#: signed amounts (held and interest +, applied and refunded -) add up to GL 2020's balance.
DEPOSITS = Dataset(
    "deposits",
    (
        Column("movement_id", _deposit_movement.c.id, "int"),
        Column("moved_on", _deposit_movement.c.moved_on, "date"),
        Column("deposit_id", _deposit.c.id, "int"),
        Column("account_number", _account.c.number),
        Column("held_since", _deposit.c.held_since, "date"),
        Column("source", _deposit.c.source),
        Column("kind", _deposit_movement.c.kind),
        Column(
            "signed_cents",
            sa.case(
                (
                    _deposit_movement.c.kind.in_(["held", "interest"]),
                    _deposit_movement.c.amount_cents,
                ),
                else_=-_deposit_movement.c.amount_cents,
            ),
            "int",
        ),
        Column("reference", _deposit_movement.c.reference),
        Column("entry_seq", journal_entry.c.seq, "int"),
        Column("recorded_by", _deposit_movement.c.recorded_by),
        Column("status_now", _deposit.c.status),
        Column("held_now_cents", _deposit.c.held_cents, "int"),
    ),
    _deposit_movement.join(_deposit, _deposit.c.id == _deposit_movement.c.deposit_id)
    .join(_account, _account.c.id == _deposit.c.account_id)
    .join(journal_entry, journal_entry.c.id == _deposit_movement.c.journal_entry_id),
    (_deposit_movement.c.id,),
    _deposit_movement.c.moved_on,
    "moved_on",
)


DATASETS = {d.name: d for d in (LEDGER, PAYMENTS, INVOICES, AUDIT, DEPOSITS)}

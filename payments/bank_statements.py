"""Importing a bank statement: read it, match every line to the books, clear or queue it.

All or nothing in the caller's transaction, and set-based: one query per kind of book item
(open deposits, payouts not yet seen on a statement), the decisions made in memory
(payments.statement_matching), then bulk writes: the statement, its lines, one ledger entry
per deposit the bank credited (Dr 1000 Bank / Cr 1050, as `confirm_at_bank` posts it) and per
bank fee (Dr 5400 Bank service charges / Cr 1000), and one reconciliation item per line left
for the clerks (docs/bank-statements.md).
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.audit import Actor, record, record_many
from core.db import bulk_insert, utcnow
from core.money import format_cents
from ledger import chart
from ledger.models import GLAccount, JournalEntry, JournalLine
from ledger.posting import EntrySpec, Posting, post_entries
from payments.models import (
    BankDeposit,
    BankDepositStatus,
    ReconciliationItem,
    ReconciliationKind,
    ReconciliationStatus,
)
from payments.statement_files import ParsedStatement, StatementRefused, read_statement
from payments.statement_matching import BookItem, Decision, FeeRule, match_lines
from payments.statement_models import BankStatement, BankStatementLine, LineStatus, MatchKind

#: How far before a statement's first line payouts are looked for.
PAYOUT_LOOKBACK_DAYS = 10


@dataclass
class StatementReport:
    """What an import did."""

    statement: BankStatement
    matched: int = 0
    fees: int = 0
    queued: list[Decision] = field(default_factory=list)


def fee_rule_from(config: Mapping) -> FeeRule:
    """The bank fee rule of the settings (BANK_FEE_TYPE_CODES, _PATTERNS, _MAX_CENTS)."""
    default = FeeRule()
    return FeeRule(
        type_codes=frozenset(config.get("BANK_FEE_TYPE_CODES", default.type_codes)),
        patterns=tuple(config.get("BANK_FEE_PATTERNS", default.patterns)),
        max_cents=int(config.get("BANK_FEE_MAX_CENTS", default.max_cents)),
    )


def line_key(statement_id: int, number: int) -> str:
    """The reconciliation item's and the fee entry's name for a statement line."""
    return f"BS-{statement_id}-{number}"


def import_statement(
    session: Session,
    actor: Actor,
    data: bytes,
    *,
    filename: str,
    layout: str = "bai2",
    fee_rule: FeeRule,
) -> StatementReport:
    """Import one statement file: refused whole if it was imported before or does not hold."""
    with _no_cycle_collection():
        return _import(session, actor, data, filename=filename, layout=layout, fee_rule=fee_rule)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector for the import, and start it again after.

    NOTE: a statement of 50,000 lines allocates a few million small objects that hold no
    cycles; the collector would walk all of them again and again (a third of the time).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _import(
    session: Session, actor: Actor, data: bytes, *, filename: str, layout: str, fee_rule: FeeRule
) -> StatementReport:
    """The import's steps, in the caller's transaction."""
    digest = hashlib.sha256(data).hexdigest()
    earlier = session.scalar(sa.select(BankStatement).where(BankStatement.sha256 == digest))
    if earlier is not None:
        raise StatementRefused(
            f"this file was imported already (statement {earlier.id} of "
            f"{earlier.statement_date}, {earlier.filename})"
        )
    parsed = read_statement(data, layout)
    _refuse_second_statement(session, parsed)
    decisions = match_lines(parsed.lines, _book_items(session, parsed), fee_rule)
    statement = _statement(session, actor, parsed, decisions, digest, filename)
    report = StatementReport(statement)
    _confirm_deposits(session, actor, statement, decisions)
    _post_fees(session, actor, statement, decisions)
    _write_lines(session, statement, decisions)
    report.queued = _queue(session, statement, decisions)
    report.fees = sum(1 for d in decisions if d.kind == MatchKind.BANK_FEE)
    report.matched = len(decisions) - report.fees - len(report.queued)
    record(
        session,
        actor,
        "bank_statement.import",
        statement,
        filename=filename,
        account=parsed.bank_account,
        statement_date=parsed.statement_date,
        lines=len(decisions),
        matched=report.matched,
        fees=report.fees,
        queued=len(report.queued),
    )
    return report


def _refuse_second_statement(session: Session, parsed: ParsedStatement) -> None:
    """Refuse a statement of an account, date and sequence already imported."""
    earlier = session.scalar(
        sa.select(BankStatement).where(
            BankStatement.bank_account == parsed.bank_account,
            BankStatement.statement_date == parsed.statement_date,
            BankStatement.sequence == parsed.sequence,
        )
    )
    if earlier is not None:
        raise StatementRefused(
            f"the statement of account {parsed.bank_account} for {parsed.statement_date}"
            + (f" (number {parsed.sequence})" if parsed.sequence else "")
            + f" was imported already from {earlier.filename}"
        )


def _book_items(session: Session, parsed: ParsedStatement) -> list[BookItem]:
    """Open deposits and the payouts not yet seen on a statement: one query each."""
    deposits = session.execute(
        sa.select(
            BankDeposit.id, BankDeposit.number, BankDeposit.amount_cents, BankDeposit.made_on
        ).where(BankDeposit.status == BankDepositStatus.IN_TRANSIT)
    ).all()
    items = [BookItem(MatchKind.BANK_DEPOSIT.value, n, c, d, i) for i, n, c, d in deposits]
    if not parsed.lines:
        return items
    first = min(line.value_date for line in parsed.lines)
    last = max(line.value_date for line in parsed.lines)
    seen = sa.select(BankStatementLine.matched_ref).where(
        BankStatementLine.matched_kind == MatchKind.PAYOUT
    )
    payouts = session.execute(
        sa.select(JournalEntry.source_id, JournalLine.debit_cents, JournalEntry.entry_date)
        .join(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
        .where(
            JournalEntry.source_type == "payout",
            GLAccount.code == chart.BANK,
            JournalLine.debit_cents > 0,
            JournalEntry.entry_date >= first - timedelta(days=PAYOUT_LOOKBACK_DAYS),
            JournalEntry.entry_date <= last,
            JournalEntry.source_id.not_in(seen),
        )
    ).all()
    return items + [BookItem(MatchKind.PAYOUT.value, p, c, d) for p, c, d in payouts]


def _statement(session, actor, parsed, decisions, digest, filename) -> BankStatement:
    """The statement row, flushed for its id."""
    fees = sum(1 for d in decisions if d.kind == MatchKind.BANK_FEE)
    queued = sum(1 for d in decisions if d.kind is None)
    statement = BankStatement(
        bank_account=parsed.bank_account,
        statement_date=parsed.statement_date,
        sequence=parsed.sequence,
        format=parsed.format,
        layout=parsed.layout,
        filename=filename[:255],
        sha256=digest,
        opening_ledger_cents=parsed.opening_cents,
        closing_ledger_cents=parsed.closing_cents,
        line_count=len(parsed.lines),
        credit_cents=sum(line.amount_cents for line in parsed.lines if line.amount_cents > 0),
        debit_cents=-sum(line.amount_cents for line in parsed.lines if line.amount_cents < 0),
        matched_count=len(decisions) - fees - queued,
        fee_count=fees,
        queued_count=queued,
        imported_by=actor.label,
    )
    session.add(statement)
    session.flush()
    return statement


def _confirm_deposits(session, actor, statement: BankStatement, decisions) -> None:
    """Each matched deposit reached the bank on the line's date: Dr 1000 / Cr 1050, once."""
    found = {d.ref: d.line for d in decisions if d.kind == MatchKind.BANK_DEPOSIT}
    if not found:
        return
    deposits = {
        d.ref: (d.item_id, d.line.amount_cents)
        for d in decisions
        if d.kind == MatchKind.BANK_DEPOSIT
    }
    reached = {deposits[number][0]: line.value_date for number, line in found.items()}
    if _mark_at_bank(session, actor, reached) != len(found):
        raise StatementRefused("a deposit on this statement was confirmed meanwhile: try again")
    post_entries(
        session,
        [
            EntrySpec(
                [
                    Posting(chart.BANK, debit_cents=cents),
                    Posting(chart.DEPOSITS_IN_TRANSIT, credit_cents=cents),
                ],
                found[number].value_date,
                "bank_deposit",
                number,
                f"Bank deposit {number} reached the bank (statement {statement.id}, "
                f"line {found[number].number})",
            )
            for number, (_id, cents) in deposits.items()
        ],
        actor=actor,
    )
    record_many(
        session,
        actor,
        "bank_deposit.at_bank",
        "BankDeposit",
        {
            deposit_id: {"reached_on": found[number].value_date, "statement": statement.id}
            for number, (deposit_id, _cents) in deposits.items()
        },
    )


def _mark_at_bank(session: Session, actor: Actor, reached: dict) -> int:
    """Flip deposits in transit to at the bank on their dates; how many flipped.

    NOTE: the status flips by a conditional UPDATE, as confirm_at_bank does: a deposit a clerk
    confirmed meanwhile is not counted, and the caller refuses the whole import.
    """
    now = utcnow()
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        return connection.execute(
            sa.text(
                "UPDATE bank_deposit AS d SET status = 'at_bank', reached_bank_on = v.day, "
                "confirmed_by = :by, confirmed_at = :at "
                "FROM unnest(CAST(:ids AS bigint[]), CAST(:days AS date[])) AS v(id, day) "
                "WHERE d.id = v.id AND d.status = 'in_transit'"
            ),
            {"ids": list(reached), "days": list(reached.values()), "by": actor.label, "at": now},
        ).rowcount
    table = BankDeposit.__table__
    return connection.execute(
        table.update()
        .where(
            table.c.id == sa.bindparam("deposit_id"),
            table.c.status == BankDepositStatus.IN_TRANSIT.value,
        )
        .values(
            status=BankDepositStatus.AT_BANK.value,
            reached_bank_on=sa.bindparam("day"),
            confirmed_by=actor.label,
            confirmed_at=now,
        ),
        [{"deposit_id": i, "day": day} for i, day in reached.items()],
    ).rowcount


def _post_fees(session, actor, statement: BankStatement, decisions: list[Decision]) -> None:
    """Each bank fee the rule took: Dr 5400 Bank service charges / Cr 1000 Bank."""
    fees = [d.line for d in decisions if d.kind == MatchKind.BANK_FEE]
    post_entries(
        session,
        [
            EntrySpec(
                [
                    Posting(chart.BANK_FEES, debit_cents=-line.amount_cents),
                    Posting(chart.BANK, credit_cents=-line.amount_cents),
                ],
                line.value_date,
                "bank_fee",
                line_key(statement.id, line.number),
                f"Bank fee {format_cents(-line.amount_cents)} on statement {statement.id} "
                f"line {line.number}: {line.text[:120]}",
            )
            for line in fees
        ],
        actor=actor,
    )


def _write_lines(session, statement: BankStatement, decisions: list[Decision]) -> None:
    """Every line with what it matched, in one bulk insert."""
    rows = []
    for d in decisions:
        line = d.line
        if d.kind == MatchKind.BANK_FEE:
            status, ref = LineStatus.FEE_POSTED, line_key(statement.id, line.number)
        elif d.kind is not None:
            status, ref = LineStatus.MATCHED, d.ref
        else:
            status, ref = LineStatus.QUEUED, None
        rows.append(
            {
                "statement_id": statement.id,
                "number": line.number,
                "amount_cents": line.amount_cents,
                "type_code": line.type_code,
                "bank_reference": line.bank_reference,
                "customer_reference": line.customer_reference,
                "text": line.text,
                "value_date": line.value_date,
                # NOTE: plain values: bulk_insert reads the first row's types, and kind may be None.
                "status": status.value,
                "matched_kind": d.kind,
                "matched_ref": ref,
                "rule": d.rule,
            }
        )
    bulk_insert(session, BankStatementLine.__table__, rows)


def _queue(session, statement: BankStatement, decisions: list[Decision]) -> list[Decision]:
    """One reconciliation item per line nothing matched, beside the Stripe items."""
    queued = [d for d in decisions if d.kind is None]
    now = utcnow()
    bulk_insert(
        session,
        ReconciliationItem.__table__,
        [
            {
                "kind": ReconciliationKind.BANK_CREDIT_UNMATCHED
                if d.line.amount_cents > 0
                else ReconciliationKind.BANK_DEBIT_UNMATCHED,
                "stripe_id": line_key(statement.id, d.line.number),
                "payment_id": None,
                "ours": {},
                "theirs": {
                    "statement": statement.id,
                    "account": statement.bank_account,
                    "line": d.line.number,
                    "amount_cents": d.line.amount_cents,
                    "type_code": d.line.type_code,
                    "value_date": d.line.value_date.isoformat(),
                    "bank_reference": d.line.bank_reference,
                    "customer_reference": d.line.customer_reference,
                    "text": d.line.text,
                },
                "suggestion": _suggestion(d)[:500],
                "status": ReconciliationStatus.OPEN,
                "created_at": now,
            }
            for d in queued
        ],
    )
    return queued


def _suggestion(d: Decision) -> str:
    """What the clerk should look at, in the clerk's words."""
    if d.line.amount_cents > 0:
        return (
            f"The bank credited {format_cents(d.line.amount_cents)} on {d.line.value_date}: "
            f"{d.reason}. Find the deposit or payout (mark a deposit at the bank by hand), or "
            "have the finance office post what it is; then resolve with what was done."
        )
    return (
        f"The bank debited {format_cents(-d.line.amount_cents)} on {d.line.value_date}: "
        f"{d.reason}. A returned item or a fee above the limit: have the finance office post "
        "it, then resolve with what was done."
    )

"""The auditor's reading of the books: journal entries by date, GL account and source, each
with its lines, source document and actor; the trial balance as of any date; the audit log.

Plain reads with filters and pages; nothing here changes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account
from core.models import AuditEvent
from ledger.models import GLAccount, JournalEntry, JournalLine

PAGE = 100


@dataclass(frozen=True)
class EntryFilter:
    """Which journal entries to show."""

    start: date | None = None
    end: date | None = None
    gl_code: str | None = None
    source_type: str | None = None


@dataclass
class EntryView:
    """A journal entry with its lines, as the ledger page shows it."""

    entry: JournalEntry
    lines: list = field(default_factory=list)

    @property
    def debits(self) -> int:
        return sum(line.debit_cents for line in self.lines)

    @property
    def credits(self) -> int:
        return sum(line.credit_cents for line in self.lines)


def entries(session: Session, wanted: EntryFilter, page: int = 1) -> tuple[list[EntryView], bool]:
    """One page of entries, oldest first, and whether another page follows."""
    query = sa.select(JournalEntry).order_by(JournalEntry.seq)
    if wanted.start:
        query = query.where(JournalEntry.entry_date >= wanted.start)
    if wanted.end:
        query = query.where(JournalEntry.entry_date <= wanted.end)
    if wanted.source_type:
        query = query.where(JournalEntry.source_type == wanted.source_type)
    if wanted.gl_code:
        query = query.where(
            JournalEntry.id.in_(
                sa.select(JournalLine.entry_id)
                .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
                .where(GLAccount.code == wanted.gl_code)
            )
        )
    rows = list(session.scalars(query.offset((page - 1) * PAGE).limit(PAGE + 1)))
    more = len(rows) > PAGE
    views = {row.id: EntryView(row) for row in rows[:PAGE]}
    if views:
        lines = session.execute(
            sa.select(
                JournalLine.entry_id,
                GLAccount.code,
                GLAccount.name,
                Account.number,
                JournalLine.debit_cents,
                JournalLine.credit_cents,
            )
            .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
            .outerjoin(Account, Account.id == JournalLine.account_id)
            .where(JournalLine.entry_id.in_(list(views)))
            .order_by(JournalLine.entry_id, JournalLine.position)
        )
        for line in lines:
            views[line.entry_id].lines.append(line)
    return list(views.values()), more


def source_types(session: Session) -> list[str]:
    """Every kind of source document the journal holds."""
    return list(
        session.scalars(
            sa.select(JournalEntry.source_type).distinct().order_by(JournalEntry.source_type)
        )
    )


def gl_accounts(session: Session) -> list[GLAccount]:
    return list(session.scalars(sa.select(GLAccount).order_by(GLAccount.code)))


@dataclass(frozen=True)
class AuditFilter:
    """Which audit events to show."""

    action: str | None = None
    actor: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def audit_events(session: Session, wanted: AuditFilter, page: int = 1) -> tuple[list, bool]:
    """One page of the audit log, newest first (an action filter matches its prefix)."""
    query = sa.select(AuditEvent).order_by(AuditEvent.id.desc())
    if wanted.action:
        query = query.where(AuditEvent.action.startswith(wanted.action, autoescape=True))
    if wanted.actor:
        query = query.where(AuditEvent.actor_label == wanted.actor)
    if wanted.object_type:
        query = query.where(AuditEvent.object_type == wanted.object_type)
    if wanted.object_id:
        query = query.where(AuditEvent.object_id == wanted.object_id)
    if wanted.since:
        query = query.where(AuditEvent.occurred_at >= wanted.since)
    if wanted.until:
        query = query.where(AuditEvent.occurred_at < wanted.until)
    rows = list(session.scalars(query.offset((page - 1) * PAGE).limit(PAGE + 1)))
    return rows[:PAGE], len(rows) > PAGE


def summary_lines(summary: dict | None) -> list[str]:
    """An audit event's facts as "key: value" lines, and each change as "key: before → after"."""
    facts = dict(summary or {})
    before, after = facts.pop("before", None), facts.pop("after", None)
    lines = [f"{key}: {value}" for key, value in _flattened(facts)]
    if isinstance(before, dict):  # a change: each key from what it was to what it became
        became = after if isinstance(after, dict) else {}
        for key in dict.fromkeys([*before, *became]):
            lines.append(f"{key}: {_text(before.get(key))} → {_text(became.get(key))}")
    elif isinstance(after, dict):  # something made: what it was made with
        lines += [f"{key}: {value}" for key, value in _flattened(after)]
    else:
        pairs = (("before", before), ("after", after))
        lines += [f"{name}: {_text(value)}" for name, value in pairs if value is not None]
    return lines


def _flattened(values: dict, prefix: str = "") -> list[tuple[str, str]]:
    """A summary's keys and values as text, nested keys joined by dots."""
    pairs: list[tuple[str, str]] = []
    for key, value in values.items():
        if isinstance(value, dict) and value:
            pairs += _flattened(value, f"{prefix}{key}.")
        else:
            pairs.append((f"{prefix}{key}", _text(value)))
    return pairs


def _text(value) -> str:
    """One value as a person reads it: none as "—", yes/no, lists joined by commas."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value) if value else "none"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_text(item)}" for key, item in value.items()) or "none"
    return str(value)

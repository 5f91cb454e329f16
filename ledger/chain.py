"""The ledger's hash chain: the canonical form of a journal entry and its hash.

Pure module. docs/ledger.md describes the same computation so that an auditor
can recheck an export with ordinary tools (Python, jq and sha256sum).

    hash(entry) = sha256( canonical_json(entry including prev_hash) )

where canonical_json has sorted keys, no spaces, ASCII only, and the fields
listed in `entry_document`. The first entry's prev_hash is GENESIS.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

GENESIS = "0" * 64


@dataclass(frozen=True)
class LineFacts:
    """The hashed facts of one journal line."""

    gl_code: str
    account_number: str | None
    debit_cents: int
    credit_cents: int


@dataclass(frozen=True)
class EntryFacts:
    """The hashed facts of one journal entry."""

    seq: int
    prev_hash: str
    entry_date: date
    posted_at: datetime
    source_type: str
    source_id: str | None
    memo: str
    actor: str
    reverses_seq: int | None
    lines: tuple[LineFacts, ...]


def timestamp(value: datetime) -> str:
    """UTC to the microsecond, e.g. 2026-11-26T12:00:00.000000Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_document(facts: EntryFacts) -> dict:
    """The JSON document whose canonical bytes are hashed."""
    return {
        "seq": facts.seq,
        "prev_hash": facts.prev_hash,
        "entry_date": facts.entry_date.isoformat(),
        "posted_at": timestamp(facts.posted_at),
        "source_type": facts.source_type,
        "source_id": facts.source_id,
        "memo": facts.memo,
        "actor": facts.actor,
        "reverses_seq": facts.reverses_seq,
        "lines": [
            {
                "gl": line.gl_code,
                "account": line.account_number,
                "debit": line.debit_cents,
                "credit": line.credit_cents,
            }
            for line in facts.lines
        ],
    }


def canonical_bytes(document: dict) -> bytes:
    """Sorted keys, no whitespace, ASCII: the same bytes on every machine."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def entry_hash(facts: EntryFacts) -> str:
    """The SHA-256 hex digest of the entry's canonical form."""
    return hashlib.sha256(canonical_bytes(entry_document(facts))).hexdigest()


def is_balanced(lines: Iterable[LineFacts]) -> bool:
    """Debits equal credits, and there is something on both sides."""
    lines = list(lines)
    debits = sum(line.debit_cents for line in lines)
    credits = sum(line.credit_cents for line in lines)
    return debits == credits and debits > 0

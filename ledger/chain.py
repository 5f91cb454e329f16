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


#: The source type of a checkpoint: a chain record with no lines (docs/ledger.md, "Checkpoints").
CHECKPOINT_SOURCE = "ledger_checkpoint"


@dataclass(frozen=True)
class CheckpointFacts:
    """What a verify established: the chain held through entry verified_seq, whose hash it names."""

    verified_seq: int
    verified_hash: str
    #: The first entry this verify walked (1 for a full verify).
    from_seq: int
    #: How many entries it walked.
    entries: int
    #: "full" or "incremental".
    mode: str
    verified_at: datetime
    #: Who verified: the actor of the checkpoint's journal entry.
    by: str


def checkpoint_document(facts: CheckpointFacts) -> dict:
    """The JSON document whose canonical bytes are the checkpoint's own hash."""
    return {
        "verified_seq": facts.verified_seq,
        "verified_hash": facts.verified_hash,
        "from_seq": facts.from_seq,
        "entries": facts.entries,
        "mode": facts.mode,
        "verified_at": timestamp(facts.verified_at),
        "by": facts.by,
    }


def checkpoint_hash(facts: CheckpointFacts) -> str:
    """The SHA-256 hex digest of the checkpoint's canonical form."""
    return hashlib.sha256(canonical_bytes(checkpoint_document(facts))).hexdigest()


def checkpoint_memo(checkpoint_id: int, facts: CheckpointFacts) -> str:
    """The memo of the checkpoint's journal entry: its facts and hash as canonical JSON.

    "by" is left out: it is the entry's actor, which the entry's hash covers already.
    """
    document = checkpoint_document(facts)
    del document["by"]
    document["checkpoint"] = checkpoint_id
    document["hash"] = checkpoint_hash(facts)
    return canonical_bytes(document).decode()


def checkpoint_entry_problem(facts: EntryFacts) -> str | None:
    """What is wrong with a checkpoint's journal entry, or None.

    It has no lines; its memo names the entry just before it (seq and hash), and the
    checkpoint hash in its memo is the hash of the facts it states.
    """
    if facts.lines:
        return "is a checkpoint but has lines"
    try:
        memo = json.loads(facts.memo)
        stated = CheckpointFacts(
            verified_seq=memo["verified_seq"],
            verified_hash=memo["verified_hash"],
            from_seq=memo["from_seq"],
            entries=memo["entries"],
            mode=memo["mode"],
            verified_at=datetime.strptime(memo["verified_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=UTC
            ),
            by=facts.actor,
        )
        if memo["checkpoint"] is None or str(memo["checkpoint"]) != facts.source_id:
            return "is a checkpoint whose memo names another checkpoint"
        claimed = memo["hash"]
    except (ValueError, KeyError, TypeError):
        return "is a checkpoint whose memo is not a checkpoint's facts"
    if (stated.verified_seq, stated.verified_hash) != (facts.seq - 1, facts.prev_hash):
        return "is a checkpoint that does not name the entry just before it"
    if checkpoint_hash(stated) != claimed:
        return "is a checkpoint whose hash does not match its facts (it was altered)"
    return None

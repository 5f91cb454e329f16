"""Scheduled ledger work: verifying the hash chain (see scheduler.py and docs/ledger.md).

Each night an incremental verify walks the entries posted since the latest checkpoint;
each week a full verify walks the whole chain, so a change to an entry before the latest
checkpoint is found within a week. A verify that finds a problem fails the job (recorded
with the problem, e-mailed to OPERATIONS_EMAIL) and stores no checkpoint.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.jobs import JobContext
from ledger.checkpoints import CheckedChain, verify_full, verify_incremental


class ChainBroken(RuntimeError):
    """The hash chain does not verify; the message names the first entry that does not match."""


def _result(session: Session, context: JobContext, checked: CheckedChain) -> dict:
    """The run's counts; raise when the chain does not verify."""
    if not checked.ok:
        session.rollback()
        raise ChainBroken(checked.report.problem)
    if context.dry_run:
        session.rollback()
    point = checked.checkpoint
    return {
        "entries_checked": checked.report.checked,
        "verified_through": checked.report.length,
        "checkpoint": 0 if point is None or context.dry_run else point.id,
        **({"no_checkpoint_before": 1} if checked.no_checkpoint else {}),
    }


def verify_ledger(session: Session, context: JobContext) -> dict:
    """Re-check the latest checkpoint, verify the entries after it, store a new checkpoint."""
    checked = verify_incremental(session, context.actor, context.as_of)
    return _result(session, context, checked)


def verify_ledger_full(session: Session, context: JobContext) -> dict:
    """Verify the whole chain and every checkpoint, and store a new checkpoint."""
    checked = verify_full(session, context.actor, context.as_of)
    return _result(session, context, checked)

"""Residents' questions and disputes about a bill."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal.models import Question


def questions_by_invoice(session: Session, account_id: int) -> dict[int, list[Question]]:
    """The account's questions, oldest first, by invoice id (the bill page shows them)."""
    rows = session.scalars(
        sa.select(Question).where(Question.account_id == account_id).order_by(Question.id)
    ).all()
    grouped: dict[int, list[Question]] = {}
    for row in rows:
        grouped.setdefault(row.invoice_id, []).append(row)
    return grouped

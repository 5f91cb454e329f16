"""The deposit register beside the general ledger: the register's total (every deposit
movement, signed) must equal the balance of GL 2020 Deposits held, to the cent.

`flask ledger verify` states it after walking the chain; billing/deposits.py keeps both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger import chart
from ledger.balances import gl_balance

# NOTE: billing owns the register's models; the ledger names the tables it reads (the ledger
# imports only core). Each column named here exists in its model (tests/test_architecture.py).
_movement = sa.table(
    "deposit_movement",
    sa.column("kind", sa.String),
    sa.column("amount_cents", sa.BigInteger),
    sa.column("moved_on", sa.Date),
)
_deposit = sa.table("deposit", sa.column("status", sa.String))


@dataclass(frozen=True)
class RegisterTie:
    """The deposit register's total beside the deposits-held GL balance."""

    register_cents: int
    ledger_cents: int
    #: Deposits held today (status held).
    deposits: int

    @property
    def ties(self) -> bool:
        """True when the register and the ledger agree to the cent."""
        return self.register_cents == self.ledger_cents


def register_tie(session: Session, as_of: date | None = None) -> RegisterTie:
    """Register total (movements up to as_of, held and interest less applied and refunded)
    against GL 2020's balance on the same day."""
    signed = sa.case(
        (_movement.c.kind.in_(["held", "interest"]), _movement.c.amount_cents),
        else_=-_movement.c.amount_cents,
    )
    query = sa.select(sa.func.coalesce(sa.func.sum(signed), 0))
    if as_of is not None:
        query = query.where(_movement.c.moved_on <= as_of)
    count = session.scalar(
        sa.select(sa.func.count()).select_from(_deposit).where(_deposit.c.status == "held")
    )
    return RegisterTie(
        int(session.scalar(query)), gl_balance(session, chart.DEPOSITS_HELD, as_of), int(count)
    )

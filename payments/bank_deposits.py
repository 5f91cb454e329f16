"""Bank deposits: closed drawers, and lockbox and bill-pay files, taken to the bank.

A deposit moves the money out of its clearing account into deposits in transit, and the
bank's confirmation moves it on to the bank (docs/bank-deposits.md):

    made          Dr 1050 Deposits in transit     Cr 1010 Cash drawer (a drawer's part)
                                                  Cr 1040 Lockbox clearing (a file's part)
    at the bank   Dr 1000 Bank                    Cr 1050 Deposits in transit

Each source row (a drawer, a remittance file) names the deposit that took it in its own
`bank_deposit_id` column; it is claimed by one conditional UPDATE, so two clerks depositing
the same drawer (or file) at once deposit it once: the second finds it taken and changes
nothing.

NOTE: a file is deposited whole, its queued items too: the bank deposited every check of
it. The queued items' 2040 stays until a clerk applies (Dr 2040 / Cr receivables) or
returns (Dr 2040 / Cr 2010) each one; neither touches 1040 again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.audit import Actor, record
from core.db import utcnow
from core.money import format_cents
from core.numbering import next_number
from ledger import chart
from ledger.posting import Posting, post_entry
from payments.models import (
    BankDeposit,
    BankDepositStatus,
    CashDrawer,
    RemittanceFile,
    RemittanceKind,
)
from payments.services import PaymentRefused


@dataclass(frozen=True)
class DepositPart:
    """One source of a deposit: a row of `table` whose `amount_cents` leaves `gl_code`.

    The table must have a nullable `bank_deposit_id` column; a drawer is (cash_drawer, 1010),
    a lockbox or bill-pay file (remittance_file, 1040 Lockbox clearing).
    """

    table: sa.Table
    row_id: int
    gl_code: str
    amount_cents: int
    #: What the slip and the ledger call it: "Drawer 7", "Lockbox file 12".
    label: str
    #: Its kind for the deposit's record: "drawer", "lockbox", "bill_pay".
    source: str

    @property
    def field(self) -> str:
        """The request's field that names parts of this kind."""
        return "drawers" if self.source == "drawer" else "file_ids"


def drawer_part(drawer: CashDrawer) -> DepositPart:
    """A closed drawer as a part of a deposit, or why it cannot be one."""
    if drawer.closed_at is None:
        raise PaymentRefused("drawers", f"drawer {drawer.id} is still open: close it first")
    if drawer.deposit_cents is None:
        raise PaymentRefused(
            "drawers",
            f"drawer {drawer.id} was closed before over and short were posted; it is "
            "deposited by a journal entry of the finance office",
        )
    if drawer.awaiting_approval:
        raise PaymentRefused(
            "drawers", f"drawer {drawer.id}'s over or short waits for a supervisor's approval"
        )
    if drawer.bank_deposit_id is not None:
        raise PaymentRefused("drawers", f"drawer {drawer.id} is already in a deposit")
    return DepositPart(
        CashDrawer.__table__,
        drawer.id,
        chart.CASH_DRAWER,
        drawer.deposit_cents,
        f"Drawer {drawer.id}",
        "drawer",
    )


def file_part(upload: RemittanceFile) -> DepositPart:
    """A lockbox or bill-pay file as a part of a deposit (every item of it), or why it cannot be."""
    words = "Lockbox" if upload.kind == RemittanceKind.LOCKBOX else "Bill-pay"
    if upload.bank_deposit_id is not None:
        raise PaymentRefused(
            "file_ids", f"{words.lower()} file {upload.id} is already in a deposit"
        )
    return DepositPart(
        RemittanceFile.__table__,
        upload.id,
        chart.LOCKBOX_CLEARING,
        upload.total_cents,
        f"{words} file {upload.id}",
        upload.kind.value,
    )


def deposit_drawers(
    session: Session, actor: Actor, drawers: Sequence[CashDrawer], *, on: date
) -> BankDeposit:
    """Make one bank deposit of closed drawers (their counted money less the floats)."""
    return deposit_sources(session, actor, drawers=drawers, on=on)


def deposit_sources(
    session: Session,
    actor: Actor,
    *,
    drawers: Sequence[CashDrawer] = (),
    files: Sequence[RemittanceFile] = (),
    on: date,
) -> BankDeposit:
    """Make one bank deposit of closed drawers and of lockbox or bill-pay files."""
    if not drawers and not files:
        raise PaymentRefused("drawers", "choose at least one closed drawer or file to deposit")
    if len({drawer.id for drawer in drawers}) != len(drawers):
        raise PaymentRefused("drawers", "a drawer is named twice")
    if len({upload.id for upload in files}) != len(files):
        raise PaymentRefused("file_ids", "a file is named twice")
    for upload in files:
        if upload.deposit_date > on:
            raise PaymentRefused(
                "file_ids", f"file {upload.id} was deposited by the bank on {upload.deposit_date}"
            )
    parts = [drawer_part(drawer) for drawer in drawers] + [file_part(f) for f in files]
    deposit = make_deposit(session, actor, parts, on=on)
    for row in (*drawers, *files):
        session.expire(row, ["bank_deposit_id"])
    return deposit


def deposit_file(session: Session, actor: Actor, upload: RemittanceFile) -> BankDeposit:
    """The bank deposited a file's checks itself: its deposit, dated the file's deposit date."""
    return deposit_sources(session, actor, files=[upload], on=upload.deposit_date)


def make_deposit(
    session: Session, actor: Actor, parts: Sequence[DepositPart], *, on: date
) -> BankDeposit:
    """Claim each part for a new deposit and post Dr 1050 / Cr each part's clearing account."""
    total = sum(part.amount_cents for part in parts)
    if total <= 0:
        raise PaymentRefused(
            parts[0].field if parts else "drawers",
            "there is nothing to deposit: the parts hold no money",
        )
    deposit = BankDeposit(
        number=f"BD-{on.year}-{next_number(session, 'bank_deposit', on.year):06d}",
        amount_cents=total,
        parts=[
            {
                "source": part.source,
                "id": part.row_id,
                "label": part.label,
                "gl": part.gl_code,
                "cents": part.amount_cents,
            }
            for part in parts
        ],
        made_by=actor.label,
        made_on=on,
    )
    session.add(deposit)
    session.flush()
    for part in parts:
        _claim(session, part, deposit)
    by_gl: dict[str, int] = defaultdict(int)
    for part in parts:
        by_gl[part.gl_code] += part.amount_cents
    post_entry(
        session,
        [
            Posting(chart.DEPOSITS_IN_TRANSIT, debit_cents=total),
            *(Posting(gl, credit_cents=cents) for gl, cents in sorted(by_gl.items()) if cents),
        ],
        entry_date=on,
        source_type="bank_deposit",
        source_id=deposit.number,
        actor=actor,
        memo=f"Bank deposit {deposit.number} of {format_cents(total)}: "
        + ", ".join(part.label for part in parts),
    )
    record(session, actor, "bank_deposit.make", deposit, number=deposit.number, parts=deposit.parts)
    return deposit


def _claim(session: Session, part: DepositPart, deposit: BankDeposit) -> None:
    """Mark a part as taken by this deposit, once: a part another deposit took refuses all."""
    table = part.table
    # NOTE: the WHERE is evaluated again after a concurrent writer commits (PostgreSQL's row
    # lock), so of two deposits of one drawer exactly one claims it.
    claimed = session.execute(
        table.update()
        .where(table.c.id == part.row_id, table.c.bank_deposit_id.is_(None))
        .values(bank_deposit_id=deposit.id)
    ).rowcount
    if claimed != 1:
        raise PaymentRefused(part.field, f"{part.label.lower()} is already in a deposit")


def confirm_at_bank(
    session: Session, actor: Actor, deposit: BankDeposit, *, reached_on: date
) -> BankDeposit:
    """The bank credited the deposit (its statement, or a clerk): Dr 1000 Bank / Cr 1050, once."""
    if reached_on < deposit.made_on:
        raise PaymentRefused(
            "reached_on", "a deposit reaches the bank on or after the day it was made"
        )
    # NOTE: the status flips by a conditional UPDATE, so two confirmations post it once.
    table = BankDeposit.__table__
    moved = session.execute(
        table.update()
        .where(table.c.id == deposit.id, table.c.status == BankDepositStatus.IN_TRANSIT.value)
        .values(
            status=BankDepositStatus.AT_BANK.value,
            reached_bank_on=reached_on,
            confirmed_by=actor.label,
            confirmed_at=utcnow(),
        )
    ).rowcount
    if moved != 1:
        raise PaymentRefused("deposit", f"deposit {deposit.number} is already at the bank")
    session.refresh(deposit)
    post_entry(
        session,
        [
            Posting(chart.BANK, debit_cents=deposit.amount_cents),
            Posting(chart.DEPOSITS_IN_TRANSIT, credit_cents=deposit.amount_cents),
        ],
        entry_date=reached_on,
        source_type="bank_deposit",
        source_id=deposit.number,
        actor=actor,
        memo=f"Bank deposit {deposit.number} reached the bank",
    )
    record(session, actor, "bank_deposit.at_bank", deposit, reached_on=reached_on)
    return deposit


def undeposited_drawers(session: Session) -> list[CashDrawer]:
    """Closed drawers whose money has not gone into a deposit yet, oldest first."""
    return list(
        session.scalars(
            sa.select(CashDrawer)
            .where(CashDrawer.closed_at.is_not(None), CashDrawer.bank_deposit_id.is_(None))
            .order_by(CashDrawer.closed_at, CashDrawer.id)
        )
    )


def undeposited_files(session: Session) -> list[RemittanceFile]:
    """Lockbox and bill-pay files whose money has not gone into a deposit yet, oldest first."""
    return list(
        session.scalars(
            sa.select(RemittanceFile)
            .where(RemittanceFile.bank_deposit_id.is_(None), RemittanceFile.total_cents > 0)
            .order_by(RemittanceFile.deposit_date, RemittanceFile.id)
        )
    )


def files_of(session: Session, deposit: BankDeposit) -> list[RemittanceFile]:
    """The lockbox and bill-pay files a deposit took, by id."""
    return list(
        session.scalars(
            sa.select(RemittanceFile)
            .where(RemittanceFile.bank_deposit_id == deposit.id)
            .order_by(RemittanceFile.id)
        )
    )


def recent_deposits(session: Session, limit: int = 50) -> list[BankDeposit]:
    """The newest deposits, those in transit first."""
    return list(
        session.scalars(
            sa.select(BankDeposit)
            .order_by(BankDeposit.status.desc(), BankDeposit.id.desc())
            .limit(limit)
        )
    )


def drawers_of(session: Session, deposit: BankDeposit) -> list[CashDrawer]:
    """The drawers a deposit took, in the order it names them."""
    return list(
        session.scalars(
            sa.select(CashDrawer)
            .where(CashDrawer.bank_deposit_id == deposit.id)
            .order_by(CashDrawer.id)
        )
    )

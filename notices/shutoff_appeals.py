"""Shutoff appeals: a resident contests a shutoff from the portal, or a clerk records the call;
while the appeal is pending the account is neither noticed further nor shut off; a supervisor
upholds or denies it with reasons for the resident (and an internal note for staff only)
(docs/shutoff.md, "Appeals").

- An upheld appeal voids the shutoff notice of its delinquency (the oldest past-due utility
  invoice it named): that delinquency is never noticed or shut off again; a later delinquency
  (another oldest invoice) starts the process afresh.
- A denied appeal moves the earliest shutoff to at least the rule's `appeal_denial_lead_days`
  business days after the decision (billing.working_days, off the days with no shutoffs).

Services flush, never commit; every step is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account
from billing.medical_certificates import ShutoffError
from billing.models import Invoice, InvoiceStatus, ShutoffRule
from billing.position import account_position
from billing.shutoff_rules import OPTIONAL, earliest_shutoff, shutoff_rule_on
from billing.working_days import WorkingCalendar
from core.audit import Actor, record
from notices.models import AppealChannel, AppealStatus, ShutoffAppeal, ShutoffNotice

#: The longest statement, reasons or note, in characters.
MAX_WORDS = 2000
OWING = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)


class AppealError(ShutoffError):
    """An appeal step refused: the message for staff; `code` picks the resident's words."""

    def __init__(self, code: str, message: str, **params) -> None:
        super().__init__(message)
        self.code, self.params = code, params


def _text(value: str | None, code: str, what: str) -> str:
    """Required text, stripped, at most MAX_WORDS characters; AppealError otherwise."""
    text = (value or "").strip()
    if not text:
        raise AppealError(code, f"{what}: required")
    if len(text) > MAX_WORDS:
        raise AppealError(f"{code}_long", f"{what}: at most {MAX_WORDS} characters")
    return text


def open_shutoff_notice(session: Session, account_id: int) -> ShutoffNotice | None:
    """The account's latest shutoff notice whose delinquency is still owing."""
    return session.scalar(
        sa.select(ShutoffNotice)
        .join(Invoice, Invoice.id == ShutoffNotice.invoice_id)
        .where(ShutoffNotice.account_id == account_id, Invoice.status.in_(OWING))
        .order_by(ShutoffNotice.issued_on.desc(), ShutoffNotice.id.desc())
        .limit(1)
    )


def pending_appeal(session: Session, account_id: int) -> ShutoffAppeal | None:
    """The account's pending appeal, if any."""
    return session.scalar(
        sa.select(ShutoffAppeal).where(
            ShutoffAppeal.account_id == account_id, ShutoffAppeal.status == AppealStatus.PENDING
        )
    )


def appeals_of(session: Session, account_id: int) -> list[ShutoffAppeal]:
    """The account's appeals, newest first."""
    return list(
        session.scalars(
            sa.select(ShutoffAppeal)
            .where(ShutoffAppeal.account_id == account_id)
            .order_by(ShutoffAppeal.id.desc())
        )
    )


def appeal_window_ends(notice: ShutoffNotice, rule: ShutoffRule | None) -> date:
    """The last day a resident may appeal a shutoff notice (the notice's day + appeal_days)."""
    days = rule.appeal_days if rule is not None else OPTIONAL["appeal_days"]
    return notice.issued_on + timedelta(days=days)


def _oldest_owing(session: Session, account_id: int, on: date) -> int | None:
    """The oldest past-due utility invoice by the position (the delinquency), for a phone
    appeal made before any notice."""
    from notices.shutoff_eligibility import oldest_past_due_utility_invoice

    position = account_position(session, account_id, on)
    return oldest_past_due_utility_invoice(session, account_id, on, position.by_invoice)


def _delinquency(
    session: Session, account: Account, channel: AppealChannel, on: date
) -> tuple[ShutoffNotice | None, int]:
    """The notice contested (if any) and the delinquency's invoice; AppealError when there is
    nothing to contest, the window has closed or the notice's appeal was decided."""
    notice = open_shutoff_notice(session, account.id)
    if notice is None:
        invoice_id = _oldest_owing(session, account.id, on)
        if channel == AppealChannel.PORTAL or invoice_id is None:
            raise AppealError(
                "no_notice", f"account {account.number} has no open shutoff notice to contest"
            )
        return None, invoice_id
    decided = session.scalar(
        sa.select(ShutoffAppeal).where(
            ShutoffAppeal.shutoff_notice_id == notice.id,
            ShutoffAppeal.status.in_((AppealStatus.UPHELD, AppealStatus.DENIED)),
        )
    )
    if decided is not None:
        raise AppealError(
            "decided",
            f"the appeal of this shutoff notice was {decided.status.value} on "
            f"{decided.decided_on.isoformat()}",
        )
    last_day = appeal_window_ends(notice, shutoff_rule_on(session, on))
    if on > last_day:
        raise AppealError(
            "late",
            f"the shutoff notice of {notice.issued_on.isoformat()} could be appealed until "
            f"{last_day.isoformat()}",
            last_day=last_day,
        )
    return notice, notice.invoice_id


def file_appeal(
    session: Session,
    actor: Actor,
    account: Account,
    *,
    statement: str,
    channel: AppealChannel,
    at: datetime,
    on: date,
) -> ShutoffAppeal:
    """Record a resident's appeal (from the portal, or a clerk taking a call); AppealError with
    the reason when the statement is missing or too long, one is pending already, or there is
    nothing (more) to contest."""
    words = _text(statement, "statement", "statement")
    earlier = pending_appeal(session, account.id)
    if earlier is not None:
        raise AppealError(
            "already",
            f"account {account.number} has an appeal pending since {earlier.filed_on.isoformat()}",
        )
    notice, invoice_id = _delinquency(session, account, channel, on)
    appeal = ShutoffAppeal(
        account_id=account.id,
        shutoff_notice_id=notice.id if notice else None,
        invoice_id=invoice_id,
        channel=channel,
        statement=words,
        filed_by="resident" if channel == AppealChannel.PORTAL else "clerk",
        recorded_by=actor.label,
        filed_at=at,
        filed_on=on,
        status=AppealStatus.PENDING,
    )
    session.add(appeal)
    session.flush()
    record(
        session,
        actor,
        "shutoff_appeal.file",
        appeal,
        account=account.number,
        channel=channel.value,
        shutoff_notice_id=appeal.shutoff_notice_id,
    )
    return appeal


def decide_appeal(
    session: Session,
    actor: Actor,
    appeal: ShutoffAppeal,
    *,
    upheld: bool,
    resident_reasons: str,
    internal_note: str = "",
    at: datetime,
    on: date,
) -> ShutoffAppeal:
    """A supervisor's decision, with the reasons for the resident (required) and an internal
    note for staff; AppealError when it was decided (or withdrawn) already."""
    if appeal.status != AppealStatus.PENDING:
        raise AppealError(
            "decided", f"appeal {appeal.id} was already {appeal.status.value}; it stays so"
        )
    reasons = _text(resident_reasons, "reasons", "reasons for the resident")
    note = (internal_note or "").strip()
    if len(note) > MAX_WORDS:
        raise AppealError("note_long", f"internal note: at most {MAX_WORDS} characters")
    appeal.status = AppealStatus.UPHELD if upheld else AppealStatus.DENIED
    appeal.decided_by, appeal.decided_at, appeal.decided_on = actor.label, at, on
    appeal.resident_reasons, appeal.internal_note = reasons, note or None
    session.flush()
    record(
        session,
        actor,
        "shutoff_appeal.decide",
        appeal,
        decision=appeal.status.value,
        resident_reasons=reasons,
        internal_note=note,
    )
    return appeal


def withdraw_appeal(
    session: Session, actor: Actor, appeal: ShutoffAppeal, *, at: datetime, on: date
) -> ShutoffAppeal:
    """The resident withdraws a pending appeal (the shutoff process resumes where it was)."""
    if appeal.status != AppealStatus.PENDING:
        raise AppealError("decided", f"appeal {appeal.id} is {appeal.status.value}, not pending")
    appeal.status = AppealStatus.WITHDRAWN
    appeal.decided_by, appeal.decided_at, appeal.decided_on = actor.label, at, on
    session.flush()
    record(session, actor, "shutoff_appeal.withdraw", appeal)
    return appeal


@dataclass(frozen=True)
class AppealHold:
    """What the account's appeals say of a shutoff on a day."""

    #: Reasons the account may be neither noticed nor shut off.
    reasons: tuple[str, ...] = ()
    #: Reasons no shutoff may happen yet though a notice may (a denial's lead time).
    held: tuple[str, ...] = ()
    #: After a denial: the earliest shutoff it allows.
    not_before: date | None = None


def denial_earliest(
    calendar: WorkingCalendar, rule: ShutoffRule | None, decided_on: date
) -> date | None:
    """The earliest shutoff after a denial: the rule's business days after the decision, moved
    off days with no shutoffs."""
    if rule is None:
        return None
    return earliest_shutoff(calendar, rule.moratoria, decided_on, rule.appeal_denial_lead_days)


def appeal_hold(
    session: Session,
    account_id: int,
    on: date,
    delinquency_invoice_id: int | None,
    calendar: WorkingCalendar,
    rule: ShutoffRule | None,
) -> AppealHold:
    """A pending appeal stops everything; an upheld one ends its delinquency's process; a
    denied one holds the shutoff for the rule's business days after the decision."""
    pending = pending_appeal(session, account_id)
    if pending is not None:
        return AppealHold(reasons=(f"an appeal is pending (filed on {pending.filed_on})",))
    if delinquency_invoice_id is None:
        return AppealHold()
    decided = session.scalar(
        sa.select(ShutoffAppeal)
        .where(
            ShutoffAppeal.account_id == account_id,
            ShutoffAppeal.invoice_id == delinquency_invoice_id,
            ShutoffAppeal.status.in_((AppealStatus.UPHELD, AppealStatus.DENIED)),
            ShutoffAppeal.decided_on <= on,
        )
        .order_by(ShutoffAppeal.decided_at.desc(), ShutoffAppeal.id.desc())
        .limit(1)
    )
    if decided is None:
        return AppealHold()
    if decided.status == AppealStatus.UPHELD:
        return AppealHold(
            reasons=(
                f"an appeal was upheld on {decided.decided_on}: the shutoff notice for this "
                "past-due balance is void",
            )
        )
    not_before = denial_earliest(calendar, rule, decided.decided_on)
    if not_before is not None and on < not_before:
        return AppealHold(
            held=(f"an appeal was denied on {decided.decided_on}; no shutoff before {not_before}",),
            not_before=not_before,
        )
    return AppealHold(not_before=not_before)

"""Staff take online access away: a reissued access code, and a clerk removing a resident's link.

A reissued code ends every open quick-pay session on the account and every resident's link
to it. Each link was made by proving the code current at the time, which the reissue (or an
earlier one) retired; a town reissues a code when an account changes hands or its code got
out, and then nobody who held an old code should keep seeing the account. The holder links
it again with the new code printed on the next notice.

A resident who loses a link this way is told once, on the next page, in words for residents
(EndedLink); a quick-pay session cut off by a new code says why when it is next used. Whoever
no longer sees an account does not keep an autopay card charged for it either.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account
from accounts.services import AccountError, reissue_access_code
from core.audit import Actor, record
from payments.gateway import StripeGateway
from portal import autopay_enrollment
from portal.access import CODE_CHANGED
from portal.models import EndedLink, LinkEndReason, PortalSession, Resident, ResidentAccount
from portal.residents import drop_link

#: The longest reason a clerk may give (it is kept in the audit log).
MAX_REASON = 500


@dataclass
class Reissued:
    """A new code (shown once to staff) and what the old one no longer opens."""

    code: str
    sessions_ended: int = 0
    residents_unlinked: list[str] = field(default_factory=list)
    autopay_ended: bool = False


@contextmanager
def stripe_if_autopay(
    session: Session, account: Account, config: Mapping
) -> Iterator[StripeGateway | None]:
    """A gateway to detach the card of an autopay that ends, when the account has autopay and
    Stripe is configured; else None (the enrollment still ends here)."""
    if autopay_enrollment.active_autopay(session, account.id) is None or not config.get(
        "STRIPE_SECRET_KEY"
    ):
        yield None
        return
    with StripeGateway.from_config(config) as opened:
        yield opened


def _reason(text: str | None) -> str:
    """The staff's reason, trimmed; AccountError when there is none."""
    cleaned = " ".join((text or "").split())[:MAX_REASON]
    if not cleaned:
        raise AccountError("reason: say why (it is kept in the audit log)")
    return cleaned


def linked_residents(session: Session, account: Account) -> list[ResidentAccount]:
    """The residents' links to the account, by e-mail address."""
    return list(
        session.scalars(
            sa.select(ResidentAccount)
            .join(Resident, Resident.id == ResidentAccount.resident_id)
            .where(ResidentAccount.account_id == account.id)
            .order_by(Resident.email)
        )
    )


def end_quick_pay_sessions(session: Session, account: Account, now: datetime) -> int:
    """End every open quick-pay session on the account (a new code was issued); how many."""
    rows = session.scalars(
        sa.select(PortalSession).where(
            PortalSession.account_id == account.id,
            PortalSession.resident_id.is_(None),
            PortalSession.ended_at.is_(None),
        )
    ).all()
    for row in rows:
        row.ended_at = now
        row.end_reason = CODE_CHANGED
    session.flush()
    return len(rows)


def _end_link(
    session: Session,
    actor: Actor,
    link: ResidentAccount,
    why: LinkEndReason,
    reason: str,
    now: datetime,
    gateway: StripeGateway | None,
) -> bool:
    """Remove one link, remember to tell the resident, and stop their autopay on the account.

    Audited as resident.unlink by the staff member; True when autopay was turned off.
    """
    account, resident = link.account, link.resident
    enrolled = autopay_enrollment.active_autopay(session, account.id)
    drop_link(session, link)
    session.add(EndedLink(resident_id=resident.id, account_id=account.id, reason=why, ended_at=now))
    record(
        session,
        actor,
        "resident.unlink",
        account,
        resident_id=resident.id,
        resident=resident.email,
        why=why.value,
        reason=reason,
    )
    if enrolled is not None and enrolled.resident_id == resident.id:
        # NOTE: whoever no longer sees an account must not keep charging a card for it.
        autopay_enrollment.cancel(session, actor, account=account, gateway=gateway)
        return True
    return False


def reissue_code(
    session: Session,
    actor: Actor,
    account: Account,
    *,
    reason: str | None,
    code_key: bytes,
    now: datetime,
    gateway: StripeGateway | None = None,
) -> Reissued:
    """Issue the account a new access code; the old one opens nothing any more.

    Ends the open quick-pay sessions and every resident's link to the account; one
    account.access_code_reissued audit event says what was ended and why. Flushes.
    """
    reason = _reason(reason)
    # NOTE: the account's row is locked first, so two reissues take turns (each raises the
    # version once); a link made while this waits is ended by it, and one made with the old
    # code after it is refused by residents.link_account.
    session.refresh(account, with_for_update=True)
    ended = end_quick_pay_sessions(session, account, now)
    unlinked, autopay_ended = [], False
    for link in linked_residents(session, account):
        unlinked.append(link.resident.email)
        why = LinkEndReason.CODE_CHANGED
        autopay_ended |= _end_link(session, actor, link, why, reason, now, gateway)
    code = reissue_access_code(
        session,
        actor,
        account,
        code_key=code_key,
        reason=reason,
        sessions_ended=ended,
        residents_unlinked=unlinked,
    )
    return Reissued(code, ended, unlinked, autopay_ended)


def unlink_resident(
    session: Session,
    actor: Actor,
    link: ResidentAccount,
    *,
    reason: str | None,
    now: datetime,
    gateway: StripeGateway | None = None,
) -> bool:
    """A clerk removes a resident's link to an account, with a reason; True if autopay ended.

    The resident's sessions stop showing the account at once and the next page says so.
    """
    return _end_link(session, actor, link, LinkEndReason.UNLINKED, _reason(reason), now, gateway)


def link_of(session: Session, account: Account, resident_id: int) -> ResidentAccount | None:
    """The resident's link to the account, if there is one."""
    return session.scalar(
        sa.select(ResidentAccount).where(
            ResidentAccount.account_id == account.id, ResidentAccount.resident_id == resident_id
        )
    )


def untold_endings(session: Session, resident_id: int, now: datetime) -> list[EndedLink]:
    """The links the resident lost and has not been told of; marked told now."""
    rows = list(
        session.scalars(
            sa.select(EndedLink)
            .where(EndedLink.resident_id == resident_id, EndedLink.told_at.is_(None))
            .order_by(EndedLink.id)
        )
    )
    for row in rows:
        row.told_at = now
    return rows

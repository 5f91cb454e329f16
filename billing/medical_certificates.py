"""Medical certificates: a clerk records one for an account, and no shutoff happens from its
first day to its end date (docs/shutoff.md, "Medical certificates"). Audited; services flush,
never commit."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account
from billing.models import MedicalCertificate
from core.audit import Actor, record


class ShutoffError(ValueError):
    """A shutoff step refused; the message says why in plain words."""


def record_certificate(
    session: Session,
    actor: Actor,
    account: Account,
    *,
    starts_on: date,
    ends_on: date,
    certified_by: str,
) -> MedicalCertificate:
    """Record a medical certificate on file for an account; ShutoffError for one that ends
    before it starts or names no one who certified it."""
    if ends_on < starts_on:
        raise ShutoffError(
            f"the certificate ends on {ends_on.isoformat()}, before it starts on "
            f"{starts_on.isoformat()}"
        )
    certified_by = (certified_by or "").strip()
    if not certified_by or len(certified_by) > 200 or "\n" in certified_by:
        raise ShutoffError("say who certified it (a physician or clinic, one line)")
    certificate = MedicalCertificate(
        account_id=account.id,
        starts_on=starts_on,
        ends_on=ends_on,
        certified_by=certified_by,
        recorded_by=actor.label,
    )
    session.add(certificate)
    session.flush()
    record(
        session,
        actor,
        "medical_certificate.record",
        certificate,
        account=account.number,
        starts_on=starts_on.isoformat(),
        ends_on=ends_on.isoformat(),
        certified_by=certified_by,
    )
    return certificate


def certificate_on(session: Session, account_id: int, day: date) -> MedicalCertificate | None:
    """The certificate holding the account on a day (the one that lasts longest), if any."""
    return session.scalar(
        sa.select(MedicalCertificate)
        .where(
            MedicalCertificate.account_id == account_id,
            MedicalCertificate.starts_on <= day,
            MedicalCertificate.ends_on >= day,
        )
        .order_by(MedicalCertificate.ends_on.desc(), MedicalCertificate.id.desc())
        .limit(1)
    )

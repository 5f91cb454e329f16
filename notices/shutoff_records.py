"""What the console and the API list of the shutoff's records: the versions of the rule, the
medical certificates on file and a day's shutoff notices; and a rule document typed or uploaded
as text (JSON or YAML) read into a mapping (docs/shutoff.md)."""

from __future__ import annotations

import json
from datetime import date

import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

from billing.computed import RuleError
from billing.models import MedicalCertificate, ShutoffRule
from notices.models import ShutoffNotice


def rule_versions(session: Session) -> list[ShutoffRule]:
    """Every version of the shutoff rule, the newest first."""
    return list(
        session.scalars(
            sa.select(ShutoffRule).order_by(ShutoffRule.effective.desc(), ShutoffRule.id.desc())
        )
    )


def read_rule_text(text: str) -> dict:
    """A rule document typed or uploaded (JSON or YAML) as a mapping; RuleError otherwise."""
    try:
        document = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        # NOTE: ValueError too: a number of more than 4,300 digits is refused by int() itself.
        raise RuleError(f"document: not valid JSON or YAML: {error}") from None
    if not isinstance(document, dict):
        raise RuleError("document: it must hold one mapping (effective, min_past_due, …)")
    return document


def certificates(session: Session, limit: int = 200) -> list[MedicalCertificate]:
    """The medical certificates on file, the latest ending first."""
    return list(
        session.scalars(
            sa.select(MedicalCertificate)
            .order_by(MedicalCertificate.ends_on.desc(), MedicalCertificate.id.desc())
            .limit(limit)
        )
    )


def notices_on(session: Session, day: date) -> list[ShutoffNotice]:
    """The shutoff notices issued on a day, in the order they were made."""
    return list(
        session.scalars(
            sa.select(ShutoffNotice)
            .where(ShutoffNotice.issued_on == day)
            .order_by(ShutoffNotice.id)
        )
    )

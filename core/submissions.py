"""One-time form tokens: a staff form that records something is recorded once per showing.

Each showing of such a form carries a new token in a hidden field. The view
claims the token in the same transaction as what the form records: one
insert that does nothing when the token is taken (on PostgreSQL, a second
sending at the same moment waits for the first and then finds it). A sending
whose token is taken records nothing and answers what the first answered;
one that was refused took no token, so the corrected form can be sent again.
"""

from __future__ import annotations

import re
import secrets

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from core.audit import Actor
from core.db import insert_or_nothing, utcnow
from core.models import FormSubmission

#: The shape of a token this module made: URL-safe base64 of 24 random bytes.
TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
#: The hidden field that carries it.
FIELD = "form_token"


def new_token() -> str:
    """A new one-time token for a form being shown."""
    return secrets.token_urlsafe(24)


def well_formed(token: str | None) -> bool:
    """Whether the text is shaped like a token this module made."""
    return bool(token) and TOKEN.fullmatch(token) is not None


def claim(session: Session, actor: Actor, form: str, token: str) -> FormSubmission | None:
    """Take the token for this sending; None if taken now, else the earlier sending's record."""
    taken = session.execute(
        insert_or_nothing(session, FormSubmission, unique=["token"])
        .values(token=token, form=form, submitted_by=actor.label, submitted_at=utcnow())
        .returning(FormSubmission.token)
    ).scalar()
    if taken is not None:
        return None
    return session.scalar(
        sa.select(FormSubmission)
        .where(FormSubmission.token == token)
        .execution_options(populate_existing=True)
    )


def answered(session: Session, token: str, *, location: str, message: str) -> None:
    """Keep what this sending answered, for a second sending of the same form."""
    session.execute(
        sa.update(FormSubmission)
        .where(FormSubmission.token == token)
        .values(location=location[:500], message=message[:500])
    )


def same_sender(earlier: FormSubmission, actor: Actor, form: str) -> bool:
    """Whether the earlier sending was this form, by this person, and was answered."""
    return (
        earlier.form == form
        and earlier.submitted_by == actor.label
        and earlier.location is not None
    )


def init_app(app: Flask) -> None:
    """Templates call form_token() for a new token each time a form is shown."""
    app.jinja_env.globals["form_token"] = new_token

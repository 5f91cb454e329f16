"""Staff users, their sessions, API tokens, the audit log and the counters of gap-free
document numbers."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import AppendOnly, Base, CreatedAtMixin, UTCDateTime, enum_column, intpk, utcnow
from core.sessions import SessionRow


class Role(enum.StrEnum):
    """What a staff member or an API token may do (see docs/roles.md)."""

    CLERK = "clerk"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ADMIN = "admin"


class StaffUser(UserMixin, CreatedAtMixin, Base):
    """A municipal employee who signs in to the staff console."""

    __tablename__ = "staff_user"

    id: Mapped[intpk]
    #: Stored lower-cased; the sign-in name.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    role: Mapped[Role] = mapped_column(enum_column(Role, "staff_role"))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    #: Consecutive failed sign-ins since the last success.
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (sa.CheckConstraint("email = lower(email)", name="email_lower"),)

    @property
    def is_active(self) -> bool:
        """Flask-Login: a deactivated user cannot sign in."""
        return self.active

    def __repr__(self) -> str:
        return f"<StaffUser {self.email} {self.role}>"


class SessionEnd(enum.StrEnum):
    """Why a staff session ended."""

    SIGNED_OUT = "signed_out"
    IDLE = "idle"
    EXPIRED = "expired"
    REVOKED = "revoked"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a reason, not a secret
    DEACTIVATED = "deactivated"


class StaffSession(SessionRow, Base):
    """A staff user's signed-in session, server-side so that signing out ends it everywhere.

    The browser holds a random token; only its SHA-256 is stored (core.sessions). It ends
    at sign-out, after STAFF_IDLE_MINUTES without a request, STAFF_SESSION_HOURS after the
    sign-in however busy, or when it is revoked (by an admin, by the operator, by a new
    password or a deactivation).
    """

    __tablename__ = "staff_session"

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_user.id"), index=True)
    #: Why it ended (None while it is open).
    end_reason: Mapped[SessionEnd | None] = mapped_column(
        enum_column(SessionEnd, "staff_session_end")
    )

    user: Mapped[StaffUser] = relationship()


class ApiToken(CreatedAtMixin, Base):
    """A bearer token for an integration, scoped to one role, hashed at rest."""

    __tablename__ = "api_token"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(sa.String(120))
    role: Mapped[Role] = mapped_column(enum_column(Role, "token_role"))
    #: The public part of the token, used to find it.
    prefix: Mapped[str] = mapped_column(sa.String(16), unique=True)
    #: SHA-256 of the whole token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(sa.String(64))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_user.id"))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    created_by: Mapped[StaffUser | None] = relationship()

    def usable(self, now: datetime) -> bool:
        """True when neither revoked nor expired."""
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now


class AuditEvent(AppendOnly, Base):
    """One row per state-changing action: who, when, what, from where. Append-only."""

    __tablename__ = "audit_event"

    id: Mapped[intpk]
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    #: user, token, job, resident or system.
    actor_type: Mapped[str] = mapped_column(sa.String(16))
    actor_id: Mapped[str | None] = mapped_column(sa.String(64))
    actor_label: Mapped[str] = mapped_column(sa.String(254))
    #: A dotted verb, e.g. "account.update" or "user.login_failed".
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(sa.String(64))
    object_id: Mapped[str | None] = mapped_column(sa.String(64))
    #: {"before": {...}, "after": {...}} or other facts about the action.
    summary: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    #: Where the action came from: an IP address, "cli" or "scheduler".
    origin: Mapped[str | None] = mapped_column(sa.String(64))

    __table_args__ = (sa.Index("ix_audit_event_object", "object_type", "object_id"),)


class JobStatus(enum.StrEnum):
    """Where a job run stands."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    #: Its process died while it ran; a new leader ran the job again.
    ABANDONED = "abandoned"


class JobRun(Base):
    """One run of a scheduled job (or a manual one): when, by which process, what it did."""

    __tablename__ = "job_run"

    id: Mapped[intpk]
    job: Mapped[str] = mapped_column(sa.String(64), index=True)
    #: The scheduled fire time for a scheduled run ("2026-11-26T06:00:00-06:00"), or
    #: "manual:<id>": one run per trigger, whichever process got there first.
    trigger: Mapped[str] = mapped_column(sa.String(64))
    as_of: Mapped[date]
    dry_run: Mapped[bool] = mapped_column(default=False)
    status: Mapped[JobStatus] = mapped_column(enum_column(JobStatus, "job_status"))
    #: The process that ran it: "host:pid".
    holder: Mapped[str] = mapped_column(sa.String(120))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    counts: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    error: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (sa.UniqueConstraint("job", "trigger", name="uq_job_run_trigger"),)


class SchedulerLease(Base):
    """Who leads the scheduler processes: renewed by the leader, taken over once it expires."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(120))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class NumberSeries(Base):
    """The next number of a gap-free series (invoices per year, receipts per year)."""

    __tablename__ = "number_series"

    series: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class FormSubmission(Base):
    """A staff form sent once: its one-time token, and what the first sending answered.

    A form that records money carries a new token each time it is shown; sent
    again with the same token (a retry of a submit cut off), it answers what
    the first sending answered and records nothing more (core.submissions).
    """

    __tablename__ = "form_submission"

    #: The one-time token the form carried (a hidden field).
    token: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    #: Which form it was ("counter.payment", "approvals.ask").
    form: Mapped[str] = mapped_column(sa.String(64))
    submitted_by: Mapped[str] = mapped_column(sa.String(254))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: Where the first sending led, and what it told the clerk.
    location: Mapped[str | None] = mapped_column(sa.String(500))
    message: Mapped[str | None] = mapped_column(sa.String(500))

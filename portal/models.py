"""The residents' side: portal sessions, registered residents and their accounts, questions
about bills, and autopay."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import Account
from billing.models import Invoice
from core.db import Base, CreatedAtMixin, UTCDateTime, enum_column, intpk
from core.sessions import SessionRow


class Resident(CreatedAtMixin, Base):
    """A registered resident: an e-mail and a password, linked to one or more accounts."""

    __tablename__ = "resident"

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    #: Set when the resident followed the link in the verification e-mail.
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The language of the resident's e-mails and pages ("en" or "es").
    language: Mapped[str] = mapped_column(sa.String(2), default="en")
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: Bumped when the password changes: reset links issued before stop working.
    password_version: Mapped[int] = mapped_column(default=1)

    links: Mapped[list[ResidentAccount]] = relationship(
        back_populates="resident", order_by="ResidentAccount.id"
    )


class ResidentAccount(CreatedAtMixin, Base):
    """A billing account a resident linked by proving its access code."""

    __tablename__ = "resident_account"

    id: Mapped[intpk]
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("resident.id"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    #: What the resident calls it ("Home", "Rental on Oak St").
    nickname: Mapped[str | None] = mapped_column(sa.String(60))

    resident: Mapped[Resident] = relationship(back_populates="links")
    account: Mapped[Account] = relationship()

    __table_args__ = (sa.UniqueConstraint("resident_id", "account_id"),)


class LinkEndReason(enum.StrEnum):
    """Why a resident lost a linked account without removing it."""

    #: Staff reissued the account's access code: every link made with an earlier code ends.
    CODE_CHANGED = "code_changed"
    #: A clerk removed the link.
    UNLINKED = "unlinked"


class EndedLink(Base):
    """A link to an account that a resident lost to staff action, kept to tell them once.

    The link itself (ResidentAccount) is gone; this row says which account it was and
    why, and the resident's next page says so in words for residents.
    """

    __tablename__ = "ended_link"

    id: Mapped[intpk]
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("resident.id"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    reason: Mapped[LinkEndReason] = mapped_column(enum_column(LinkEndReason, "link_end_reason"))
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: When the resident's page said so; None until then.
    told_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    account: Mapped[Account] = relationship()


class PortalSession(SessionRow, Base):
    """A resident's signed-in session, server-side so that signing out ends it everywhere.

    The browser holds a random token; only its SHA-256 is stored (core.sessions). A quick-pay session
    names one account and no resident; a registered resident's session names the
    resident and the account being looked at, which must be one of the resident's.
    """

    __tablename__ = "portal_session"

    id: Mapped[intpk]
    account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"), index=True)
    resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("resident.id"), index=True)
    #: A quick-pay session's account code version when it opened: it lives only while that
    #: code is the account's current one. None for a registered resident's session.
    access_code_version: Mapped[int | None]
    #: Why the session ended when it was not signed out or idle: "code_changed".
    end_reason: Mapped[str | None] = mapped_column(sa.String(16))

    account: Mapped[Account | None] = relationship()
    resident: Mapped[Resident | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint(
            "account_id IS NOT NULL OR resident_id IS NOT NULL", name="session_names_someone"
        ),
    )


class QuestionStatus(enum.StrEnum):
    """Where a resident's question or dispute stands."""

    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


class Question(CreatedAtMixin, Base):
    """A resident's question or dispute about a bill, in the clerks' queue until answered.

    While a dispute is open, reminders for its invoice pause (a ReminderPause row).
    """

    __tablename__ = "resident_question"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), index=True)
    #: "question" or "dispute".
    kind: Mapped[str] = mapped_column(sa.String(16))
    message: Mapped[str] = mapped_column(sa.Text)
    #: Where the answer is e-mailed (may differ from the account's address).
    reply_to: Mapped[str | None] = mapped_column(sa.String(254))
    language: Mapped[str] = mapped_column(sa.String(2), default="en")
    status: Mapped[QuestionStatus] = mapped_column(
        enum_column(QuestionStatus, "question_status"), default=QuestionStatus.OPEN, index=True
    )
    answer: Mapped[str | None] = mapped_column(sa.Text)
    answered_by: Mapped[str | None] = mapped_column(sa.String(254))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: sent, written (outbox), bounced or failed: what became of the answer's e-mail.
    answer_email_status: Mapped[str | None] = mapped_column(sa.String(16))
    #: The reminder pause this dispute holds, resumed when it is answered or closed.
    pause_id: Mapped[int | None] = mapped_column(sa.ForeignKey("reminder_pause.id"))
    resident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("resident.id"))

    account: Mapped[Account] = relationship()
    invoice: Mapped[Invoice] = relationship()

    __table_args__ = (
        sa.CheckConstraint("kind IN ('question', 'dispute')", name="kind"),
        sa.CheckConstraint("length(message) > 0", name="message_not_empty"),
    )


class Autopay(CreatedAtMixin, Base):
    """An account's saved card, charged off-session on each bill's due date.

    At most one enrollment per account is active; a cancelled one stays for the record.
    """

    __tablename__ = "autopay"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    resident_id: Mapped[int] = mapped_column(sa.ForeignKey("resident.id"), index=True)
    stripe_customer_id: Mapped[str] = mapped_column(sa.String(255))
    stripe_payment_method_id: Mapped[str] = mapped_column(sa.String(255))
    #: "card", or "us_bank_account" for a bank account debited under its standing mandate
    #: (portal.autopay_bank).
    method: Mapped[str] = mapped_column(sa.String(16), default="card", server_default="card")
    card_brand: Mapped[str | None] = mapped_column(sa.String(32))
    card_last4: Mapped[str | None] = mapped_column(sa.String(4))
    card_exp_month: Mapped[int | None]
    card_exp_year: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    account: Mapped[Account] = relationship()
    resident: Mapped[Resident] = relationship()

    __table_args__ = (
        sa.Index(
            "uq_autopay_active_account",
            "account_id",
            unique=True,
            sqlite_where=sa.text("active"),
            postgresql_where=sa.text("active"),
        ),
    )


class AutopayCharge(CreatedAtMixin, Base):
    """One autopay attempt on one invoice's due date: at most one per invoice and due date."""

    __tablename__ = "autopay_charge"

    id: Mapped[intpk]
    autopay_id: Mapped[int] = mapped_column(sa.ForeignKey("autopay.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), index=True)
    due_date: Mapped[date]
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payment.id"))
    #: charged, failed, skipped (nothing owed).
    outcome: Mapped[str] = mapped_column(sa.String(16))
    error: Mapped[str | None] = mapped_column(sa.String(500))
    #: sent, written, bounced or failed: the failure e-mail to the resident.
    email_status: Mapped[str | None] = mapped_column(sa.String(16))

    __table_args__ = (
        sa.UniqueConstraint("invoice_id", "due_date"),
        sa.CheckConstraint("outcome IN ('charged', 'failed', 'skipped')", name="outcome"),
    )

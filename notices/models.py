"""What was sent to whom: every generated notice, and the print batches for the mail house."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, CreatedAtMixin, UTCDateTime, enum_column, intpk
from notices.document import NoticeKind


class Delivery(enum.StrEnum):
    """How a notice reached the resident."""

    #: In a print batch for the mail house.
    PRINT = "print"
    #: E-mailed (paperless accounts with a working address).
    EMAIL = "email"
    #: Generated on request, for download only.
    DOWNLOAD = "download"


class Notice(CreatedAtMixin, Base):
    """One generated notice: its kind, what it is about, the SHA-256 of its PDF and how it went out.

    The PDF is kept under NOTICES_DIR by its hash, so it can be downloaded again
    exactly as it was sent.
    """

    __tablename__ = "notice"

    id: Mapped[intpk]
    kind: Mapped[NoticeKind] = mapped_column(enum_column(NoticeKind, "notice_kind"))
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoice.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payment.id"), index=True)
    refund_id: Mapped[int | None] = mapped_column(sa.ForeignKey("refund.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notice_batch.id"), index=True)
    #: A copy mailed to someone else (a location's owner) names the notice it copies; the
    #: account's own documents are never copies.
    copy_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notice.id"), index=True)
    language: Mapped[str] = mapped_column(sa.String(2))
    #: The invoice, receipt or statement reference printed in the title.
    reference: Mapped[str] = mapped_column(sa.String(64))
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    pages: Mapped[int]
    #: The PDF's path relative to NOTICES_DIR.
    path: Mapped[str] = mapped_column(sa.String(255))
    delivery: Mapped[Delivery] = mapped_column(enum_column(Delivery, "notice_delivery"))
    email_to: Mapped[str | None] = mapped_column(sa.String(254))
    #: sent, written (outbox), bounced or failed.
    email_status: Mapped[str | None] = mapped_column(sa.String(16))
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(sa.String(254))


class NoticeBatch(CreatedAtMixin, Base):
    """A print batch: one merged PDF for the mail house and its CSV manifest."""

    __tablename__ = "notice_batch"

    id: Mapped[intpk]
    kind: Mapped[NoticeKind] = mapped_column(enum_column(NoticeKind, "notice_batch_kind"))
    #: The billing cycle ("2026-11") or tax year the batch is for.
    cycle: Mapped[str] = mapped_column(sa.String(16))
    created_by: Mapped[str] = mapped_column(sa.String(254))
    printed: Mapped[int] = mapped_column(default=0)
    emailed: Mapped[int] = mapped_column(default=0)
    pages: Mapped[int] = mapped_column(default=0)
    #: Paths relative to NOTICES_DIR; empty when nothing was left to print.
    pdf_path: Mapped[str | None] = mapped_column(sa.String(255))
    pdf_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    manifest_path: Mapped[str | None] = mapped_column(sa.String(255))
    manifest_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    mailed_by: Mapped[str | None] = mapped_column(sa.String(254))
    #: When every bill of the batch was issued and the PDF merged; none while it is being made
    #: or after it was cut off (the next batch of the cycle resumes it).
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Reminder(CreatedAtMixin, Base):
    """One reminder stage sent for one invoice or one installment of it; at most one per
    invoice, installment and stage."""

    __tablename__ = "reminder"

    id: Mapped[intpk]
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), index=True)
    #: The installment of a tax invoice the stage counts from; 0 for an invoice without
    #: installments (utility bills), as in Settlement and InvoiceCharge.
    installment_number: Mapped[int] = mapped_column(default=0, server_default="0")
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    #: The stage's name from REMINDER_STAGES, e.g. "upcoming", "due", "past_due", "final".
    stage: Mapped[str] = mapped_column(sa.String(16))
    #: The consolidated notice the account received (one notice lists all its open invoices).
    notice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notice.id"), index=True)
    sent_on: Mapped[date]

    __table_args__ = (
        sa.UniqueConstraint(
            "invoice_id", "installment_number", "stage", name="uq_reminder_installment_stage"
        ),
    )


class ReminderPause(CreatedAtMixin, Base):
    """Reminders paused by a clerk for an invoice or a whole account, with a reason, until resumed."""

    __tablename__ = "reminder_pause"

    id: Mapped[intpk]
    account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"), index=True)
    invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoice.id"), index=True)
    reason: Mapped[str] = mapped_column(sa.String(500))
    paused_by: Mapped[str] = mapped_column(sa.String(254))
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resumed_by: Mapped[str | None] = mapped_column(sa.String(254))

    __table_args__ = (
        sa.CheckConstraint(
            "account_id IS NOT NULL OR invoice_id IS NOT NULL", name="pause_names_something"
        ),
    )


class ShutoffNotice(CreatedAtMixin, Base):
    """A shutoff notice issued for one delinquency of a utility account: at most one per account
    and delinquency, the delinquency named by its oldest past-due utility invoice
    (docs/shutoff.md)."""

    __tablename__ = "shutoff_notice"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    #: The oldest past-due utility invoice on the day of the notice.
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoice.id"), index=True)
    #: The account's notice, and the copy to "Occupant" at the service address (if one went).
    notice_id: Mapped[int] = mapped_column(sa.ForeignKey("notice.id"), index=True)
    occupant_notice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notice.id"), index=True)
    issued_on: Mapped[date]
    #: The past-due utility amount that stops the shutoff, as of the notice's day.
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger)
    #: The lead time in business days after the notice, moved off no-shutoff days.
    earliest_shutoff_on: Mapped[date]
    #: "job" or "clerk".
    requested_by: Mapped[str] = mapped_column(sa.String(254))

    __table_args__ = (
        sa.UniqueConstraint("account_id", "invoice_id", name="uq_shutoff_notice_delinquency"),
    )


class TextConsent(CreatedAtMixin, Base):
    """A resident's recorded express consent to texts about one account, with its evidence:
    the words shown and their version, when, from which address and browser (docs/texts.md).
    A consent is never edited but ended; texting again is a new consent."""

    __tablename__ = "text_consent"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    #: The mobile number in E.164 ("+19205550123").
    phone: Mapped[str] = mapped_column(sa.String(16), index=True)
    #: The language of the words shown, and of the texts ("en", "es").
    language: Mapped[str] = mapped_column(sa.String(2))
    wording_version: Mapped[str] = mapped_column(sa.String(32))
    #: The consent words exactly as the resident saw them.
    wording: Mapped[str] = mapped_column(sa.Text)
    consented_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: How it was given: "portal" or "reply START".
    given_via: Mapped[str] = mapped_column(sa.String(16))
    #: The signed-in resident's e-mail address, or the number that replied.
    given_by: Mapped[str] = mapped_column(sa.String(254))
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: "portal", "reply STOP" or "refused by Twilio (21610)" and the like.
    ended_via: Mapped[str | None] = mapped_column(sa.String(64))


class TextMessage(CreatedAtMixin, Base):
    """One text sent (or held, or refused) to an account's consented number: at most one per
    account and notice."""

    __tablename__ = "text_message"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    #: The notice the text tells of; none for the welcome text.
    notice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notice.id"), index=True)
    consent_id: Mapped[int] = mapped_column(sa.ForeignKey("text_consent.id"), index=True)
    #: "notice" or "welcome".
    purpose: Mapped[str] = mapped_column(sa.String(16))
    to_number: Mapped[str] = mapped_column(sa.String(16))
    body: Mapped[str] = mapped_column(sa.Text)
    #: Twilio's Message SID ("SM…") once Twilio took it.
    provider_sid: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    #: held (quiet hours or a retry), sending, queued, sent, delivered, undelivered, failed,
    #: or canceled (consent ended before it went).
    status: Mapped[str] = mapped_column(sa.String(16))
    error_code: Mapped[int | None]
    error_message: Mapped[str | None] = mapped_column(sa.String(255))
    #: Not before this instant (the end of the quiet hours, or the next try).
    send_after: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        sa.UniqueConstraint("account_id", "notice_id", name="uq_text_message_notice"),
    )


class AppealStatus(enum.StrEnum):
    """Where a resident's appeal of a shutoff stands."""

    PENDING = "pending"
    UPHELD = "upheld"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"


class AppealChannel(enum.StrEnum):
    """How the appeal reached the town."""

    PORTAL = "portal"
    PHONE = "phone"


class ShutoffAppeal(CreatedAtMixin, Base):
    """A resident contests a shutoff; the shutoff process waits until a supervisor decides
    (docs/shutoff.md, "Appeals"). At most one pending appeal per account."""

    __tablename__ = "shutoff_appeal"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    #: The shutoff notice contested, if one went out.
    shutoff_notice_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("shutoff_notice.id"), index=True
    )
    #: The delinquency contested: its oldest past-due utility invoice on the day of filing.
    invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoice.id"), index=True)
    channel: Mapped[AppealChannel] = mapped_column(
        enum_column(AppealChannel, "shutoff_appeal_channel")
    )
    #: The resident's words (shown back to the resident and to staff).
    statement: Mapped[str] = mapped_column(sa.String(2000))
    #: "resident" (the portal) or "clerk" (a phone call taken in the console).
    filed_by: Mapped[str] = mapped_column(sa.String(16))
    recorded_by: Mapped[str] = mapped_column(sa.String(254))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The town's date of filed_at.
    filed_on: Mapped[date]
    status: Mapped[AppealStatus] = mapped_column(
        enum_column(AppealStatus, "shutoff_appeal_status"), index=True
    )
    decided_by: Mapped[str | None] = mapped_column(sa.String(254))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The town's date of decided_at: a denial's lead time counts from it.
    decided_on: Mapped[date | None]
    #: The decision's reasons, written for the resident (shown to them, in the letter too).
    resident_reasons: Mapped[str | None] = mapped_column(sa.String(2000))
    #: Staff only: never on a page, letter or e-mail a resident sees.
    internal_note: Mapped[str | None] = mapped_column(sa.String(2000))

    __table_args__ = (
        sa.CheckConstraint("filed_by IN ('resident', 'clerk')", name="filed_by_known"),
        sa.Index(
            "uq_shutoff_appeal_pending",
            "account_id",
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        ),
    )


class TenantNotice(CreatedAtMixin, Base):
    """The notice to the occupants of a location whose bills are a landlord's (or its owner's,
    or a multi-unit building's) before its shutoff, in English and Spanish: they may become
    customers without paying the landlord's past-due amount (docs/shutoff.md, "Tenants")."""

    __tablename__ = "tenant_notice"

    id: Mapped[intpk]
    shutoff_notice_id: Mapped[int] = mapped_column(sa.ForeignKey("shutoff_notice.id"), index=True)
    #: The landlord's (the shut-off) account.
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("account.id"), index=True)
    location_id: Mapped[int] = mapped_column(sa.ForeignKey("service_location.id"), index=True)
    issued_on: Mapped[date]
    multi_unit: Mapped[bool]
    #: Calendar days from the notice to the earliest shutoff at the location (the rule's).
    lead_days: Mapped[int]
    shutoff_not_before: Mapped[date]
    #: The bilingual PDF, stored under NOTICES_DIR by its hash.
    sha256: Mapped[str] = mapped_column(sa.String(64))
    path: Mapped[str] = mapped_column(sa.String(300))
    #: Set when the tenants became customers: their account, the start order and its day.
    tenant_account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("account.id"))
    service_order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("service_order.id"))
    became_customer_on: Mapped[date | None]

    __table_args__ = (
        sa.UniqueConstraint("shutoff_notice_id", "location_id", name="uq_tenant_notice_location"),
    )

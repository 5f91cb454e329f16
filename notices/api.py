"""/api/v1 endpoints for notices (list, download again), statements and print batches."""

from __future__ import annotations

import io

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app, send_file
from flask_smorest import Blueprint, abort
from marshmallow import validate

from accounts.models import Account
from accounts.services import find_account
from billing.models import Invoice, InvoiceStatus
from core.apidoc import file_response, links
from core.audit import record
from core.auth import request_actor, requires
from core.calendar import town_today
from core.db import get_by_id, utcnow
from core.extensions import db
from notices import content, statements
from notices.deposit_slip import deposit_slip, render_slip
from notices.document import NoticeKind
from notices.issuing import NoticeError, issue, issue_and_deliver, open_pdf
from notices.models import Delivery, Notice, NoticeBatch, ReminderPause
from notices.print_batches import mark_mailed, print_batch
from payments.models import BankDeposit, Receipt, Refund

notices_api = Blueprint(
    "notices_api",
    __name__,
    url_prefix="/api/v1",
    description="Notices (download again), account statements, print batches for the mail house",
)


class NoticeSchema(ma.Schema):
    """A generated notice."""

    id = ma.fields.Integer()
    kind = ma.fields.String()
    account = ma.fields.Function(lambda n: db.session.get(Account, n.account_id).number)
    invoice_id = ma.fields.Integer(allow_none=True)
    payment_id = ma.fields.Integer(allow_none=True)
    batch_id = ma.fields.Integer(allow_none=True)
    language = ma.fields.String()
    reference = ma.fields.String()
    sha256 = ma.fields.String()
    pages = ma.fields.Integer()
    delivery = ma.fields.String()
    email_status = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()


class BatchSchema(ma.Schema):
    """A print batch."""

    id = ma.fields.Integer()
    kind = ma.fields.String()
    cycle = ma.fields.String()
    printed = ma.fields.Integer()
    emailed = ma.fields.Integer()
    pages = ma.fields.Integer()
    pdf_sha256 = ma.fields.String(allow_none=True)
    manifest_sha256 = ma.fields.String(allow_none=True)
    created_by = ma.fields.String()
    created_at = ma.fields.DateTime()
    mailed_at = ma.fields.DateTime(allow_none=True)
    mailed_by = ma.fields.String(allow_none=True)


class BatchRequestSchema(ma.Schema):
    """Make the print batch of a billing cycle."""

    class Meta:
        unknown = ma.RAISE

    cycle = ma.fields.String(required=True, validate=validate.Regexp(r"^\d{4}(-\d{2})?$"))
    reprint = ma.fields.Boolean(load_default=False)


class StatementRequestSchema(ma.Schema):
    """An account statement for a date range."""

    class Meta:
        unknown = ma.RAISE

    start = ma.fields.Date(required=True)
    end = ma.fields.Date(required=True)

    @ma.validates_schema
    def _ordered(self, data, **_kwargs):
        if data["end"] < data["start"]:
            raise ma.ValidationError("the end is before the start", field_name="end")


def _account_or_404(number: str) -> Account:
    account = find_account(db.session, number)
    if account is None:
        abort(404, message=f"No account {number}.")
    return account


def _invoice_or_404(number: str) -> Invoice:
    invoice = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
    if invoice is None:
        abort(404, message=f"No invoice {number}.")
    return invoice


def _pdf(data: bytes, name: str):
    return send_file(io.BytesIO(data), mimetype="application/pdf", download_name=name)


@notices_api.route("/bank-deposits/<number>/slip")
@notices_api.response(200, description="The deposit slip's PDF.")
@notices_api.doc(**file_response("application/pdf"))
@requires("read")
def bank_deposit_slip(number: str):
    """The deposit slip of a bank deposit: currency, coin, each check, the total (audited)."""
    deposit = db.session.scalar(sa.select(BankDeposit).where(BankDeposit.number == number))
    if deposit is None:
        abort(404, message=f"No bank deposit {number}.")
    data = render_slip(deposit_slip(db.session, current_app.config, deposit))
    record(db.session, request_actor(), "bank_deposit.slip", deposit, number=number)
    db.session.commit()
    return _pdf(data, f"deposit-slip-{number}.pdf")


@notices_api.route("/accounts/<number>/notices")
@notices_api.response(200, NoticeSchema(many=True))
@requires("read")
def account_notices(number: str):
    """An account's notices, newest first."""
    account = _account_or_404(number)
    return db.session.scalars(
        sa.select(Notice).where(Notice.account_id == account.id).order_by(Notice.id.desc())
    ).all()


@notices_api.route("/notices/<int:notice_id>/pdf")
@notices_api.response(200, description="The notice's PDF, exactly as it was sent.")
@notices_api.doc(**file_response("application/pdf"))
@requires("read")
def notice_pdf(notice_id: int):
    """Download a notice again."""
    notice = get_by_id(db.session, Notice, notice_id)
    if notice is None:
        abort(404, message=f"No notice {notice_id}.")
    try:
        data = open_pdf(current_app.config, notice)
    except (OSError, NoticeError) as error:
        abort(409, message=f"The stored PDF of notice {notice_id} cannot be read: {error}")
    return _pdf(data, f"{notice.kind.value}-{notice.id}.pdf")


@notices_api.route("/accounts/<number>/statements", methods=["POST"])
@notices_api.arguments(StatementRequestSchema)
@notices_api.response(201, NoticeSchema)
@requires("write")
def make_statement(args, number: str):
    """Issue an account statement for a date range (recorded; download it from /notices/{id}/pdf)."""
    account = _account_or_404(number)
    document = statements.statement(
        db.session, current_app.config, account, args["start"], args["end"]
    )
    try:
        notice = issue(
            db.session,
            current_app.config,
            request_actor(),
            document,
            account=account,
            delivery=Delivery.DOWNLOAD,
        )
    except NoticeError as error:
        db.session.rollback()
        abort(503, message=str(error))
    db.session.commit()
    return notice


class NoticeRequestSchema(ma.Schema):
    """Issue a notice: for download, or e-mailed to the account's address."""

    class Meta:
        unknown = ma.RAISE

    deliver = ma.fields.String(
        load_default="download", validate=validate.OneOf(["download", "email"])
    )


class InvoiceNoticeRequestSchema(NoticeRequestSchema):
    """Issue a notice about an invoice."""

    kind = ma.fields.String(
        load_default="bill", validate=validate.OneOf(["bill", "reminder", "past_due", "final"])
    )


def _issued(document, account: Account, deliver: str, **links) -> Notice:
    """Issue and deliver, turning what cannot be done into 409/503; commits."""
    try:
        notice = issue_and_deliver(
            db.session,
            current_app.config,
            request_actor(),
            document,
            account=account,
            deliver=deliver,
            **links,
        )
    except NoticeError as error:
        db.session.rollback()
        abort(409 if "e-mail" in str(error) else 503, message=str(error))
    db.session.commit()
    return notice


@notices_api.route("/invoices/<number>/notices", methods=["POST"])
@notices_api.arguments(InvoiceNoticeRequestSchema)
@notices_api.response(201, NoticeSchema)
@requires("write")
def invoice_notice(args, number: str):
    """Issue a bill, reminder, past-due or final notice about an invoice."""
    invoice = _invoice_or_404(number)
    if invoice.status == InvoiceStatus.VOID:
        abort(409, message=f"Invoice {number} is void.")
    kind = None if args["kind"] == "bill" else NoticeKind(args["kind"])
    document = content.bill(
        db.session,
        current_app.config,
        invoice,
        kind,
        # NOTE: a bill is issued as it was billed; its notices are made as of today.
        on=town_today(current_app.config) if kind is not None else None,
    )
    return _issued(document, invoice.account, args["deliver"], invoice_id=invoice.id)


@notices_api.route("/receipts/<number>/notice", methods=["POST"])
@notices_api.arguments(NoticeRequestSchema)
@notices_api.response(201, NoticeSchema)
@requires("write")
def receipt_notice(args, number: str):
    """Issue the PDF receipt of a settled payment."""
    receipt = db.session.scalar(sa.select(Receipt).where(Receipt.number == number))
    if receipt is None:
        abort(404, message=f"No receipt {number}.")
    document = content.receipt(db.session, current_app.config, receipt)
    account = db.session.get(Account, receipt.account_id)
    return _issued(document, account, args["deliver"], payment_id=receipt.payment_id)


@notices_api.route("/refunds/<int:refund_id>/notice", methods=["POST"])
@notices_api.arguments(NoticeRequestSchema)
@notices_api.response(201, NoticeSchema)
@requires("write")
def refund_notice(args, refund_id: int):
    """Issue the notice of a refund."""
    refund = get_by_id(db.session, Refund, refund_id)
    if refund is None:
        abort(404, message=f"No refund {refund_id}.")
    document = content.refund_notice(db.session, current_app.config, refund)
    account = db.session.get(Account, refund.payment.account_id)
    return _issued(
        document, account, args["deliver"], payment_id=refund.payment_id, refund_id=refund.id
    )


@notices_api.route("/notice-batches", methods=["GET"])
@notices_api.response(200, BatchSchema(many=True))
@requires("read")
def batches():
    """Print batches, newest first."""
    return db.session.scalars(sa.select(NoticeBatch).order_by(NoticeBatch.id.desc())).all()


@notices_api.route("/notice-batches", methods=["POST"])
@notices_api.doc(
    **links(
        "201",
        pdf=("GET /api/v1/notice-batches/{batch_id}/pdf", {"batch_id": "$response.body#/id"}),
        manifest=(
            "GET /api/v1/notice-batches/{batch_id}/manifest",
            {"batch_id": "$response.body#/id"},
        ),
        mailed=(
            "POST /api/v1/notice-batches/{batch_id}/mailed",
            {"batch_id": "$response.body#/id"},
        ),
    )
)
@notices_api.arguments(BatchRequestSchema)
@notices_api.response(201, BatchSchema)
@requires("write")
def make_batch(args):
    """Make the print batch of a billing cycle: paperless accounts e-mailed, the rest merged."""
    try:
        return print_batch(
            db.session,
            current_app.config,
            request_actor(),
            cycle=args["cycle"],
            on=town_today(current_app.config),
            reprint=args["reprint"],
        )
    except NoticeError as error:
        db.session.rollback()
        abort(409, message=str(error))


def _batch_or_404(batch_id: int) -> NoticeBatch:
    batch = get_by_id(db.session, NoticeBatch, batch_id)
    if batch is None:
        abort(404, message=f"No print batch {batch_id}.")
    return batch


@notices_api.route("/notice-batches/<int:batch_id>/pdf")
@notices_api.response(200, description="The merged PDF for the mail house.")
@notices_api.doc(**file_response("application/pdf"))
@requires("read")
def batch_pdf(batch_id: int):
    """Download the merged PDF of a batch."""
    batch = _batch_or_404(batch_id)
    if not batch.pdf_path:
        abort(404, message=f"Print batch {batch_id} has nothing to print.")
    folder = current_app.config["NOTICES_DIR"]
    return send_file(
        f"{folder}/{batch.pdf_path}",
        mimetype="application/pdf",
        download_name=f"batch-{batch.id}.pdf",
    )


@notices_api.route("/notice-batches/<int:batch_id>/manifest")
@notices_api.response(200, description="The batch's CSV manifest.")
@notices_api.doc(**file_response("text/csv"))
@requires("read")
def batch_manifest(batch_id: int):
    """Download the CSV manifest of a batch."""
    batch = _batch_or_404(batch_id)
    if not batch.manifest_path:
        abort(404, message=f"Print batch {batch_id} has nothing to print.")
    folder = current_app.config["NOTICES_DIR"]
    return send_file(
        f"{folder}/{batch.manifest_path}",
        mimetype="text/csv",
        download_name=f"batch-{batch.id}.csv",
    )


@notices_api.route("/notice-batches/<int:batch_id>/mailed", methods=["POST"])
@notices_api.response(200, BatchSchema)
@requires("write")
def mailed(batch_id: int):
    """Record that the mail house has the batch."""
    batch = _batch_or_404(batch_id)
    try:
        mark_mailed(db.session, request_actor(), batch)
    except NoticeError as error:
        db.session.rollback()
        abort(409, message=str(error))
    db.session.commit()
    return batch


class ReminderPauseSchema(ma.Schema):
    """Reminders paused for an invoice or a whole account."""

    id = ma.fields.Integer()
    account = ma.fields.Function(
        lambda p: db.session.get(Account, p.account_id).number if p.account_id else None
    )
    invoice = ma.fields.Function(
        lambda p: db.session.get(Invoice, p.invoice_id).number if p.invoice_id else None
    )
    reason = ma.fields.String()
    paused_by = ma.fields.String()
    created_at = ma.fields.DateTime()
    resumed_at = ma.fields.DateTime(allow_none=True)
    resumed_by = ma.fields.String(allow_none=True)


def _reason(value: str) -> None:
    if len(value.strip()) < 5:
        raise ma.ValidationError("Give a reason of at least 5 characters.")


class ReminderPauseRequestSchema(ma.Schema):
    """Pause reminders, saying why."""

    class Meta:
        unknown = ma.RAISE

    reason = ma.fields.String(required=True, validate=[validate.Length(max=500), _reason])


def _paused(*, account_id: int | None = None, invoice_id: int | None = None, reason: str):
    """Record a pause unless one is already active for the same invoice or account; commits."""
    active = db.session.scalar(
        sa.select(ReminderPause.id).where(
            ReminderPause.resumed_at.is_(None),
            ReminderPause.account_id.is_(None)
            if account_id is None
            else ReminderPause.account_id == account_id,
            ReminderPause.invoice_id.is_(None)
            if invoice_id is None
            else ReminderPause.invoice_id == invoice_id,
        )
    )
    if active is not None:
        abort(409, message=f"Reminders are already paused (pause {active}).")
    actor = request_actor()
    pause = ReminderPause(
        account_id=account_id,
        invoice_id=invoice_id,
        reason=reason.strip(),
        paused_by=actor.label,
    )
    db.session.add(pause)
    db.session.flush()
    record(
        db.session,
        actor,
        "reminder.pause",
        pause,
        account_id=account_id,
        invoice_id=invoice_id,
        reason=pause.reason,
    )
    db.session.commit()
    return pause


@notices_api.route("/invoices/<number>/reminder-pauses", methods=["POST"])
@notices_api.doc(
    **links(
        "201",
        resume=(
            "POST /api/v1/reminder-pauses/{pause_id}/resume",
            {"pause_id": "$response.body#/id"},
        ),
    )
)
@notices_api.arguments(ReminderPauseRequestSchema)
@notices_api.response(201, ReminderPauseSchema)
@requires("write")
def pause_invoice_reminders(args, number: str):
    """Pause the reminders of an invoice until resumed."""
    invoice = _invoice_or_404(number)
    return _paused(invoice_id=invoice.id, reason=args["reason"])


@notices_api.route("/accounts/<number>/reminder-pauses", methods=["POST"])
@notices_api.doc(
    **links(
        "201",
        resume=(
            "POST /api/v1/reminder-pauses/{pause_id}/resume",
            {"pause_id": "$response.body#/id"},
        ),
    )
)
@notices_api.arguments(ReminderPauseRequestSchema)
@notices_api.response(201, ReminderPauseSchema)
@requires("write")
def pause_account_reminders(args, number: str):
    """Pause the reminders of every invoice of an account until resumed."""
    account = _account_or_404(number)
    return _paused(account_id=account.id, reason=args["reason"])


@notices_api.route("/reminder-pauses/<int:pause_id>/resume", methods=["POST"])
@notices_api.response(200, ReminderPauseSchema)
@requires("write")
def resume_reminders(pause_id: int):
    """Resume paused reminders: the next run sends the latest stage due."""
    pause = get_by_id(db.session, ReminderPause, pause_id)
    if pause is None:
        abort(404, message=f"No reminder pause {pause_id}.")
    if pause.resumed_at is not None:
        abort(409, message=f"Reminder pause {pause_id} was resumed on {pause.resumed_at:%Y-%m-%d}.")
    actor = request_actor()
    pause.resumed_at, pause.resumed_by = utcnow(), actor.label
    record(db.session, actor, "reminder.resume", pause)
    db.session.commit()
    return pause


def init_app(app, api) -> None:
    """Register the notices API, the payoff quotes API, the shutoff appeals' and orders'."""
    from notices.api_appeals import appeals_api
    from notices.api_shutoff import shutoff_api
    from notices.api_shutoff_admin import shutoff_admin_api
    from notices.payoff_api import payoff_api

    api.register_blueprint(notices_api)
    api.register_blueprint(payoff_api)
    api.register_blueprint(appeals_api)
    api.register_blueprint(shutoff_api)
    api.register_blueprint(shutoff_admin_api)

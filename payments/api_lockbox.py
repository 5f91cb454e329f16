"""/api/v1/lockbox: import a bank's lockbox or bill-pay file, read the files and the exception
queue, apply or return a waiting item (docs/lockbox.md)."""

from __future__ import annotations

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app, request
from flask_smorest import Blueprint, abort
from marshmallow import validate

from accounts.services import find_account
from core.auth import request_actor, requires
from core.calendar import town_today
from core.db import get_by_id
from core.extensions import db
from core.limits import body_limit
from core.pagination import page_of
from payments.lockbox import ImportRefused, accepted_former_numbers, import_file
from payments.lockbox_layouts import FileRefused, LayoutError, load_layout
from payments.lockbox_queue import MAX_NOTE, MIN_NOTE, QueueRefused, apply_item, return_item
from payments.models import RemittanceFile, RemittanceItem, RemittanceStatus
from payments.payoff_lockbox import QuoteTerms

lockbox_api = Blueprint(
    "lockbox_api",
    __name__,
    url_prefix="/api/v1/lockbox",
    description="Lockbox and bill-pay files and their exception queue",
)
NOTE = validate.Length(MIN_NOTE, MAX_NOTE)


class ImportQuerySchema(ma.Schema):
    """How to read the file sent as the body."""

    layout = ma.fields.String(required=True, validate=validate.Length(1, 64))
    filename = ma.fields.String(load_default="upload", validate=validate.Length(1, 255))
    dry_run = ma.fields.Boolean(load_default=False)


class ExceptionSchema(ma.Schema):
    """An item sent to the exception queue by an import."""

    sequence = ma.fields.Integer()
    line = ma.fields.Integer()
    batch = ma.fields.String()
    amount_cents = ma.fields.Integer()
    reason = ma.fields.String()
    detail = ma.fields.String()


class ImportReportSchema(ma.Schema):
    """What an import did (or, dry, would do)."""

    file_id = ma.fields.Integer(allow_none=True)
    filename = ma.fields.String()
    layout = ma.fields.String()
    kind = ma.fields.String()
    deposit_date = ma.fields.Date()
    items = ma.fields.Integer()
    total_cents = ma.fields.Integer()
    settled = ma.fields.Integer()
    settled_cents = ma.fields.Integer()
    exception_cents = ma.fields.Integer()
    exceptions = ma.fields.List(ma.fields.Nested(ExceptionSchema))
    dry_run = ma.fields.Boolean()
    #: The bank deposit made of the file on import (LOCKBOX_DEPOSIT_ON_IMPORT), or null.
    bank_deposit = ma.fields.String(allow_none=True)


class FileSchema(ma.Schema):
    """An imported file."""

    id = ma.fields.Integer()
    kind = ma.fields.Function(lambda f: f.kind.value)
    layout = ma.fields.String()
    filename = ma.fields.String()
    sha256 = ma.fields.String()
    deposit_date = ma.fields.Date()
    item_count = ma.fields.Integer()
    total_cents = ma.fields.Integer()
    settled_count = ma.fields.Integer()
    settled_cents = ma.fields.Integer()
    exception_count = ma.fields.Integer()
    exception_cents = ma.fields.Integer()
    imported_by = ma.fields.String()
    imported_at = ma.fields.DateTime()
    #: Whether the file's money is in a bank deposit yet.
    deposited = ma.fields.Function(lambda f: f.bank_deposit_id is not None)


class ItemSchema(ma.Schema):
    """One item of a file."""

    id = ma.fields.Integer()
    file_id = ma.fields.Integer()
    sequence = ma.fields.Integer()
    batch = ma.fields.String()
    item = ma.fields.String(allow_none=True)
    amount_cents = ma.fields.Integer()
    reference = ma.fields.String(allow_none=True)
    scan_line = ma.fields.String(allow_none=True)
    account_text = ma.fields.String(allow_none=True)
    stub_cents = ma.fields.Integer(allow_none=True)
    payer_name = ma.fields.String(allow_none=True)
    account_id = ma.fields.Integer(allow_none=True)
    payment_id = ma.fields.Integer(allow_none=True)
    status = ma.fields.Function(lambda i: i.status.value)
    reason = ma.fields.String(allow_none=True)
    detail = ma.fields.String(allow_none=True)
    resolved_by = ma.fields.String(allow_none=True)
    resolved_at = ma.fields.DateTime(allow_none=True)
    resolution = ma.fields.String(allow_none=True)


class ApplySchema(ma.Schema):
    """Apply a waiting item to an account chosen by hand."""

    account_number = ma.fields.String(required=True, validate=validate.Length(1, 40))
    amount_cents = ma.fields.Integer(required=True, strict=True)
    note = ma.fields.String(required=True, validate=NOTE)


class ReturnSchema(ma.Schema):
    """Return a waiting item to its payer."""

    note = ma.fields.String(required=True, validate=NOTE)


@lockbox_api.route("/files", methods=["POST"])
@lockbox_api.arguments(ImportQuerySchema, location="query")
@lockbox_api.response(201, ImportReportSchema)
@lockbox_api.doc(
    requestBody={
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string"}}},
    }
)
@requires("write")
def import_(args):
    """Import a lockbox or bill-pay file sent as the body; a refused file takes nothing."""
    today = town_today(current_app.config)
    try:
        report = import_file(
            db.session,
            request_actor(),
            request.get_data(),
            layout=load_layout(args["layout"]),
            filename=args["filename"],
            today=today,
            accepted=accepted_former_numbers(current_app.config, today),
            dry_run=args["dry_run"],
            deposit=current_app.config["LOCKBOX_DEPOSIT_ON_IMPORT"],
            quotes=QuoteTerms.from_config(current_app.config),
        )
    except LayoutError as error:
        db.session.rollback()
        abort(422, errors={"layout": [str(error)]})
    except (FileRefused, ImportRefused) as error:
        db.session.rollback()
        status = 409 if "already imported" in str(error) or "same moment" in str(error) else 422
        abort(status, errors={"file": [str(error)]})
    if args["dry_run"]:
        db.session.rollback()
        return report, 200
    db.session.commit()
    return report


@lockbox_api.route("/files", methods=["GET"])
@lockbox_api.response(200, FileSchema(many=True))
@lockbox_api.paginate()
@requires("read")
def files(pagination_parameters):
    """The imported files, newest first."""
    query = sa.select(RemittanceFile).order_by(RemittanceFile.id.desc())
    return page_of(query, pagination_parameters)


@lockbox_api.route("/exceptions", methods=["GET"])
@lockbox_api.response(200, ItemSchema(many=True))
@lockbox_api.paginate()
@requires("read")
def exceptions(pagination_parameters):
    """The items waiting for a clerk, oldest first."""
    query = (
        sa.select(RemittanceItem)
        .where(RemittanceItem.status == RemittanceStatus.EXCEPTION)
        .order_by(RemittanceItem.id)
    )
    return page_of(query, pagination_parameters)


def _item_or_404(item_id: int) -> RemittanceItem:
    item = get_by_id(db.session, RemittanceItem, item_id)
    if item is None:
        abort(404, message=f"No lockbox item {item_id}.")
    return item


def _refused(error: QueueRefused):
    db.session.rollback()
    abort(409 if error.field == "item" else 422, errors={error.field: [error.message]})


@lockbox_api.route("/items/<int:item_id>", methods=["GET"])
@lockbox_api.response(200, ItemSchema)
@requires("read")
def item(item_id: int):
    """One item of a file."""
    return _item_or_404(item_id)


@lockbox_api.route("/items/<int:item_id>/apply", methods=["POST"])
@lockbox_api.arguments(ApplySchema)
@lockbox_api.response(201, ItemSchema)
@requires("write")
def apply(args, item_id: int):
    """Apply a waiting item's whole amount to an account chosen by hand; audited."""
    found = _item_or_404(item_id)
    try:
        apply_item(
            db.session,
            request_actor(),
            found,
            account=find_account(db.session, args["account_number"]),
            amount_cents=args["amount_cents"],
            note=args["note"],
            on=town_today(current_app.config),
        )
    except QueueRefused as error:
        _refused(error)
    db.session.commit()
    return _item_or_404(item_id)


@lockbox_api.route("/items/<int:item_id>/return", methods=["POST"])
@lockbox_api.arguments(ReturnSchema)
@lockbox_api.response(201, ItemSchema)
@requires("write")
def return_(args, item_id: int):
    """Return a waiting item to its payer: the town owes it back; audited."""
    found = _item_or_404(item_id)
    try:
        return_item(
            db.session, request_actor(), found, note=args["note"], on=town_today(current_app.config)
        )
    except QueueRefused as error:
        _refused(error)
    db.session.commit()
    return _item_or_404(item_id)


def init_app(app, api) -> None:
    """Register the lockbox API, with the uploads' body limit."""
    api.register_blueprint(lockbox_api)
    body_limit(app, "lockbox_api.import_", "UPLOAD_MAX_CONTENT_LENGTH")

"""/api/v1/bank-statements: import a bank statement, read the statements, and the bank
reconciliation as of a date (docs/bank-statements.md).

The reconciliation's PDF is the console's (`/staff/bank/reconciliation.pdf`); here are its
figures and items as JSON.
"""

from __future__ import annotations

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app, request
from flask_smorest import Blueprint, abort
from marshmallow import validate

from core.auth import request_actor, requires
from core.extensions import db
from core.limits import body_limit
from payments.bank_reconciliation import NoStatement, reconcile
from payments.bank_statements import fee_rule_from, import_statement
from payments.statement_files import StatementRefused
from payments.statement_models import BankStatement

statements_api = Blueprint(
    "statements_api",
    __name__,
    url_prefix="/api/v1/bank-statements",
    description="Bank statements and the bank reconciliation",
)


class ImportQuerySchema(ma.Schema):
    """How to read the statement sent as the body."""

    layout = ma.fields.String(load_default="bai2", validate=validate.Length(1, 64))
    filename = ma.fields.String(load_default="upload", validate=validate.Length(1, 255))


class StatementSchema(ma.Schema):
    """An imported statement and what became of its lines."""

    id = ma.fields.Integer()
    bank_account = ma.fields.String()
    statement_date = ma.fields.Date()
    sequence = ma.fields.String()
    format = ma.fields.Function(lambda s: s.format.value)
    layout = ma.fields.String()
    filename = ma.fields.String()
    sha256 = ma.fields.String()
    opening_ledger_cents = ma.fields.Integer()
    closing_ledger_cents = ma.fields.Integer()
    line_count = ma.fields.Integer()
    credit_cents = ma.fields.Integer()
    debit_cents = ma.fields.Integer()
    matched_count = ma.fields.Integer()
    fee_count = ma.fields.Integer()
    queued_count = ma.fields.Integer()
    imported_by = ma.fields.String()
    imported_at = ma.fields.DateTime()


class DateQuerySchema(ma.Schema):
    """The reconciliation's date."""

    date = ma.fields.Date(required=True)


class ReconItemSchema(ma.Schema):
    """One reconciling item."""

    label = ma.fields.String()
    on = ma.fields.Date()
    cents = ma.fields.Integer()


class ReconciliationSchema(ma.Schema):
    """The bank reconciliation's figures and items."""

    as_of = ma.fields.Date()
    bank_account = ma.fields.String()
    statement_id = ma.fields.Integer()
    statement_date = ma.fields.Date()
    bank_cents = ma.fields.Integer()
    in_transit_cents = ma.fields.Integer()
    receipts_cents = ma.fields.Integer()
    outstanding_cents = ma.fields.Integer()
    unmatched_cents = ma.fields.Integer()
    adjusted_bank_cents = ma.fields.Integer()
    book_bank_cents = ma.fields.Integer()
    book_in_transit_cents = ma.fields.Integer()
    book_cents = ma.fields.Integer()
    difference_cents = ma.fields.Integer()
    in_transit = ma.fields.List(ma.fields.Nested(ReconItemSchema))
    receipts = ma.fields.List(ma.fields.Nested(ReconItemSchema))
    outstanding = ma.fields.List(ma.fields.Nested(ReconItemSchema))
    unmatched = ma.fields.List(ma.fields.Nested(ReconItemSchema))


@statements_api.route("", methods=["POST"])
@statements_api.arguments(ImportQuerySchema, location="query")
@statements_api.response(201, StatementSchema)
@statements_api.doc(
    requestBody={
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string"}}},
    }
)
@requires("write")
def import_(args):
    """Import a statement sent as the body: every line matched, posted as a fee, or queued."""
    try:
        report = import_statement(
            db.session,
            request_actor(),
            request.get_data(),
            filename=args["filename"],
            layout=args["layout"],
            fee_rule=fee_rule_from(current_app.config),
        )
    except StatementRefused as refused:
        db.session.rollback()
        abort(422, errors={"file": [str(refused)]})
    db.session.commit()
    return report.statement


@statements_api.route("")
@statements_api.response(200, StatementSchema(many=True))
@requires("read")
def statements():
    """The latest 100 statements, newest first."""
    return db.session.scalars(
        sa.select(BankStatement)
        .order_by(BankStatement.statement_date.desc(), BankStatement.id.desc())
        .limit(100)
    ).all()


@statements_api.route("/reconciliation")
@statements_api.arguments(DateQuerySchema, location="query")
@statements_api.response(200, ReconciliationSchema)
@requires("read")
def reconciliation(args):
    """The bank reconciliation as of a date (the newest statement on or before it)."""
    try:
        return reconcile(db.session, args["date"])
    except NoStatement as missing:
        abort(404, message=f"{str(missing).capitalize()}.")


def init_app(app, api) -> None:
    """Register the statements API, with the uploads' body limit."""
    api.register_blueprint(statements_api)
    body_limit(app, "statements_api.import_", "UPLOAD_MAX_CONTENT_LENGTH")

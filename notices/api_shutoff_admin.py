"""/api/v1 endpoints for the shutoff's records and its monthly report: the versions of the rule
and loading a new one (supervisor and admin: the approve permission), the medical certificates
and recording one, a day's shutoff notices, and the report of shutoffs and reconnections by
month as JSON or CSV (thin: validate, call a service, commit once, answer). docs/shutoff.md."""

from __future__ import annotations

import marshmallow as ma
from flask import Response, current_app, url_for
from flask_smorest import Blueprint, abort
from marshmallow import validate

from accounts.models import Account
from accounts.services import find_account
from billing.computed import RuleError
from billing.medical_certificates import ShutoffError, record_certificate
from billing.shutoff_rules import load_shutoff_rule, rule_to_document, shutoff_rule_on
from core.apidoc import file_response
from core.auth import request_actor, requires
from core.calendar import town_today
from core.extensions import db
from notices.shutoff_records import certificates, notices_on, read_rule_text, rule_versions
from notices.shutoff_report import (
    Month,
    ReportError,
    month_range,
    report_csv,
    report_json,
    shutoff_report,
)

shutoff_admin_api = Blueprint(
    "shutoff_admin_api",
    __name__,
    url_prefix="/api/v1",
    description="Utility shutoff: the rule, medical certificates, notices and the monthly report",
)


def _refused(error: ValueError, default_field: str = "_request") -> None:
    """Roll back and answer 422 with the message under its field."""
    db.session.rollback()
    field, sep, message = str(error).partition(": ")
    if not sep or " " in field:
        field, message = default_field, str(error)
    abort(422, errors={field: [message]})


class ReportQuerySchema(ma.Schema):
    """A month range (YYYY-MM), and the answer's format."""

    start = ma.fields.String(required=True, data_key="from")
    end = ma.fields.String(required=True, data_key="to")
    format = ma.fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))


@shutoff_admin_api.route("/shutoff-report")
@shutoff_admin_api.arguments(ReportQuerySchema, location="query")
@shutoff_admin_api.response(200, description="One object a month: the figures (counts only).")
@shutoff_admin_api.doc(**file_response("application/json", "text/csv"))
@requires("read")
def shutoff_report_months(args):
    """Shutoffs and reconnections by month (a range in the future or reversed is refused)."""
    today = town_today(current_app.config)
    try:
        months = month_range(
            Month.parse(args["start"], "from"), Month.parse(args["end"], "to"), today
        )
    except ReportError as error:
        _refused(error)
    figures = shutoff_report(db.session, current_app.config, months, today)
    if args["format"] == "csv":
        name = f"shutoffs-{months[0]}-{months[-1]}.csv"
        return Response(
            report_csv(figures),
            mimetype="text/csv",
            headers={"Content-Disposition": f"attachment; filename={name}"},
        )
    return {"months": report_json(figures)}


class RuleSchema(ma.Schema):
    """A version of the shutoff rule, as its document, and whether it is the one in force."""

    id = ma.fields.Integer()
    document = ma.fields.Function(rule_to_document)
    recorded_by = ma.fields.String()
    in_force = ma.fields.Function(
        lambda rule: bool(
            (now := shutoff_rule_on(db.session, town_today(current_app.config)))
            and now.id == rule.id
        )
    )


class RuleLoadSchema(ma.Schema):
    """A new version: the document as an object, or as JSON or YAML text."""

    document = ma.fields.Dict()
    text = ma.fields.String(validate=validate.Length(1, 20000))
    dry_run = ma.fields.Boolean(load_default=False)


@shutoff_admin_api.route("/shutoff-rules")
@shutoff_admin_api.response(200, RuleSchema(many=True))
@requires("read")
def list_shutoff_rules():
    """Every version of the shutoff rule, the newest first."""
    return rule_versions(db.session)


@shutoff_admin_api.route("/shutoff-rules", methods=["POST"])
@shutoff_admin_api.arguments(RuleLoadSchema)
@shutoff_admin_api.response(201, RuleSchema)
@requires("approve")
def load_rule(args):
    """Load a new version (validated in full; a bad one is refused naming the place)."""
    if ("document" in args) == ("text" in args):
        abort(422, errors={"document": ["send the document or its text, one of the two"]})
    try:
        document = args.get("document") or read_rule_text(args["text"])
        rule = load_shutoff_rule(db.session, request_actor(), document)
    except RuleError as error:
        _refused(error)
    if args["dry_run"]:
        answer = RuleSchema().dump(rule)
        db.session.rollback()
        return answer, 200
    db.session.commit()
    return rule


class CertificateSchema(ma.Schema):
    """A medical certificate on file."""

    id = ma.fields.Integer()
    account = ma.fields.Function(lambda c: c.account.number)
    starts_on = ma.fields.Date()
    ends_on = ma.fields.Date()
    certified_by = ma.fields.String()
    recorded_by = ma.fields.String()


class CertificateNewSchema(ma.Schema):
    """A certificate to record."""

    account = ma.fields.String(required=True)
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(required=True)
    certified_by = ma.fields.String(required=True, validate=validate.Length(1, 200))


@shutoff_admin_api.route("/medical-certificates")
@shutoff_admin_api.response(200, CertificateSchema(many=True))
@requires("read")
def list_certificates():
    """The medical certificates on file, the latest ending first."""
    return certificates(db.session)


@shutoff_admin_api.route("/medical-certificates", methods=["POST"])
@shutoff_admin_api.arguments(CertificateNewSchema)
@shutoff_admin_api.response(201, CertificateSchema)
@requires("write")
def new_certificate(args):
    """Record a certificate (one that ends before it starts is refused with the reason)."""
    account = find_account(db.session, args["account"])
    if account is None:
        abort(422, errors={"account": [f"no account {args['account']}"]})
    try:
        certificate = record_certificate(
            db.session,
            request_actor(),
            account,
            starts_on=args["starts_on"],
            ends_on=args["ends_on"],
            certified_by=args["certified_by"],
        )
    except ShutoffError as error:
        _refused(error, "ends_on" if "ends on" in str(error) else "certified_by")
    db.session.commit()
    return certificate


class ShutoffNoticeSchema(ma.Schema):
    """A shutoff notice: the amount that stops the shutoff, the earliest day, its PDFs."""

    id = ma.fields.Integer()
    account = ma.fields.Function(lambda n: _number(n.account_id))
    issued_on = ma.fields.Date()
    amount_cents = ma.fields.Integer()
    earliest_shutoff_on = ma.fields.Date()
    pdf = ma.fields.Function(lambda n: url_for("notices_api.notice_pdf", notice_id=n.notice_id))
    occupant_pdf = ma.fields.Function(
        lambda n: (
            n.occupant_notice_id
            and url_for("notices_api.notice_pdf", notice_id=n.occupant_notice_id)
        )
    )


def _number(account_id: int) -> str:
    return db.session.get(Account, account_id).number


class DaySchema(ma.Schema):
    """A day (default: today in the municipality)."""

    on = ma.fields.Date()


@shutoff_admin_api.route("/shutoff-notices")
@shutoff_admin_api.arguments(DaySchema, location="query")
@shutoff_admin_api.response(200, ShutoffNoticeSchema(many=True))
@requires("read")
def list_shutoff_notices(args):
    """The shutoff notices of a day, with links to their PDFs (and the occupant's copy)."""
    return notices_on(db.session, args.get("on") or town_today(current_app.config))

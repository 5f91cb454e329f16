"""/api/v1 endpoints for shutoff appeals: an account's appeals, recording one taken by phone,
the pending queue, and a supervisor's decision (the approve permission) (docs/shutoff.md)."""

from __future__ import annotations

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app
from flask_smorest import Blueprint, abort
from marshmallow import validate

from accounts.models import Account
from accounts.services import find_account
from core.auth import request_actor, requires
from core.calendar import town_today
from core.db import get_by_id, utcnow
from core.extensions import db
from notices.appeal_letters import send_acknowledgement, tell_decision
from notices.mail_delivery import Mailer
from notices.models import AppealChannel, AppealStatus, ShutoffAppeal
from notices.shutoff_appeals import MAX_WORDS, AppealError, appeals_of, decide_appeal, file_appeal

appeals_api = Blueprint(
    "appeals_api", __name__, url_prefix="/api/v1", description="Shutoff appeals"
)


class AppealSchema(ma.Schema):
    """A shutoff appeal (for staff: the internal note included)."""

    id = ma.fields.Integer()
    account = ma.fields.Function(lambda a: db.session.get(Account, a.account_id).number)
    shutoff_notice_id = ma.fields.Integer(allow_none=True)
    channel = ma.fields.Function(lambda a: a.channel.value)
    statement = ma.fields.String()
    filed_by = ma.fields.String()
    filed_on = ma.fields.Date()
    status = ma.fields.Function(lambda a: a.status.value)
    decided_by = ma.fields.String(allow_none=True)
    decided_on = ma.fields.Date(allow_none=True)
    resident_reasons = ma.fields.String(allow_none=True)
    internal_note = ma.fields.String(allow_none=True)


class AppealFileSchema(ma.Schema):
    """An appeal a resident made by phone."""

    statement = ma.fields.String(required=True, validate=validate.Length(1, MAX_WORDS))


class AppealDecisionSchema(ma.Schema):
    """A supervisor's decision."""

    decision = ma.fields.String(required=True, validate=validate.OneOf(("upheld", "denied")))
    reasons = ma.fields.String(required=True, validate=validate.Length(1, MAX_WORDS))
    note = ma.fields.String(load_default="", validate=validate.Length(0, MAX_WORDS))


def _refused(error: AppealError):
    db.session.rollback()
    if error.code in ("already", "decided"):
        abort(409, message=str(error))
    field = "reasons" if error.code.startswith("reasons") else "statement"
    abort(422, errors={field: [str(error)]})


@appeals_api.route("/accounts/<number>/shutoff-appeals")
@appeals_api.response(200, AppealSchema(many=True))
@requires("read")
def account_appeals(number: str):
    """An account's shutoff appeals, newest first."""
    account = find_account(db.session, number)
    if account is None:
        abort(404, message=f"No account {number}.")
    return appeals_of(db.session, account.id)


@appeals_api.route("/accounts/<number>/shutoff-appeals", methods=["POST"])
@appeals_api.arguments(AppealFileSchema)
@appeals_api.response(201, AppealSchema)
@requires("write")
def file(args, number: str):
    """Record an appeal a resident made by phone (pending until a supervisor decides)."""
    account = find_account(db.session, number)
    if account is None:
        abort(404, message=f"No account {number}.")
    config = current_app.config
    try:
        appeal = file_appeal(
            db.session,
            request_actor(),
            account,
            statement=args["statement"],
            channel=AppealChannel.PHONE,
            at=utcnow(),
            on=town_today(config),
        )
    except AppealError as error:
        _refused(error)
    db.session.commit()
    send_acknowledgement(config, Mailer.from_config(config), appeal, account)
    return appeal


@appeals_api.route("/shutoff-appeals")
@appeals_api.response(200, AppealSchema(many=True))
@requires("read")
def pending():
    """The pending appeals, oldest first: the supervisors' queue."""
    return db.session.scalars(
        sa.select(ShutoffAppeal)
        .where(ShutoffAppeal.status == AppealStatus.PENDING)
        .order_by(ShutoffAppeal.filed_at, ShutoffAppeal.id)
    ).all()


@appeals_api.route("/shutoff-appeals/<int:appeal_id>/decision", methods=["POST"])
@appeals_api.arguments(AppealDecisionSchema)
@appeals_api.response(200, AppealSchema)
@requires("approve")
def decide(args, appeal_id: int):
    """Uphold or deny a pending appeal; the decision letter goes to the resident."""
    appeal = get_by_id(db.session, ShutoffAppeal, appeal_id)
    if appeal is None:
        abort(404, message=f"No appeal {appeal_id}.")
    config = current_app.config
    try:
        decide_appeal(
            db.session,
            request_actor(),
            appeal,
            upheld=args["decision"] == "upheld",
            resident_reasons=args["reasons"],
            internal_note=args["note"],
            at=utcnow(),
            on=town_today(config),
        )
    except AppealError as error:
        _refused(error)
    db.session.commit()
    tell_decision(db.session, config, Mailer.from_config(config), appeal)
    return appeal

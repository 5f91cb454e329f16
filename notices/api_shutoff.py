"""/api/v1/door-hangers, /api/v1/shutoff-orders and /api/v1/reconnection-orders: the day's door
hangers and hanging them, the day's shutoff work orders, issuing them, entering a crew's result,
and the reconnection orders with their completion (thin:
validate, call a service, commit once, answer). docs/shutoff.md, "In the field"."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask_smorest import Blueprint, abort

from accounts.models import Account
from billing.models import NotDoneReason, OrderState, ReconnectionOrder, ShutoffOrder
from billing.reconnection import reconnection_orders
from core.auth import request_actor, requires
from core.calendar import town_today
from core.extensions import db
from notices.shutoff_field import (
    FieldError,
    door_hangers_on,
    hang_door_hangers,
    issue_work_orders,
    orders_on,
)
from notices.shutoff_field_results import (
    NOT_SHUT_OFF,
    SHUT_OFF,
    Result,
    enter_result,
    find_order,
    reconnect,
)

shutoff_api = Blueprint(
    "shutoff_api",
    __name__,
    url_prefix="/api/v1",
    description="Utility shutoff in the field: door hangers, work orders, results, reconnection "
    "orders",
)


class ShutoffOrderSchema(ma.Schema):
    """A shutoff work order and its result."""

    number = ma.fields.String()
    attempt = ma.fields.Integer(metadata={"description": "1, or 2, 3, … after a crew could not"})
    account = ma.fields.Function(lambda o: o.account.number)
    work_on = ma.fields.Date()
    route = ma.fields.String()
    service_address = ma.fields.String()
    meter_id = ma.fields.String(allow_none=True)
    amount_cents = ma.fields.Integer()
    state = ma.fields.Enum(OrderState, by_value=True)
    result_at = ma.fields.AwareDateTime(allow_none=True)
    meter_reading = ma.fields.Integer(allow_none=True)
    not_done_reason = ma.fields.Enum(NotDoneReason, by_value=True, allow_none=True)
    note = ma.fields.String(allow_none=True, metadata={"description": "or why it was cancelled"})


class DoorHangerSchema(ma.Schema):
    """A door hanger (the 48-hour notice) left at a service address."""

    account = ma.fields.Function(lambda h: db.session.get(Account, h.account_id).number)
    hung_on = ma.fields.Date()
    shutoff_on = ma.fields.Date()
    amount_cents = ma.fields.Integer()
    route = ma.fields.String()
    service_address = ma.fields.String()
    language = ma.fields.String()
    notice_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "the hanger's notice where texted or e-mailed"}
    )


class HangResultSchema(ma.Schema):
    """What hanging the day's door hangers did."""

    hung = ma.fields.Integer()
    excluded = ma.fields.Integer()
    already = ma.fields.Integer()
    texted = ma.fields.Integer()
    emailed = ma.fields.Integer()
    reasons = ma.fields.List(ma.fields.String())


class DaySchema(ma.Schema):
    """A day (default: today in the municipality)."""

    on = ma.fields.Date()


class IssueResultSchema(ma.Schema):
    """What issuing the day's orders did."""

    issued = ma.fields.Integer()
    excluded = ma.fields.Integer()
    already = ma.fields.Integer()
    cancelled = ma.fields.Integer()
    reasons = ma.fields.List(ma.fields.String())


class ResultSchema(ma.Schema):
    """A crew's result (paid at the door is entered at the counter page, into a drawer)."""

    result = ma.fields.String(required=True, validate=ma.validate.OneOf((SHUT_OFF, NOT_SHUT_OFF)))
    at = ma.fields.AwareDateTime(required=True)
    meter_reading = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=0))
    reason = ma.fields.Enum(NotDoneReason, by_value=True)
    note = ma.fields.String(validate=ma.validate.Length(max=500))


class ReconnectionSchema(ma.Schema):
    """A reconnection order: when the amount was paid and when the service came back on."""

    number = ma.fields.String()
    shutoff_order = ma.fields.Function(lambda o: o.shutoff_order.number)
    account = ma.fields.Function(lambda o: o.shutoff_order.account.number)
    paid_at = ma.fields.AwareDateTime()
    reconnected_at = ma.fields.AwareDateTime(allow_none=True)
    meter_reading = ma.fields.Integer(allow_none=True)


class CompleteSchema(ma.Schema):
    """The crew turned the service back on."""

    at = ma.fields.AwareDateTime(required=True)
    meter_reading = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=0))


def _refused(error: ValueError) -> None:
    """Roll back and answer 422 with the message under its field (or _request)."""
    db.session.rollback()
    field, sep, message = str(error).partition(": ")
    if not sep or " " in field:
        field, message = "_request", str(error)
    abort(422, errors={field: [message]})


@shutoff_api.route("/door-hangers")
@shutoff_api.arguments(DaySchema, location="query")
@shutoff_api.response(200, DoorHangerSchema(many=True))
@requires("read")
def list_door_hangers(args):
    """The door hangers of a day by route and service address (the crew's walk)."""
    return door_hangers_on(db.session, args.get("on") or town_today(current_app.config))


@shutoff_api.route("/door-hangers/hang", methods=["POST"])
@shutoff_api.arguments(DaySchema)
@shutoff_api.response(200, HangResultSchema)
@requires("write")
def hang_day(args):
    """Hang the day's door hangers (each account asked again), text and e-mail them where the
    resident chose; a second call hangs none twice."""
    on = args.get("on") or town_today(current_app.config)
    outcome = hang_door_hangers(db.session, current_app.config, request_actor(), as_of=on)
    db.session.commit()
    return {
        "hung": outcome.done,
        "excluded": outcome.excluded,
        "already": outcome.already,
        "texted": outcome.texted,
        "emailed": outcome.emailed,
        "reasons": list(outcome.reasons.values()),
    }


@shutoff_api.route("/shutoff-orders")
@shutoff_api.arguments(DaySchema, location="query")
@shutoff_api.response(200, ShutoffOrderSchema(many=True))
@requires("read")
def list_shutoff_orders(args):
    """The shutoff orders of a day by route and address, cancelled ones with the reason."""
    return orders_on(db.session, args.get("on") or town_today(current_app.config))


@shutoff_api.route("/shutoff-orders/issue", methods=["POST"])
@shutoff_api.arguments(DaySchema)
@shutoff_api.response(200, IssueResultSchema)
@requires("write")
def issue_shutoff_orders(args):
    """Issue the day's orders (each account asked again); refused on a day with no shutoffs."""
    on = args.get("on") or town_today(current_app.config)
    try:
        outcome = issue_work_orders(db.session, current_app.config, request_actor(), as_of=on)
    except FieldError as error:
        _refused(error)
    db.session.commit()
    return outcome.counts("issued") | {"reasons": list(outcome.reasons.values())}


@shutoff_api.route("/shutoff-orders/<number>/result", methods=["POST"])
@shutoff_api.arguments(ResultSchema)
@shutoff_api.response(200, ShutoffOrderSchema)
@requires("write")
def enter_shutoff_result(args, number: str):
    """Enter a crew's result: refused with the reason for an order never issued, one whose
    result is in, or a cancelled one."""
    result = Result(
        args["result"],
        args["at"],
        args.get("meter_reading"),
        args.get("reason"),
        args.get("note"),
    )
    try:
        order: ShutoffOrder = find_order(db.session, number)
        enter_result(db.session, current_app.config, request_actor(), order, result)
    except FieldError as error:
        _refused(error)
    db.session.commit()
    return order


@shutoff_api.route("/reconnection-orders")
@shutoff_api.response(200, ReconnectionSchema(many=True))
@requires("read")
def list_reconnection_orders():
    """The reconnection orders not completed yet, by route and address."""
    return reconnection_orders(db.session)


@shutoff_api.route("/reconnection-orders/<number>/complete", methods=["POST"])
@shutoff_api.arguments(CompleteSchema)
@shutoff_api.response(200, ReconnectionSchema)
@requires("write")
def complete_reconnection_order(args, number: str):
    """Enter that the crew turned the service back on (once)."""
    try:
        order: ReconnectionOrder = reconnect(
            db.session,
            request_actor(),
            number,
            at=args["at"],
            meter_reading=args.get("meter_reading"),
        )
    except FieldError as error:
        _refused(error)
    db.session.commit()
    return order

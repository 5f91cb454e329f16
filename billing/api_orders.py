"""/api/v1/service-orders, /api/v1/service-locations and balance transfers of final bills
(thin: validate, call a service, commit once, answer). docs/api.md, "Service orders"."""

from __future__ import annotations

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app
from flask_smorest import Blueprint, abort

from accounts.locations import BillTo, OrderKind, OrderStatus, ServiceLocation, ServiceOrder
from accounts.models import Account
from accounts.responsibility import history, set_bill_to, set_owner
from accounts.services import find_account
from billing.balance_transfers import TransferError, transfer_final_balance
from billing.deposit_owed import owed_for_order
from billing.models import Invoice, OwedDeposit
from billing.service_orders import OrderError, confirm, new_order, refuse, settings_from
from core.auth import request_actor, requires
from core.calendar import town_today
from core.db import get_by_id
from core.extensions import db
from core.pagination import page_of

orders_api = Blueprint(
    "orders_api",
    __name__,
    url_prefix="/api/v1",
    description="Service orders (start, stop, transfer), service locations, balance transfers",
)


class ForwardingSchema(ma.Schema):
    """Where the final bill is mailed."""

    street = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    city = ma.fields.String(required=True, validate=ma.validate.Length(1, 100))
    state = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[A-Z]{2}$"))
    zip = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^\d{5}(-\d{4})?$"))


class OrderRequestSchema(ma.Schema):
    """A start, stop or transfer entered by a clerk or a client: carried out at once."""

    kind = ma.fields.Enum(OrderKind, by_value=True, required=True)
    location_id = ma.fields.Integer(strict=True, required=True)
    effective_on = ma.fields.Date(required=True)
    account = ma.fields.String(metadata={"description": "stop, transfer: the account stopped"})
    new_location_id = ma.fields.Integer(strict=True, metadata={"description": "transfer"})
    new_account = ma.fields.String(
        metadata={"description": "start, transfer: an existing active account to start on"}
    )
    holder_name = ma.fields.String(validate=ma.validate.Length(1, 200))
    email = ma.fields.Email()
    reading = ma.fields.Integer(
        strict=True,
        validate=ma.validate.Range(min=0),
        metadata={"description": "the meter's reading; left out, it is estimated and marked"},
    )
    forwarding = ma.fields.Nested(ForwardingSchema)


class OwedDepositSchema(ma.Schema):
    """The deposit a start asked for under the deposit rules, and what became of it."""

    amount_cents = ma.fields.Integer()
    reasons = ma.fields.Function(lambda d: d.reasons.split(","))
    collect = ma.fields.String(
        metadata={
            "description": "first_bill: on the next regular bill; before_service: taken "
            "by a clerk, the order flagged until then"
        }
    )
    status = ma.fields.String(metadata={"description": "owed, billed, taken or dropped"})
    owed_since = ma.fields.Date()
    invoice = ma.fields.Function(
        lambda d: db.session.get(Invoice, d.invoice_id).number if d.invoice_id else None
    )


def _deposit(order: ServiceOrder) -> dict | None:
    """The order's deposit, as the API answers it."""
    owed: OwedDeposit | None = owed_for_order(db.session, order.id)
    return None if owed is None else OwedDepositSchema().dump(owed)


class OrderSchema(ma.Schema):
    """A service order and what it did."""

    id = ma.fields.Integer()
    kind = ma.fields.Enum(OrderKind, by_value=True)
    status = ma.fields.Enum(OrderStatus, by_value=True)
    location_id = ma.fields.Integer()
    new_location_id = ma.fields.Integer(allow_none=True)
    effective_on = ma.fields.Date()
    account = ma.fields.Function(lambda o: o.account.number if o.account else None)
    new_account = ma.fields.Function(lambda o: o.new_account.number if o.new_account else None)
    holder_name = ma.fields.String(allow_none=True)
    reading = ma.fields.Integer(allow_none=True)
    reading_estimated = ma.fields.Boolean()
    final_invoice = ma.fields.Function(
        lambda o: db.session.get(Invoice, o.final_invoice_id).number if o.final_invoice_id else None
    )
    requested_by = ma.fields.String()
    decided_by = ma.fields.String(allow_none=True)
    refusal_reason = ma.fields.String(allow_none=True)
    deposit = ma.fields.Function(
        _deposit,
        metadata={"description": "the deposit the rules asked at the start (null: none)"},
    )


class OrderQuerySchema(ma.Schema):
    """Filter the orders."""

    status = ma.fields.Enum(OrderStatus, by_value=True)


class ConfirmSchema(ma.Schema):
    """A clerk confirms a resident's request, with the meter's reading when taken."""

    reading = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=0))


class RefuseSchema(ma.Schema):
    """A clerk refuses a resident's request."""

    reason = ma.fields.String(required=True, validate=ma.validate.Length(1, 500))


class ResponsibilitySchema(ma.Schema):
    """One account's days at a location."""

    account = ma.fields.Function(lambda r: r.account.number)
    starts_on = ma.fields.Date()
    ends_on = ma.fields.Date(allow_none=True)


class LocationSchema(ma.Schema):
    """A service location with its owner, occupant, rule and history."""

    id = ma.fields.Integer()
    street = ma.fields.String()
    city = ma.fields.String()
    zip = ma.fields.String()
    owner_account = ma.fields.Function(lambda loc: loc.owner_account.number)
    occupant_name = ma.fields.String(allow_none=True)
    bill_to = ma.fields.Enum(BillTo, by_value=True)
    responsibilities = ma.fields.Function(
        lambda loc: ResponsibilitySchema(many=True).dump(history(db.session, loc.id))
    )


class LocationUpdateSchema(ma.Schema):
    """Name the owner or the town's rule for whom the bill goes to."""

    owner_account = ma.fields.String()
    bill_to = ma.fields.Enum(BillTo, by_value=True)


class BalanceTransferSchema(ma.Schema):
    """Move a final bill's unpaid balance to the person's new account."""

    to_account = ma.fields.String(required=True)
    reason = ma.fields.String(required=True, validate=ma.validate.Length(1, 500))


class BalanceTransferResultSchema(ma.Schema):
    """What moved."""

    id = ma.fields.Integer()
    amount_cents = ma.fields.Integer()
    to_invoice = ma.fields.Function(lambda t: db.session.get(Invoice, t.to_invoice_id).number)
    transferred_on = ma.fields.Date()


def refused(error: ValueError) -> None:
    """Roll back and answer 422 with the message under its field (or _request)."""
    db.session.rollback()
    field, sep, message = str(error).partition(": ")
    if not sep or " " in field:
        field, message = "_request", str(error)
    abort(422, errors={field: [message]})


def _account(number: str | None, field: str) -> Account | None:
    """The account with this number; a 422 naming the field when there is none."""
    if number is None:
        return None
    account = find_account(db.session, number)
    if account is None:
        abort(422, errors={field: [f"no account {number}"]})
    return account


def _location(location_id: int | None, field: str) -> ServiceLocation | None:
    """The location with this id; a 422 naming the field when there is none."""
    if location_id is None:
        return None
    location = db.session.get(ServiceLocation, location_id)
    if location is None:
        abort(422, errors={field: [f"no service location {location_id}"]})
    return location


def order_fields(args: dict) -> dict:
    """The order's columns from a request's fields."""
    forwarding = args.get("forwarding") or {}
    account = _account(args.get("account"), "account")
    new_account = _account(args.get("new_account"), "new_account")
    new_location = _location(args.get("new_location_id"), "new_location_id")
    return {
        "kind": args["kind"],
        "location_id": _location(args["location_id"], "location_id").id,
        "effective_on": args["effective_on"],
        "account_id": account.id if account else None,
        "new_account_id": new_account.id if new_account else None,
        "new_location_id": new_location.id if new_location else None,
        "holder_name": args.get("holder_name"),
        "email": args.get("email"),
        "reading": args.get("reading"),
        **{f"forward_{name}": value for name, value in forwarding.items()},
    }


@orders_api.route("/service-orders")
@orders_api.arguments(OrderQuerySchema, location="query")
@orders_api.response(200, OrderSchema(many=True))
@orders_api.paginate()
@requires("read")
def list_orders(filters, pagination_parameters):
    """Service orders, newest first; `status=requested` is the clerks' queue."""
    query = sa.select(ServiceOrder).order_by(ServiceOrder.id.desc())
    if filters.get("status"):
        query = query.where(ServiceOrder.status == filters["status"])
    return page_of(query, pagination_parameters)


@orders_api.route("/service-orders", methods=["POST"])
@orders_api.arguments(OrderRequestSchema)
@orders_api.response(201, OrderSchema)
@requires("write")
def enter_order(args):
    """Enter a start, stop or transfer; it is carried out at once (a stop's final bill too)."""
    fields = order_fields(args)
    try:
        order = new_order(db.session, request_actor(), status=OrderStatus.CONFIRMED, **fields)
        confirm(
            db.session,
            request_actor(),
            order,
            settings_from(current_app.config),
            town_today(current_app.config),
        )
    except OrderError as error:
        refused(error)
    db.session.commit()
    return order


def _order_or_404(order_id: int) -> ServiceOrder:
    """The order, or a 404 naming it."""
    order = get_by_id(db.session, ServiceOrder, order_id)
    if order is None:
        abort(404, message=f"No service order {order_id}.")
    return order


@orders_api.route("/service-orders/<int:order_id>")
@orders_api.response(200, OrderSchema)
@requires("read")
def get_order(order_id: int):
    """One service order."""
    return _order_or_404(order_id)


@orders_api.route("/service-orders/<int:order_id>/confirm", methods=["POST"])
@orders_api.arguments(ConfirmSchema)
@orders_api.response(200, OrderSchema)
@requires("write")
def confirm_order(args, order_id: int):
    """Confirm a resident's request: it is carried out now."""
    order = _order_or_404(order_id)
    if args.get("reading") is not None:
        order.reading = args["reading"]
    try:
        confirm(
            db.session,
            request_actor(),
            order,
            settings_from(current_app.config),
            town_today(current_app.config),
        )
    except OrderError as error:
        refused(error)
    db.session.commit()
    return order


@orders_api.route("/service-orders/<int:order_id>/refuse", methods=["POST"])
@orders_api.arguments(RefuseSchema)
@orders_api.response(200, OrderSchema)
@requires("write")
def refuse_order(args, order_id: int):
    """Refuse a resident's request, with the reason (kept for staff)."""
    order = _order_or_404(order_id)
    try:
        refuse(db.session, request_actor(), order, args["reason"])
    except OrderError as error:
        refused(error)
    db.session.commit()
    return order


@orders_api.route("/service-locations/<int:location_id>")
@orders_api.response(200, LocationSchema)
@requires("read")
def get_location(location_id: int):
    """A service location: owner, occupant, the bill-to rule and who was responsible when."""
    location = get_by_id(db.session, ServiceLocation, location_id)
    if location is None:
        abort(404, message=f"No service location {location_id}.")
    return location


@orders_api.route("/service-locations/<int:location_id>", methods=["PATCH"])
@orders_api.arguments(LocationUpdateSchema)
@orders_api.response(200, LocationSchema)
@requires("write")
def update_location(args, location_id: int):
    """Name a location's owner (who pays while it is vacant) or whom its bills go to."""
    location = get_by_id(db.session, ServiceLocation, location_id)
    if location is None:
        abort(404, message=f"No service location {location_id}.")
    if args.get("owner_account"):
        set_owner(
            db.session,
            request_actor(),
            location,
            _account(args["owner_account"], "owner_account"),
        )
    if args.get("bill_to"):
        set_bill_to(db.session, request_actor(), location, args["bill_to"])
    db.session.commit()
    return location


@orders_api.route("/invoices/<number>/balance-transfers", methods=["POST"])
@orders_api.arguments(BalanceTransferSchema)
@orders_api.response(201, BalanceTransferResultSchema)
@requires("write")
def transfer_balance(args, number: str):
    """Move a final bill's unpaid balance to the person's new account, with the reason."""
    invoice = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
    if invoice is None:
        abort(404, message=f"No invoice {number}.")
    to_account = _account(args["to_account"], "to_account")
    try:
        transfer = transfer_final_balance(
            db.session,
            request_actor(),
            invoice,
            to_account,
            reason=args["reason"],
            on=town_today(current_app.config),
        )
    except TransferError as error:
        refused(error)
    db.session.commit()
    return transfer

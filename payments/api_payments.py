"""/api/v1 endpoints for counter payments, drawers, payments, receipts and refunds."""

from __future__ import annotations

from contextlib import nullcontext

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app
from flask_smorest import Blueprint, abort
from marshmallow import validate

from accounts.models import Account
from accounts.services import find_account
from core.apidoc import links
from core.auth import request_actor, requires
from core.calendar import town_today
from core.db import get_by_id
from core.extensions import db
from core.pagination import page_of
from payments import reconcile_queue
from payments.api_deposits import bank_deposits_api
from payments.api_fees import fees_api
from payments.counter import close_drawer, open_drawer, take_counter_payment
from payments.gateway import PaymentError, StripeGateway
from payments.models import (
    CashDrawer,
    Payment,
    PaymentStatus,
    Receipt,
    ReconciliationItem,
    StripeEvent,
    Tender,
)
from payments.refunds import refund_payment, void_counter_payment
from payments.schemas import (
    CounterPaymentSchema,
    DrawerCloseSchema,
    DrawerOpenSchema,
    DrawerSchema,
    PaymentSchema,
    ReceiptSchema,
    RefundRequestSchema,
    RefundSchema,
    VoidRequestSchema,
)
from payments.services import PaymentRefused

payments_api = Blueprint(
    "payments_api",
    __name__,
    url_prefix="/api/v1",
    description="Counter payments, drawers, payments, receipts, refunds",
)


def _refused(error: PaymentRefused):
    """A refused payment is a 422 naming the field; nothing was changed."""
    db.session.rollback()
    abort(422, errors={error.field: [error.message]})


def _drawer_or_404(drawer_id: int) -> CashDrawer:
    """A drawer, or 404."""
    drawer = get_by_id(db.session, CashDrawer, drawer_id)
    if drawer is None:
        abort(404, message=f"No drawer {drawer_id}.")
    return drawer


def _payment_or_404(payment_id: int) -> Payment:
    """A payment, or 404."""
    payment = get_by_id(db.session, Payment, payment_id)
    if payment is None:
        abort(404, message=f"No payment {payment_id}.")
    return payment


def _account_or_404(number: str) -> Account:
    """An account, or 404."""
    account = find_account(db.session, number)
    if account is None:
        abort(404, message=f"No account {number}.")
    return account


@payments_api.route("/drawers", methods=["POST"])
@payments_api.doc(
    **links(
        "201",
        take=("POST /api/v1/drawers/{drawer_id}/payments", {"drawer_id": "$response.body#/id"}),
        close=("POST /api/v1/drawers/{drawer_id}/close", {"drawer_id": "$response.body#/id"}),
    )
)
@payments_api.arguments(DrawerOpenSchema)
@payments_api.response(201, DrawerSchema)
@requires("write")
def open_(args):
    """Open a cash drawer for the caller."""
    try:
        drawer = open_drawer(
            db.session, request_actor(), opening_float_cents=args["opening_float_cents"]
        )
    except PaymentRefused as error:
        _refused(error)
    db.session.commit()
    return drawer


@payments_api.route("/drawers/<int:drawer_id>/payments", methods=["POST"])
@payments_api.doc(
    **links(
        "201",
        payment=("GET /api/v1/payments/{payment_id}", {"payment_id": "$response.body#/payment_id"}),
        refund=(
            "POST /api/v1/payments/{payment_id}/refunds",
            {"payment_id": "$response.body#/payment_id"},
        ),
        void=(
            "POST /api/v1/payments/{payment_id}/void",
            {"payment_id": "$response.body#/payment_id"},
        ),
        receipt=("POST /api/v1/receipts/{number}/notice", {"number": "$response.body#/number"}),
    )
)
@payments_api.arguments(CounterPaymentSchema)
@payments_api.response(201, ReceiptSchema)
@requires("write")
def counter_payment(args, drawer_id: int):
    """Take cash, a check or a money order into the caller's open drawer; returns the receipt."""
    drawer = _drawer_or_404(drawer_id)
    account = _account_or_404(args["account_number"])
    try:
        receipt = take_counter_payment(
            db.session,
            request_actor(),
            drawer=drawer,
            account=account,
            amount_cents=args["amount_cents"],
            tender=Tender(args["tender"]),
            reference=args["reference"],
            invoice_numbers=args["invoice_numbers"],
            on=town_today(current_app.config),
        )
    except PaymentRefused as error:
        _refused(error)
    # NOTE: the receipt is answered as committed, not read back: a connection lost right after
    # the commit must not tell the clerk that a payment the drawer now holds was refused.
    db.session().expire_on_commit = False
    db.session.commit()
    return receipt


@payments_api.route("/drawers/<int:drawer_id>/close", methods=["POST"])
@payments_api.arguments(DrawerCloseSchema)
@payments_api.response(200, DrawerSchema)
@requires("write")
def close(args, drawer_id: int):
    """Close a drawer: totals by tender against the count; the over or short is posted to 5300
    (above DRAWER_OVER_SHORT_APPROVAL_CENTS it waits for a supervisor's approval)."""
    drawer = _drawer_or_404(drawer_id)
    try:
        close_drawer(
            db.session,
            request_actor(),
            drawer,
            counted_cents=args["counted_cents"],
            coin_cents=args["coin_cents"],
            on=town_today(current_app.config),
            approval_limit_cents=current_app.config["DRAWER_OVER_SHORT_APPROVAL_CENTS"],
        )
    except PaymentRefused as error:
        _refused(error)
    db.session.commit()
    return drawer


@payments_api.route("/payments/<int:payment_id>")
@payments_api.response(200, PaymentSchema)
@requires("read")
def get_payment(payment_id: int):
    """One payment."""
    return _payment_or_404(payment_id)


@payments_api.route("/accounts/<number>/payments")
@payments_api.response(200, PaymentSchema(many=True))
@requires("read")
def account_payments(number: str):
    """An account's payments, newest first."""
    account = _account_or_404(number)
    return db.session.scalars(
        sa.select(Payment).where(Payment.account_id == account.id).order_by(Payment.id.desc())
    ).all()


@payments_api.route("/accounts/<number>/receipts")
@payments_api.response(200, ReceiptSchema(many=True))
@requires("read")
def account_receipts(number: str):
    """An account's receipts, newest first."""
    account = _account_or_404(number)
    return db.session.scalars(
        sa.select(Receipt).where(Receipt.account_id == account.id).order_by(Receipt.id.desc())
    ).all()


@payments_api.route("/payments/<int:payment_id>/refunds", methods=["POST"])
@payments_api.doc(
    **links(
        "201",
        notice=("POST /api/v1/refunds/{refund_id}/notice", {"refund_id": "$response.body#/id"}),
    )
)
@payments_api.arguments(RefundRequestSchema)
@payments_api.response(201, RefundSchema)
@requires("approve")
def refund(args, payment_id: int):
    """Refund part or all of a settled payment (supervisor); never more than is refundable."""
    payment = _payment_or_404(payment_id)
    # NOTE: Stripe is opened only for a settled card payment; any other is refused without it.
    card = (
        payment.stripe_payment_intent_id is not None and payment.status == PaymentStatus.SUCCEEDED
    )
    try:
        with StripeGateway.from_config(current_app.config) if card else nullcontext() as gateway:
            created = refund_payment(
                db.session,
                request_actor(),
                payment,
                amount_cents=args["amount_cents"],
                reason=args["reason"],
                on=town_today(current_app.config),
                gateway=gateway,
                resident_text=args["resident_text"],
            )
    except PaymentRefused as error:
        _refused(error)
    except PaymentError as error:
        db.session.rollback()
        abort(503 if error.retryable else 409, message=str(error))
    db.session.commit()
    return created


@payments_api.route("/payments/<int:payment_id>/void", methods=["POST"])
@payments_api.arguments(VoidRequestSchema)
@payments_api.response(200, PaymentSchema)
@requires("approve")
def void(args, payment_id: int):
    """Void a counter payment (supervisor)."""
    payment = _payment_or_404(payment_id)
    try:
        void_counter_payment(
            db.session,
            request_actor(),
            payment,
            reason=args["reason"],
            on=town_today(current_app.config),
        )
    except PaymentRefused as error:
        _refused(error)
    db.session.commit()
    return payment


class ReconciliationItemSchema(ma.Schema):
    """A mismatch between Stripe and our records, for the clerks' queue."""

    id = ma.fields.Integer()
    kind = ma.fields.String()
    stripe_id = ma.fields.String()
    payment_id = ma.fields.Integer(allow_none=True)
    ours = ma.fields.Dict()
    theirs = ma.fields.Dict()
    suggestion = ma.fields.String()
    status = ma.fields.String()
    created_at = ma.fields.DateTime()
    resolved_at = ma.fields.DateTime(allow_none=True)
    resolved_by = ma.fields.String(allow_none=True)
    resolution = ma.fields.String(allow_none=True)


class ReconciliationQuerySchema(ma.Schema):
    """Filter the queue."""

    status = ma.fields.String(validate=validate.OneOf(["open", "resolved"]))


class ResolveSchema(ma.Schema):
    """How a clerk resolved an item."""

    class Meta:
        unknown = ma.RAISE

    resolution = ma.fields.String(required=True, validate=validate.Length(min=5, max=500))


@payments_api.route("/reconciliation-items")
@payments_api.arguments(ReconciliationQuerySchema, location="query")
@payments_api.response(200, ReconciliationItemSchema(many=True))
@requires("read")
def reconciliation_items(filters):
    """What reconciliation flagged, newest first."""
    query = sa.select(ReconciliationItem).order_by(ReconciliationItem.id.desc())
    if filters.get("status"):
        query = query.where(ReconciliationItem.status == filters["status"])
    return db.session.scalars(query).all()


@payments_api.route("/reconciliation-items/<int:item_id>/resolve", methods=["POST"])
@payments_api.arguments(ResolveSchema)
@payments_api.response(200, ReconciliationItemSchema)
@requires("write")
def resolve_item(args, item_id: int):
    """Mark an item resolved with what was done (the action itself is taken where it belongs)."""
    item = get_by_id(db.session, ReconciliationItem, item_id)
    if item is None:
        abort(404, message=f"No reconciliation item {item_id}.")
    try:
        reconcile_queue.resolve(db.session, request_actor(), item, args["resolution"])
    except reconcile_queue.AlreadyResolved as already:
        abort(409, message=str(already))
    db.session.commit()
    return item


class WebhookEventSchema(ma.Schema):
    """A stored Stripe event and what became of it."""

    id = ma.fields.String()
    type = ma.fields.String()
    status = ma.fields.String()
    attempts = ma.fields.Integer()
    error = ma.fields.String(allow_none=True)
    received_at = ma.fields.DateTime()
    processed_at = ma.fields.DateTime(allow_none=True)


class WebhookEventQuerySchema(ma.Schema):
    """Filter stored events."""

    status = ma.fields.String(
        validate=validate.OneOf(["received", "processed", "unmatched", "ignored", "failed"])
    )
    type = ma.fields.String()


@payments_api.route("/webhook-events")
@payments_api.arguments(WebhookEventQuerySchema, location="query")
@payments_api.response(200, WebhookEventSchema(many=True))
@payments_api.paginate()
@requires("read")
def webhook_events(filters, pagination_parameters):
    """Stored Stripe events, newest first: failed ones with their error, unmatched ones to look into."""
    query = sa.select(StripeEvent).order_by(StripeEvent.received_at.desc(), StripeEvent.id)
    if filters.get("status"):
        query = query.where(StripeEvent.status == filters["status"])
    if filters.get("type"):
        query = query.where(StripeEvent.type == filters["type"])
    return page_of(query, pagination_parameters)


def init_app(app, api) -> None:
    """Register the payments API, the lockbox API and the bank statements API."""
    from payments import api_lockbox, api_statements

    api.register_blueprint(payments_api)
    api_lockbox.init_app(app, api)
    api_statements.init_app(app, api)
    api.register_blueprint(bank_deposits_api)
    api.register_blueprint(fees_api)

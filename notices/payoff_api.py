"""/api/v1/payoff-quotes: issue a tax payoff quote, read it and its letter, and pay it at the
counter (docs/payoff-quotes.md)."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app, make_response
from flask_smorest import Blueprint, abort
from marshmallow import validate

from billing.models import PayoffQuote
from billing.payoff import PayoffRefused, Requested, expire_quotes, find_quote, issue
from core.auth import request_actor, requires
from core.calendar import town_today
from core.db import get_by_id
from core.extensions import db
from notices.payoff_letter import payoff_letter_pdf
from payments.models import CashDrawer, Tender
from payments.payoff_payments import pay_quote_at_counter
from payments.services import PaymentRefused

payoff_api = Blueprint(
    "payoff_api", __name__, url_prefix="/api/v1", description="Tax payoff quotes"
)
REQUESTERS = ("owner", "title_company", "lender")


class QuoteRequestSchema(ma.Schema):
    """A quote asked for: the parcel, the good-through date and, unless the owner, who asks."""

    parcel = ma.fields.String(required=True, validate=validate.Length(min=1, max=40))
    good_through = ma.fields.Date(required=True)
    requester = ma.fields.String(load_default="owner", validate=validate.OneOf(REQUESTERS))
    requester_name = ma.fields.String(load_default="")
    requester_address = ma.fields.String(load_default="")


class QuoteSchema(ma.Schema):
    """A stored quote."""

    number = ma.fields.String()
    parcel = ma.fields.Function(lambda q: q.parcel.parcel_number)
    account_number = ma.fields.Function(lambda q: q.account.number)
    requester = ma.fields.Function(lambda q: q.requester.value)
    requester_name = ma.fields.String()
    issued_on = ma.fields.Date()
    good_through = ma.fields.Date()
    amount_cents = ma.fields.Integer()
    projected_cents = ma.fields.Integer()
    lines = ma.fields.List(ma.fields.Dict())
    status = ma.fields.Function(lambda q: q.status.value)
    paid_on = ma.fields.Date(allow_none=True)


class QuotePaymentSchema(ma.Schema):
    """A payment against a quote, taken into the caller's open drawer."""

    drawer_id = ma.fields.Integer(required=True, strict=True)
    amount_cents = ma.fields.Integer(required=True, strict=True)
    tender = ma.fields.String(
        required=True, validate=validate.OneOf(["cash", "check", "money_order"])
    )
    reference = ma.fields.String(load_default=None, allow_none=True)
    payer_name = ma.fields.String(required=True)


class QuotePaidSchema(ma.Schema):
    """What a quote payment did."""

    payment_id = ma.fields.Integer()
    outcome = ma.fields.Function(lambda p: p.outcome.value)
    applied_cents = ma.fields.Integer()
    refund_cents = ma.fields.Integer()
    refund_id = ma.fields.Integer(allow_none=True)
    still_owed_cents = ma.fields.Integer()
    quote_status = ma.fields.Function(lambda p: p.quote.status.value)


def _quote_or_404(number: str) -> PayoffQuote:
    """A quote by number, or 404."""
    row = find_quote(db.session, number)
    if row is None:
        abort(404, message=f"No payoff quote {number}.")
    return row


@payoff_api.route("/payoff-quotes", methods=["POST"])
@payoff_api.arguments(QuoteRequestSchema)
@payoff_api.response(201, QuoteSchema)
@requires("write")
def create_quote(args):
    """Issue a payoff quote for a parcel, good through a date (not past, nor too far ahead)."""
    requested = None
    if args["requester"] != "owner" or args["requester_name"]:
        requested = Requested(args["requester"], args["requester_name"], args["requester_address"])
    try:
        row = issue(
            db.session,
            request_actor(),
            current_app.config,
            args["parcel"],
            args["good_through"],
            requested,
            today=town_today(current_app.config),
        )
    except PayoffRefused as error:
        db.session.rollback()
        abort(422, errors={error.field: [error.message]})
    db.session.commit()
    return row


@payoff_api.route("/payoff-quotes/<number>")
@payoff_api.response(200, QuoteSchema)
@requires("read")
def get_quote(number: str):
    """One payoff quote."""
    if expire_quotes(db.session, town_today(current_app.config)):
        db.session.commit()
    return _quote_or_404(number)


@payoff_api.route("/payoff-quotes/<number>/letter")
@payoff_api.response(200, description="The letter, application/pdf")
@requires("read")
def quote_letter(number: str):
    """The quote's letter as a PDF."""
    response = make_response(payoff_letter_pdf(current_app.config, _quote_or_404(number)))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{number}.pdf"'
    return response


@payoff_api.route("/payoff-quotes/<number>/payments", methods=["POST"])
@payoff_api.arguments(QuotePaymentSchema)
@payoff_api.response(201, QuotePaidSchema)
@requires("write")
def pay(args, number: str):
    """Pay a quote at the counter: settles the parcel's tax; what is beyond it is refunded."""
    row = _quote_or_404(number)
    drawer = get_by_id(db.session, CashDrawer, args["drawer_id"])
    if drawer is None:
        abort(404, message=f"No drawer {args['drawer_id']}.")
    try:
        paid = pay_quote_at_counter(
            db.session,
            request_actor(),
            row,
            drawer=drawer,
            amount_cents=args["amount_cents"],
            tender=Tender(args["tender"]),
            reference=args["reference"],
            payer_name=args["payer_name"],
            on=town_today(current_app.config),
            rounding=current_app.config["ROUNDING_RULE"],
            town_state=current_app.config.get("MUNICIPALITY_STATE", ""),
        )
    except PaymentRefused as error:
        db.session.rollback()
        abort(422, errors={error.field: [error.message]})
    db.session().expire_on_commit = False
    db.session.commit()
    return paid

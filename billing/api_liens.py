"""/api/v1/tax: the delinquent roll as of a day (JSON or CSV), the lien sale list for a sale date,
its certification and the sale file, and the liens of an account or a parcel (docs/liens.md).
Thin: validate, call billing.tax_delinquency and billing.liens, commit once, answer."""

from __future__ import annotations

import marshmallow as ma
import sqlalchemy as sa
from flask import Response, current_app
from flask_smorest import Blueprint, abort

from accounts.models import Parcel
from accounts.services import find_account
from billing.lien_file import entries_of_sale, sale_file
from billing.liens import REASON_MAX, cancel_lien, certify_sale, find_lien, sale_list
from billing.models import Lien, LienSale
from billing.tax_delinquency import LienError, delinquent_roll, roll_csv
from core.auth import request_actor, requires
from core.calendar import town_today
from core.extensions import db

liens_api = Blueprint(
    "liens_api", __name__, url_prefix="/api/v1/tax", description="Delinquent tax and liens"
)


class RollQuerySchema(ma.Schema):
    """The day of the roll (today or before) and the answer's format."""

    as_of = ma.fields.Date(required=True)
    format = ma.fields.String(load_default="json", validate=ma.validate.OneOf(["json", "csv"]))


class RollLineSchema(ma.Schema):
    """One delinquent installment of a parcel."""

    parcel_number = ma.fields.String()
    account_number = ma.fields.String()
    owner = ma.fields.String()
    situs = ma.fields.String()
    tax_year = ma.fields.Integer()
    installment = ma.fields.Integer()
    due_date = ma.fields.Date()
    days_late = ma.fields.Integer()
    principal_cents = ma.fields.Integer(strict=True)
    charges_cents = ma.fields.Integer(strict=True)
    total_cents = ma.fields.Integer(strict=True)


class RollSchema(ma.Schema):
    """The delinquent roll as of a day, with its totals."""

    as_of = ma.fields.Date()
    parcel_count = ma.fields.Integer()
    principal_cents = ma.fields.Integer(strict=True)
    charges_cents = ma.fields.Integer(strict=True)
    total_cents = ma.fields.Integer(strict=True)
    lines = ma.fields.List(ma.fields.Nested(RollLineSchema))


class SaleQuerySchema(ma.Schema):
    """A sale date."""

    sale_date = ma.fields.Date(required=True)


class LienSchema(ma.Schema):
    """A parcel's lien: the amount it was listed for, the sale and where it stands."""

    list_id = ma.fields.Function(lambda lien: lien.sale.list_id)
    parcel_number = ma.fields.Function(lambda lien: lien.parcel.parcel_number)
    sale_date = ma.fields.Date()
    tax_years = ma.fields.String()
    principal_cents = ma.fields.Integer(strict=True)
    charges_cents = ma.fields.Integer(strict=True)
    amount_cents = ma.fields.Integer(strict=True)
    cost_cents = ma.fields.Integer(strict=True)
    status = ma.fields.Function(lambda lien: lien.status.value)
    closes_online = ma.fields.Boolean()
    redeemed_on = ma.fields.Date(allow_none=True)
    cancelled_on = ma.fields.Date(allow_none=True)
    cancelled_by = ma.fields.String(allow_none=True)
    cancel_reason = ma.fields.String(allow_none=True)


class CancelSchema(ma.Schema):
    """Why a lien is cancelled (e.g. sold in error, a bankruptcy stay)."""

    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=REASON_MAX))


class SaleSchema(ma.Schema):
    """A certified sale list."""

    list_id = ma.fields.String()
    sale_date = ma.fields.Date()
    certified_on = ma.fields.Date()
    parcel_count = ma.fields.Integer()
    total_cents = ma.fields.Integer(strict=True)
    liens = ma.fields.List(ma.fields.Nested(LienSchema))


def _refused(error: LienError):
    field, _sep, message = str(error).partition(": ")
    abort(422, errors={field: [message]})


def _csv(text: str, name: str) -> Response:
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@liens_api.route("/delinquent-roll")
@liens_api.arguments(RollQuerySchema, location="query")
@liens_api.response(200, RollSchema)
@requires("read")
def roll(args):
    """The delinquent roll as of a day; a day after today is refused (422)."""
    try:
        found = delinquent_roll(db.session, args["as_of"], today=town_today(current_app.config))
    except LienError as error:
        _refused(error)
    if args["format"] == "csv":
        return _csv(roll_csv(found), f"delinquent-roll-{found.as_of.isoformat()}.csv")
    return found


@liens_api.route("/lien-sales/preview")
@liens_api.arguments(SaleQuerySchema, location="query")
@requires("read")
def preview(args):
    """The sale list a sale date would certify today, as the sale file (CSV); writes nothing."""
    try:
        found = sale_list(db.session, args["sale_date"], today=town_today(current_app.config))
    except LienError as error:
        _refused(error)
    text = sale_file("PREVIEW", found.sale_date, found.as_of, found.entries, certified=False)
    return _csv(text, f"lien-sale-{found.sale_date.isoformat()}-preview.csv")


@liens_api.route("/lien-sales", methods=["POST"])
@liens_api.arguments(SaleQuerySchema)
@liens_api.response(201, SaleSchema)
@requires("write")
def certify(args):
    """Certify the sale list for a sale date; a second certification is refused (422)."""
    try:
        sale = certify_sale(
            db.session, request_actor(), args["sale_date"], today=town_today(current_app.config)
        )
    except LienError as error:
        db.session.rollback()
        _refused(error)
    db.session.commit()
    return sale


@liens_api.route("/lien-sales/<list_id>.csv")
@requires("read")
def sale_csv(list_id: str):
    """A certified sale's file."""
    sale = db.session.scalar(sa.select(LienSale).where(LienSale.list_id == list_id))
    if sale is None:
        abort(404, message=f"No sale list {list_id}.")
    text = sale_file(
        sale.list_id, sale.sale_date, sale.certified_on, entries_of_sale(sale), certified=True
    )
    return _csv(text, f"{sale.list_id}.csv")


@liens_api.route("/accounts/<number>/liens")
@liens_api.response(200, LienSchema(many=True))
@requires("read")
def account_liens(number: str):
    """Every lien on the account's parcels, oldest sale first (any status)."""
    account = find_account(db.session, number)
    if account is None:
        abort(404, message=f"No account {number}.")
    return db.session.scalars(
        sa.select(Lien).where(Lien.account_id == account.id).order_by(Lien.sale_date, Lien.id)
    ).all()


@liens_api.route("/parcels/<parcel_number>/liens")
@liens_api.response(200, LienSchema(many=True))
@requires("read")
def parcel_liens(parcel_number: str):
    """Every lien on a parcel, oldest sale first (any status)."""
    parcel = db.session.scalar(sa.select(Parcel).where(Parcel.parcel_number == parcel_number))
    if parcel is None:
        abort(404, message=f"No parcel {parcel_number}.")
    return db.session.scalars(
        sa.select(Lien).where(Lien.parcel_id == parcel.id).order_by(Lien.sale_date, Lien.id)
    ).all()


@liens_api.route("/lien-sales/<list_id>/liens/<parcel_number>/cancel", methods=["POST"])
@liens_api.arguments(CancelSchema)
@liens_api.response(200, LienSchema)
@requires("approve")
def cancel(args, list_id: str, parcel_number: str):
    """Cancel a sale list's lien on a parcel, with the reason (a supervisor's; audited). A lien
    no longer under lien is refused (422)."""
    lien = find_lien(db.session, list_id, parcel_number)
    if lien is None:
        abort(404, message=f"No lien on parcel {parcel_number} in list {list_id}.")
    try:
        cancel_lien(
            db.session, request_actor(), lien, args["reason"], today=town_today(current_app.config)
        )
    except LienError as error:
        db.session.rollback()
        _refused(error)
    db.session.commit()
    return lien

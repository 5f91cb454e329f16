"""/api/v1 endpoints for accounts, parcels, service points, readings and the CSV imports
(thin: validate, call a service, commit once)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, request
from flask_smorest import Blueprint, abort
from sqlalchemy.orm import selectinload

from accounts import services as account_service
from accounts.imports import KINDS, ImportFailed, import_csv
from accounts.models import Account, MeterReading, Parcel, ServicePoint
from accounts.schemas import (
    AccountCreateSchema,
    AccountQuerySchema,
    AccountSchema,
    AccountUpdateSchema,
    ImportQuerySchema,
    ImportResultSchema,
    NewAccountSchema,
    ParcelSchema,
    ReadingQuerySchema,
    ReadingSchema,
    ServicePointSchema,
)
from core.apidoc import links
from core.auth import request_actor, requires
from core.extensions import db
from core.limits import body_limit
from core.pagination import page_of

accounts_api = Blueprint(
    "accounts_api", __name__, url_prefix="/api/v1/accounts", description="Billing accounts"
)


data_api = Blueprint(
    "data_api",
    __name__,
    url_prefix="/api/v1",
    description="Parcels, service points, readings, imports",
)


def _account_or_404(number: str) -> Account:
    """The account with this number, or a 404 that names it."""
    account = account_service.find_account(db.session, number)
    if account is None:
        abort(404, message=f"No account {number}.")
    return account


@accounts_api.route("")
@accounts_api.arguments(AccountQuerySchema, location="query")
@accounts_api.response(200, AccountSchema(many=True))
@accounts_api.paginate()
@requires("read")
def list_accounts(filters, pagination_parameters):
    """List accounts, filtered by name or number."""
    query = sa.select(Account).order_by(Account.number)
    if filters.get("q"):
        text = filters["q"].strip()
        query = query.where(
            sa.or_(
                Account.number.startswith(text, autoescape=True),
                Account.holder_name.icontains(text, autoescape=True),
            )
        )
    if filters.get("status"):
        query = query.where(Account.status == filters["status"])
    return page_of(query, pagination_parameters)


@accounts_api.route("", methods=["POST"])
@accounts_api.doc(
    **links(
        "201",
        account=("GET /api/v1/accounts/{number}", {"number": "$response.body#/number"}),
        update=("PATCH /api/v1/accounts/{number}", {"number": "$response.body#/number"}),
        balance=("GET /api/v1/accounts/{number}/balance", {"number": "$response.body#/number"}),
        payments=("GET /api/v1/accounts/{number}/payments", {"number": "$response.body#/number"}),
        statement=(
            "POST /api/v1/accounts/{number}/statements",
            {"number": "$response.body#/number"},
        ),
    )
)
@accounts_api.arguments(AccountCreateSchema)
@accounts_api.response(201, NewAccountSchema)
@requires("write")
def create_account(data):
    """Open an account; the response carries its access code."""
    account, code = account_service.create_account(
        db.session, request_actor(), data, code_key=current_app.config["ACCESS_CODE_KEY"]
    )
    db.session.commit()
    shown = {name: getattr(account, name) for name in AccountSchema().fields}
    return {**shown, "access_code": code}


@accounts_api.route("/<number>")
@accounts_api.response(200, AccountSchema)
@requires("read")
def get_account(number: str):
    """One account by number."""
    return _account_or_404(number)


@accounts_api.route("/<number>", methods=["PATCH"])
@accounts_api.arguments(AccountUpdateSchema)
@accounts_api.response(200, AccountSchema)
@requires("write")
def update_account(data, number: str):
    """Change contact details or status; only the fields sent change."""
    account = _account_or_404(number)
    account_service.update_account(db.session, request_actor(), account, data)
    db.session.commit()
    return account


@data_api.route("/parcels")
@data_api.response(200, ParcelSchema(many=True))
@data_api.paginate()
@requires("read")
def list_parcels(pagination_parameters):
    """Parcels with their values."""
    return page_of(
        sa.select(Parcel).options(selectinload(Parcel.valuations)).order_by(Parcel.parcel_number),
        pagination_parameters,
    )


@data_api.route("/parcels/<parcel_number>")
@data_api.response(200, ParcelSchema)
@requires("read")
def get_parcel(parcel_number: str):
    """One parcel."""
    parcel = db.session.scalar(sa.select(Parcel).where(Parcel.parcel_number == parcel_number))
    if parcel is None:
        abort(404, message=f"No parcel {parcel_number}.")
    return parcel


@data_api.route("/accounts/<number>/service-points")
@data_api.response(200, ServicePointSchema(many=True))
@requires("read")
def account_service_points(number: str):
    """The service points of an account."""
    account = db.session.scalar(sa.select(Account).where(Account.number == number))
    if account is None:
        abort(404, message=f"No account {number}.")
    return account.service_points


@data_api.route("/readings")
@data_api.arguments(ReadingQuerySchema, location="query")
@data_api.response(200, ReadingSchema(many=True))
@data_api.paginate()
@requires("read")
def list_readings(args, pagination_parameters):
    """The reads of one meter, newest first."""
    query = (
        sa.select(MeterReading)
        .join(ServicePoint)
        .where(ServicePoint.meter_id == args["meter_id"])
        .order_by(MeterReading.read_on.desc())
    )
    if args.get("since"):
        query = query.where(MeterReading.read_on >= args["since"])
    return page_of(query, pagination_parameters)


@data_api.route("/imports/<kind>", methods=["POST"])
@data_api.arguments(ImportQuerySchema, location="query")
@data_api.response(200, ImportResultSchema)
@data_api.doc(
    requestBody={"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
)
@requires("write")
def import_file(args, kind: str):
    """Import a CSV file (docs/imports.md) sent as the text/csv body; all rows or none."""
    kind = kind.replace("-", "_")
    if kind not in KINDS:
        abort(404, message=f"No import kind {kind}; use one of {', '.join(KINDS)}.")
    try:
        text = request.get_data().decode("utf-8-sig")
    except UnicodeDecodeError:
        abort(400, message="The file must be UTF-8 text.")
    try:
        result = import_csv(
            db.session,
            request_actor(),
            kind,
            text,
            code_key=current_app.config["ACCESS_CODE_KEY"],
            dry_run=args["dry_run"],
        )
    except ImportFailed as failure:
        db.session.rollback()
        abort(422, errors={"rows": failure.errors})
    db.session.commit()
    return result


def init_app(app, api) -> None:
    """Register the accounts API blueprints."""
    api.register_blueprint(accounts_api)
    api.register_blueprint(data_api)
    body_limit(app, "data_api.import_file", "UPLOAD_MAX_CONTENT_LENGTH")

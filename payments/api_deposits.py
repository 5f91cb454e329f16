"""/api/v1 endpoints for bank deposits: closed drawers and lockbox files not yet deposited, making a deposit,
its bank's confirmation, and a supervisor's approval of a large over or short.

The deposit slip's PDF is served by the notices API (`/api/v1/bank-deposits/{number}/slip`),
which renders it.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from flask_smorest import Blueprint, abort

from core.apidoc import links
from core.auth import request_actor, requires
from core.calendar import town_today
from core.db import get_by_id
from core.extensions import db
from payments.bank_deposits import (
    confirm_at_bank,
    deposit_sources,
    undeposited_drawers,
    undeposited_files,
)
from payments.counter import approve_over_short
from payments.models import BankDeposit, CashDrawer, RemittanceFile
from payments.schemas import (
    AtBankSchema,
    BankDepositRequestSchema,
    BankDepositSchema,
    DepositFileSchema,
    DrawerSchema,
)
from payments.services import PaymentRefused

bank_deposits_api = Blueprint(
    "bank_deposits_api",
    __name__,
    url_prefix="/api/v1",
    description="Bank deposits of closed drawers; over and short approvals",
)


def _refused(error: PaymentRefused):
    """A refused deposit is a 422 naming the field; nothing was changed."""
    db.session.rollback()
    abort(422, errors={error.field: [error.message]})


def _deposit_or_404(number: str) -> BankDeposit:
    """A deposit by its number, or 404."""
    deposit = db.session.scalar(sa.select(BankDeposit).where(BankDeposit.number == number))
    if deposit is None:
        abort(404, message=f"No bank deposit {number}.")
    return deposit


@bank_deposits_api.route("/bank-deposits/drawers")
@bank_deposits_api.response(200, DrawerSchema(many=True))
@requires("read")
def drawers_to_deposit():
    """Closed drawers whose money is not in a deposit yet, oldest first."""
    return undeposited_drawers(db.session)


@bank_deposits_api.route("/bank-deposits/files")
@bank_deposits_api.response(200, DepositFileSchema(many=True))
@requires("read")
def files_to_deposit():
    """Lockbox and bill-pay files whose money is not in a deposit yet, oldest first."""
    return undeposited_files(db.session)


@bank_deposits_api.route("/drawers/<int:drawer_id>/approve-over-short", methods=["POST"])
@bank_deposits_api.response(200, DrawerSchema)
@requires("approve")
def approve(drawer_id: int):
    """Approve a drawer's over or short above the limit (another person than its clerk): posted now."""
    drawer = get_by_id(db.session, CashDrawer, drawer_id)
    if drawer is None:
        abort(404, message=f"No drawer {drawer_id}.")
    try:
        approve_over_short(db.session, request_actor(), drawer, on=town_today(current_app.config))
    except PaymentRefused as error:
        _refused(error)
    db.session.commit()
    return drawer


@bank_deposits_api.route("/bank-deposits", methods=["POST"])
@bank_deposits_api.doc(
    **links(
        "201",
        slip=("GET /api/v1/bank-deposits/{number}/slip", {"number": "$response.body#/number"}),
        at_bank=(
            "POST /api/v1/bank-deposits/{number}/at-bank",
            {"number": "$response.body#/number"},
        ),
    )
)
@bank_deposits_api.arguments(BankDepositRequestSchema)
@bank_deposits_api.response(201, BankDepositSchema)
@requires("write")
def make(args):
    """Deposit closed drawers and lockbox or bill-pay files: Dr 1050 Deposits in transit /
    Cr 1010 Cash drawer, Cr 1040 Lockbox clearing; each drawer and file once."""
    drawers, files = [], []
    for drawer_id in args["drawer_ids"]:
        drawer = get_by_id(db.session, CashDrawer, drawer_id)
        if drawer is None:
            abort(422, errors={"drawer_ids": [f"No drawer {drawer_id}."]})
        drawers.append(drawer)
    for file_id in args["file_ids"]:
        upload = get_by_id(db.session, RemittanceFile, file_id)
        if upload is None:
            abort(422, errors={"file_ids": [f"No lockbox or bill-pay file {file_id}."]})
        files.append(upload)
    try:
        deposit = deposit_sources(
            db.session,
            request_actor(),
            drawers=drawers,
            files=files,
            on=town_today(current_app.config),
        )
    except PaymentRefused as error:
        _refused(error)
    db.session.commit()
    return deposit


@bank_deposits_api.route("/bank-deposits")
@bank_deposits_api.response(200, BankDepositSchema(many=True))
@requires("read")
def list_():
    """The newest deposits, newest first."""
    return db.session.scalars(
        sa.select(BankDeposit).order_by(BankDeposit.id.desc()).limit(200)
    ).all()


@bank_deposits_api.route("/bank-deposits/<number>")
@bank_deposits_api.response(200, BankDepositSchema)
@requires("read")
def get(number: str):
    """One deposit."""
    return _deposit_or_404(number)


@bank_deposits_api.route("/bank-deposits/<number>/at-bank", methods=["POST"])
@bank_deposits_api.arguments(AtBankSchema)
@bank_deposits_api.response(200, BankDepositSchema)
@requires("write")
def at_bank(args, number: str):
    """The bank credited the deposit: Dr 1000 Bank / Cr 1050 Deposits in transit, once."""
    deposit = _deposit_or_404(number)
    try:
        confirm_at_bank(db.session, request_actor(), deposit, reached_on=args["reached_on"])
    except PaymentRefused as error:
        _refused(error)
    db.session.commit()
    return deposit

"""/api/v1 endpoints for accounts and the general ledger (thin: validate, call, commit)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from flask_smorest import Blueprint, abort

from billing import accounts as account_service
from billing import ledger
from billing.models import Account, GLAccount
from billing.schemas import (
    AccountCreateSchema,
    AccountQuerySchema,
    AccountSchema,
    AccountUpdateSchema,
    AsOfSchema,
    BalanceSchema,
    GLAccountSchema,
    NewAccountSchema,
    TrialBalanceSchema,
    VerifySchema,
)
from core.auth import request_actor, requires
from core.extensions import db
from core.pagination import page_of

accounts_api = Blueprint(
    "accounts_api", __name__, url_prefix="/api/v1/accounts", description="Billing accounts"
)
ledger_api = Blueprint(
    "ledger_api",
    __name__,
    url_prefix="/api/v1/ledger",
    description="The general ledger (read only)",
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
            sa.or_(Account.number.startswith(text), Account.holder_name.ilike(f"%{text}%"))
        )
    if filters.get("status"):
        query = query.where(Account.status == filters["status"])
    return page_of(query, pagination_parameters)


@accounts_api.route("", methods=["POST"])
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


@accounts_api.route("/<number>/balance")
@accounts_api.arguments(AsOfSchema, location="query")
@accounts_api.response(200, BalanceSchema)
@requires("read")
def account_balance(args, number: str):
    """What the account owes and the credit it holds, from the ledger."""
    account = _account_or_404(number)
    as_of = args.get("as_of")
    return {
        "account_number": account.number,
        "receivable_cents": ledger.account_receivable(db.session, account.id, as_of),
        "credit_cents": ledger.account_credit(db.session, account.id, as_of),
        "as_of": as_of,
    }


@ledger_api.route("/gl-accounts")
@ledger_api.response(200, GLAccountSchema(many=True))
@requires("read")
def list_gl_accounts():
    """The chart of accounts."""
    return db.session.scalars(sa.select(GLAccount).order_by(GLAccount.code)).all()


@ledger_api.route("/trial-balance")
@ledger_api.arguments(AsOfSchema, location="query")
@ledger_api.response(200, TrialBalanceSchema)
@requires("read")
def get_trial_balance(args):
    """Debit and credit totals per GL account as of a date."""
    report = ledger.trial_balance(db.session, args.get("as_of"))
    return {
        "as_of": report.as_of,
        "rows": report.rows,
        "total_debit_cents": report.total_debit_cents,
        "total_credit_cents": report.total_credit_cents,
    }


@ledger_api.route("/verify")
@ledger_api.response(200, VerifySchema)
@requires("read")
def verify():
    """Walk the hash chain and report the first entry that does not match."""
    return ledger.verify_chain(db.session)


def init_app(app, api) -> None:
    """Register the billing API blueprints."""
    api.register_blueprint(accounts_api)
    api.register_blueprint(ledger_api)

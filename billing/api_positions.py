"""/api/v1/accounts/{number}/balance: an account's position (billing.position) as of a day, by
receivable class, with the credit the town holds for it (thin: validate, read, answer)."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask_smorest import Blueprint, abort

from accounts.services import find_account
from billing.api_liens import LienSchema
from billing.liens import liens_of_account
from billing.position import account_position
from core.auth import requires
from core.calendar import town_today
from core.extensions import db

positions_api = Blueprint(
    "positions_api",
    __name__,
    url_prefix="/api/v1/accounts",
    description="What an account owes, by receivable class",
)


class PositionQuerySchema(ma.Schema):
    """The day the position is read on (the town's today unless given)."""

    as_of = ma.fields.Date(metadata={"description": "The day; the town's today by default"})


class ClassSchema(ma.Schema):
    """One receivable class of the account."""

    group = ma.fields.String(metadata={"description": "utility, tax or other"})
    tax_year = ma.fields.Integer(metadata={"description": "0 unless a tax class"})
    installment = ma.fields.Integer(metadata={"description": "0: the bill as a whole"})
    service = ma.fields.String(metadata={"description": "a utility class's service"})
    charges = ma.fields.Boolean(metadata={"description": "penalties and interest"})
    billed_cents = ma.fields.Integer(strict=True)
    paid_cents = ma.fields.Integer(strict=True)
    credited_cents = ma.fields.Integer(strict=True)
    adjusted_cents = ma.fields.Integer(strict=True)
    owed_cents = ma.fields.Integer(strict=True)
    past_due_cents = ma.fields.Integer(strict=True)
    days_past_due = ma.fields.Integer(strict=True)
    due_date = ma.fields.Date(allow_none=True)


class BalanceSchema(ma.Schema):
    """An account's position: what it owes (the ledger's receivables) and the credit it holds."""

    account_number = ma.fields.String()
    as_of = ma.fields.Date()
    receivable_cents = ma.fields.Integer(strict=True)
    credit_cents = ma.fields.Integer(strict=True)
    past_due_cents = ma.fields.Integer(strict=True)
    days_past_due = ma.fields.Integer(strict=True)
    classes = ma.fields.List(ma.fields.Nested(ClassSchema))
    #: The liens the account's parcels stand under now (docs/liens.md).
    liens = ma.fields.List(ma.fields.Nested(LienSchema))


@positions_api.route("/<number>/balance")
@positions_api.arguments(PositionQuerySchema, location="query")
@positions_api.response(200, BalanceSchema)
@requires("read")
def account_balance(args, number: str):
    """What the account owes on a day, by class, and the credit held for it."""
    account = find_account(db.session, number)
    if account is None:
        abort(404, message=f"No account {number}.")
    as_of = args.get("as_of") or town_today(current_app.config)
    position = account_position(db.session, account.id, as_of)
    return {
        "account_number": account.number,
        "as_of": as_of,
        "receivable_cents": position.owed_cents(),
        "credit_cents": position.credit_cents,
        "past_due_cents": position.past_due_cents(),
        "days_past_due": position.days_past_due(),
        "liens": liens_of_account(db.session, account.id),
        "classes": [
            {
                "group": c.receivable.group,
                "tax_year": c.receivable.tax_year,
                "installment": c.receivable.installment,
                "service": c.receivable.service,
                "charges": c.receivable.charges,
                "billed_cents": c.billed_cents,
                "paid_cents": c.paid_cents,
                "credited_cents": c.credited_cents,
                "adjusted_cents": c.adjusted_cents,
                "owed_cents": c.owed_cents,
                "past_due_cents": c.past_due_cents,
                "days_past_due": c.days_past_due,
                "due_date": c.due_date,
            }
            for c in position.classes
        ],
    }

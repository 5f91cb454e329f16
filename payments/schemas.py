"""Marshmallow schemas of the payments API: cents are strict integers."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from payments.models import Tender

COUNTER_TENDERS = [Tender.CASH.value, Tender.CHECK.value, Tender.MONEY_ORDER.value]


class DrawerOpenSchema(ma.Schema):
    """Open a cash drawer."""

    class Meta:
        unknown = ma.RAISE

    opening_float_cents = ma.fields.Integer(
        strict=True, load_default=0, validate=validate.Range(min=0)
    )


class DrawerCloseSchema(ma.Schema):
    """Close a drawer with the amounts counted for the deposit."""

    class Meta:
        unknown = ma.RAISE

    counted_cents = ma.fields.Dict(
        keys=ma.fields.String(validate=validate.OneOf(COUNTER_TENDERS)),
        values=ma.fields.Integer(strict=True, validate=validate.Range(min=0)),
        required=True,
    )
    #: The coin among the cash that goes to the bank (for the deposit slip); optional.
    coin_cents = ma.fields.Integer(strict=True, load_default=None, validate=validate.Range(min=0))


class DrawerSchema(ma.Schema):
    """A cash drawer."""

    id = ma.fields.Integer()
    opened_by = ma.fields.String()
    opened_at = ma.fields.DateTime()
    opening_float_cents = ma.fields.Integer()
    closed_by = ma.fields.String(allow_none=True)
    closed_at = ma.fields.DateTime(allow_none=True)
    close_out = ma.fields.Dict(allow_none=True)
    over_short_cents = ma.fields.Integer(allow_none=True)
    awaiting_approval = ma.fields.Boolean()
    over_short_approved_by = ma.fields.String(allow_none=True)
    deposit_cents = ma.fields.Integer(allow_none=True)
    bank_deposit_id = ma.fields.Integer(allow_none=True)


class BankDepositRequestSchema(ma.Schema):
    """Make a bank deposit of closed drawers and of lockbox or bill-pay files (one at least)."""

    class Meta:
        unknown = ma.RAISE

    drawer_ids = ma.fields.List(
        ma.fields.Integer(strict=True), load_default=list, validate=validate.Length(max=200)
    )
    file_ids = ma.fields.List(
        ma.fields.Integer(strict=True), load_default=list, validate=validate.Length(max=200)
    )

    @ma.validates_schema
    def _something(self, data: dict, **_kwargs) -> None:
        """A deposit names at least one drawer or file."""
        if not data.get("drawer_ids") and not data.get("file_ids"):
            raise ma.ValidationError(
                "name at least one closed drawer or lockbox file", "drawer_ids"
            )


class DepositFileSchema(ma.Schema):
    """A lockbox or bill-pay file whose money waits for a deposit."""

    id = ma.fields.Integer()
    kind = ma.fields.Function(lambda f: f.kind.value)
    filename = ma.fields.String()
    deposit_date = ma.fields.Date()
    item_count = ma.fields.Integer()
    total_cents = ma.fields.Integer()


class AtBankSchema(ma.Schema):
    """The bank credited a deposit on this date."""

    class Meta:
        unknown = ma.RAISE

    reached_on = ma.fields.Date(required=True)


class BankDepositSchema(ma.Schema):
    """A bank deposit."""

    id = ma.fields.Integer()
    number = ma.fields.String()
    status = ma.fields.String()
    amount_cents = ma.fields.Integer()
    parts = ma.fields.List(ma.fields.Dict())
    made_by = ma.fields.String()
    made_at = ma.fields.DateTime()
    made_on = ma.fields.Date()
    reached_bank_on = ma.fields.Date(allow_none=True)
    confirmed_by = ma.fields.String(allow_none=True)


class CounterPaymentSchema(ma.Schema):
    """Cash, a check or a money order taken at the counter."""

    class Meta:
        unknown = ma.RAISE

    account_number = ma.fields.String(required=True)
    amount_cents = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    tender = ma.fields.String(required=True, validate=validate.OneOf(COUNTER_TENDERS))
    reference = ma.fields.String(load_default=None, validate=validate.Length(max=64))
    invoice_numbers = ma.fields.List(ma.fields.String(), load_default=list)


class ReceiptSchema(ma.Schema):
    """A receipt."""

    number = ma.fields.String()
    payment_id = ma.fields.Integer()
    amount_cents = ma.fields.Integer()
    tender = ma.fields.String()
    paid = ma.fields.List(ma.fields.Dict())
    credit_cents = ma.fields.Integer()
    balance_after_cents = ma.fields.Integer()
    issued_at = ma.fields.DateTime()


class PaymentSchema(ma.Schema):
    """A payment."""

    id = ma.fields.Integer()
    account_number = ma.fields.String(attribute="account.number")
    channel = ma.fields.String()
    tender = ma.fields.String()
    status = ma.fields.String()
    amount_cents = ma.fields.Integer()
    tender_reference = ma.fields.String(allow_none=True)
    failure_message = ma.fields.String(allow_none=True)
    stripe_payment_intent_id = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    succeeded_at = ma.fields.DateTime(allow_none=True)


class RefundRequestSchema(ma.Schema):
    """Refund part or all of a payment."""

    class Meta:
        unknown = ma.RAISE

    amount_cents = ma.fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    reason = ma.fields.String(required=True, validate=validate.Length(5, 500))
    resident_text = ma.fields.String(
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"description": "Words for the resident (statements, notices); optional."},
    )


class RefundSchema(ma.Schema):
    """A refund."""

    id = ma.fields.Integer()
    payment_id = ma.fields.Integer()
    amount_cents = ma.fields.Integer()
    reason = ma.fields.String()
    resident_text = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    stripe_refund_id = ma.fields.String(allow_none=True)
    requested_by = ma.fields.String()


class VoidRequestSchema(ma.Schema):
    """Void a counter payment."""

    class Meta:
        unknown = ma.RAISE

    reason = ma.fields.String(required=True, validate=validate.Length(5, 500))

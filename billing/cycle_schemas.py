"""Marshmallow schemas of billing cycles, their calendars and service kinds (API edges)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from billing.cycle_calendar import FREQUENCIES


class Strict(ma.Schema):
    """Unknown fields are refused."""

    class Meta:
        unknown = ma.RAISE


class CyclePeriodSchema(Strict):
    """One period of a cycle's calendar."""

    period_start = ma.fields.Date(required=True)
    period_end = ma.fields.Date(required=True)
    read_date = ma.fields.Date(required=True)
    bill_date = ma.fields.Date(required=True)
    due_date = ma.fields.Date(required=True)


class CycleCreateSchema(Strict):
    """A new billing cycle."""

    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=24))
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    frequency = ma.fields.String(required=True, validate=validate.OneOf(FREQUENCIES))


class CycleSchema(ma.Schema):
    """A billing cycle with its calendar."""

    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    frequency = ma.fields.Function(lambda cycle: cycle.frequency.value)
    active = ma.fields.Boolean()
    is_default = ma.fields.Boolean()
    periods = ma.fields.List(ma.fields.Nested(CyclePeriodSchema))


class PeriodsLoadSchema(Strict):
    """Periods to add to a cycle's calendar (a period with a stored start replaces its dates)."""

    periods = ma.fields.List(
        ma.fields.Nested(CyclePeriodSchema), required=True, validate=validate.Length(min=1, max=400)
    )


class CalendarGenerateSchema(Strict):
    """A standard cycle's calendar from its first period start and day offsets."""

    first_start = ma.fields.Date(required=True)
    until = ma.fields.Date(load_default=None)
    read_days_after_end = ma.fields.Integer(
        load_default=0, validate=validate.Range(min=-60, max=60)
    )
    bill_days_after_read = ma.fields.Integer(load_default=1, validate=validate.Range(min=0, max=90))
    due_days_after_bill = ma.fields.Integer(
        load_default=21, validate=validate.Range(min=0, max=120)
    )


class AssignSchema(Strict):
    """Accounts (by number) to put on a cycle."""

    accounts = ma.fields.List(
        ma.fields.String(validate=validate.Length(min=1, max=12)),
        required=True,
        validate=validate.Length(min=1, max=10000),
    )


class AssignResultSchema(ma.Schema):
    """What an assignment did."""

    cycle = ma.fields.String()
    moved = ma.fields.Integer()
    accounts = ma.fields.Integer()


class DueQuerySchema(Strict):
    """Periods to bill through a day (default today in the municipality)."""

    through = ma.fields.Date(load_default=None)


class DuePeriodSchema(CyclePeriodSchema):
    """A period due to bill, with its cycle's code."""

    cycle = ma.fields.Function(lambda period: period.cycle.code)


class ServiceKindCreateSchema(Strict):
    """A new service kind; GL accounts by code, or new ones when left out."""

    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=100))
    metered = ma.fields.Boolean(load_default=False)
    revenue_gl = ma.fields.String(load_default=None, validate=validate.Length(max=32))
    receivable_gl = ma.fields.String(load_default=None, validate=validate.Length(max=32))


class ServiceKindSchema(ma.Schema):
    """A service kind with its GL accounts' codes."""

    code = ma.fields.String()
    name = ma.fields.String()
    metered = ma.fields.Boolean()
    revenue_gl = ma.fields.String()
    receivable_gl = ma.fields.String()

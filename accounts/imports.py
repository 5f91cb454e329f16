"""CSV imports of accounts, parcels, assessments, service points and readings.

All or nothing: every row is validated (its own values, then against the
database and the rows before it) and the file is written only if no row has
an error. Each error names the row and the column, counting rows as a
spreadsheet does (the header is row 1). docs/imports.md lists the columns.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.import_schemas import (
    AccountRow,
    AssessmentRow,
    ParcelRow,
    ReadingRow,
    ServicePointRow,
)
from accounts.models import Account, MeterReading, Parcel, ParcelValuation, ServicePoint
from accounts.responsibility import ensure_location
from accounts.services import create_account, update_account
from core.audit import Actor, record
from ledger.models import ServiceKind, TaxingJurisdiction

MAX_ERRORS = 100
#: Billing's rate plans, named by their table: billing imports accounts, not the other way, and a
#: service point row names its plan by code (tests/test_architecture.py checks these columns).
rate_plan = sa.table(
    "rate_plan",
    sa.column("id", sa.BigInteger),
    sa.column("code", sa.String),
    sa.column("service_kind", sa.String),
)


class ImportFailed(ValueError):
    """The file was not imported; `errors` names every bad row and column."""

    def __init__(self, errors: list[str]):
        super().__init__(f"{len(errors)} problem(s); nothing was imported")
        self.errors = errors


@dataclass
class ImportResult:
    """What an import did (or, with dry_run, would do)."""

    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    dry_run: bool = False


@dataclass
class _Context:
    """State shared by the rows of one file."""

    session: Session
    actor: Actor
    code_key: bytes
    result: ImportResult
    errors: list[str] = field(default_factory=list)
    seen: set = field(default_factory=set)
    cache: dict = field(default_factory=dict)

    def error(self, row: int, column: str, message: str) -> None:
        """Record a problem with one cell."""
        self.errors.append(f"row {row}, {column}: {message}")


def _account(ctx: _Context, number: str) -> Account | None:
    """An account by number, cached for the file."""
    key = ("account", number)
    if key not in ctx.cache:
        ctx.cache[key] = ctx.session.scalar(sa.select(Account).where(Account.number == number))
    return ctx.cache[key]


def _import_account(ctx: _Context, row: int, data: dict) -> None:
    """Open an account, or update the one named by account_number."""
    number = data.pop("account_number", None)
    if number is None:
        create_account(ctx.session, ctx.actor, data, code_key=ctx.code_key)
        ctx.result.created += 1
        return
    account = _account(ctx, number)
    if account is None:
        ctx.error(
            row,
            "account_number",
            f"no account {number}; leave the cell empty to open a new account",
        )
        return
    update_account(ctx.session, ctx.actor, account, data)
    ctx.result.updated += 1


def _import_parcel(ctx: _Context, row: int, data: dict) -> None:
    """Create or update a parcel by its parcel number."""
    owner = _account(ctx, data.pop("owner_account"))
    if owner is None:
        ctx.error(row, "owner_account", "no such account")
        return
    data["exemption_flags"] = data.pop("exemptions")
    for code in data["tax_ceilings"] or {}:
        if ctx.session.get(TaxingJurisdiction, code) is None:
            ctx.error(row, "tax_ceilings", f"no taxing jurisdiction {code!r}")
            return
    parcel = ctx.session.scalar(
        sa.select(Parcel).where(Parcel.parcel_number == data["parcel_number"])
    )
    if parcel is None:
        ctx.session.add(Parcel(owner_account=owner, **data))
        ctx.result.created += 1
    else:
        for name, value in data.items():
            setattr(parcel, name, value)
        parcel.owner_account = owner
        ctx.result.updated += 1


def _import_assessment(ctx: _Context, row: int, data: dict) -> None:
    """Set a parcel's values for a tax year."""
    parcel = ctx.session.scalar(
        sa.select(Parcel).where(Parcel.parcel_number == data["parcel_number"])
    )
    if parcel is None:
        ctx.error(row, "parcel_number", f"no parcel {data['parcel_number']}")
        return
    key = (parcel.id, data["tax_year"])
    if key in ctx.seen:
        ctx.error(
            row,
            "tax_year",
            f"parcel {data['parcel_number']} already has a {data['tax_year']} row in this file",
        )
        return
    ctx.seen.add(key)
    valuation = ctx.session.scalar(
        sa.select(ParcelValuation).where(
            ParcelValuation.parcel_id == parcel.id, ParcelValuation.tax_year == data["tax_year"]
        )
    )
    if valuation is None:
        valuation = ParcelValuation(parcel_id=parcel.id, tax_year=data["tax_year"])
        ctx.session.add(valuation)
        ctx.result.created += 1
    else:
        ctx.result.updated += 1
    valuation.market_value_cents = data.get("market_value")
    valuation.assessed_value_cents = data.get("assessed_value")


def _service_point_links(ctx: _Context, row: int, data: dict) -> dict | None:
    """Resolve the account, service, rate plan and usage meter of a service point row."""
    account = _account(ctx, data.pop("account_number"))
    links: dict = {"account": account}
    if account is None:
        ctx.error(row, "account_number", "no such account")
    if ctx.session.get(ServiceKind, data["service_kind"]) is None:
        ctx.error(row, "service_kind", f"no service {data['service_kind']!r}")
    plan_code = data.pop("rate_plan", None)
    if plan_code:
        plan = ctx.session.execute(
            sa.select(rate_plan.c.id, rate_plan.c.service_kind).where(rate_plan.c.code == plan_code)
        ).first()
        if plan is None:
            ctx.error(row, "rate_plan", f"no rate plan {plan_code!r}")
        elif plan.service_kind != data["service_kind"]:
            ctx.error(
                row,
                "rate_plan",
                f"{plan_code} bills {plan.service_kind}, not {data['service_kind']}",
            )
        links["rate_plan_id"] = plan.id if plan else None
    usage_meter = data.pop("usage_from_meter", None)
    if usage_meter:
        source = ctx.session.scalar(
            sa.select(ServicePoint).where(ServicePoint.meter_id == usage_meter)
        )
        if source is None:
            ctx.error(row, "usage_from_meter", f"no meter {usage_meter}")
        links["usage_from_id"] = source.id if source else None
    return links


def _import_service_point(ctx: _Context, row: int, data: dict) -> None:
    """Create a service point, or update the one with this meter id."""
    before = len(ctx.errors)
    links = _service_point_links(ctx, row, data)
    if len(ctx.errors) > before:
        return
    point = None
    if data.get("meter_id"):
        point = ctx.session.scalar(
            sa.select(ServicePoint).where(ServicePoint.meter_id == data["meter_id"])
        )
        if point is not None and point.account_id != links["account"].id:
            ctx.error(row, "meter_id", f"meter {data['meter_id']} belongs to another account")
            return
    if point is None:
        point = ServicePoint(**data, **links)
        ctx.session.add(point)
        ctx.session.flush()
        ensure_location(ctx.session, point)  # its premises, as the migration gave the others
        ctx.result.created += 1
        return
    for name, value in {**data, **links}.items():
        setattr(point, name, value)
    ctx.result.updated += 1


def _meters(ctx: _Context) -> dict[str, tuple[int, object]]:
    """Every meter id with its service point id and installation date."""
    if "meters" not in ctx.cache:
        rows = ctx.session.execute(
            sa.select(ServicePoint.meter_id, ServicePoint.id, ServicePoint.installed_on).where(
                ServicePoint.meter_id.is_not(None)
            )
        ).all()
        ctx.cache["meters"] = {meter: (point_id, installed) for meter, point_id, installed in rows}
    return ctx.cache["meters"]


def _import_reading(ctx: _Context, row: int, data: dict) -> None:
    """Store one meter read."""
    meter = _meters(ctx).get(data["meter_id"])
    if meter is None:
        ctx.error(row, "meter_id", f"no meter {data['meter_id']}")
        return
    point_id, installed_on = meter
    if data["read_on"] < installed_on:
        ctx.error(
            row, "read_on", f"{data['read_on']} is before the meter was installed ({installed_on})"
        )
        return
    key = (point_id, data["read_on"])
    exists = ctx.session.scalar(
        sa.select(MeterReading.id).where(
            MeterReading.service_point_id == point_id, MeterReading.read_on == data["read_on"]
        )
    )
    if key in ctx.seen or exists:
        ctx.error(
            row, "read_on", f"meter {data['meter_id']} already has a read on {data['read_on']}"
        )
        return
    ctx.seen.add(key)
    ctx.session.add(
        MeterReading(
            service_point_id=point_id,
            meter_installed_on=installed_on,
            read_on=data["read_on"],
            reading=data["reading"],
            kind=data["kind"],
            note=data.get("note"),
            recorded_by=f"import by {ctx.actor.label}",
        )
    )
    ctx.result.created += 1


KINDS: dict[str, tuple[type[ma.Schema], Callable[[_Context, int, dict], None]]] = {
    "accounts": (AccountRow, _import_account),
    "parcels": (ParcelRow, _import_parcel),
    "assessments": (AssessmentRow, _import_assessment),
    "service_points": (ServicePointRow, _import_service_point),
    "readings": (ReadingRow, _import_reading),
}


def _with_value(message: str, typed: str | None) -> str:
    """Add what was typed to a message that does not already start with it."""
    if not typed or message.startswith(typed.strip()):
        return message
    return f"{message} (got {typed!r})"


def _header(reader: csv.DictReader, errors: list[str]) -> list[str] | None:
    """The header row, or None (with a message) when it cannot be read as CSV."""
    try:
        return reader.fieldnames
    except csv.Error as error:
        errors.append(f"row 1: not readable as CSV ({error})")
        return None


def _rows(reader: csv.DictReader, errors: list[str]) -> Iterator[dict[str, str]]:
    """The rows after the header; a row that cannot be read as CSV ends them with a message."""
    try:
        yield from reader
    except csv.Error as error:
        errors.append(f"row {reader.line_num + 1}: not readable as CSV ({error})")


def _check_header(schema: ma.Schema, header: list[str] | None, errors: list[str]) -> None:
    """The header must name only known columns and every required one."""
    if not header:
        if not errors:  # a header that cannot be read is already named
            errors.append("row 1: the file is empty or has no header")
        return
    known = set(schema.fields)
    for column in header:
        if column not in known:
            errors.append(
                f"row 1, {column}: unknown column (expected some of: {', '.join(schema.fields)})"
            )
    for name, column_field in schema.fields.items():
        if column_field.required and name not in header:
            errors.append(f"row 1, {name}: required column is missing")


def import_csv(
    session: Session, actor: Actor, kind: str, text: str, *, code_key: bytes, dry_run: bool = False
) -> ImportResult:
    """Import one CSV file of a kind; raise ImportFailed (and write nothing) on any bad row."""
    if kind not in KINDS:
        raise ImportFailed([f"kind: {kind!r} is not one of {', '.join(KINDS)}"])
    schema_class, handler = KINDS[kind]
    schema = schema_class()
    # NOTE: newline="" as the csv module asks, so a file saved with bare CR line ends reads too.
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    ctx = _Context(session, actor, code_key, ImportResult(kind, dry_run=dry_run))
    _check_header(schema, _header(reader, ctx.errors), ctx.errors)
    savepoint = session.begin_nested()
    for row, raw in enumerate(_rows(reader, ctx.errors) if not ctx.errors else (), start=2):
        ctx.result.rows += 1
        try:
            data = schema.load(raw)
        except ma.ValidationError as error:
            for column, messages in error.messages.items():
                for message in messages if isinstance(messages, list) else [messages]:
                    ctx.error(row, column, _with_value(str(message), raw.get(column)))
            continue
        handler(ctx, row, data)
        if len(ctx.errors) >= MAX_ERRORS:
            ctx.errors.append(f"stopped after {MAX_ERRORS} problems")
            break
    if ctx.errors or dry_run:
        savepoint.rollback()
        if ctx.errors:
            raise ImportFailed(ctx.errors)
        return ctx.result
    savepoint.commit()
    record(
        session,
        actor,
        f"import.{kind}",
        object_type="Import",
        rows=ctx.result.rows,
        created=ctx.result.created,
        updated=ctx.result.updated,
    )
    return ctx.result

"""CSV imports of billing cycles with their calendars, and of accounts' cycles.

All or nothing, as the other imports (accounts.imports): every row is checked, and the file
is written only if no row has an error; each error names the row (the header is row 1) and
the column. docs/imports.md lists the columns.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict

import marshmallow as ma
import sqlalchemy as sa
from marshmallow import validate
from sqlalchemy.orm import Session

from accounts.import_schemas import Row
from accounts.imports import (
    MAX_ERRORS,
    ImportFailed,
    ImportResult,
    _check_header,
    _header,
    _rows,
    _with_value,
)
from billing.cycle_calendar import FREQUENCIES, CalendarError, PeriodDates
from billing.cycles import CODE_RE, add_periods, assign_accounts, create_cycle
from billing.models import BillingCycle
from core.audit import Actor, record


class CalendarRow(Row):
    """cycle_calendars.csv: one period of a cycle per row (the cycle is created if new)."""

    cycle = ma.fields.String(
        required=True,
        validate=validate.Regexp(CODE_RE, error="capitals, digits, - or _ (at most 24)"),
    )
    name = ma.fields.String(validate=validate.Length(max=100))
    frequency = ma.fields.String(validate=validate.OneOf(FREQUENCIES))
    period_start = ma.fields.Date(required=True)
    period_end = ma.fields.Date(required=True)
    read_date = ma.fields.Date(required=True)
    bill_date = ma.fields.Date(required=True)
    due_date = ma.fields.Date(required=True)

    @ma.pre_load
    def upper_code(self, data, **_kwargs):
        """Cycle codes are capitals."""
        if isinstance(data.get("cycle"), str):
            data["cycle"] = data["cycle"].strip().upper()
        return data


class AssignmentRow(Row):
    """cycle_accounts.csv: the cycle each account is read and billed on."""

    account = ma.fields.String(required=True, validate=validate.Length(max=12))
    cycle = ma.fields.String(required=True, validate=validate.Length(max=24))


def _load_rows(schema: ma.Schema, text: str, errors: list[str]) -> list[tuple[int, dict]]:
    """(row number, loaded values) of every row that is valid by itself."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    _check_header(schema, _header(reader, errors), errors)
    loaded = []
    for row, raw in enumerate(_rows(reader, errors) if not errors else (), start=2):
        try:
            loaded.append((row, schema.load(raw)))
        except ma.ValidationError as error:
            for column, messages in error.messages.items():
                for message in messages if isinstance(messages, list) else [messages]:
                    errors.append(
                        f"row {row}, {column}: {_with_value(str(message), raw.get(column))}"
                    )
        if len(errors) >= MAX_ERRORS:
            errors.append(f"stopped after {MAX_ERRORS} problems")
            break
    return loaded


def _finish(session: Session, savepoint, errors: list[str], result: ImportResult, actor: Actor):
    """Keep the file's changes, or roll them back on errors and dry runs."""
    if errors or result.dry_run:
        savepoint.rollback()
        if errors:
            raise ImportFailed(errors)
        return result
    savepoint.commit()
    record(session, actor, f"import.{result.kind}", object_type="Import", rows=result.rows)
    return result


def import_calendars(
    session: Session, actor: Actor, text: str, *, dry_run: bool = False
) -> ImportResult:
    """Create cycles and add their periods from a CSV file; all rows or none.

    A period overlapping another of its cycle (in the file or stored) is refused, naming
    both rows (or the stored period).
    """
    errors: list[str] = []
    result = ImportResult("cycle-calendars", dry_run=dry_run)
    loaded = _load_rows(CalendarRow(), text, errors)
    result.rows = len(loaded)
    by_cycle: dict[str, list[tuple[int, dict]]] = defaultdict(list)
    for row, data in loaded:
        by_cycle[data["cycle"]].append((row, data))
    savepoint = session.begin_nested()
    for code, rows in by_cycle.items() if not errors else ():
        try:
            cycle = _cycle_for(session, actor, code, rows, result)
            periods = [
                PeriodDates(
                    d["period_start"],
                    d["period_end"],
                    d["read_date"],
                    d["bill_date"],
                    d["due_date"],
                )
                for _row, d in rows
            ]
            add_periods(session, actor, cycle, periods, [f"row {row}" for row, _d in rows])
            result.updated += len(periods)
        except CalendarError as error:
            errors.append(str(error))
    return _finish(session, savepoint, errors, result, actor)


def _cycle_for(
    session: Session, actor: Actor, code: str, rows: list[tuple[int, dict]], result: ImportResult
) -> BillingCycle:
    """The file's cycle by code, created from its first row's name and frequency if new."""
    cycle = session.scalar(sa.select(BillingCycle).where(BillingCycle.code == code))
    first_row, first = rows[0]
    if cycle is not None:
        if first.get("frequency") and first["frequency"] != cycle.frequency.value:
            raise CalendarError(
                f"row {first_row}, frequency: cycle {code} is {cycle.frequency.value}, "
                f"not {first['frequency']}"
            )
        return cycle
    for column in ("name", "frequency"):
        if not first.get(column):
            raise CalendarError(f"row {first_row}, {column}: a new cycle {code} needs its {column}")
    result.created += 1
    return create_cycle(
        session,
        actor,
        code=code,
        name=first["name"],
        frequency=first["frequency"],
        where=f"row {first_row}",
    )


def import_assignments(
    session: Session, actor: Actor, text: str, *, dry_run: bool = False
) -> ImportResult:
    """Put accounts on cycles from a CSV file; all rows or none."""
    errors: list[str] = []
    result = ImportResult("cycle-accounts", dry_run=dry_run)
    loaded = _load_rows(AssignmentRow(), text, errors)
    result.rows = len(loaded)
    cycles = {c.code: c for c in session.scalars(sa.select(BillingCycle))}
    by_cycle: dict[str, list[tuple[int, str]]] = defaultdict(list)
    seen: dict[str, int] = {}
    for row, data in loaded:
        code, number = data["cycle"].upper(), data["account"]
        if code not in cycles:
            errors.append(f"row {row}, cycle: no billing cycle {data['cycle']!r}")
        elif number in seen:
            errors.append(f"row {row}, account: account {number} is already on row {seen[number]}")
        else:
            seen[number] = row
            by_cycle[code].append((row, number))
    savepoint = session.begin_nested()
    for code, rows in by_cycle.items() if not errors else ():
        try:
            result.updated += assign_accounts(
                session,
                actor,
                cycles[code],
                [number for _row, number in rows],
                [f"row {row}, account" for row, _number in rows],
            )
        except CalendarError as error:
            errors.append(str(error))
    return _finish(session, savepoint, errors, result, actor)

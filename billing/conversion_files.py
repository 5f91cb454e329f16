"""The files of a conversion from the old system: their columns and how they are read.

Every file is CSV with a header row; rows are counted as a spreadsheet counts
them (the header is row 1) and every problem names the file, the row and the
column. docs/conversion.md lists the columns. Reading a file changes nothing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import marshmallow as ma
from marshmallow import validate

from accounts.import_schemas import (
    AccountRow,
    Dollars,
    ParcelRow,
    Row,
    ServicePointRow,
    WholeNumber,
)

FORMER_NUMBER = validate.Length(1, 40)
#: The receivable classes that are not a service kind's (whose code is the class).
PROPERTY_TAX = "property_tax"
PENALTIES = "penalties"
CREDIT = "credit"


class ConversionAccountRow(AccountRow):
    """accounts.csv: an account of the old system, opened here with a new number."""

    former_number = ma.fields.String(required=True, validate=FORMER_NUMBER)


class ConversionParcelRow(ParcelRow):
    """parcels.csv: a parcel owned by a converted account."""

    owner_former_number = ma.fields.String(required=True, validate=FORMER_NUMBER)


class ConversionServicePointRow(ServicePointRow):
    """service_points.csv: a service point of a converted account."""

    former_number = ma.fields.String(required=True, validate=FORMER_NUMBER)


class BalanceRow(Row):
    """balances.csv: what an account owed (or had in credit) in one receivable class."""

    former_number = ma.fields.String(required=True, validate=FORMER_NUMBER)
    #: A service kind's code (water, sewer, ...), property_tax, penalties or credit.
    receivable_class = ma.fields.String(required=True, validate=validate.Length(1, 40))
    amount = Dollars(required=True)
    bill_date = ma.fields.Date()
    due_date = ma.fields.Date()
    period_start = ma.fields.Date()
    period_end = ma.fields.Date()
    parcel_number = ma.fields.String(validate=validate.Length(1, 40))
    #: The old system's bill number, kept on the converted invoice's line.
    reference = ma.fields.String(validate=validate.Length(max=60))

    @ma.validates_schema
    def dated_and_positive(self, data, **_kwargs):
        """An amount owed needs its original bill and due dates; a credit needs neither."""
        if data.get("amount") == 0:
            raise ma.ValidationError(
                "an opening balance of 0.00 is left out, not converted", "amount"
            )
        if data.get("receivable_class") == CREDIT:
            return
        for name in ("bill_date", "due_date"):
            if name not in data:
                raise ma.ValidationError(
                    f"an amount owed needs its original {name.replace('_', ' ')}", name
                )
        if data["due_date"] < data["bill_date"]:
            raise ma.ValidationError("the due date is before the bill date", "due_date")
        start, end = data.get("period_start"), data.get("period_end")
        if (start is None) != (end is None):
            raise ma.ValidationError(
                "give both period_start and period_end, or neither", "period_end"
            )
        if start and end < start:
            raise ma.ValidationError("the period ends before it starts", "period_end")


class DepositRow(Row):
    """deposits.csv: a deposit the old system held for an account, with its date."""

    former_number = ma.fields.String(required=True, validate=FORMER_NUMBER)
    amount = Dollars(required=True)
    held_since = ma.fields.Date(required=True)
    reference = ma.fields.String(validate=validate.Length(max=120))

    @ma.validates_schema
    def positive(self, data, **_kwargs):
        """A deposit of nothing is not held."""
        if data.get("amount") == 0:
            raise ma.ValidationError("a deposit of 0.00 is left out, not converted", "amount")


class LastReadingRow(Row):
    """readings.csv: the last reading of each meter in the old system."""

    meter_id = ma.fields.String(required=True, validate=validate.Length(1, 40))
    read_on = ma.fields.Date(required=True)
    reading = WholeNumber(
        required=True, validate=validate.Range(min=0, error="must not be negative")
    )


class HistoryRow(Row):
    """history.csv: one period's consumption of a meter, newest ending on the last reading."""

    meter_id = ma.fields.String(required=True, validate=validate.Length(1, 40))
    period_start = ma.fields.Date(required=True)
    period_end = ma.fields.Date(required=True)
    consumption = WholeNumber(
        required=True, validate=validate.Range(min=0, error="must not be negative")
    )

    @ma.validates_schema
    def in_order(self, data, **_kwargs):
        """A period ends after it starts."""
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and end <= start:
            raise ma.ValidationError("the period ends on or before it starts", "period_end")


#: The files in the order they are read and posted; only accounts.csv must be there.
FILES: dict[str, type[ma.Schema]] = {
    "accounts.csv": ConversionAccountRow,
    "parcels.csv": ConversionParcelRow,
    "service_points.csv": ConversionServicePointRow,
    "balances.csv": BalanceRow,
    "deposits.csv": DepositRow,
    "readings.csv": LastReadingRow,
    "history.csv": HistoryRow,
}
REQUIRED_FILES = ("accounts.csv",)
#: Schemas whose inherited column is replaced by the former number.
EXCLUDED = {
    "parcels.csv": ("owner_account",),
    "service_points.csv": ("account_number",),
    "accounts.csv": ("account_number",),
}


@dataclass
class Problems:
    """Every problem found, each naming its file, row and column."""

    messages: list[str] = field(default_factory=list)

    def add(self, file: str, row: int | None, column: str | None, message: str) -> None:
        """Record one problem at a place."""
        place = file + (f", row {row}" if row else "") + (f", {column}" if column else "")
        self.messages.append(f"{place}: {message}")

    def __bool__(self) -> bool:
        return bool(self.messages)


@dataclass(frozen=True)
class Loaded:
    """One valid row: its file, its row number and its values."""

    file: str
    row: int
    data: dict


def _read_file(name: str, text: str, problems: Problems) -> list[Loaded]:
    """The valid rows of one file; every bad one is named in problems."""
    schema = FILES[name](exclude=EXCLUDED.get(name, ()))
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        header = reader.fieldnames
    except csv.Error as error:
        problems.add(name, 1, None, f"not readable as CSV ({error})")
        return []
    if not header:
        problems.add(name, 1, None, "the file is empty or has no header")
        return []
    bad_header = False
    for column in header:
        if column not in schema.fields:
            problems.add(
                name, 1, column, f"unknown column (expected some of: {', '.join(schema.fields)})"
            )
            bad_header = True
    for column, column_field in schema.fields.items():
        if column_field.required and column not in header:
            problems.add(name, 1, column, "required column is missing")
            bad_header = True
    if bad_header:
        return []
    rows = []
    try:
        for number, raw in enumerate(reader, start=2):
            try:
                rows.append(Loaded(name, number, schema.load(raw)))
            except ma.ValidationError as error:
                for column, messages in error.messages.items():
                    for message in messages if isinstance(messages, list) else [messages]:
                        typed = raw.get(column)
                        got = (
                            f" (got {typed!r})"
                            if typed and typed.strip() not in str(message)
                            else ""
                        )
                        problems.add(name, number, column, f"{message}{got}")
    except csv.Error as error:
        problems.add(name, reader.line_num + 1, None, f"not readable as CSV ({error})")
    return rows


def read_directory(directory: Path, problems: Problems) -> dict[str, list[Loaded]]:
    """Every file of a conversion directory, read and checked row by row."""
    if not directory.is_dir():
        problems.add(str(directory), None, None, "is not a directory")
        return {name: [] for name in FILES}
    known = set(FILES)
    for path in sorted(directory.glob("*.csv")):
        if path.name not in known and path.name != "control_totals.csv":
            problems.add(path.name, None, None, f"is not a conversion file ({', '.join(FILES)})")
    files = {}
    for name in FILES:
        path = directory / name
        if not path.exists():
            if name in REQUIRED_FILES:
                problems.add(name, None, None, "is missing from the directory")
            files[name] = []
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problems.add(name, None, None, "is not UTF-8 text")
            files[name] = []
            continue
        files[name] = _read_file(name, text, problems)
    return files

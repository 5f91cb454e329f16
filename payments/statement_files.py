"""Bank statement files read into plain values: BAI2 (the `bai2` package) and CSV (YAML layouts).

Pure module: bytes in, a `ParsedStatement` out, or `StatementRefused` naming what is wrong.
Nothing is taken from a file that does not hold together: a BAI2 file's account, group and
file trailers must agree with its records (counts and control totals), a CSV file must end
with its closing balance row, and in both the opening balance plus the lines must make the
closing balance (docs/bank-statements.md, "Formats").
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from bai2 import bai2 as bai2_reader
from bai2.constants import TypeCodeTransaction
from bai2.exceptions import IntegrityException, NotSupportedYetException, ParsingException

from core.money import format_cents

LAYOUTS = Path(__file__).resolve().parent / "statement_layouts"
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
OPENING_LEDGER, CLOSING_LEDGER = "010", "015"
#: Where the bai2 package's integrity messages point, in the clerk's words.
TRAILERS = {
    "account control total": "the account trailer's control total (49 record)",
    "group control total": "the group trailer's control total (98 record)",
    "file control total": "the file trailer's control total (99 record)",
    "number of records": "a trailer's record count",
    "number of groups": "the file trailer's group count",
    "number of accounts": "the group trailer's account count",
}


class StatementRefused(ValueError):
    """A statement file refused whole; nothing of it is taken. The message says why."""


@dataclass(frozen=True)
class ParsedLine:
    """One credit (positive) or debit (negative) as the bank wrote it."""

    number: int
    amount_cents: int
    type_code: str
    value_date: date
    bank_reference: str = ""
    customer_reference: str = ""
    text: str = ""


@dataclass(frozen=True)
class ParsedStatement:
    """A statement of one account for one day."""

    format: str
    layout: str
    bank_account: str
    statement_date: date
    sequence: str
    opening_cents: int
    closing_cents: int
    lines: list[ParsedLine] = field(default_factory=list)


def read_statement(data: bytes, layout: str = "bai2") -> ParsedStatement:
    """Read a statement file with a layout ("bai2" or a CSV layout's name)."""
    parsed = read_bai2(data) if layout == "bai2" else read_csv(data, load_layout(layout))
    _check_balances(parsed)
    return parsed


def _text(data: bytes) -> str:
    """The file's text; a statement is ASCII (or UTF-8 for CSV exports)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise StatementRefused(f"the file is not text (byte {error.start})") from None


def read_bai2(data: bytes) -> ParsedStatement:
    """A BAI2 file of one account; its trailers' counts and control totals checked."""
    text = _text(data)
    records = [line.strip() for line in text.splitlines() if line.strip()]
    if not records or not records[0].startswith("01,"):
        raise StatementRefused("the file does not begin with a BAI2 file header (01 record)")
    if not records[-1].startswith("99,"):
        raise StatementRefused(
            "the file ends without its file trailer (99 record): it is truncated"
        )
    try:
        parsed = bai2_reader.parse_from_lines(records, check_integrity=True)
    except IntegrityException as error:
        raise StatementRefused(_integrity_words(str(error))) from None
    except (ParsingException, NotSupportedYetException) as error:
        raise StatementRefused(f"the BAI2 file cannot be read: {error}") from None
    except (StopIteration, IndexError, ValueError, KeyError, TypeError) as error:
        raise StatementRefused(f"the BAI2 file is cut short or malformed ({error!r})") from None
    if len(parsed.children) != 1 or len(parsed.children[0].children) != 1:
        raise StatementRefused("a statement file holds one group with one bank account")
    group = parsed.children[0]
    account = group.children[0]
    day = group.header.as_of_date
    balances = {s.type_code.code: s.amount for s in account.header.summary_items}
    for code, words in ((OPENING_LEDGER, "opening"), (CLOSING_LEDGER, "closing")):
        if balances.get(code) is None:
            raise StatementRefused(f"the account record gives no {words} ledger balance ({code})")
    lines = []
    for number, detail in enumerate(account.children, start=1):
        kind = detail.type_code.transaction
        if kind not in (TypeCodeTransaction.credit, TypeCodeTransaction.debit):
            raise StatementRefused(
                f"line {number}: type code {detail.type_code.code} is neither credit nor debit"
            )
        sign = 1 if kind == TypeCodeTransaction.credit else -1
        lines.append(
            ParsedLine(
                number=number,
                amount_cents=sign * int(detail.amount),
                type_code=detail.type_code.code,
                value_date=day,
                bank_reference=(detail.bank_reference or "")[:64],
                customer_reference=(detail.customer_reference or "")[:64],
                text=(detail.text or "").strip()[:500],
            )
        )
    return ParsedStatement(
        format="bai2",
        layout="bai2",
        bank_account=account.header.customer_account_number,
        statement_date=day,
        sequence=str(parsed.header.file_id or ""),
        opening_cents=int(balances[OPENING_LEDGER]),
        closing_cents=int(balances[CLOSING_LEDGER]),
        lines=lines,
    )


def _integrity_words(message: str) -> str:
    """The bai2 package's integrity message, naming the trailer that disagrees."""
    found = re.search(r"expected (-?\d+), found (-?\d+)", message)
    for key, words in TRAILERS.items():
        if key in message.lower() and found:
            said, counted = found.groups()
            return f"{words} says {said}, the records add up to {counted}: refused"
    return f"the BAI2 file's trailers disagree with its records: {message}"


def _check_balances(parsed: ParsedStatement) -> None:
    """The opening ledger balance plus the lines must make the closing one."""
    moved = sum(line.amount_cents for line in parsed.lines)
    if parsed.opening_cents + moved != parsed.closing_cents:
        raise StatementRefused(
            f"the opening balance {format_cents(parsed.opening_cents)} plus the lines "
            f"({format_cents(moved)}) is not the closing balance "
            f"{format_cents(parsed.closing_cents)}"
        )
    if not parsed.bank_account:
        raise StatementRefused("the file names no bank account")


@dataclass(frozen=True)
class CsvLayout:
    """Where a bank's CSV export keeps each field (1-based columns)."""

    name: str
    description: str
    columns: dict[str, int]
    date_format: str
    header_rows: int
    #: The bank's words in the type column and the BAI2 code each stands for.
    types: dict[str, str]
    #: The type column's words for the balance rows.
    opening: str
    closing: str


def load_layout(name: str) -> CsvLayout:
    """A CSV layout of payments/statement_layouts by name."""
    if not NAME.match(name) or not (LAYOUTS / f"{name}.yaml").is_file():
        raise StatementRefused(f"no statement layout {name!r}")
    raw = yaml.safe_load((LAYOUTS / f"{name}.yaml").read_text(encoding="utf-8"))
    columns = {key: int(value) for key, value in raw["columns"].items()}
    if "amount" not in columns and not {"debit", "credit"} <= columns.keys():
        raise StatementRefused(f"layout {name}: an amount column or debit and credit columns")
    return CsvLayout(
        name=name,
        description=raw.get("description", ""),
        columns=columns,
        date_format=raw.get("date_format", "%Y-%m-%d"),
        header_rows=int(raw.get("header_rows", 1)),
        types={str(k).upper(): str(v) for k, v in raw.get("types", {}).items()},
        opening=str(raw["opening"]).upper(),
        closing=str(raw["closing"]).upper(),
    )


def available_layouts() -> list[str]:
    """The CSV layouts there are, by name."""
    return sorted(path.stem for path in LAYOUTS.glob("*.yaml"))


def read_csv(data: bytes, layout: CsvLayout) -> ParsedStatement:
    """A CSV export of one account: balance rows first and last, the lines between."""
    rows = list(csv.reader(io.StringIO(_text(data))))[layout.header_rows :]
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    opening = closing = None
    account, lines = "", []
    for place, row in enumerate(rows, start=layout.header_rows + 1):
        if closing is not None:
            raise StatementRefused(f"row {place}: a row after the closing balance")
        kind = _cell(row, layout, "type", place).upper()
        day = _date(_cell(row, layout, "date", place), layout, place)
        cents = _amount(row, layout, place)
        account = account or _cell(row, layout, "account", place, required=False)
        if kind == layout.opening:
            opening = (day, cents)
        elif kind == layout.closing:
            closing = (day, cents)
        elif opening is None:
            raise StatementRefused(f"row {place}: a line before the opening balance row")
        elif cents == 0:
            raise StatementRefused(f"row {place}: an amount of zero")
        else:
            lines.append(_csv_line(row, layout, place, len(lines) + 1, kind, day, cents))
    if opening is None:
        raise StatementRefused(f"the file has no opening balance row ({layout.opening})")
    if closing is None:
        raise StatementRefused(
            f"the file ends without its closing balance row ({layout.closing}): it is truncated"
        )
    return ParsedStatement(
        format="csv",
        layout=layout.name,
        bank_account=account,
        statement_date=closing[0],
        sequence="",
        opening_cents=opening[1],
        closing_cents=closing[1],
        lines=lines,
    )


def _csv_line(row, layout: CsvLayout, place: int, number: int, kind: str, day, cents):
    code = layout.types.get(kind)
    if code is None:
        raise StatementRefused(f"row {place}: type {kind!r} is not in layout {layout.name}")
    return ParsedLine(
        number=number,
        amount_cents=cents,
        type_code=code,
        value_date=day,
        bank_reference=_cell(row, layout, "reference", place, required=False)[:64],
        text=_cell(row, layout, "description", place, required=False)[:500],
    )


def _cell(row: list[str], layout: CsvLayout, name: str, place: int, required=True) -> str:
    column = layout.columns.get(name)
    if column is None or column > len(row):
        if required:
            raise StatementRefused(f"row {place}: no {name} (column {column}); truncated?")
        return ""
    return row[column - 1].strip()


def _date(value: str, layout: CsvLayout, place: int) -> date:
    try:
        return datetime.strptime(value, layout.date_format).date()  # noqa: DTZ007 - a calendar date
    except ValueError:
        raise StatementRefused(f"row {place}: date {value!r} is not {layout.date_format}") from None


def _amount(row: list[str], layout: CsvLayout, place: int) -> int:
    """Signed cents from the amount column, or credit minus debit."""
    if "amount" in layout.columns:
        return _cents(_cell(row, layout, "amount", place), place)
    credit = _cell(row, layout, "credit", place, required=False)
    debit = _cell(row, layout, "debit", place, required=False)
    return (_cents(credit, place) if credit else 0) - (_cents(debit, place) if debit else 0)


def _cents(value: str, place: int) -> int:
    cleaned = value.replace(",", "").replace("$", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise StatementRefused(f"row {place}: amount {value!r} is not a number") from None
    if amount != amount.quantize(Decimal("0.01")):
        raise StatementRefused(f"row {place}: amount {value!r} has more than two decimals")
    return int(amount * 100)

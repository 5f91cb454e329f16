"""How an export writes each value: the text of dates, timestamps and JSON, CSV fields quoted
where PostgreSQL's COPY quotes them (so both writers give the same bytes), and XLSX text cells
that stay text."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from ledger.export_datasets import (
    Column,
)

#: Excel refuses longer text in a cell.
XLSX_CELL_CHARS = 32_767


def timestamp_text(value: datetime) -> str:
    """UTC to the microsecond with a Z, as the ledger's hash form writes it."""
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")[:-6] + "Z"


def json_text(value: Any) -> str:
    """Canonical JSON for a JSON column in a CSV or XLSX cell: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


#: The first characters a spreadsheet takes for the start of a formula (OWASP, "CSV
#: Injection"), and the quote that marks a neutralised cell (so reading back is exact).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def formula_safe(text: str) -> str:
    """A CSV text cell a spreadsheet shows as text: one quote before a formula-like start (and
    before a leading quote); a reader takes one leading quote off (ledger/export_verify.py)."""
    text = text if isinstance(text, str) else str(text)
    return "'" + text if text[:1] in FORMULA_STARTS else text


#: How a CSV writes each kind of value (the Python writer; COPY writes the same, copy_expr).
CSV_TEXT = {
    "date": date.isoformat,
    "timestamp": timestamp_text,
    "json": json_text,
    "text": formula_safe,
}


def converter(columns: tuple[Column, ...], of: dict[str, Callable]) -> Callable[[Any], list]:
    """A function turning a database row into written values (None stays None)."""
    steps = [(i, of[c.kind]) for i, c in enumerate(columns) if c.kind in of]

    def convert(row) -> list:
        values = list(row)
        for i, step in steps:
            if values[i] is not None:
                values[i] = step(values[i])
        return values

    return convert


def copy_expr(column: Column):
    """The column as PostgreSQL text exactly as the Python writer writes it."""
    if column.kind == "date":
        return sa.func.to_char(column.expr, "YYYY-MM-DD")
    if column.kind == "timestamp":
        return sa.func.to_char(
            sa.func.timezone("UTC", column.expr), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
        )
    if column.kind == "text":
        # NOTE: COPY quotes an empty string to tell it from NULL; Python's csv writes both as
        # nothing, and so must COPY for the two files to be the same bytes. A formula-like
        # start gets its quote as formula_safe gives it.
        quoted = sa.case(
            (sa.func.substr(column.expr, 1, 1).in_(FORMULA_STARTS), sa.literal("'") + column.expr),
            else_=column.expr,
        )
        return sa.func.nullif(quoted, "")
    return column.expr


def csv_field(value: Any) -> str:
    """One CSV field, quoted where COPY quotes it (delimiter, quote, CR or LF)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_text(rows: list) -> str:
    """Rows as CSV text; the csv module first, by hand when a value holds a bare CR."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    text = buffer.getvalue()
    if "\r" in text:
        # NOTE: with "\n" line ends the csv module does not quote a CR inside a value,
        # which a reader would take for a line end.
        text = "".join(",".join(csv_field(v) for v in row) + "\n" for row in rows)
    return text


def xlsx_text_writer() -> Callable[[str, Any], Any]:
    """A function making text cells that stay text: never a formula or an error code, never
    refused for a control character. openpyxl is imported here, when an XLSX is written."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE

    def text(value: str, sheet) -> Any:
        if ILLEGAL_CHARACTERS_RE.search(value):
            value = ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
        if len(value) > XLSX_CELL_CHARS:
            value = value[: XLSX_CELL_CHARS - 60] + " [cut at Excel's cell limit; see the CSV]"
        if value[:1] == "=" or value in ERROR_CODES:
            cell = WriteOnlyCell(sheet, value=value)
            cell.data_type = "s"
            return cell
        return value

    return text

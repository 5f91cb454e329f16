"""Bank remittance file layouts (YAML) and the reading of a file with one of them.

Pure module: bytes and a layout in, the file's items and control totals out, or
`FileRefused` naming the line. Each bank lays its lockbox or bill-pay file out
its own way; a layout file under payments/lockbox_layouts/ says where each field
of each record type sits (fixed-width positions or CSV columns) and
docs/lockbox.md describes the format. Nothing here touches the database: the
whole file is checked (trailer, counts, batch totals) before any item is taken.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml

from core.money import format_cents

FOLDER = Path(__file__).resolve().parent / "lockbox_layouts"
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
KINDS = ("lockbox", "bill_pay")
FORMATS = ("fixed", "csv")
TYPES = ("text", "digits", "integer", "cents", "decimal", "date")
#: The record roles a layout may name, and the fields each may carry.
ROLES: dict[str, tuple[str, ...]] = {
    "header": ("deposit_date", "reference"),
    "service": ("reference",),
    "batch_header": ("batch", "deposit_date", "reference"),
    "detail": ("batch", "item", "amount", "check_number", "scan_line", "account", "payer_name"),
    "overflow": ("batch", "item", "text"),
    "batch_total": ("batch", "count", "amount"),
    "service_total": ("count", "amount"),
    "trailer": ("records", "count", "amount"),
}
#: Fields that hold whole numbers or amounts, and the types they may be read as.
NUMERIC = {"amount": ("cents", "decimal"), "count": ("integer",), "records": ("integer",)}


class LayoutError(ValueError):
    """A layout file that cannot be used; the message names the place."""


class FileRefused(ValueError):
    """A remittance file refused whole; nothing of it is taken. The message names the line."""


@dataclass(frozen=True)
class FieldSpec:
    """Where one field sits: 1-based start and length (fixed) or 1-based column (CSV)."""

    name: str
    type: str
    start: int = 0
    length: int = 0
    column: int = 0
    format: str = ""


@dataclass(frozen=True)
class RecordSpec:
    """A record type: its role, the code that marks it and its fields."""

    role: str
    code: str
    fields: dict[str, FieldSpec]


@dataclass(frozen=True)
class Layout:
    """A bank's file layout."""

    name: str
    kind: str
    format: str
    description: str
    record_code: FieldSpec
    records: dict[str, RecordSpec]
    #: A line made only of this character is block filler (NACHA pads blocks with 9s).
    filler: str = ""
    delimiter: str = ","

    def role_of(self, code: str) -> str | None:
        """The role of the record marked by this code, or None."""
        return next((r.role for r in self.records.values() if r.code == code), None)


@dataclass
class Item:
    """One check or bill-pay payment as the file says it."""

    sequence: int
    line: int
    batch: str
    item: str | None
    amount_cents: int
    check_number: str | None = None
    scan_line: str | None = None
    account: str | None = None
    payer_name: str | None = None
    overflow: list[str] = field(default_factory=list)


@dataclass
class Remittance:
    """A whole file, read and checked."""

    layout: Layout
    deposit_date: date
    items: list[Item]
    #: batch -> (items, cents), each checked against the batch's total record.
    batches: dict[str, tuple[int, int]]

    @property
    def total_cents(self) -> int:
        """What the file's items add up to."""
        return sum(i.amount_cents for i in self.items)


def _place(source: str, path: str) -> str:
    return f"layout {source}: {path}"


def _field(source: str, path: str, name: str, raw: object, fmt: str) -> FieldSpec:
    """One field's spec, checked."""
    if not isinstance(raw, dict):
        raise LayoutError(f"{_place(source, path)}: a field is a mapping (start/length or column)")
    unknown = set(raw) - {"start", "length", "column", "type", "format"}
    if unknown:
        raise LayoutError(f"{_place(source, path)}: unknown key {sorted(unknown)[0]!r}")
    kind = raw.get("type", "text")
    if kind not in TYPES:
        raise LayoutError(f"{_place(source, path)}.type: {kind!r} is not one of {', '.join(TYPES)}")
    if name in NUMERIC and kind not in NUMERIC[name]:
        raise LayoutError(
            f"{_place(source, path)}.type: {name} is read as {' or '.join(NUMERIC[name])}"
        )
    date_format = raw.get("format", "")
    if kind == "date" and not (isinstance(date_format, str) and "%" in date_format):
        raise LayoutError(f"{_place(source, path)}.format: a date needs a format such as %y%m%d")
    keys = ("start", "length") if fmt == "fixed" else ("column",)
    for key in keys:
        value = raw.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise LayoutError(f"{_place(source, path)}.{key}: a whole number of 1 or more")
    if fmt == "fixed":
        return FieldSpec(name, kind, start=raw["start"], length=raw["length"], format=date_format)
    return FieldSpec(name, kind, column=raw["column"], format=date_format)


def _record(source: str, role: str, raw: object, fmt: str) -> RecordSpec:
    """One record type's spec, checked."""
    path = f"records.{role}"
    if not isinstance(raw, dict) or not isinstance(raw.get("code"), str) or not raw["code"]:
        raise LayoutError(f"{_place(source, path)}.code: the text that marks this record")
    fields = raw.get("fields") or {}
    if not isinstance(fields, dict):
        raise LayoutError(f"{_place(source, path)}.fields: a mapping of field names")
    specs = {}
    for name, spec in fields.items():
        if name not in ROLES[role]:
            raise LayoutError(
                f"{_place(source, f'{path}.fields.{name}')}: a {role} record has no such field "
                f"(it may have {', '.join(ROLES[role])})"
            )
        specs[name] = _field(source, f"{path}.fields.{name}", name, spec, fmt)
    return RecordSpec(role, raw["code"], specs)


def read_layout(text: str, source: str) -> Layout:
    """A layout from its YAML text; LayoutError naming the place when it is malformed."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise LayoutError(f"layout {source}: not YAML ({error})") from None
    if not isinstance(raw, dict):
        raise LayoutError(f"layout {source}: a mapping of name, kind, format and records")
    for key, allowed in (("kind", KINDS), ("format", FORMATS)):
        if raw.get(key) not in allowed:
            raise LayoutError(f"{_place(source, key)}: one of {', '.join(allowed)}")
    fmt = raw["format"]
    if not isinstance(raw.get("name"), str) or not NAME.match(raw["name"]):
        raise LayoutError(f"{_place(source, 'name')}: lower-case letters, digits and dashes")
    records_raw = raw.get("records")
    if not isinstance(records_raw, dict):
        raise LayoutError(f"{_place(source, 'records')}: a mapping of record roles")
    for role in records_raw:
        if role not in ROLES:
            raise LayoutError(f"{_place(source, f'records.{role}')}: no such record role")
    records = {role: _record(source, role, spec, fmt) for role, spec in records_raw.items()}
    codes = [r.code for r in records.values()]
    if len(set(codes)) != len(codes):
        raise LayoutError(f"{_place(source, 'records')}: two record types share a code")
    _require(source, raw["kind"], records)
    code = _field(source, "record_code", "record_code", raw.get("record_code"), fmt)
    filler = raw.get("filler", "")
    if not isinstance(filler, str) or len(filler) > 1:
        raise LayoutError(f"{_place(source, 'filler')}: one character, or none")
    return Layout(
        name=raw["name"],
        kind=raw["kind"],
        format=fmt,
        description=str(raw.get("description", "")),
        record_code=code,
        records=records,
        filler=filler,
        delimiter=str(raw.get("delimiter", ",")),
    )


def _require(source: str, kind: str, records: dict[str, RecordSpec]) -> None:
    """The records and fields every layout needs to be checked and taken."""
    for role in ("detail", "trailer", "batch_total"):
        if role not in records:
            raise LayoutError(f"{_place(source, f'records.{role}')}: this record type is required")
    detail = records["detail"].fields
    needed = ["amount", "scan_line" if kind == "lockbox" else "account"]
    for name in needed:
        if name not in detail:
            raise LayoutError(f"{_place(source, f'records.detail.fields.{name}')}: required")
    for name in ("count", "amount"):
        if name not in records["batch_total"].fields:
            raise LayoutError(f"{_place(source, f'records.batch_total.fields.{name}')}: required")
    if not records["trailer"].fields:
        raise LayoutError(
            f"{_place(source, 'records.trailer.fields')}: records, count or amount, "
            "to tell a whole file from a truncated one"
        )
    dated = [
        r
        for r in ("header", "batch_header")
        if "deposit_date" in getattr(records.get(r), "fields", {})
    ]
    if not dated:
        raise LayoutError(
            f"{_place(source, 'records')}: the header or the batch header must carry deposit_date"
        )


def available() -> list[str]:
    """The names of the layouts shipped (and added) under payments/lockbox_layouts/."""
    return sorted(p.stem for p in FOLDER.glob("*.yaml"))


def load_layout(name: str) -> Layout:
    """The named layout; LayoutError when there is none or it is malformed."""
    if not NAME.match(name or ""):
        raise LayoutError(f"layout {name!r}: lower-case letters, digits and dashes")
    path = FOLDER / f"{name}.yaml"
    if not path.exists():
        raise LayoutError(f"no layout {name!r}; there are {', '.join(available())}")
    layout = read_layout(path.read_text(encoding="utf-8"), path.name)
    if layout.name != name:
        raise LayoutError(f"layout {path.name}: name: says {layout.name!r}, not {name!r}")
    return layout


def _value(spec: FieldSpec, fields: list[str] | str) -> str:
    """The raw text of a field (blank when the record is shorter)."""
    if isinstance(fields, str):
        return fields[spec.start - 1 : spec.start - 1 + spec.length].strip()
    return fields[spec.column - 1].strip() if spec.column <= len(fields) else ""


def _convert(spec: FieldSpec, text: str):
    """A field's value by its type; ValueError with what is wrong."""
    if spec.type in ("text", "digits"):
        if spec.type == "digits" and text and not (text.isascii() and text.isdigit()):
            raise ValueError(f"{text!r} is not digits")
        return text or None
    if not text:
        raise ValueError("it is blank")
    if spec.type in ("integer", "cents"):
        if not (text.isascii() and text.isdigit()):
            raise ValueError(f"{text!r} is not a whole number")
        return int(text)
    if spec.type == "decimal":
        if not re.fullmatch(r"\d+\.\d\d", text):
            raise ValueError(f"{text!r} is not an amount such as 125.40")
        try:
            return int(Decimal(text) * 100)
        except InvalidOperation:
            raise ValueError(f"{text!r} is not an amount") from None
    try:
        return datetime.strptime(text, spec.format).date()  # noqa: DTZ007 - a calendar date
    except ValueError:
        raise ValueError(f"{text!r} is not a date as {spec.format}") from None


def _records(layout: Layout, data: bytes):
    """(line number, code, raw record) for each record of the file, filler and blanks skipped."""
    try:
        text = data.decode("ascii") if layout.format == "fixed" else data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileRefused(f"byte {error.start + 1}: the file is not plain text") from None
    lines = text.splitlines()
    if layout.format == "csv":
        rows = csv.reader(lines, delimiter=layout.delimiter, strict=True)
        try:
            for number, row in enumerate(rows, start=1):
                if row and any(cell.strip() for cell in row):
                    yield number, _value(layout.record_code, row), row
        except csv.Error as error:
            raise FileRefused(f"line {rows.line_num}: {error}") from None
        return
    for number, line in enumerate(lines, start=1):
        if not line.strip() or (layout.filler and set(line.strip()) == {layout.filler}):
            continue
        yield number, _value(layout.record_code, line), line


class _Reader:
    """The state of reading a file: where the batches stand and what has been seen."""

    def __init__(self, layout: Layout):
        self.layout = layout
        self.items: list[Item] = []
        self.open: dict[str, list[int]] = {}
        self.closed: dict[str, tuple[int, int]] = {}
        self.batch: str | None = None
        self.deposit: date | None = None
        self.records = 0
        self.since_service = [0, 0]
        self.trailer = False

    def values(self, role: str, raw, number: int) -> dict:
        """The record's fields by name, converted; FileRefused naming the line and field."""
        out = {}
        for name, spec in self.layout.records[role].fields.items():
            try:
                out[name] = _convert(spec, _value(spec, raw))
            except ValueError as error:
                raise FileRefused(f"line {number} ({role} record): {name}: {error}") from None
        return out

    def take(self, number: int, code: str, raw) -> None:
        """One record."""
        role = self.layout.role_of(code)
        if role is None:
            raise FileRefused(f"line {number}: record type {code!r} is not in the layout")
        if self.trailer:
            raise FileRefused(f"line {number}: a record after the file's trailer")
        if self.records == 0 and "header" in self.layout.records and role != "header":
            raise FileRefused(f"line {number}: the file does not start with its header record")
        self.records += 1
        values = self.values(role, raw, number)
        getattr(self, f"_{role}")(number, values)

    def _header(self, number: int, values: dict) -> None:
        if self.records != 1:
            raise FileRefused(f"line {number}: a second header record")
        self.deposit = values.get("deposit_date") or self.deposit

    def _service(self, number: int, values: dict) -> None:
        return None

    def _batch_header(self, number: int, values: dict) -> None:
        self.batch = values.get("batch") or self.batch
        self.deposit = self.deposit or values.get("deposit_date")

    def _detail(self, number: int, values: dict) -> None:
        batch = values.get("batch") or self.batch or "1"
        if batch in self.closed:
            raise FileRefused(f"line {number}: an item of batch {batch} after its total record")
        if values["amount"] <= 0:
            raise FileRefused(f"line {number} (detail record): amount: not greater than zero")
        item = Item(
            sequence=len(self.items) + 1,
            line=number,
            batch=batch,
            item=values.get("item"),
            amount_cents=values["amount"],
            check_number=values.get("check_number"),
            scan_line=values.get("scan_line"),
            account=values.get("account"),
            payer_name=values.get("payer_name"),
        )
        self.items.append(item)
        counted = self.open.setdefault(batch, [0, 0])
        counted[0] += 1
        counted[1] += item.amount_cents
        self.since_service[0] += 1
        self.since_service[1] += item.amount_cents

    def _overflow(self, number: int, values: dict) -> None:
        if not self.items:
            raise FileRefused(f"line {number}: an overflow record before any item")
        if values.get("text"):
            self.items[-1].overflow.append(values["text"])

    def _batch_total(self, number: int, values: dict) -> None:
        batch = values.get("batch") or self.batch or "1"
        if batch in self.closed:
            raise FileRefused(f"line {number}: a second total record for batch {batch}")
        count, cents = self.open.pop(batch, [0, 0])
        if (count, cents) != (values["count"], values["amount"]):
            raise FileRefused(
                f"line {number}: batch {batch} does not add up: its items are {count} for "
                f"{format_cents(cents)}, its total record says {values['count']} for "
                f"{format_cents(values['amount'])}; the file is refused whole"
            )
        self.closed[batch] = (count, cents)

    def _service_total(self, number: int, values: dict) -> None:
        self._compare(number, "service total", values, *self.since_service)
        self.since_service = [0, 0]

    def _trailer(self, number: int, values: dict) -> None:
        if self.open:
            raise FileRefused(
                f"line {number}: batch {sorted(self.open)[0]} has no total record before the "
                "trailer: the file is truncated or spliced"
            )
        total = sum(i.amount_cents for i in self.items)
        self._compare(number, "trailer", values, len(self.items), total)
        if "records" in values and values["records"] != self.records:
            raise FileRefused(
                f"line {number}: the trailer counts {values['records']} records, the file has "
                f"{self.records}: it is truncated or spliced"
            )
        self.trailer = True

    def _compare(self, number: int, what: str, values: dict, count: int, cents: int) -> None:
        if "count" in values and values["count"] != count:
            raise FileRefused(
                f"line {number}: the {what} counts {values['count']} items, the file has {count}"
            )
        if "amount" in values and values["amount"] != cents:
            raise FileRefused(
                f"line {number}: the {what} says {format_cents(values['amount'])}, the items "
                f"come to {format_cents(cents)}"
            )

    def finish(self) -> Remittance:
        """The file as read, once its end is checked."""
        if not self.trailer:
            raise FileRefused(
                f"the file ends without its trailer record after {self.records} records: "
                "it is truncated"
            )
        if self.open:
            batch = sorted(self.open)[0]
            raise FileRefused(f"batch {batch} has no total record: the file is truncated")
        if self.deposit is None:
            raise FileRefused("the file names no deposit date")
        return Remittance(self.layout, self.deposit, self.items, self.closed)


def read_file(layout: Layout, data: bytes) -> Remittance:
    """Read and check a whole file; FileRefused naming the line when any of it is wrong."""
    reader = _Reader(layout)
    for number, code, raw in _records(layout, data):
        reader.take(number, code, raw)
    return reader.finish()

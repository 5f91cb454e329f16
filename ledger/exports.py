"""Auditor exports of the ledger, payments, invoices and the audit log (docs/audit.md).

An export reads one snapshot (REPEATABLE READ on PostgreSQL, one read
transaction on SQLite), streams its rows in batches in constant memory and
ends with a manifest: the row count, the file's SHA-256 and the ledger's chain
head read in the same snapshot, so an auditor can check the file without
trusting this software. CSV on PostgreSQL goes through COPY (query) TO STDOUT,
which writes the same bytes as the Python writer, several times faster.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib import metadata
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from core.db import UTCDateTime, utcnow
from ledger.chain import GENESIS
from ledger.export_datasets import (
    DATASETS,
    LEDGER,
    audit_event,
    gl_account,
    journal_entry,
    journal_line,
)
from ledger.export_formats import (
    CSV_TEXT,
    converter,
    copy_expr,
    csv_text,
    json_text,
    timestamp_text,
    xlsx_text_writer,
)
from ledger.models import LedgerHead

#: Rows fetched from the database at a time (the server-side cursor's batch).
BATCH = 2000
#: Bytes gathered from COPY before they are hashed and handed on.
CHUNK_BYTES = 1 << 20
#: An XLSX sheet holds 1,048,576 rows; the header takes one, then a new sheet begins.
XLSX_SHEET_ROWS = 1_048_575
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "jsonl": "application/jsonl; charset=utf-8",
}


class ExportError(ValueError):
    """An export that cannot be made as asked; names the field at fault."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class ExportRequest:
    """What an auditor asked for: a dataset, a format, a period and the dataset's filters."""

    dataset: str
    format: str = "csv"
    date_from: date | None = None
    date_to: date | None = None
    #: Ledger: whole entries with at least one line on this GL code.
    gl: str | None = None
    #: Ledger: entries of this source type (invoice, payment, ...).
    source: str | None = None
    #: Audit log: actions starting with this prefix, e.g. "payment." .
    action: str | None = None
    #: Audit log: events by this actor label (an e-mail, token:name, job:name).
    actor: str | None = None
    #: Ledger: entries up to this seq only, to reproduce an earlier export byte for byte.
    through_seq: int | None = None

    def check(self) -> None:
        """Refuse an unknown dataset or format, a reversed period or a filter the dataset lacks."""
        if self.dataset not in DATASETS:
            raise ExportError("dataset", f"no dataset {self.dataset!r}; use {', '.join(DATASETS)}")
        if self.format not in FORMATS:
            raise ExportError("format", f"no format {self.format!r}; use {', '.join(FORMATS)}")
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise ExportError("to", "the end of the period is before its start")
        if self.through_seq is not None and self.through_seq < 0:
            raise ExportError("through_seq", "through_seq cannot be negative")
        allowed = DATASETS[self.dataset].filters
        for name in ("gl", "source", "action", "actor", "through_seq"):
            if getattr(self, name) is not None and name not in allowed:
                raise ExportError(name, f"the {self.dataset} export has no {name} filter")

    def filters(self) -> dict[str, str | int]:
        """The filters that were set, as the manifest records them."""
        values = {
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "gl": self.gl,
            "source": self.source,
            "action": self.action,
            "actor": self.actor,
            "through_seq": self.through_seq,
        }
        return {k: v for k, v in values.items() if v is not None}

    def file_name(self) -> str:
        """A download name that says what is inside, e.g. ledger_2026-11-01_2026-11-30.csv."""
        parts = [self.dataset]
        if self.date_from or self.date_to:
            parts.append(self.date_from.isoformat() if self.date_from else "start")
            parts.append(self.date_to.isoformat() if self.date_to else "now")
        return "_".join(parts) + "." + self.format


@dataclass(frozen=True)
class ChainHead:
    """The ledger's length and the hash of its last entry, read in the export's snapshot."""

    length: int
    hash: str


def munibill_version() -> str:
    """The installed munibill version, for the manifest."""
    try:
        return metadata.version("munibill")
    except metadata.PackageNotFoundError:
        return "unknown"


def read_head(connection: sa.Connection, through_seq: int | None = None) -> ChainHead:
    """The chain head now, or at entry through_seq (which must exist)."""
    length, head_hash = connection.execute(sa.select(LedgerHead.length, LedgerHead.head_hash)).one()
    if through_seq is None or through_seq == length:
        return ChainHead(length, head_hash)
    if through_seq > length:
        raise ExportError("through_seq", f"the ledger holds {length} entries, not {through_seq}")
    if through_seq == 0:
        return ChainHead(0, GENESIS)
    return ChainHead(
        through_seq,
        connection.scalar(
            sa.select(journal_entry.c.hash).where(journal_entry.c.seq == through_seq)
        ),
    )


@dataclass
class ExportRun:
    """One export: a snapshot, its chain head, the rows streamed once and what the manifest needs.

    Use as a context manager (or open()/close()); then chunks() for CSV and JSON Lines,
    or write() for any format.
    """

    engine: sa.Engine
    request: ExportRequest
    timezone: str = "UTC"
    #: COPY for CSV on PostgreSQL; None decides by itself (COPY where it can).
    use_copy: bool | None = None
    rows: int = 0
    size: int = 0
    head: ChainHead | None = None
    created_at: datetime | None = None
    _digest: Any = field(default_factory=hashlib.sha256)
    _connection: sa.Connection | None = None

    def __post_init__(self) -> None:
        self.request.check()
        self.dataset = DATASETS[self.request.dataset]

    def open(self) -> ExportRun:
        """Start the snapshot and read the chain head in it (once: a second call does nothing)."""
        if self._connection is not None:
            return self
        connection = self.engine.connect()
        try:
            if connection.dialect.name == "postgresql":
                connection.execution_options(isolation_level="REPEATABLE READ")
                connection.begin()
                connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            else:
                # NOTE: pysqlite begins no transaction for a SELECT; without one, each
                # statement would see the database as it is at that moment.
                connection.begin()
                connection.exec_driver_sql("BEGIN")
            self.created_at = utcnow()
            self.head = read_head(connection, self.request.through_seq)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return self

    def close(self) -> None:
        """End the snapshot (it changed nothing) and give the connection back."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> ExportRun:
        return self.open()

    def __exit__(self, *_exc) -> None:
        self.close()

    @property
    def sha256(self) -> str:
        """The hex SHA-256 of what was produced so far."""
        return self._digest.hexdigest()

    def _query(self, columns) -> sa.Select:
        """The dataset's rows with the request's filters, in export order."""
        request, dataset = self.request, self.dataset
        query = sa.select(*columns).select_from(dataset.source).order_by(*dataset.order_by)
        column = dataset.date_column
        if isinstance(column.type, UTCDateTime):
            zone = ZoneInfo(self.timezone)
            if request.date_from:
                start = datetime.combine(request.date_from, time.min, zone)
                query = query.where(column >= start.astimezone(UTC))
            if request.date_to:
                end = datetime.combine(request.date_to + timedelta(days=1), time.min, zone)
                query = query.where(column < end.astimezone(UTC))
        else:
            if request.date_from:
                query = query.where(column >= request.date_from)
            if request.date_to:
                query = query.where(column <= request.date_to)
        if dataset is LEDGER:
            query = query.where(journal_entry.c.seq <= self.head.length)
            if request.source:
                query = query.where(journal_entry.c.source_type == request.source)
            if request.gl:
                lines, gl = journal_line.alias("gl_line"), gl_account.alias("gl_filter")
                touching = (
                    sa.select(lines.c.entry_id)
                    .join(gl, gl.c.id == lines.c.gl_account_id)
                    .where(gl.c.code == request.gl)
                )
                query = query.where(journal_entry.c.id.in_(touching))
        if request.action:
            query = query.where(audit_event.c.action.startswith(request.action, autoescape=True))
        if request.actor:
            query = query.where(audit_event.c.actor_label == request.actor)
        return query

    def _batches(self) -> Iterator[list]:
        """The rows in batches, from a server-side cursor on PostgreSQL."""
        query = self._query([c.expr.label(c.name) for c in self.dataset.columns])
        result = self._connection.execute(query.execution_options(yield_per=BATCH))
        try:
            while batch := result.fetchmany(BATCH):
                self.rows += len(batch)
                yield batch
        finally:
            result.close()

    def _copyable(self) -> bool:
        """COPY writes this CSV: PostgreSQL, and no JSON column to write canonically."""
        if self.request.format != "csv" or self._connection.dialect.name != "postgresql":
            return False
        if any(c.kind == "json" for c in self.dataset.columns):
            return False
        return self.use_copy is not False

    def _copy_chunks(self) -> Iterator[bytes]:
        """The CSV from PostgreSQL's COPY (query) TO STDOUT, in chunks of about a MiB."""
        query = self._query([copy_expr(c).label(c.name) for c in self.dataset.columns])
        compiled = query.compile(
            dialect=self._connection.dialect, compile_kwargs={"render_postcompile": True}
        )
        raw = self._connection.connection.driver_connection
        with raw.cursor() as cursor:
            cursor.execute("SET LOCAL client_encoding TO 'UTF8'")
            statement = f"COPY ({compiled.string}) TO STDOUT WITH (FORMAT csv, HEADER)"
            with cursor.copy(statement, compiled.params) as copy:
                buffer = bytearray()
                for data in copy:
                    buffer += data
                    if len(buffer) >= CHUNK_BYTES:
                        yield bytes(buffer)
                        buffer.clear()
                if buffer:
                    yield bytes(buffer)
            self.rows = cursor.rowcount

    def _text_chunks(self) -> Iterator[bytes]:
        """The CSV or JSON Lines file in chunks."""
        columns = self.dataset.columns
        if self._copyable():
            yield from self._copy_chunks()
            return
        names = [c.name for c in columns]
        if self.request.format == "csv":
            convert = converter(columns, CSV_TEXT)
            yield csv_text([names]).encode()
            for batch in self._batches():
                yield csv_text([convert(row) for row in batch]).encode()
            return
        encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        convert = converter(columns, {"date": date.isoformat, "timestamp": timestamp_text})
        for batch in self._batches():
            lines = [encode(dict(zip(names, convert(row), strict=True))) for row in batch]
            yield ("\n".join(lines) + "\n").encode()

    def chunks(self) -> Iterator[bytes]:
        """The CSV or JSON Lines file in chunks, hashed and counted as they pass."""
        if self.request.format == "xlsx":
            raise ExportError("format", "XLSX is written to a file, not streamed")
        for chunk in self._text_chunks():
            self._digest.update(chunk)
            self.size += len(chunk)
            yield chunk

    def _write_xlsx(self, target: IO[bytes]) -> None:
        """An XLSX workbook (openpyxl write-only: rows go to a temporary file, not memory)."""
        from openpyxl import Workbook

        columns = self.dataset.columns
        header = [c.name for c in columns]
        book = Workbook(write_only=True)
        sheet = None
        texts = {"date": date.isoformat, "timestamp": timestamp_text, "json": json_text}
        convert = converter(columns, texts)
        strings = [i for i, c in enumerate(columns) if c.kind != "int"]
        text = xlsx_text_writer()
        written = 0
        for batch in self._batches():
            for row in batch:
                if written % XLSX_SHEET_ROWS == 0:
                    number = written // XLSX_SHEET_ROWS + 1
                    sheet = book.create_sheet(
                        self.dataset.name + (f" {number}" if number > 1 else "")
                    )
                    sheet.append(header)
                values = convert(row)
                for i in strings:
                    if values[i] is not None:
                        values[i] = text(values[i], sheet)
                sheet.append(values)
                written += 1
        if sheet is None:
            book.create_sheet(self.dataset.name).append(header)
        book.save(target)

    def write(self, target: IO[bytes]) -> None:
        """Write the whole file to a binary file object; hash and count it."""
        if self.request.format != "xlsx":
            for chunk in self.chunks():
                target.write(chunk)
            return
        start = target.tell()
        self._write_xlsx(target)
        target.flush()
        target.seek(start)
        while block := target.read(CHUNK_BYTES):
            self._digest.update(block)
            self.size += len(block)

    def manifest(self, file_name: str) -> dict:
        """What the file holds and how to check it; call after the file is complete."""
        request, dataset = self.request, self.dataset
        period = {
            "from": request.date_from.isoformat() if request.date_from else None,
            "to": request.date_to.isoformat() if request.date_to else None,
            "dated_by": dataset.dated_by,
        }
        if isinstance(dataset.date_column.type, UTCDateTime):
            period["time_zone"] = self.timezone
        return {
            "dataset": dataset.name,
            "format": request.format,
            "file": file_name,
            "filters": request.filters(),
            "period": period,
            "columns": [c.name for c in dataset.columns],
            "rows": self.rows,
            "bytes": self.size,
            "sha256": self.sha256,
            "created_at": timestamp_text(self.created_at),
            "chain": {
                "length": self.head.length,
                "head_seq": self.head.length,
                "head_hash": self.head.hash,
            },
            "munibill_version": munibill_version(),
        }


def manifest_path(path: Path) -> Path:
    """Where the manifest of a data file goes: FILE.manifest.json beside it."""
    return path.with_name(path.name + ".manifest.json")


def write_export(
    engine: sa.Engine,
    request: ExportRequest,
    path: Path,
    *,
    timezone: str = "UTC",
    use_copy: bool | None = None,
) -> dict:
    """Write the data file and its manifest beside it; return the manifest.

    The file appears complete or not at all: it is written under a temporary name first.
    """
    path = Path(path)
    partial = path.with_name(path.name + ".part")
    run = ExportRun(engine, request, timezone=timezone, use_copy=use_copy)
    try:
        with run, open(partial, "w+b") as target:
            run.write(target)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    manifest = run.manifest(path.name)
    manifest_path(path).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest

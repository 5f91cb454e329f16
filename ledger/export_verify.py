"""Check a ledger export (CSV or JSON Lines) from the file alone, without the database.

Standard library only, and no import from munibill, so that an auditor can copy
this one file and run it anywhere:

    python3 export_verify.py ledger.csv [ledger.csv.manifest.json]

For every entry it recomputes the hash from the exported columns exactly as
docs/ledger.md describes, checks that the entry links to the one before it,
that seq has no gap, that the lines are numbered 1..n and that debits equal
credits; a checkpoint (an entry without lines, one row with empty line columns) must
state facts whose hash is the one it gives and name the entry just before it. With the manifest beside the file (FILE.manifest.json) it also checks
the file's SHA-256, its row count and the chain head. It stops at the first
problem and names the row and the entry.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

GENESIS = "0" * 64
ENTRY_COLUMNS = (
    "seq",
    "entry_date",
    "posted_at",
    "source_type",
    "source_id",
    "actor",
    "memo",
    "reverses_seq",
    "prev_hash",
    "hash",
)
LINE_COLUMNS = ("line", "gl_code", "account_number", "debit_cents", "credit_cents")
#: Columns written as integers; the others are text.
INTEGERS = ("seq", "reverses_seq", "line", "debit_cents", "credit_cents")
#: Columns whose empty CSV cell means null (JSON Lines writes null itself).
NULLABLE = ("source_id", "reverses_seq", "account_number")
_WHOLE = re.compile(r"0|[1-9][0-9]*")
#: The source type of a checkpoint: a record of a verify of the chain, with no lines.
CHECKPOINT = "ledger_checkpoint"
#: The facts a checkpoint's hash covers ("by" is the entry's actor).
CHECKPOINT_FACTS = ("verified_seq", "verified_hash", "from_seq", "entries", "mode", "verified_at")


class ExportProblem(Exception):
    """The first thing in the file that does not hold."""


def canonical_hash(document: dict) -> str:
    """SHA-256 of the canonical JSON: sorted keys, no whitespace, ASCII only."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read a MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _typed(row: dict, number: int, from_csv: bool) -> dict:
    """One row with integers as int and nulls as None; refuse anything else."""
    missing = [name for name in ENTRY_COLUMNS + LINE_COLUMNS if name not in row]
    if missing:
        raise ExportProblem(f"row {number}: column {missing[0]} is missing")
    out = {}
    for name in ENTRY_COLUMNS + LINE_COLUMNS:
        value = row[name]
        if from_csv and value == "" and (name in NULLABLE or name in LINE_COLUMNS):
            value = None
        elif from_csv and name not in INTEGERS and value.startswith("'"):
            # NOTE: the export put one quote before a cell a spreadsheet would take for a
            # formula (or that began with a quote); the text itself is what follows it.
            value = value[1:]
        if name in INTEGERS and value is not None:
            if from_csv and isinstance(value, str) and _WHOLE.fullmatch(value):
                value = int(value)
            elif from_csv or not isinstance(value, int) or isinstance(value, bool):
                raise ExportProblem(f"row {number}: {name} {value!r} is not a whole number")
        elif value is not None and not isinstance(value, str):
            raise ExportProblem(f"row {number}: {name} {value!r} is not text")
        elif value is None and name not in NULLABLE and name not in LINE_COLUMNS:
            raise ExportProblem(f"row {number}: {name} is empty")
        out[name] = value
    empty = [name for name in LINE_COLUMNS if out[name] is None and name not in NULLABLE]
    if empty and (len(empty) != len(LINE_COLUMNS) - 1 or out["source_type"] != CHECKPOINT):
        # NOTE: only a checkpoint has a row without a line, and all its line columns are empty.
        raise ExportProblem(f"row {number}: {empty[0]} is empty")
    return out


def read_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """(row number, row) for each data row of a CSV or JSON Lines ledger export."""
    with open(path, encoding="utf-8", newline="") as stream:
        first = stream.read(1)
        stream.seek(0)
        if first == "{" or path.suffix == ".jsonl":
            for number, line in enumerate(stream, start=1):
                try:
                    row = json.loads(line)
                except ValueError:
                    raise ExportProblem(f"row {number}: not a JSON object") from None
                if not isinstance(row, dict):
                    raise ExportProblem(f"row {number}: not a JSON object")
                yield number, _typed(row, number, from_csv=False)
            return
        for number, row in enumerate(csv.DictReader(stream), start=1):
            if None in row or None in row.values():
                raise ExportProblem(f"row {number}: it does not have one value per column")
            yield number, _typed(row, number, from_csv=True)


@dataclass
class Entry:
    """One entry as read: its columns, its lines and the rows it came from."""

    first_row: int
    last_row: int
    columns: dict
    lines: list[dict] = field(default_factory=list)

    def name(self) -> str:
        """How a person finds it: rows, seq, date and source."""
        c = self.columns
        rows = (
            f"row {self.first_row}"
            if self.first_row == self.last_row
            else f"rows {self.first_row}-{self.last_row}"
        )
        source = f"{c['source_type']} {c['source_id']}" if c["source_id"] else c["source_type"]
        return f"{rows} (entry {c['seq']}, {c['entry_date']}, {source})"

    def document(self, source_id) -> dict:
        """The entry's hashed form (docs/ledger.md)."""
        c = self.columns
        return {
            "seq": c["seq"],
            "prev_hash": c["prev_hash"],
            "entry_date": c["entry_date"],
            "posted_at": c["posted_at"],
            "source_type": c["source_type"],
            "source_id": source_id,
            "memo": c["memo"],
            "actor": c["actor"],
            "reverses_seq": c["reverses_seq"],
            "lines": [
                {
                    "gl": line["gl_code"],
                    "account": line["account_number"],
                    "debit": line["debit_cents"],
                    "credit": line["credit_cents"],
                }
                for line in self.lines
            ],
        }

    def hash_matches(self) -> bool:
        """The recomputed hash equals the exported one (an empty CSV source_id may be '')."""
        c = self.columns
        if canonical_hash(self.document(c["source_id"])) == c["hash"]:
            return True
        return c["source_id"] is None and canonical_hash(self.document("")) == c["hash"]


def entries(rows: Iterator[tuple[int, dict]]) -> Iterator[Entry]:
    """Group consecutive rows of one seq into entries; their entry columns must agree."""
    entry = None
    for number, row in rows:
        columns = {name: row[name] for name in ENTRY_COLUMNS}
        line = {name: row[name] for name in LINE_COLUMNS}
        if entry is not None and columns["seq"] == entry.columns["seq"]:
            differ = [n for n in ENTRY_COLUMNS if columns[n] != entry.columns[n]]
            if differ:
                raise ExportProblem(
                    f"row {number}: its {differ[0]} differs from the same entry's row "
                    f"{entry.first_row} (entry {columns['seq']}: it was altered)"
                )
            entry.lines.append(line)
            entry.last_row = number
            if line["line"] is None:
                raise ExportProblem(f"row {number}: line is empty (entry {columns['seq']})")
            continue
        if entry is not None:
            yield entry
        entry = Entry(number, number, columns, [line] if line["line"] is not None else [])
    if entry is not None:
        yield entry


@dataclass
class ExportReport:
    """What was checked, and the first problem if any."""

    entries: int = 0
    rows: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    debit_cents: int = 0
    credit_cents: int = 0
    gaps: int = 0
    checkpoints: int = 0
    manifest: dict | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """True when everything checked held."""
        return self.problem is None

    def summary(self) -> str:
        """One line for a person."""
        if not self.ok:
            return f"FAILED: {self.problem}"
        if not self.entries:
            text = "OK: the export holds no entries"
        else:
            text = (
                f"OK: {self.entries:,} entries (seq {self.first_seq}-{self.last_seq}), "
                f"{self.rows:,} lines; every hash recomputed and every link checked; "
                f"debits {self.debit_cents:,} = credits {self.credit_cents:,} cents"
            )
        if self.checkpoints:
            text += f"; {self.checkpoints:,} checkpoints checked"
        if self.gaps:
            text += f"; {self.gaps:,} gaps in seq, as the export's filters leave out entries"
        if self.manifest is not None:
            text += (
                f"; manifest: SHA-256 and {self.manifest['rows']:,} rows match, "
                f"chain length {self.manifest['chain']['length']:,}"
            )
        return text


def _check_entry(entry: Entry, before: Entry | None, report: ExportReport, gaps: bool) -> None:
    """One entry against the one before it in the file."""
    c = entry.columns
    seq = c["seq"]
    if before is not None:
        previous = before.columns["seq"]
        if seq <= previous:
            raise ExportProblem(f"{entry.name()} comes after entry {previous}: out of order")
        if seq != previous + 1:
            if not gaps:
                raise ExportProblem(
                    f"entry {previous + 1} is missing (the next entry found is {entry.name()})"
                )
            report.gaps += 1
        elif c["prev_hash"] != before.columns["hash"]:
            raise ExportProblem(f"{entry.name()} does not link to the entry before it")
    elif seq == 1 and c["prev_hash"] != GENESIS:
        raise ExportProblem(f"{entry.name()} is the first entry but its prev_hash is not zeros")
    numbers = [line["line"] for line in entry.lines]
    if numbers != list(range(1, len(numbers) + 1)):
        raise ExportProblem(f"{entry.name()} has lines {numbers}, not 1..{len(numbers)}")
    if not entry.hash_matches():
        raise ExportProblem(f"{entry.name()} hash does not match its content (it was altered)")
    if c["source_type"] == CHECKPOINT:
        _check_checkpoint(entry)
        report.checkpoints += 1
        return
    debits = sum(line["debit_cents"] for line in entry.lines)
    credits = sum(line["credit_cents"] for line in entry.lines)
    if debits != credits or debits == 0:
        raise ExportProblem(
            f"{entry.name()} does not balance: debits {debits} cents, credits {credits} cents"
        )
    report.debit_cents += debits
    report.credit_cents += credits


def _check_checkpoint(entry: Entry) -> None:
    """A checkpoint: no lines; its memo's hash is the hash of its facts; it names the entry before."""
    c = entry.columns
    if entry.lines:
        raise ExportProblem(f"{entry.name()} is a checkpoint but has lines")
    try:
        memo = json.loads(c["memo"])
        facts = {name: memo[name] for name in CHECKPOINT_FACTS}
        named = str(memo["checkpoint"]) == c["source_id"]
        claimed = memo["hash"]
    except (ValueError, KeyError, TypeError):
        raise ExportProblem(f"{entry.name()} is a checkpoint whose memo is not its facts") from None
    if not named:
        raise ExportProblem(f"{entry.name()} is a checkpoint whose memo names another checkpoint")
    if (facts["verified_seq"], facts["verified_hash"]) != (c["seq"] - 1, c["prev_hash"]):
        raise ExportProblem(f"{entry.name()} is a checkpoint not naming the entry just before it")
    if canonical_hash({**facts, "by": c["actor"]}) != claimed:
        raise ExportProblem(f"{entry.name()} is a checkpoint whose hash does not match its facts")


def _filtered(manifest: dict | None) -> bool:
    """True when the manifest says the export leaves entries out (through_seq only cuts the end)."""
    return bool(manifest and set(manifest.get("filters") or {}) - {"through_seq"})


def _check_manifest(path: Path, manifest: dict, report: ExportReport) -> None:
    """The manifest's SHA-256, row count and chain head against the file."""
    if manifest.get("dataset") != "ledger":
        raise ExportProblem(f"the manifest is for the {manifest.get('dataset')} export")
    chain = manifest["chain"]
    if not _filtered(manifest) and chain["length"] != (report.last_seq or 0):
        raise ExportProblem(
            f"the export ends at entry {report.last_seq or 0} but the ledger held "
            f"{chain['length']} entries when it was made: entries were removed"
        )
    if report.rows != manifest.get("rows"):
        raise ExportProblem(
            f"the file has {report.rows} rows; the manifest says {manifest['rows']}"
        )
    if file_sha256(path) != manifest.get("sha256"):
        raise ExportProblem("the file's SHA-256 does not match the manifest (the file was changed)")


def verify_export(path: str | Path, manifest: str | Path | None = None) -> ExportReport:
    """Check a ledger export; the manifest is FILE.manifest.json when not given and present."""
    path = Path(path)
    report = ExportReport()
    manifest_file = Path(manifest) if manifest else path.with_name(path.name + ".manifest.json")
    try:
        if manifest or manifest_file.exists():
            report.manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        # NOTE: a filtered export leaves entries out, so gaps in seq are expected there;
        # without a manifest to say so, a gap is a removed entry.
        gaps = _filtered(report.manifest)
        head = report.manifest["chain"] if report.manifest else None
        before = None
        for entry in entries(read_rows(path)):
            _check_entry(entry, before, report, gaps)
            seq = entry.columns["seq"]
            if head and seq == head["head_seq"] and entry.columns["hash"] != head["head_hash"]:
                raise ExportProblem(f"{entry.name()} is not the chain head the manifest records")
            report.entries += 1
            report.rows = entry.last_row
            report.first_seq = report.first_seq or seq
            report.last_seq = seq
            before = entry
        if report.manifest is not None and not gaps and report.first_seq not in (None, 1):
            raise ExportProblem(f"the export starts at entry {report.first_seq}, not 1")
        if report.manifest is not None:
            _check_manifest(path, report.manifest, report)
    except ExportProblem as problem:
        report.problem = str(problem)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, csv.Error) as error:
        report.problem = f"cannot read {path.name}: {error}"
    return report


def main(argv: list[str] | None = None) -> int:
    """python3 export_verify.py FILE [MANIFEST]: print the summary; exit 1 on a problem."""
    args = sys.argv[1:] if argv is None else argv
    if not args or len(args) > 2:
        print("usage: export_verify.py LEDGER_EXPORT [MANIFEST]", file=sys.stderr)
        return 2
    report = verify_export(args[0], args[1] if len(args) > 1 else None)
    print(report.summary(), file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

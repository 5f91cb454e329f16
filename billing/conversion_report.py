"""The conversion report: counts and control totals by class, and the clerk's expected
totals that posting must match (docs/conversion.md).

Pure module: it reads the checked rows and plain text, never the database.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass

from billing.conversion_files import CREDIT, Loaded, Problems
from core.money import MoneyError, format_cents, parse_dollars

CONTROL_FILE = "control_totals.csv"
CONTROL_COLUMNS = ("item", "count", "amount")


@dataclass(frozen=True)
class ControlLine:
    """One line of the report: what it counts, how many rows, and their total."""

    item: str
    count: int
    #: Cents for money items; whole units of consumption for consumption:<unit>.
    amount: int = 0
    money: bool = False

    def shown(self) -> str:
        """The amount as the report writes it: dollars and cents, or whole units."""
        return format_cents(self.amount, "").replace(",", "") if self.money else str(self.amount)


def control_totals(files: dict[str, list[Loaded]], units: dict[str, str]) -> list[ControlLine]:
    """The report's lines, in a fixed order; units: each meter's unit of measure."""
    lines = [
        ControlLine("accounts", len(files["accounts.csv"])),
        ControlLine("parcels", len(files["parcels.csv"])),
        ControlLine("service_points", len(files["service_points.csv"])),
    ]
    balances: dict[str, list[int]] = defaultdict(list)
    for row in files["balances.csv"]:
        balances[row.data["receivable_class"]].append(row.data["amount"])
    for cls in sorted(balances):
        lines.append(ControlLine(f"balance:{cls}", len(balances[cls]), sum(balances[cls]), True))
    deposits = [row.data["amount"] for row in files["deposits.csv"]]
    lines.append(ControlLine("deposits", len(deposits), sum(deposits), True))
    lines.append(ControlLine("readings", len(files["readings.csv"])))
    consumption: dict[str, list[int]] = defaultdict(list)
    for row in files["history.csv"]:
        unit = units.get(row.data["meter_id"], "?")
        consumption[unit].append(row.data["consumption"])
    for unit in sorted(consumption):
        lines.append(
            ControlLine(f"consumption:{unit}", len(consumption[unit]), sum(consumption[unit]))
        )
    owed = sum(sum(cents) for cls, cents in balances.items() if cls != CREDIT)
    lines.append(
        ControlLine(
            "clearing",
            len(files["accounts.csv"]),
            owed - sum(balances[CREDIT]) - sum(deposits),
            True,
        )
    )
    return lines


def report_text(lines: list[ControlLine]) -> str:
    """The report as CSV: the clerk's copy, and the expected totals once compared and kept."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CONTROL_COLUMNS)
    for line in lines:
        writer.writerow([line.item, line.count, line.shown()])
    return out.getvalue()


def _amount(text: str, money: bool) -> int:
    """An amount as the report writes it."""
    if money:
        return parse_dollars(text)
    cleaned = text.strip().replace(",", "")
    if not cleaned.lstrip("-").isdigit():
        raise MoneyError(f"{text!r} is not a whole number")
    return int(cleaned)


def compare(lines: list[ControlLine], expected_text: str, source: str, problems: Problems) -> None:
    """Name every control total that differs from the expected one (or is missing from it)."""
    ours = {line.item: line for line in lines}
    reader = csv.DictReader(io.StringIO(expected_text.lstrip("\ufeff"), newline=""))
    if tuple(reader.fieldnames or ()) != CONTROL_COLUMNS:
        problems.add(source, 1, None, f"the header must be {','.join(CONTROL_COLUMNS)}")
        return
    seen = set()
    for number, raw in enumerate(reader, start=2):
        item = (raw.get("item") or "").strip()
        line = ours.get(item)
        if line is None:
            problems.add(source, number, "item", f"the files hold nothing for {item!r}")
            continue
        seen.add(item)
        try:
            count, amount = (
                int((raw.get("count") or "").strip()),
                _amount(raw.get("amount") or "", line.money),
            )
        except (MoneyError, ValueError):
            problems.add(
                source,
                number,
                "amount",
                f"{raw.get('count')!r} / {raw.get('amount')!r} is not a count and an amount",
            )
            continue
        if (count, amount) != (line.count, line.amount):
            expected = ControlLine(item, count, amount, line.money)
            problems.add(
                source,
                number,
                item,
                f"expected {expected.shown()} in {count} row(s); the files hold {line.shown()} in {line.count}",
            )
    for item in ours.keys() - seen:
        problems.add(source, None, item, "no expected total is given for this line of the report")

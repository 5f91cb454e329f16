"""Consumption from meter reads: roll-over, negative use, missing reads, spikes.

Pure module. A billing run asks `period_usage` for each metered service point
and lists every exception it returns for review before anything is posted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

#: How many earlier periods the average (for estimates and spikes) looks back on.
HISTORY_PERIODS = 3


@dataclass(frozen=True)
class Read:
    """One stored meter read."""

    read_on: date
    reading: int
    estimated: bool = False


@dataclass(frozen=True)
class Finding:
    """One exception for review: its code and what it means for this meter."""

    code: str
    note: str


@dataclass(frozen=True)
class UsageResult:
    """The consumption of one period, or why there is none."""

    #: Consumption in the meter's unit; None when the period cannot be billed.
    usage: int | None
    previous: Read | None = None
    current: Read | None = None
    estimated: bool = False
    #: Exceptions for review, each code with its own note: missing_reading, rollover,
    #: negative_consumption, spike, no_history.
    findings: tuple[Finding, ...] = field(default=())

    @property
    def exceptions(self) -> tuple[str, ...]:
        """The codes of the findings, in order."""
        return tuple(finding.code for finding in self.findings)


def _consumption(before: Read, after: Read, dial_digits: int | None) -> tuple[int | None, bool]:
    """Usage between two reads; (None, False) when it went backwards without a roll-over."""
    if after.reading >= before.reading:
        return after.reading - before.reading, False
    if dial_digits and before.reading < 10**dial_digits:
        limit = 10**dial_digits
        rolled = after.reading + limit - before.reading
        # NOTE: a register that wrapped past 10**digits shows a small reading after
        # a large one; anything needing more than half a revolution is a bad read, and
        # so is a reading the dial cannot show (it would make the usage negative).
        if rolled < limit // 2:
            return rolled, True
    return None, False


def _history(reads: Sequence[Read], upto: date, dial_digits: int | None) -> list[int]:
    """Consumptions between consecutive reads before `upto`, newest last."""
    earlier = [r for r in reads if r.read_on <= upto]
    result = []
    for before, after in zip(earlier, earlier[1:], strict=False):
        used, _rolled = _consumption(before, after, dial_digits)
        if used is not None:
            result.append(used)
    return result[-HISTORY_PERIODS:]


def average(values: Sequence[int]) -> Decimal | None:
    """The mean of the values, or None for none."""
    return Decimal(sum(values)) / len(values) if values else None


def period_usage(
    reads: Sequence[Read],
    *,
    period_start: date,
    period_end: date,
    dial_digits: int | None,
    spike_multiple: Decimal,
) -> UsageResult:
    """The period's usage from the last read on or before its start to the last read in it."""
    reads = sorted(reads, key=lambda r: r.read_on)
    previous = next((r for r in reversed(reads) if r.read_on <= period_start), None)
    current = next((r for r in reversed(reads) if period_start < r.read_on <= period_end), None)
    history = _history(reads, period_start, dial_digits)
    if previous is None:
        return UsageResult(
            None,
            None,
            current,
            findings=(Finding("no_history", "no read on or before the period start"),),
        )
    if current is None:
        mean = average(history)
        if mean is None:
            return UsageResult(
                None,
                previous,
                None,
                findings=(
                    Finding(
                        "missing_reading",
                        f"no read in the period; the last read is {previous.reading:,} "
                        f"on {previous.read_on.isoformat()}",
                    ),
                    Finding("no_history", "no usage in earlier periods to estimate the read from"),
                ),
            )
        estimate = int(mean.to_integral_value(rounding=ROUND_HALF_UP))
        reading = previous.reading + estimate
        if dial_digits:
            reading %= 10**dial_digits
        return UsageResult(
            estimate,
            previous,
            Read(period_end, reading, estimated=True),
            estimated=True,
            findings=(
                Finding(
                    "missing_reading",
                    f"no read in the period; estimated {estimate} from the last "
                    f"{len(history)} periods",
                ),
            ),
        )
    used, rolled = _consumption(previous, current, dial_digits)
    if used is None:
        return UsageResult(
            None,
            previous,
            current,
            findings=(
                Finding(
                    "negative_consumption",
                    f"read {current.reading} is below the previous read {previous.reading}",
                ),
            ),
        )
    findings = []
    if rolled:
        findings.append(Finding("rollover", f"the register rolled over past {10**dial_digits:,}"))
    mean = average(history)
    if mean and used > mean * spike_multiple:
        findings.append(
            Finding(
                "spike",
                f"usage {used:,} is over {spike_multiple} times the recent average {mean:,.0f}",
            )
        )
    return UsageResult(used, previous, current, findings=tuple(findings))

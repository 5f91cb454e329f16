"""Consumption from reads: roll-over, backwards reads, missing reads, spikes."""

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from billing.usage import Read, period_usage

OCT = {
    "period_start": date(2026, 10, 1),
    "period_end": date(2026, 10, 31),
    "spike_multiple": Decimal(3),
}
HISTORY = [
    Read(date(2026, 6, 30), 1000),
    Read(date(2026, 7, 31), 5000),
    Read(date(2026, 8, 31), 9000),
    Read(date(2026, 9, 30), 13000),
]


def test_usage_is_the_difference_between_the_reads_around_the_period():
    result = period_usage([*HISTORY, Read(date(2026, 10, 31), 17500)], dial_digits=6, **OCT)
    assert result.usage == 4500 and result.exceptions == ()


def test_a_register_that_rolled_over_is_billed_and_flagged():
    reads = [Read(date(2026, 9, 30), 999_200), Read(date(2026, 10, 31), 1_300)]
    result = period_usage(reads, dial_digits=6, **OCT)
    assert result.usage == 2_100
    assert result.exceptions == ("rollover",)


def test_a_read_that_went_backwards_is_held():
    reads = [*HISTORY, Read(date(2026, 10, 31), 12000)]
    result = period_usage(reads, dial_digits=6, **OCT)
    assert result.usage is None and result.exceptions == ("negative_consumption",)


def test_a_missing_read_is_estimated_from_recent_periods():
    result = period_usage(HISTORY, dial_digits=6, **OCT)
    assert result.estimated and result.usage == 4000
    assert result.current.reading == 17000 and result.current.estimated
    assert result.exceptions == ("missing_reading",)


def test_a_spike_is_listed_for_review_but_billed():
    result = period_usage(
        [*HISTORY, Read(date(2026, 10, 31), 13000 + 12_001)], dial_digits=6, **OCT
    )
    assert result.usage == 12_001 and result.exceptions == ("spike",)


def test_a_missing_read_with_no_usage_to_estimate_from_is_held_with_a_note_for_each_code():
    result = period_usage([Read(date(2026, 9, 30), 13000)], dial_digits=6, **OCT)
    assert result.usage is None and not result.estimated
    assert [(f.code, f.note) for f in result.findings] == [
        ("missing_reading", "no read in the period; the last read is 13,000 on 2026-09-30"),
        ("no_history", "no usage in earlier periods to estimate the read from"),
    ]


def test_a_reading_the_dial_cannot_show_is_not_taken_for_a_roll_over():
    reads = [Read(date(2026, 9, 30), 25_000), Read(date(2026, 10, 31), 100)]
    result = period_usage(reads, dial_digits=4, **OCT)
    assert result.usage is None and result.exceptions == ("negative_consumption",)


def test_no_earlier_read_means_no_bill():
    result = period_usage([Read(date(2026, 10, 31), 10)], dial_digits=6, **OCT)
    assert result.usage is None and "no_history" in result.exceptions


@given(st.integers(0, 999_999), st.integers(0, 499_999))
def test_any_use_under_half_a_revolution_is_recovered_across_a_roll_over(start, used):
    reads = [Read(date(2026, 9, 30), start), Read(date(2026, 10, 31), (start + used) % 1_000_000)]
    assert period_usage(reads, dial_digits=6, **OCT).usage == used


@given(
    st.lists(
        st.tuples(st.dates(date(2026, 1, 1), date(2026, 11, 30)), st.integers(0, 2_000_000)),
        max_size=8,
        unique_by=lambda read: read[0],
    ),
    st.sampled_from([None, 3, 4, 6]),
)
def test_any_reads_give_a_usage_that_is_never_negative_and_a_note_for_every_code(reads, digits):
    result = period_usage([Read(day, reading) for day, reading in reads], dial_digits=digits, **OCT)
    assert result.usage is None or result.usage >= 0
    assert all(finding.code and finding.note for finding in result.findings)
    if result.usage is None:
        assert result.findings, "a period that cannot be billed says why"

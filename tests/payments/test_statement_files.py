"""Statement files read into plain values (BAI2 and both CSV layouts), and the matching rules
as a pure function: one book item never goes to two lines."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payments.statement_files import ParsedLine, StatementRefused, read_statement
from payments.statement_matching import BookItem, FeeRule, match_lines
from tests.payments.bank_files import bai2_statement, csv_statement

DAY = date(2026, 12, 4)
LINES = [
    (51240, "DEP", "BD-2026-000012", "COUNTER DEPOSIT"),
    (-1500, "FEE", "", "MONTHLY SERVICE CHARGE"),
    (-700, "RET", "", "RETURNED ITEM"),
]
CODES = {"DEP": "301", "FEE": "698", "RET": "555"}


def _plain(parsed) -> list[tuple]:
    return [(line.amount_cents, line.type_code, line.value_date) for line in parsed.lines]


def test_bai2_and_both_csv_layouts_read_the_same_statement():
    bai2 = read_statement(
        bai2_statement([(c, CODES[k], r, t) for c, k, r, t in LINES], day=DAY, opening=125000)
    )
    signed = read_statement(csv_statement(LINES, day=DAY, opening=125000), "csv-signed")
    debit_credit = read_statement(
        (
            b"Date,Description,Debit,Credit,Reference,Type,Account\n"
            b'12/04/2026,Opening balance,,"1,250.00",,BALANCE-OPEN,4417001234\n'
            b"12/04/2026,COUNTER DEPOSIT,,512.40,BD-2026-000012,DEPOSIT,4417001234\n"
            b"12/04/2026,MONTHLY SERVICE CHARGE,15.00,,,FEE,4417001234\n"
            b"12/04/2026,RETURNED ITEM,7.00,,,RETURNED ITEM,4417001234\n"
            b"12/04/2026,Closing balance,,1740.40,,BALANCE-CLOSE,4417001234\n"
        ),
        "csv-debit-credit",
    )
    for parsed in (bai2, signed, debit_credit):
        assert _plain(parsed) == [(51240, "301", DAY), (-1500, "698", DAY), (-700, "555", DAY)]
        assert (parsed.bank_account, parsed.statement_date) == ("4417001234", DAY)
        assert (parsed.opening_cents, parsed.closing_cents) == (125000, 174040)
    assert "BD-2026-000012" in bai2.lines[0].customer_reference
    assert signed.lines[0].bank_reference == "BD-2026-000012"


def test_a_csv_file_cut_before_its_closing_row_is_refused():
    data = csv_statement(LINES, day=DAY).decode().splitlines()
    with pytest.raises(StatementRefused, match="closing balance row .* truncated"):
        read_statement(("\n".join(data[:-1]) + "\n").encode(), "csv-signed")
    with pytest.raises(StatementRefused, match="row 3: no type"):
        read_statement(("\n".join([*data[:2], data[2][:30]]) + "\n").encode(), "csv-signed")


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ("4417001234,2026-12-04,1.234,,X,DEP", "more than two decimals"),
        ("4417001234,2026-12-04,ten,,X,DEP", "is not a number"),
        ("4417001234,04/12/2026,1.00,,X,DEP", "is not %Y-%m-%d"),
        ("4417001234,2026-12-04,1.00,,X,GIFT", "type 'GIFT' is not in layout"),
    ],
)
def test_a_bad_csv_row_is_refused_naming_it(row, words):
    lines = csv_statement([], day=DAY).decode().splitlines()
    data = "\n".join([*lines[:2], row, lines[2]]) + "\n"
    with pytest.raises(StatementRefused, match=words):
        read_statement(data.encode(), "csv-signed")


def test_an_unknown_layout_is_refused():
    with pytest.raises(StatementRefused, match="no statement layout"):
        read_statement(b"x", "../etc")


def _line(number: int, cents: int, day: date = DAY, ref: str = "", text: str = "") -> ParsedLine:
    return ParsedLine(number, cents, "301" if cents > 0 else "699", day, "", ref, text)


RULE = FeeRule(type_codes=frozenset({"698"}), patterns=(r"SERVICE CHARGE",), max_cents=5000)


def test_the_reference_wins_over_the_amount_and_date():
    items = [
        BookItem("bank_deposit", "BD-2026-000001", 1000, DAY),
        BookItem("bank_deposit", "BD-2026-000002", 1000, DAY),
    ]
    out = match_lines([_line(1, 1000), _line(2, 1000, ref="BD-2026-000001")], items, RULE)
    assert [(d.ref, d.rule) for d in out] == [
        ("BD-2026-000002", "amount_and_date"),
        ("BD-2026-000001", "reference"),
    ]


def test_two_lines_wanting_one_deposit_are_both_queued():
    items = [BookItem("bank_deposit", "BD-2026-000001", 1000, DAY)]
    out = match_lines([_line(1, 1000), _line(2, 1000, DAY + timedelta(1))], items, RULE)
    assert [d.kind for d in out] == [None, None]


def test_the_fee_rule_by_code_or_words_up_to_its_limit():
    lines = [
        ParsedLine(1, -100, "698", DAY),
        ParsedLine(2, -200, "699", DAY, text="ACCOUNT SERVICE CHARGE"),
        ParsedLine(3, -6000, "698", DAY),
        ParsedLine(4, -300, "699", DAY, text="CHECK PAID 1042"),
    ]
    out = match_lines(lines, [], RULE)
    assert [d.kind for d in out] == ["bank_fee", "bank_fee", None, None]
    assert "above the rule's limit" in out[2].reason


@settings(deadline=None)  # a property, not a timing: the machine is shared
@given(
    st.lists(st.tuples(st.integers(1, 5), st.integers(0, 6)), max_size=12),
    st.lists(st.tuples(st.integers(1, 5), st.integers(0, 6), st.booleans()), max_size=12),
)
def test_no_book_item_is_ever_given_to_two_lines(deposits, credits):
    items = [
        BookItem("bank_deposit", f"BD-2026-{n:06d}", cents * 100, DAY + timedelta(days))
        for n, (cents, days) in enumerate(deposits, start=1)
    ]
    lines = [
        _line(
            n,
            cents * 100,
            DAY + timedelta(days),
            ref=f"BD-2026-{n:06d}" if named else "",
        )
        for n, (cents, days, named) in enumerate(credits, start=1)
    ]
    out = match_lines(lines, items, RULE)
    refs = [d.ref for d in out if d.ref is not None]
    assert len(refs) == len(set(refs))
    by_ref = {item.ref: item for item in items}
    for d in out:
        if d.ref is not None:
            assert by_ref[d.ref].amount_cents == d.line.amount_cents
            assert by_ref[d.ref].on <= d.line.value_date


def test_a_bai2_detail_continued_on_an_88_record_keeps_its_whole_text():
    data = bai2_statement([(2500, "301", "BD-2026-000007", "COUNTER")], day=DAY).decode()
    data = data.replace("COUNTER/\n", "COUNTER\n88,DEPOSIT OF DRAWERS 7 AND 8/\n")
    data = data.replace(",3/\n98", ",4/\n98").replace(",1,5/\n99", ",1,6/\n99")
    data = data.replace(",1,7/\n", ",1,8/\n")
    (line,) = read_statement(data.encode()).lines
    assert line.text == "COUNTER DEPOSIT OF DRAWERS 7 AND 8"
    assert line.customer_reference == "BD-2026-000007"


def test_a_line_naming_an_item_no_longer_waiting_is_not_given_another():
    items = [BookItem("bank_deposit", "BD-2026-000002", 1000, DAY)]
    (out,) = match_lines([_line(1, 1000, ref="BD-2026-000001")], items, RULE)
    assert out.kind is None and "BD-2026-000001, which is not waiting" in out.reason

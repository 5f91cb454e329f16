"""Matching statement lines to what the books expect: pure, plain values in and out.

Rules, in order (docs/bank-statements.md, "Matching"):

1. a credit whose references or text name an open deposit ("BD-2026-000012") or a Stripe
   payout ("po_...") of the same amount matches it; one naming an item of another amount,
   or one not waiting any more, is queued;
2. a credit of a payout's amount on its arrival date matches it, when it is the only one;
3. a credit of a deposit's amount within WINDOW_DAYS after it was made (or a payout's,
   within PAYOUT_DAYS after its arrival) matches it, when that is the only candidate and no
   other line wants the same one;
4. a debit the fee rule takes (type code or text, at most its amount) is a bank fee;
5. everything else goes to the clerks' queue.

A book item is matched by one line at most, within a statement (here) and across statements
(the lines' unique (kind, reference) in the database).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from payments.statement_files import ParsedLine

DEPOSIT_NUMBER = re.compile(r"\bBD-\d{4}-\d{6}\b")
PAYOUT_ID = re.compile(r"\bpo_[A-Za-z0-9]{6,}\b")
#: How many days after it was made a deposit may reach the bank and still match by amount.
WINDOW_DAYS = 5
#: How many days after Stripe's arrival date a payout may show on the statement.
PAYOUT_DAYS = 2


@dataclass(frozen=True)
class BookItem:
    """Something the books expect on the statement: an open deposit or an unseen payout."""

    kind: str  # "bank_deposit" or "payout"
    ref: str
    amount_cents: int
    #: The deposit's date, or the payout's arrival date.
    on: date
    #: The row's id in our tables, when it has one (a deposit's).
    item_id: int | None = None


@dataclass(frozen=True)
class FeeRule:
    """Which debits are bank fees posted without a clerk: by type code or text, up to a cap."""

    type_codes: frozenset[str] = frozenset({"698"})
    patterns: tuple[str, ...] = (r"SERVICE CHARGE", r"\bFEE\b", r"MAINTENANCE")
    max_cents: int = 25_000

    def takes(self, line: ParsedLine) -> bool:
        """True if the line is a debit this rule posts as a bank fee."""
        if line.amount_cents >= 0 or -line.amount_cents > self.max_cents:
            return False
        if line.type_code in self.type_codes:
            return True
        words = line.text.upper()
        return any(re.search(pattern, words) for pattern in self.patterns)


@dataclass(frozen=True)
class Decision:
    """What a line became: matched (kind, ref, rule), a fee, or queued with a reason."""

    line: ParsedLine
    kind: str | None = None
    ref: str | None = None
    rule: str | None = None
    reason: str = ""
    item_id: int | None = None


@dataclass
class _Open:
    """The book items not claimed yet, found by reference and by amount."""

    by_ref: dict[tuple[str, str], BookItem]
    by_amount: dict[int, list[BookItem]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        for item in self.by_ref.values():
            self.by_amount[item.amount_cents].append(item)

    def claim(self, item: BookItem) -> None:
        del self.by_ref[(item.kind, item.ref)]
        self.by_amount[item.amount_cents].remove(item)


def match_lines(
    lines: Iterable[ParsedLine], items: Iterable[BookItem], fee_rule: FeeRule
) -> list[Decision]:
    """Decide every line, in the file's order; no book item is given to two lines."""
    lines = list(lines)
    book = _Open({(item.kind, item.ref): item for item in items})
    decided: dict[int, Decision] = {}
    for line in lines:
        if line.amount_cents > 0:
            found = _by_reference(line, book)
            if found is not None:
                decided[line.number] = found
    for line in lines:
        if line.number not in decided and line.amount_cents > 0:
            same_day = [
                i
                for i in book.by_amount.get(line.amount_cents, ())
                if i.kind == "payout" and i.on == line.value_date
            ]
            if len(same_day) == 1:
                book.claim(same_day[0])
                decided[line.number] = _matched(line, same_day[0], "amount_and_date")
    _by_window(lines, book, decided)
    out = []
    for line in lines:
        if line.number in decided:
            out.append(decided[line.number])
        elif fee_rule.takes(line):
            out.append(Decision(line, "bank_fee", None, "fee_rule"))
        else:
            out.append(Decision(line, reason=_why(line, fee_rule)))
    return out


def _matched(line: ParsedLine, item: BookItem, rule: str) -> Decision:
    return Decision(line, item.kind, item.ref, rule, item_id=item.item_id)


def _by_reference(line: ParsedLine, book: _Open) -> Decision | None:
    """Rule 1: the line names the item; the amounts must agree."""
    words = " ".join((line.bank_reference, line.customer_reference, line.text))
    named = [("bank_deposit", ref) for ref in DEPOSIT_NUMBER.findall(words)]
    named += [("payout", ref) for ref in PAYOUT_ID.findall(words)]
    for key in named:
        item = book.by_ref.get(key)
        if item is None:
            continue
        if item.amount_cents != line.amount_cents:
            return Decision(
                line,
                reason=f"names {item.ref} of {item.amount_cents} cents, "
                f"but the bank credited {line.amount_cents}",
            )
        if item.kind == "bank_deposit" and line.value_date < item.on:
            # NOTE: as confirm_at_bank says, a deposit reaches the bank on or after its day.
            return Decision(line, reason=f"names {item.ref}, made after the bank credited this")
        book.claim(item)
        return _matched(line, item, "reference")
    if named:
        # NOTE: a line naming a deposit or payout that is not waiting (a clerk marked it at the
        # bank, an earlier statement cleared it) is not matched to another of its amount.
        return Decision(line, reason=f"names {named[0][1]}, which is not waiting for the bank")
    return None


def _by_window(lines: list[ParsedLine], book: _Open, decided: dict[int, Decision]) -> None:
    """Rule 3: one candidate by amount within its window, wanted by this line alone."""
    wants: dict[int, list[BookItem]] = {}
    for line in lines:
        if line.number in decided or line.amount_cents <= 0:
            continue
        wants[line.number] = [
            item
            for item in book.by_amount.get(line.amount_cents, ())
            if item.on <= line.value_date <= item.on + timedelta(days=_days(item))
        ]
    wanted_by: dict[tuple[str, str], int] = defaultdict(int)
    for candidates in wants.values():
        if len(candidates) == 1:
            wanted_by[(candidates[0].kind, candidates[0].ref)] += 1
    for line in lines:
        candidates = wants.get(line.number, [])
        if len(candidates) == 1 and wanted_by[(candidates[0].kind, candidates[0].ref)] == 1:
            book.claim(candidates[0])
            decided[line.number] = _matched(line, candidates[0], "amount_and_date")
        elif len(candidates) > 1:
            decided[line.number] = Decision(
                line, reason=f"{len(candidates)} book items of this amount could be it"
            )


def _days(item: BookItem) -> int:
    return WINDOW_DAYS if item.kind == "bank_deposit" else PAYOUT_DAYS


def _why(line: ParsedLine, fee_rule: FeeRule) -> str:
    """Why a line went to the queue, for the clerk."""
    if line.amount_cents > 0:
        return "no deposit or payout in the books matches this credit"
    if -line.amount_cents > fee_rule.max_cents and fee_rule.takes(
        ParsedLine(line.number, -1, line.type_code, line.value_date, text=line.text)
    ):
        return f"a fee above the rule's limit of {fee_rule.max_cents} cents"
    return "no book item or fee rule matches this debit"

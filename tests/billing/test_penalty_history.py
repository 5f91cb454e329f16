"""The principal history the penalty assessment reads, for a bill settled on its issue day:
a final bill with the deposit applied at once is charged on what is left, not skipped."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from billing.models import Settlement, SettlementKind
from billing.penalties import InvoiceFacts, owed_as_of
from billing.penalty_facts import principal_history
from billing.penalty_format import load_penalty_file

RULES = Path(__file__).resolve().parents[2] / "demo" / "rules" / "penalties.yaml"
ISSUED, DUE = date(2026, 9, 20), date(2026, 10, 11)


def _settled(day: date, cents: int) -> Settlement:
    return Settlement(
        kind=SettlementKind.CREDIT_APPLIED, amount_cents=cents, settled_on=day, charge_id=None
    )


def test_a_deposit_applied_on_the_issue_day_lowers_the_balance_from_the_start():
    history = principal_history(ISSUED, 10599, [_settled(ISSUED, 10000)])
    # The first entry stays the bill's original principal; the deposit lowers it that day.
    assert history == [(ISSUED, 10599), (ISSUED, 599)]


def test_the_final_bill_s_remainder_gets_its_late_charge_after_the_grace_days():
    history = principal_history(ISSUED, 10599, [_settled(ISSUED, 10000)])
    facts = InvoiceFacts("utility", DUE, {"charge": 10599}, history, [])
    rules = load_penalty_file(RULES)
    assert owed_as_of(rules, facts, DUE + timedelta(days=20)) == []
    (charge,) = owed_as_of(rules, facts, DUE + timedelta(days=21))
    # 1% of the 5.99 left is 0.06, raised to the ordinance's minimum of 1.00.
    assert charge.amount_cents == 100


def test_a_later_payment_still_counts_from_its_own_day():
    history = principal_history(
        ISSUED, 10599, [_settled(ISSUED, 10000), _settled(DUE + timedelta(days=5), 599)]
    )
    assert history == [(ISSUED, 10599), (ISSUED, 599), (DUE + timedelta(days=5), 0)]
    facts = InvoiceFacts("utility", DUE, {"charge": 10599}, history, [])
    assert owed_as_of(load_penalty_file(RULES), facts, DUE + timedelta(days=30)) == []

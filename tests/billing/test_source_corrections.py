"""`munibill billing correct-sources`: credit memo entries posted as "credit memo 0" are reversed
and posted again under the memo's number, never edited; a second run posts nothing."""

from contextlib import contextmanager
from datetime import date

import pytest
import sqlalchemy as sa

import billing.adjustments
from billing.adjustments import issue_credit_memo
from billing.models import CreditMemo, Invoice, InvoiceKind
from billing.runs import RunOptions, open_run, post_run
from core.audit import Actor
from core.extensions import db
from core.models import AuditEvent
from ledger.balances import account_credit, account_receivable, trial_balance
from ledger.models import JournalEntry
from ledger.posting import credit, debit, post_entry
from tests.billing.billing_fixtures import household, load_demo_levy, load_rules, parcel

JOB = Actor.job("test")
SUPERVISOR = Actor("user", "2", "supervisor@example.org", "127.0.0.1")
NORMAL = [1000, 5000, 9000, 13000, 18400]


@contextmanager
def posted_as_before_the_fix(monkeypatch, named: str):
    """issue_credit_memo posts its entry as the old code did: credit memo `named` (the loop's value)."""
    real = billing.adjustments.post_entry

    def old_post_entry(session, postings, **kwargs):
        number = kwargs["source_id"]
        kwargs["source_id"] = named
        kwargs["memo"] = kwargs["memo"].replace(f"Credit memo {number} ", f"Credit memo {named} ")
        return real(session, postings, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(billing.adjustments, "post_entry", old_post_entry)
        yield


def _issue(session, invoice: Invoice, cents: int, reason: str, on: date) -> CreditMemo:
    """A supervisor's credit memo on the invoice."""
    return issue_credit_memo(session, SUPERVISOR, invoice, amount_cents=cents, reason=reason, on=on)


def _run(session, kind: InvoiceKind, cycle: str, issue: date, due: date) -> None:
    post_run(
        session,
        open_run(session, JOB, kind=kind, cycle=cycle, issue_date=issue, due_date=due),
        JOB,
        RunOptions(),
    )


def _town_with_misnamed_memos(app, monkeypatch) -> list[int]:
    """A utility bill and a tax bill, each with a credit memo whose entry is misnamed; account ids."""
    with app.app_context():
        session = db.session
        load_demo_levy(session, 2025)
        plans = load_rules(session)
        utility = household(session, plans, "olson", NORMAL)
        owner = household(session, plans, "owner", NORMAL, trash=False)
        parcel(session, owner, "251-0001-00", 250_000)
        _run(session, InvoiceKind.UTILITY, "2026-10", date(2026, 11, 2), date(2026, 11, 23))
        _run(session, InvoiceKind.TAX, "2025", date(2025, 12, 10), date(2026, 1, 31))
        bills = {i.account_id: i for i in session.scalars(sa.select(Invoice))}
        tax_bill = next(i for i in bills.values() if i.kind == InvoiceKind.TAX)
        utility_bill = bills[utility.id]
        with posted_as_before_the_fix(monkeypatch, "0"):  # a utility bill: the loop ends on 0
            _issue(session, utility_bill, 1000, "leak adjustment", date(2026, 11, 5))
        # a tax bill: the loop ends on the last installment the memo reaches
        with posted_as_before_the_fix(monkeypatch, "2"):
            _issue(
                session,
                tax_bill,
                tax_bill.installments[0].balance_cents + 1000,
                "assessment appeal granted",
                date(2026, 1, 10),
            )
        # after the fix: named right, left alone
        _issue(session, utility_bill, 500, "goodwill credit", date(2026, 11, 6))
        session.commit()
        return [utility.id, owner.id]


def _lines(entry: JournalEntry) -> list[tuple]:
    """An entry's lines: GL account, billing account, debit, credit."""
    return [(x.gl_account_id, x.account_id, x.debit_cents, x.credit_cents) for x in entry.lines]


def _books(account_ids: list[int]) -> tuple:
    """Every GL account's balance and each billing account's receivable and credit."""
    session = db.session
    return (
        {row.code: row.balance_cents for row in trial_balance(session).rows},
        [(account_receivable(session, a), account_credit(session, a)) for a in account_ids],
    )


def _entries() -> list[JournalEntry]:
    """Every journal entry, in chain order."""
    return list(db.session.scalars(sa.select(JournalEntry).order_by(JournalEntry.seq)))


def test_misnamed_credit_memo_entries_are_reversed_and_posted_again_once(app, runner, monkeypatch):
    account_ids = _town_with_misnamed_memos(app, monkeypatch)
    with app.app_context():
        before = _books(account_ids)
        wrong = [e for e in _entries() if e.source_type == "credit_memo"][:2]
        assert [(e.source_id, e.memo) for e in wrong] == [
            ("0", "Credit memo 0 on invoice 2026-000001: leak adjustment"),
            ("2", "Credit memo 2 on invoice 2025-000001: assessment appeal granted"),
        ]
        wrong_seqs = [e.seq for e in wrong]
        length = len(_entries())

    dry = runner.invoke(args=["billing", "correct-sources", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert (
        f"entry {wrong_seqs[0]} (2026-11-05, credit memo 0, $10.00): would be reversed and "
        "posted again as CM-2026-000001"
    ) in dry.output
    assert f"entry {wrong_seqs[1]} (2026-01-10, credit memo 2, $" in dry.output
    assert "would be reversed and posted again as CM-2026-000002" in dry.output
    assert "2 misnamed credit memo entries found; would correct 2." in dry.output
    with app.app_context():
        assert len(_entries()) == length  # a dry run posts nothing

    done = runner.invoke(args=["billing", "correct-sources"])
    assert done.exit_code == 0, done.output
    assert "2 misnamed credit memo entries found; corrected 2." in done.output
    with app.app_context():
        entries = _entries()
        assert len(entries) == length + 4
        by_seq = {e.seq: e for e in entries}
        for seq, number in zip(wrong_seqs, ("CM-2026-000001", "CM-2026-000002"), strict=True):
            old = by_seq[seq]
            memo = db.session.scalar(sa.select(CreditMemo).where(CreditMemo.number == number))
            (reversal,) = [e for e in entries if e.reverses_id == old.id]
            assert (reversal.source_type, reversal.source_id) == ("credit_memo", old.source_id)
            assert reversal.memo == (
                f"Correction of entry {seq}: it named credit memo {old.source_id}, not {number}; "
                "posted again under that number"
            )
            repost = by_seq[reversal.seq + 1]
            assert (repost.source_type, repost.source_id) == ("credit_memo", number)
            assert repost.memo.startswith(f"Credit memo {number} on invoice ")
            assert repost.memo.endswith(f"corrects entry {seq}): {memo.reason}")
            assert _lines(repost) == _lines(old)
            assert [(d, c) for _gl, _a, d, c in _lines(reversal)] == [
                (c, d) for _gl, _a, d, c in _lines(old)
            ]
            audited = db.session.scalar(
                sa.select(AuditEvent).where(
                    AuditEvent.action == "credit_memo.correct_entry",
                    AuditEvent.object_id == str(memo.id),
                )
            )
            assert (audited.summary["entry_seq"], audited.summary["repost_seq"]) == (
                seq,
                repost.seq,
            )
        assert _books(account_ids) == before
    # the chain holds; no checkpoint entry is stored, so the entries counted below are the
    # correction's own
    verify = runner.invoke(args=["ledger", "verify", "--no-checkpoint"])
    assert verify.exit_code == 0 and verify.output.startswith(f"OK: {length + 4} entries")

    again = runner.invoke(args=["billing", "correct-sources"])
    assert again.exit_code == 0
    assert "0 misnamed credit memo entries found; corrected 0." in again.output
    with app.app_context():
        assert len(_entries()) == length + 4


def test_an_entry_no_credit_memo_matches_is_listed_and_left_as_it_is(app, runner):
    with app.app_context():
        account = household(db.session, load_rules(db.session), "olson", NORMAL)
        post_entry(
            db.session,
            [debit("4010", 700), credit("1110", 700, account.id)],
            entry_date=date(2026, 11, 5),
            source_type="credit_memo",
            source_id="0",
            actor=SUPERVISOR,
            memo="Credit memo 0 on invoice 2026-000099: leak adjustment",
        )
        db.session.commit()
        length = len(_entries())
    result = runner.invoke(args=["billing", "correct-sources"])
    assert result.exit_code == 1
    assert "no credit memo matches its date, invoice and amount; left as it is" in result.output
    assert "1 misnamed credit memo entries found; corrected 0." in result.output
    with app.app_context():
        assert len(_entries()) == length


@pytest.mark.parametrize("changed", ["date", "amount"])
def test_a_memo_of_another_date_or_amount_is_not_matched(app, runner, monkeypatch, changed):
    with app.app_context():
        account = household(db.session, load_rules(db.session), "olson", NORMAL)
        _run(db.session, InvoiceKind.UTILITY, "2026-10", date(2026, 11, 2), date(2026, 11, 23))
        invoice = db.session.scalar(sa.select(Invoice))
        with posted_as_before_the_fix(monkeypatch, "0"):
            memo = _issue(db.session, invoice, 1000, "leak adjustment", date(2026, 11, 5))
        if changed == "date":
            memo.issued_on = date(2026, 11, 4)
        else:
            memo.amount_cents = 999
        db.session.commit()
        assert account_receivable(db.session, account.id) == 10784 - 1000
    result = runner.invoke(args=["billing", "correct-sources", "--dry-run"])
    assert result.exit_code == 1 and "left as it is" in result.output

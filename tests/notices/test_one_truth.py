"""Every document a resident gets, read the way a resident reads it: rendered to PDF, its text
extracted, and every figure compared with the account position, the ledger and the scan line,
whatever happened to the account and whenever the document is made."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pypdf
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Account
from billing.adjustments import AdjustmentError
from billing.models import Invoice, InvoiceKind
from billing.position import TAX, UTILITY, account_position
from billing.runs import RunOptions, open_run, post_run
from core.extensions import db
from core.money import format_cents
from ledger.balances import account_receivable
from notices import content, statements
from notices.document import NoticeKind
from notices.reminders import Stage, reminder_notice
from notices.render import render
from notices.scanline import parse
from payments.counter import open_drawer
from payments.models import Receipt, Refund
from payments.services import PaymentRefused
from tests.billing.test_position import CLERK, ISSUED, OPERATIONS, _apply, _town
from tests.conftest import reset_database

MONEY = r"-?\$[\d,]+\.\d{2}"
SCAN = re.compile(r"\b(\d{8}) (\d{10}) (\d{8}) (\d)\b")


def _text(document) -> str:
    """The notice as a resident reads it: its PDF's text, white space folded."""
    reader = pypdf.PdfReader(io.BytesIO(render(document)))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def _cents(text: str) -> int:
    """'$1,234.56' or '-$1,234.56' as cents."""
    negative = text.startswith("-")
    dollars, cents = text.lstrip("-$").replace(",", "").split(".")
    return (-1 if negative else 1) * (int(dollars) * 100 + int(cents))


def _after(label: str, text: str) -> int:
    """The amount printed right after a label."""
    found = re.search(re.escape(label) + r"\s*(" + MONEY + ")", text)
    assert found, f"{label!r} is not on the notice: {text[:400]}"
    return _cents(found.group(1))


def _scan_lines(text: str):
    """Every scan line printed on the notice, read back."""
    return [parse("".join(m.groups())) for m in SCAN.finditer(text)]


def _check_a_bill(document, text: str, owed: int, day: date) -> None:
    """A bill's summary adds up on its face and says the group's position; its stubs and scan
    lines ask for exactly that, by a date not gone."""
    previous = _after("Previous balance", text)
    credits = -_after("Payments and credits", text)
    penalties = _after("Penalties", text)
    current = _after("Current charges", text)
    total = _after("TOTAL DUE", text)
    assert previous - credits + penalties + current == total == owed
    assert _after("Amount due", text) == total
    lines = _scan_lines(text)
    assert sum(line.amount_cents for line in lines) == total
    assert [line.amount_cents for line in lines] == [s.amount_due_cents for s in document.stubs]
    assert all(line.due_date >= day for line in lines)
    for stub in document.stubs:
        assert format_cents(stub.amount_due_cents) in text
    if total == 0:
        assert "Paid in full" in text and not lines


def _check_also_owed(document, position, group: str, year: int | None) -> None:
    """What the account owes outside the document's group is listed apart, to the cent."""
    others = position.owed_cents() - position.owed_cents(group, year)
    assert sum(a.cents for a in document.also_owed) == others


def _documents_agree(session, config, account: Account, day: date) -> None:
    """Make every kind of document on the day and read each."""
    position = account_position(session, account.id, day)
    assert position.owed_cents() == account_receivable(session, account.id, day)
    invoices = session.scalars(sa.select(Invoice).where(Invoice.account_id == account.id)).all()
    for invoice in invoices:
        if invoice.issue_date > day:
            continue
        group, year = (
            (TAX, invoice.period_start.year)
            if invoice.kind == InvoiceKind.TAX
            else (
                UTILITY,
                None,
            )
        )
        owed = position.owed_cents(group, year)
        document = content.bill(session, config, invoice, on=day)
        _check_a_bill(document, _text(document), owed, day)
        _check_also_owed(document, position, group, year)
        for kind in (NoticeKind.REMINDER, NoticeKind.PAST_DUE, NoticeKind.FINAL):
            notice = content.bill(session, config, invoice, kind, on=day)
            text = _text(notice)
            lines = _scan_lines(text)
            assert sum(line.amount_cents for line in lines) == owed
            assert all(line.due_date >= day for line in lines)
            if owed:
                assert _after("Amount due", text) == owed
        consolidated = reminder_notice(
            session, config, account, [(invoice, Stage("past_due", 10, NoticeKind.PAST_DUE))], day
        )
        text = _text(consolidated)
        owed_on_it = position.by_invoice.get(invoice.id, 0)
        assert sum(line.amount_cents for line in _scan_lines(text)) == owed_on_it
        assert sum(a.cents for a in consolidated.also_owed) == position.owed_cents() - owed_on_it
    start = day - timedelta(days=40)
    statement = statements.statement(session, config, account, start, day)
    text = _text(statement)
    closing = position.owed_cents()
    assert _after("TOTAL DUE", text) == closing
    opening = account_position(session, account.id, start - timedelta(days=1)).owed_cents()
    assert _after("Previous balance", text) == opening
    assert sum(line.amount_cents for line in _scan_lines(text)) == max(closing, 0)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(OPERATIONS, st.lists(st.integers(0, 420), min_size=1, max_size=3))
def test_every_document_says_what_the_position_and_the_ledger_say(
    app, reference_rows, operations, days
):
    with app.app_context():
        reset_database(db.engine, reference_rows)
        session = db.session
        account = _town(session)
        # NOTE: a September bill as well, so the October one has a previous bill to start from.
        run = open_run(
            session,
            CLERK,
            kind=InvoiceKind.UTILITY,
            cycle="2026-09",
            issue_date=date(2026, 10, 2),
            due_date=date(2026, 10, 23),
        )
        post_run(session, run, CLERK, RunOptions())
        drawer = open_drawer(session, CLERK)
        for operation in sorted(operations, key=lambda o: o[1]):
            step = session.begin_nested()
            try:
                _apply(session, account, drawer, operation)
                step.commit()
            except (AdjustmentError, PaymentRefused, ValueError):
                step.rollback()
        for n in sorted(set(days)):
            _documents_agree(session, app.config, account, ISSUED + timedelta(days=n))
        for receipt in session.scalars(sa.select(Receipt)):
            text = _text(content.receipt(session, app.config, receipt))
            assert _after("Amount paid", text) == receipt.amount_cents
            assert receipt.number in text
        for refund in session.scalars(sa.select(Refund)):
            document = content.refund_notice(session, app.config, refund)
            after = account_position(session, account.id, refund.refunded_on).owed_cents()
            assert document.balance_after_cents == after
            assert format_cents(refund.amount_cents) in _text(document)
        session.rollback()
        db.session.remove()

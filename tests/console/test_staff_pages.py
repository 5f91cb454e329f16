"""What staff pages print: a billing run's page title as plain text, the audit log's changes as
readable lines, the residents' questions in the town's time, and every heading of a column of
figures set right like its figures."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser

import sqlalchemy as sa

from accounts.models import Account
from billing.models import BillingRun, Invoice
from core.audit import Actor, record
from core.extensions import db
from portal import questions
from tests.billing.billing_fixtures import bill_households
from tests.conftest import csrf_token
from tests.console.test_approvals import ask, counter_payment
from tests.portal.test_bill import pay_and_settle

CLERK = Actor("user", "7", "clerk@example.org", "127.0.0.1")


def account_of(number: str) -> Account:
    """The account with the number."""
    return db.session.scalar(sa.select(Account).where(Account.number == number))


def test_the_run_pages_title_is_plain_text_escaped_once(app, signed_in):
    bill_households(app, "olson")
    with app.app_context():
        run_id = db.session.scalar(sa.select(BillingRun.id))
    page = signed_in("clerk").get(f"/staff/billing-runs/{run_id}").text
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert "<" not in title and "&lt;" not in title and "&amp;" not in title
    assert unescape(title) == f"Billing run {run_id}: utility 2026-10 · munibill"
    assert page.count('src="/static/run_progress.js"') == 1  # the script, once, in the body


def test_the_question_pages_show_the_towns_time(app, signed_in):
    (billed,) = bill_households(app, "olson")
    with app.app_context():
        invoice = db.session.scalar(sa.select(Invoice))
        question = questions.ask(
            db.session,
            Actor("resident", None, "quick pay", "127.0.0.1"),
            account=account_of(billed.number),
            invoice=invoice,
            kind="question",
            message="Why is October higher?",
            reply_to=None,
            language="en",
            resident_id=None,
            now=datetime(2026, 11, 20, 15, 5, tzinfo=UTC),
        )
        questions.answer(
            db.session,
            CLERK,
            question,
            "A leak was fixed on November 2.",
            close=False,
            now=datetime(2026, 11, 21, 2, 30, tzinfo=UTC),
        )
        db.session.commit()
        question_id = question.id
    clerk = signed_in("clerk")
    detail = clerk.get(f"/staff/questions/{question_id}").text
    assert "2026-11-20 09:05 CST" in detail  # asked at 15:05 UTC, 09:05 in Maple Falls
    assert "2026-11-20 20:30 CST" in detail  # answered at 02:30 UTC the next day
    queue = clerk.get("/staff/questions").text
    assert "2026-11-20 20:30 CST" in queue
    assert "UTC" not in detail and "UTC" not in queue


def test_the_audit_log_shows_facts_and_changes_as_key_value_lines_escaped(app, signed_in):
    (billed,) = bill_households(app, "olson")
    pay_and_settle(app, billed.number, 2500)
    with app.app_context():
        account = account_of(billed.number)
        record(
            db.session,
            CLERK,
            "account.update",
            account,
            before={"holder_name": "Olson <b>", "paperless": False},
            after={"holder_name": "Olson & Berg", "paperless": True},
        )
        db.session.commit()
    auditor = signed_in("auditor")
    for path in ("/staff/books/audit", f"/staff/accounts/{billed.number}"):
        page = auditor.get(path).text
        assert "<li>holder_name: Olson &lt;b&gt; → Olson &amp; Berg</li>" in page, path
        assert "<li>paperless: no → yes</li>" in page, path
        assert f"<li>number: {billed.number}</li>" in page, path  # the account as it was made
        assert "{&#39;" not in page and "{'" not in page, path  # no Python dict
        assert '<table class="log">' in page, path
    log = auditor.get("/staff/books/audit?action=payment.record").text
    assert "<li>amount_cents: 2500</li>" in log and "<li>invoices: none</li>" in log


class Tables(HTMLParser):
    """Every table of a page: its heading row and body rows, each a list of columns, a column
    the (classes, text) of the cell over it (cells spanning columns or rows fill each)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self.part = ""
        self.row: list | None = None
        self.cell: list | None = None
        self.below: dict[int, tuple[list, int]] = {}  # column -> (cell, rows it still spans)

    def _carry(self) -> None:
        """Fill the columns a cell of a row above still spans."""
        while self.row is not None and len(self.row) in self.below:
            cell, rows = self.below.pop(len(self.row))
            if rows > 1:
                self.below[len(self.row)] = (cell, rows - 1)
            self.row.append(cell)

    def handle_starttag(self, tag, attrs):
        """Open a table, a part of it, a row or a cell."""
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append({"head": [], "body": []})
            self.below = {}
        elif tag in ("thead", "tbody", "tfoot"):
            self.part = tag
        elif tag == "tr" and self.tables:
            self.row = []
        elif tag in ("th", "td") and self.row is not None:
            self._carry()
            self.cell = [set((attrs.get("class") or "").split()), ""]
            rows = int(attrs.get("rowspan") or 1)
            for _column in range(int(attrs.get("colspan") or 1)):
                if rows > 1:
                    self.below[len(self.row)] = (self.cell, rows - 1)
                self.row.append(self.cell)

    def handle_endtag(self, tag):
        """Close a row into its part of the table."""
        if tag == "tr" and self.row is not None:
            self._carry()
            if self.part == "thead":
                self.tables[-1]["head"] = self.row
            elif self.part == "tbody":
                self.tables[-1]["body"].append(self.row)
            self.row = None
        elif tag in ("th", "td"):
            self.cell = None

    def handle_data(self, data):
        """Keep a cell's text."""
        if self.cell is not None:
            self.cell[1] += data


def misaligned_headings(page: str) -> list[str]:
    """The headings of columns whose figures are set right (td.num) but which are not."""
    parser = Tables()
    parser.feed(page)
    wrong = []
    for table in parser.tables:
        for row in table["body"]:
            for index, (classes, _text) in enumerate(row):
                heading = table["head"][index] if index < len(table["head"]) else None
                if "num" in classes and heading and "num" not in heading[0]:
                    wrong.append(heading[1].strip())
    return sorted(set(wrong))


def test_every_column_of_figures_has_its_heading_set_right_like_its_figures(
    app, signed_in, make_staff
):
    (billed,) = bill_households(app, "olson")
    pay_and_settle(app, billed.number, 2500)
    counter_payment(app, billed.number, 1000)
    clerk = signed_in("clerk")
    page = clerk.get(f"/staff/accounts/{billed.number}").text
    with app.app_context():
        run_id = db.session.scalar(sa.select(BillingRun.id))
    clerk.post("/staff/counter/open", data={"csrf_token": csrf_token(page), "opening_float": "50"})
    assert (
        ask(
            clerk, billed.number, kind="void", target="payment:2", reason="Taken twice."
        ).status_code
        == 303
    )
    checked = 0
    for path in (
        "/staff/dashboard?as_of=2026-11-30",
        f"/staff/accounts/{billed.number}",
        f"/staff/accounts/{billed.number}/pay",
        f"/staff/accounts/{billed.number}/notices",
        "/staff/billing-runs/",
        f"/staff/billing-runs/{run_id}",
        "/staff/approvals/",
        "/staff/counter/",
        "/staff/books/ledger",
        "/staff/books/trial-balance?as_of=2026-11-30",
        "/staff/notice-batches",
    ):
        page = clerk.get(path)
        assert page.status_code == 200, path
        assert misaligned_headings(page.text) == [], path
        checked += page.text.count('<td class="num">')
    assert checked > 40  # the pages had figures to check

"""The top of the bill page and its charges as a resident reads them: when the amount due falls
due, and penalty and interest charges gathered into one line a month that opens on each."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html import unescape

import sqlalchemy as sa
import time_machine

from accounts.services import derive_access_code
from billing.models import InvoiceCharge
from billing.penalty_service import assess_penalties
from core.audit import Actor
from core.extensions import db
from core.money import format_cents
from tests.billing.billing_fixtures import KEY, tax_owner
from tests.conftest import csrf_token
from tests.portal.conftest import quick_pay
from tests.portal.test_bill import AFTER_DUE, BEFORE_DUE

JOB = Actor.job("test")
#: Before the 2025 property tax's first installment falls due (January 31, 2026).
BEFORE_TAX_DUE = datetime(2026, 1, 10, 15, 0, tzinfo=UTC)
#: The 2025 tax unpaid: interest and penalty every month since February 2026.
CHARGED_ON = date(2026, 12, 5)


def tax_household(app) -> tuple[str, str]:
    """A household with its 2025 property tax bill (two installments); its number and code."""
    with app.app_context():
        owner = tax_owner(db.session, "Pat", "P-1", 240_000, JOB)
        db.session.commit()
        return owner.number, derive_access_code(KEY, owner.number, 1)


def due_by(page: str) -> str | None:
    """The due-by sentence of the amount-due box, if it has one."""
    found = re.search(r'<p id="due-by">([^<]*)</p>', page)
    return unescape(found.group(1)) if found else None


def in_spanish(client) -> None:
    """Switch the pages to Spanish with the header's button."""
    page = client.get("/my/bill").text
    response = client.post(
        "/language", data={"csrf_token": csrf_token(page), "lang": "es", "next": "/my/bill"}
    )
    assert response.status_code == 303


@time_machine.travel(BEFORE_DUE, tick=False)
def test_the_amount_due_says_when_it_is_due_in_english_and_spanish(client, billed):
    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
    assert due_by(client.get("/my/bill").text) == "Due by November 23, 2026"
    in_spanish(client)
    assert due_by(client.get("/my/bill").text) == "Vence el 23 de noviembre de 2026"


@time_machine.travel(BEFORE_TAX_DUE, tick=False)
def test_a_tax_bill_says_how_much_falls_due_with_its_first_installment(app, client):
    number, code = tax_household(app)
    assert quick_pay(client, number, code).status_code == 303
    page = client.get("/my/bill").text
    first, second = re.findall(r'<td data-label="Amount" class="num">([^<]+)</td>', page)
    assert due_by(page) == f"{first} of this is due by January 31, 2026."
    assert first != format_cents(0) and second != format_cents(0)
    in_spanish(client)
    assert due_by(client.get("/my/bill").text) == (
        f"De esta cantidad, {first} vence el 31 de enero de 2026."
    )


@time_machine.travel(AFTER_DUE, tick=False)
def test_nothing_is_said_to_fall_due_once_all_of_it_is_past_due(client, billed):
    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
    page = client.get("/my/bill").text
    assert due_by(page) is None
    assert "of this is past due. Please pay it as soon as you can." in page


def test_penalty_and_interest_show_as_one_line_a_month_that_opens_on_each_charge(app, client):
    number, code = tax_household(app)
    with app.app_context():
        assessed = assess_penalties(db.session, JOB, as_of=CHARGED_ON, rounding="half_up")
        db.session.commit()
        charges = db.session.execute(
            sa.select(
                InvoiceCharge.description, InvoiceCharge.assessed_on, InvoiceCharge.amount_cents
            ).order_by(InvoiceCharge.assessed_on, InvoiceCharge.id)
        ).all()
    assert assessed.charges == len(charges) == 32  # interest and penalty, two installments
    months = sorted({charge.assessed_on.replace(day=1) for charge in charges})
    assert len(months) == 11  # February to December 2026
    assert quick_pay(client, number, code).status_code == 303
    page = unescape(client.get("/my/bill").text)

    assert page.count('<li class="penalty head">') == 1
    assert "Penalty and interest by month" in page
    total = sum(charge.amount_cents for charge in charges)
    head = re.search(r'<li class="penalty head">.*?<span class="money">([^<]+)</span>', page, re.S)
    assert head.group(1) == format_cents(total)
    groups = re.findall(
        r'<li class="penalty month">\s*<details>\s*<summary>(.*?)</summary>(.*?)</details>',
        page,
        re.S,
    )
    assert len(groups) == len(months)
    for month, (summary, inside) in zip(months, groups, strict=True):
        of_month = [c for c in charges if c.assessed_on.replace(day=1) == month]
        assert f"{month:%B %Y}" in summary
        assert re.search(
            rf'class="money">{re.escape(format_cents(sum(c.amount_cents for c in of_month)))}<',
            summary,
        )
        assert inside.count("<li>") == len(of_month)  # each charge, with its own line
        for charge in of_month:
            assert charge.description in inside
    assert page.count('<li class="penalty">') == 0  # no charge line outside its month

    in_spanish(client)
    spanish = unescape(client.get("/my/bill").text)
    assert "Recargos e intereses por mes" in spanish
    assert "febrero de 2026" in spanish and "diciembre de 2026" in spanish

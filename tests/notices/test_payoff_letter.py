"""The payoff quote letter read back from its PDF: the quote number, the parcel, its owner, each
installment's line, the total and the good-through date agree with the stored quote, and
today's part of it with the account position; Spanish for an owner who reads Spanish."""

from __future__ import annotations

import re
import subprocess
from datetime import date

import sqlalchemy as sa

from accounts.models import Language, Parcel
from billing.payoff import Requested, quote
from billing.penalty_service import assess_penalties
from billing.position import TAX, account_position
from core.audit import Actor
from core.money import format_cents
from notices.payoff_letter import payoff_letter_pdf
from tests.billing.billing_fixtures import parcel, tax_owner

CLERK = Actor("user", "1", "clerk@example.org", "127.0.0.1")
TODAY = date(2026, 11, 26)
THROUGH = date(2027, 1, 15)
TITLE = Requested("title_company", "Badger Title Co.", "22 Main St\nMaple Falls, WI 54901")


def _parcel(session, number: str) -> Parcel:
    """A parcel whose 2025 tax is delinquent, its penalties assessed through today."""
    tax_owner(session, f"Owner {number}", number, 250_000)
    assess_penalties(session, Actor.job("assess_late_fees"), as_of=TODAY, rounding="half_up")
    return session.scalar(sa.select(Parcel).where(Parcel.parcel_number == number))


def _text(tmp_path, pdf: bytes) -> str:
    """The letter as pdftotext reads it, white space folded."""
    path = tmp_path / "letter.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return " ".join(out.stdout.split())


def _cents(text: str) -> int:
    dollars, cents = text.lstrip("$").replace(",", "").split(".")
    return int(dollars) * 100 + int(cents)


def test_the_letter_shows_the_stored_quote_and_todays_part_is_the_position(app, session, tmp_path):
    parcel = _parcel(session, "P-300")
    issued = quote(session, CLERK, parcel, THROUGH, TITLE, today=TODAY, rounding="half_up")
    text = _text(tmp_path, payoff_letter_pdf(app.config, issued))
    assert "Property tax payoff quote" in text
    assert app.config["MUNICIPALITY_NAME"] in text
    for words in (issued.number, "P-300", "1 Oak St, Maple Falls 54901", "Owner P-300"):
        assert words in text
    assert "Badger Title Co. 22 Main St Maple Falls, WI 54901" in text
    for line in issued.lines:
        charges = format_cents(line["charges_cents"] + line["projected_cents"])
        row = (
            f"{line['invoice']} {line['tax_year']} {line['installment']} "
            f"{format_cents(line['principal_cents'])} {charges} {format_cents(line['total_cents'])}"
        )
        assert row in text
    total = re.search(r"Amount to pay the parcel off (\$[\d,]+\.\d\d)", text)
    assert total and _cents(total.group(1)) == issued.amount_cents
    assert "Good through January 15, 2027" in text
    assert f"with the quote number {issued.number} as its reference" in text
    today_part = sum(line["principal_cents"] + line["charges_cents"] for line in issued.lines)
    assert today_part == account_position(session, parcel.owner_account_id, TODAY).owed_cents(TAX)
    assert issued.amount_cents == today_part + issued.projected_cents


def test_an_owner_who_reads_spanish_gets_the_letter_in_spanish(app, session, tmp_path):
    parcel = _parcel(session, "P-301")
    parcel.owner_account.language = Language.ES
    owner = Requested("owner", "Owner P-301", "1 Oak St\nMaple Falls, WI 54901")
    issued = quote(session, CLERK, parcel, THROUGH, owner, today=TODAY, rounding="half_up")
    text = _text(tmp_path, payoff_letter_pdf(app.config, issued))
    assert "Cotización de liquidación del impuesto predial" in text
    assert "Válida hasta el 15 de enero de 2027" in text
    assert format_cents(issued.amount_cents) in text
    lender = quote(session, CLERK, parcel, THROUGH, TITLE, today=TODAY, rounding="half_up")
    assert "Property tax payoff quote" in _text(tmp_path, payoff_letter_pdf(app.config, lender))


def test_a_parcel_that_owes_nothing_gets_a_zero_quote_saying_so(app, session, tmp_path):
    owner = tax_owner(session, "Owner P-302", "P-302", 250_000)
    unbilled = parcel(session, owner, "P-303", 90_000)
    issued = quote(session, CLERK, unbilled, THROUGH, TITLE, today=TODAY, rounding="half_up")
    assert (issued.amount_cents, issued.lines) == (0, [])
    text = _text(tmp_path, payoff_letter_pdf(app.config, issued))
    assert "No property tax is owed on this parcel as of November 26, 2026." in text
    assert "Amount to pay the parcel off" not in text


def test_the_command_issues_the_quote_and_writes_its_letter(app, runner, tmp_path):
    from core.calendar import town_today
    from core.extensions import db

    with app.app_context():
        tax_owner(db.session, "Owner P-310", "P-310", 250_000)
        db.session.commit()
        today = town_today(app.config)
    out = tmp_path / "q.pdf"
    answer = runner.invoke(
        args=["tax", "payoff", "P-310", "--through", today.isoformat(), "--out", str(out)]
    )
    assert answer.exit_code == 0, answer.output
    assert "good through" in answer.output and out.read_bytes().startswith(b"%PDF")
    refused = runner.invoke(args=["tax", "payoff", "P-310", "--through", "2020-01-01"])
    assert refused.exit_code != 0
    assert "a payoff quote cannot be for a past date" in refused.output


def test_the_console_page_issues_a_quote_refuses_a_past_date_and_serves_the_letter(app, signed_in):
    from core.calendar import town_today
    from core.extensions import db
    from tests.conftest import csrf_token

    with app.app_context():
        tax_owner(db.session, "Owner P-320", "P-320", 250_000)
        db.session.commit()
        today = town_today(app.config)
    clerk = signed_in("clerk")
    page = clerk.get("/staff/payoff-quotes/").text
    form = {"csrf_token": csrf_token(page), "parcel": "P-320", "requester": "owner"}
    past = clerk.post("/staff/payoff-quotes/", data=form | {"good_through": "2020-01-01"})
    assert past.status_code == 422
    assert "a payoff quote cannot be for a past date" in past.text
    made = clerk.post("/staff/payoff-quotes/", data=form | {"good_through": today.isoformat()})
    assert made.status_code == 303
    listed = clerk.get("/staff/payoff-quotes/").text
    number = re.search(r"PQ-\d{4}-\d{6}", listed).group(0)
    letter = clerk.get(f"/staff/payoff-quotes/{number}/letter")
    assert letter.status_code == 200 and letter.data.startswith(b"%PDF")

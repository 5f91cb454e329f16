"""Every figure on a notice checks by hand, and a Spanish notice has no English word on it."""

import re
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from accounts.models import Account, Language, Parcel
from billing.models import Invoice, InvoiceKind
from billing.words import WORDS
from core.extensions import db
from core.money import dollars_to_cents
from notices import content
from notices.render import render
from notices.texts import EN, ES
from payments.models import Receipt
from tests.notices.test_notice_kinds import pay_cash_and_refund

AS_OF = date(2026, 11, 26)
RULES = Path(__file__).resolve().parents[2] / "demo" / "rules"
#: A row of the charges table as pdftotext lays it out: description, quantity, unit (its first
#: word), rate (with its basis word) and amount, two spaces or more between the columns.
ROW = re.compile(
    r"^(?P<description>\S.*?)\s{2,}(?P<quantity>\$?\d[\d,]*(?:\.\d+)?)\s+(?P<unit>\S.*?)\s+"
    r"(?P<rate>\$?\d[\d,]*(?:\.\d+)?(?:%| mills| por mil)?)\s+(?P<amount>-?\$\d[\d,]*\.\d\d)\b"
)


@pytest.fixture
def town(app, demo_town):
    """The demo town, billed."""
    demo_town(AS_OF)
    return app


def _text(pdf: bytes, tmp_path: Path, layout: bool = True) -> str:
    """The words of a PDF as pdftotext reads them."""
    path = tmp_path / "notice.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext", *(["-layout"] if layout else []), str(path), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def _value(text: str) -> Decimal:
    """A printed number: '$1,234.56' -> 1234.56."""
    return Decimal(text.replace("$", "").replace(",", ""))


def _product(quantity: str, rate: str) -> Decimal:
    """What a resident computes from a printed quantity and rate: a mill is a thousandth of
    the value, a percent a hundredth."""
    scale = Decimal(1)
    for word, per in ((" mills", "0.001"), (" por mil", "0.001"), ("%", "0.01")):
        if rate.endswith(word):
            rate, scale = rate.removesuffix(word), Decimal(per)
    return _value(quantity) * _value(rate) * scale


@pytest.mark.parametrize("language", [Language.EN, Language.ES])
def test_each_printed_line_s_quantity_times_rate_is_its_amount(town, tmp_path, language):
    rounding = town.config["ROUNDING_RULE"]
    with town.app_context():
        parcel = db.session.scalar(sa.select(Parcel).order_by(Parcel.id))
        account = db.session.get(Account, parcel.owner_account_id)
        account.language = language
        invoices = db.session.scalars(
            sa.select(Invoice).where(Invoice.account_id == account.id).order_by(Invoice.id)
        ).all()
        assert {invoice.kind for invoice in invoices} == {InvoiceKind.UTILITY, InvoiceKind.TAX}
        for invoice in invoices:
            text = _text(render(content.bill(db.session, town.config, invoice)), tmp_path)
            rows = [match for line in text.splitlines() if (match := ROW.match(line))]
            priced = [line for line in invoice.lines if line.quantity is not None]
            assert len(rows) == len(priced), text
            for row in rows:
                exact = _product(row["quantity"], row["rate"])
                amount = _value(row["amount"])
                assert abs(exact - amount) <= Decimal("0.005"), row.group(0)
                assert dollars_to_cents(exact, rounding) == dollars_to_cents(amount), row.group(0)
            assert "per per" not in text and "por por" not in text
            assert not re.search(r"\d\.\d*000\b", text), text
            assert "11.95000000" not in text
        db.session.rollback()


def _words(text: str) -> set[str]:
    """The words of a text, lower case: letters only, placeholders and addresses left out."""
    text = re.sub(r"\{[^}]*\}|https?://\S+|\S+@\S+", " ", text)
    return {word.lower() for word in re.findall(r"[^\W\d_]{2,}", text)}


def _catalogue(table: dict) -> str:
    """Every text of a catalogue (notices.texts or billing.words), joined."""
    return " ".join(" ".join(v) if isinstance(v, tuple) else str(v) for v in table.values())


def _rule_texts(language: str) -> str:
    """Every text the demo town's rules give in a language."""
    found: list[str] = []

    def walk(value):
        if isinstance(value, dict):
            if language in value and isinstance(value[language], str):
                found.append(value[language])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for path in RULES.glob("*.yaml"):
        walk(yaml.safe_load(path.read_text()))
    return " ".join(found)


def english_words() -> set[str]:
    """The English words of the catalogues and the rules, less those Spanish uses too."""
    english = _words(" ".join((_catalogue(EN), _catalogue(WORDS["en"]), _rule_texts("en"))))
    spanish = _words(" ".join((_catalogue(ES), _catalogue(WORDS["es"]), _rule_texts("es"))))
    return english - spanish


def test_the_word_list_is_taken_from_the_data():
    words = english_words()
    assert {"bill", "due", "water", "usage", "charge", "county", "mills", "gallons"} <= words
    assert {"month", "dwelling", "unit", "interest", "penalty", "of", "the"} <= words
    # The same in both languages, and proper names, are not English words to look for.
    assert not {"total", "maple", "falls", "lakeshore", "kgal", "hcf", "stat"} & words


def _strip_proper_names(text: str, config, account: Account, parcel: Parcel) -> str:
    """The text without the names and addresses it prints as they are (municipality, holder)."""
    text = " ".join(text.split())
    names = [
        config["MUNICIPALITY_NAME"],
        *config["MUNICIPALITY_ADDRESS"].split(", "),
        account.holder_name,
        account.mail_street,
        account.mail_street2 or "",
        account.mail_city,
        parcel.situs_street,
        parcel.situs_city,
    ]
    for name in sorted(filter(None, names), key=len, reverse=True):
        text = text.replace(name, " ")
    return text


def test_a_spanish_notice_has_no_english_word_of_the_catalogue(town, client, api_headers, tmp_path):
    clerk, supervisor = api_headers("clerk"), api_headers("supervisor")
    with town.app_context():
        parcel = db.session.scalar(sa.select(Parcel).order_by(Parcel.id))
        account = db.session.get(Account, parcel.owner_account_id)
        account.language = Language.ES
        db.session.commit()
        number, account_id, parcel_id = account.number, account.id, parcel.id
        bills = {
            kind: db.session.scalar(
                sa.select(Invoice.number)
                .where(Invoice.account_id == account.id, Invoice.kind == kind)
                .order_by(Invoice.id.desc())
            )
            for kind in InvoiceKind
        }
    paid, refund = pay_cash_and_refund(client, clerk, supervisor, number)
    with town.app_context():
        receipt = db.session.scalar(
            sa.select(Receipt.number).where(Receipt.payment_id == paid["payment_id"])
        )
    made = {
        f"{kind.value} bill": client.post(
            f"/api/v1/invoices/{bills[kind]}/notices", json={}, headers=clerk
        )
        for kind in InvoiceKind
    }
    for kind in ("reminder", "past_due", "final"):
        made[kind] = client.post(
            f"/api/v1/invoices/{bills[InvoiceKind.UTILITY]}/notices",
            json={"kind": kind},
            headers=clerk,
        )
    made["receipt"] = client.post(f"/api/v1/receipts/{receipt}/notice", json={}, headers=clerk)
    made["refund"] = client.post(
        f"/api/v1/refunds/{refund.get_json()['id']}/notice", json={}, headers=clerk
    )
    made["statement"] = client.post(
        f"/api/v1/accounts/{number}/statements",
        json={"start": "2026-01-01", "end": AS_OF.isoformat()},
        headers=clerk,
    )
    english = english_words()
    with town.app_context():
        account = db.session.get(Account, account_id)
        parcel = db.session.get(Parcel, parcel_id)
        for what, response in made.items():
            assert response.status_code == 201, (what, response.get_json())
            notice = response.get_json()
            assert notice["language"] == "es", what
            pdf = client.get(f"/api/v1/notices/{notice['id']}/pdf", headers=clerk).data
            text = _strip_proper_names(
                _text(pdf, tmp_path, layout=False), town.config, account, parcel
            )
            found = sorted(_words(text) & english)
            assert found == [], f"{what}: {found} in {text}"

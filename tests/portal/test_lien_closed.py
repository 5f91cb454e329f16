"""A parcel under a tax lien on the residents' side: the bill page says so in plain words (in
Spanish too); paying everything online pays the bills not under lien and leaves the liened tax
(the page shows what is left for the counter); paying the liened tax online (the portal's pay
form, autopay) is refused with the reason in the owner's language and records nothing, while
another owner, or the owner once the lien is cancelled, pays as before."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
import time_machine

from accounts.models import Account, Language
from accounts.services import derive_access_code
from billing.liens import cancel_lien, certify_sale, find_lien
from billing.models import Invoice, InvoiceKind, Lien
from billing.runs import RunOptions, open_run, post_run
from core.audit import Actor
from core.extensions import db
from core.money import format_cents
from ledger import chart
from payments import payflow
from payments.models import Channel, Payment, Tender
from payments.services import PaymentRefused, record_payment, settle_payment
from tests.billing.billing_fixtures import KEY
from tests.billing.lien_fixtures import CLERK, NOW, RESIDENT, delinquent_town, tax_invoice
from tests.conftest import csrf_token
from tests.portal.conftest import quick_pay

TODAY = date(2026, 12, 6)


@pytest.fixture(autouse=True)
def _on_the_day():
    """Today is December 6, 2026 in the town, whatever the real clock says."""
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def liened(app):
    """The town with its January 15, 2027 sale certified; the owners' numbers by parcel."""
    with app.app_context():
        owners = delinquent_town(db.session)
        certify_sale(db.session, CLERK, date(2027, 1, 15), today=TODAY)
        db.session.commit()
        return {number: account.number for number, account in owners.items()}


def _signed_in(client, number: str):
    response = quick_pay(client, number, derive_access_code(KEY, number, 1))
    assert response.status_code == 303, response.text
    return client


def _payments(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Payment))


def test_the_bill_page_says_a_lien_was_sold_and_where_to_pay(app, client, liened):
    page = _signed_in(client, liened["P-100"]).get("/my/bill").text
    assert "A tax lien was sold on parcel P-100 on January 15, 2027." in page
    assert "can no longer be paid online" in page and "county tax collector" in page


def test_the_bill_page_says_it_in_spanish_for_a_spanish_speaking_owner(app, client, liened):
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.number == liened["P-100"]))
        account.language = Language.ES
        db.session.commit()
    page = _signed_in(client, liened["P-100"]).get("/my/bill").text
    assert "Se vendió un gravamen fiscal sobre la parcela P-100" in page


def test_paying_the_tax_of_a_parcel_under_lien_online_is_refused_and_nothing_recorded(
    app, client, liened
):
    resident = _signed_in(client, liened["P-100"])
    page = resident.get("/my/bill")
    before = _payments(app)
    answer = resident.post(
        "/my/pay", data={"csrf_token": csrf_token(page.text), "choice": "all", "method": "card"}
    )
    assert answer.status_code == 422
    assert "tax lien was sold on parcel P-100 on 2027-01-15" in answer.text
    assert "cannot be paid online" in answer.text
    assert _payments(app) == before


def test_autopay_of_a_parcel_under_lien_is_refused_with_the_reason(app, liened):
    """Autopay records its payment as the scheduler's job, online, for the bill due."""
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.number == liened["P-200"]))
        with pytest.raises(PaymentRefused, match="cannot be paid online"):
            record_payment(
                db.session,
                Actor.job("charge_autopay"),
                account=account,
                amount_cents=5000,
                invoice_numbers=[tax_invoice(db.session, account).number],
                channel=Channel.ONLINE,
                tender=Tender.CARD,
            )


def test_an_owner_not_under_lien_still_pays_online(app, client, liened):
    resident = _signed_in(client, liened["P-300"])
    page = resident.get("/my/bill")
    assert "tax lien" not in page.text
    answer = resident.post(
        "/my/pay", data={"csrf_token": csrf_token(page.text), "choice": "all", "method": "card"}
    )
    assert answer.status_code == 303, answer.text


def _owed(account) -> dict[int, int]:
    """What each open invoice of the account still owes, penalties and interest included."""
    return {invoice.id: cents for invoice, cents in payflow.open_bills(db.session, account)}


def _utility_bills(app) -> dict[str, tuple[str, int]]:
    """Every owner also billed for water (the October 2026 cycle): number and owed by parcel."""
    with app.app_context():
        run = open_run(
            db.session,
            Actor.job("test"),
            kind=InvoiceKind.UTILITY,
            cycle="2026-10",
            issue_date=date(2026, 11, 2),
            due_date=date(2026, 11, 23),
        )
        post_run(db.session, run, Actor.job("test"), RunOptions())
        db.session.commit()
        bills = {}
        for lien in db.session.scalars(sa.select(Lien)):
            invoice = db.session.scalar(
                sa.select(Invoice).where(
                    Invoice.account_id == lien.account_id, Invoice.kind == InvoiceKind.UTILITY
                )
            )
            bills[lien.parcel.parcel_number] = (invoice.number, invoice.balance_cents)
        return bills


def test_paying_everything_online_pays_the_bills_not_under_lien_and_leaves_the_tax(
    app, client, liened
):
    utility = _utility_bills(app)
    number, owed = utility["P-100"]
    resident = _signed_in(client, liened["P-100"])
    page = resident.get("/my/bill")
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.number == liened["P-100"]))
        tax_owed = _owed(account)[tax_invoice(db.session, account).id]
    assert f"Every bill not under the tax lien, {format_cents(owed)}" in page.text
    assert f"The property tax under lien, {format_cents(tax_owed)}, cannot be paid online" in (
        page.text.replace("&#39;", "'")
    )
    answer = resident.post(
        "/my/pay", data={"csrf_token": csrf_token(page.text), "choice": "all", "method": "card"}
    )
    assert answer.status_code == 303, answer.text
    with app.app_context():
        payment = db.session.scalar(sa.select(Payment).where(Payment.account_id == account.id))
        assert payment.amount_cents == owed
        assert payment.invoice_ids == [
            db.session.scalar(sa.select(Invoice.id).where(Invoice.number == number))
        ]
        # NOTE: settled, it pays the water bill only; the liened tax still owes all it did.
        settle_payment(db.session, CLERK, payment, on=TODAY, cash_gl=chart.STRIPE_CLEARING)
        db.session.commit()
        left = _owed(account)
        assert list(left) == [tax_invoice(db.session, account).id]
        assert left[tax_invoice(db.session, account).id] == tax_owed


def test_an_amount_over_the_bills_not_under_lien_is_refused(app, client, liened):
    _number, owed = _utility_bills(app)["P-100"]
    resident = _signed_in(client, liened["P-100"])
    page = resident.get("/my/bill")
    before = _payments(app)
    data = {"csrf_token": csrf_token(page.text), "choice": "other", "method": "card"}
    answer = resident.post("/my/pay", data={**data, "amount": f"{(owed + 100) / 100:.2f}"})
    assert answer.status_code == 422
    assert f"The most you can pay is {format_cents(owed)}" in answer.text
    assert _payments(app) == before


def test_choosing_the_liened_tax_online_stays_refused_even_with_other_bills(app, liened):
    _utility_bills(app)
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.number == liened["P-100"]))
        with pytest.raises(PaymentRefused, match="parcel P-100 on 2027-01-15"):
            record_payment(
                db.session,
                RESIDENT,
                account=account,
                amount_cents=5000,
                invoice_numbers=[tax_invoice(db.session, account).number],
                channel=Channel.ONLINE,
                tender=Tender.CARD,
            )


def test_the_refusal_is_in_spanish_for_a_spanish_speaking_owner(app, client, liened):
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.number == liened["P-100"]))
        account.language = Language.ES
        db.session.commit()
    resident = _signed_in(client, liened["P-100"])
    page = resident.get("/my/bill")
    before = _payments(app)
    answer = resident.post(
        "/my/pay", data={"csrf_token": csrf_token(page.text), "choice": "all", "method": "card"}
    )
    assert answer.status_code == 422
    assert (
        "Se vendió un gravamen fiscal sobre la parcela P-100 el 2027-01-15; sus impuestos no se "
        "pueden pagar en línea." in answer.text
    )
    assert "cannot be paid online" not in answer.text
    assert _payments(app) == before


def test_after_a_cancellation_the_owner_pays_the_tax_online(app, client, liened):
    with app.app_context():
        lien = find_lien(db.session, "LS-2027-01-15", "P-100")
        cancel_lien(db.session, CLERK, lien, "bankruptcy stay", today=TODAY)
        db.session.commit()
    resident = _signed_in(client, liened["P-100"])
    page = resident.get("/my/bill")
    assert "tax lien" not in page.text
    answer = resident.post(
        "/my/pay", data={"csrf_token": csrf_token(page.text), "choice": "all", "method": "card"}
    )
    assert answer.status_code == 303, answer.text

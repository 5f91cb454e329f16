"""A parcel under a tax lien on the residents' side: the bill page says so in plain words (in
Spanish too), and paying its tax online (the portal's pay form after quick pay, autopay) is
refused with the reason and records nothing, while another owner pays as before."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from accounts.models import Account, Language
from accounts.services import derive_access_code
from billing.liens import certify_sale
from core.audit import Actor
from core.extensions import db
from payments.models import Channel, Payment, Tender
from payments.services import PaymentRefused, record_payment
from tests.billing.billing_fixtures import KEY
from tests.billing.lien_fixtures import CLERK, delinquent_town, tax_invoice
from tests.conftest import csrf_token
from tests.portal.conftest import quick_pay

TODAY = date(2026, 12, 6)


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

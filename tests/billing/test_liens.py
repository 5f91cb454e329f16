"""Lien (tax certificate) sales: the rule validated in full, the sale list by the rule (late
enough, large enough, not excluded) with the position's amounts, its certification frozen as
one lien per parcel and refused twice, the sale file's records adding up, online payment closed
and the counter's payment redeeming the lien; bad input refused with the reason, nothing
written."""

from __future__ import annotations

import copy
import csv
import io
from datetime import date

import pytest
import sqlalchemy as sa
import time_machine

from billing.computed import RuleError
from billing.lien_cli import sale_text
from billing.lien_rules import lien_rule_on, load_lien_rule, parse_lien_rule, rule_to_document
from billing.liens import certify_sale, online_payment_refusal, sale_list
from billing.models import Lien, LienRule, LienSale, LienStatus
from billing.position import TAX, account_position
from billing.tax_delinquency import LienError
from core.models import AuditEvent
from payments.counter import open_drawer, take_counter_payment
from payments.models import Channel, Payment, Tender
from payments.services import PaymentRefused
from tests.billing.lien_fixtures import (
    CLERK,
    NOW,
    RESIDENT,
    RULE,
    delinquent_town,
    pay,
    tax_invoice,
)

TODAY = date(2026, 12, 6)


@pytest.fixture(autouse=True)
def _on_the_day():
    """Today is December 6, 2026 in the town, whatever the real clock says."""
    with time_machine.travel(NOW, tick=True):
        yield


SALE = date(2027, 1, 15)


@pytest.fixture
def town(session):
    return delinquent_town(session)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"min_amount": 25}, "min_amount: write dollars as a quoted string"),
        ({"min_amount": "-1.00"}, "min_amount: must not be negative"),
        ({"sale": {"days_after_delinquency": 0}}, "sale.days_after_delinquency: must be from 1"),
        ({"sale": {"on": "June first"}}, "sale.on: must be a date"),
        ({"sale": {"weeks": 3}}, "sale.weeks: unknown key"),
        ({"closes_online": "yes"}, "closes_online: must be true or false"),
        ({"excluded_flags": "senior"}, "excluded_flags: must be a list"),
        ({"auction_house": "x"}, "auction_house: unknown key"),
    ],
)
def test_a_rule_with_an_error_is_refused_naming_the_place_and_nothing_is_stored(
    session, change, message
):
    document = {**copy.deepcopy(RULE), **change}
    with pytest.raises(RuleError, match=message):
        load_lien_rule(session, CLERK, document)
    assert session.scalar(sa.select(sa.func.count()).select_from(LienRule)) == 0


def test_a_stored_rule_reads_back_as_the_document_that_loads_it(session):
    rule = load_lien_rule(session, CLERK, RULE)
    again = parse_lien_rule(rule_to_document(rule))
    assert again["days_after_delinquency"] == 60 and again["cost_per_parcel_cents"] == 1500
    assert lien_rule_on(session, date(2026, 6, 1)).id == rule.id
    assert lien_rule_on(session, date(2025, 12, 31)) is None


def test_the_sale_list_holds_the_parcels_late_enough_with_the_positions_amounts(session, town):
    found = sale_list(session, SALE, today=TODAY)
    listed = {entry.parcel_number: entry for entry in found.entries}
    assert set(listed) == {"P-100", "P-200", "P-400"}
    for number, entry in listed.items():
        position = account_position(session, town[number].id, TODAY)
        assert entry.amount_cents == position.past_due_cents(TAX)
        assert entry.cost_cents == 1500 and entry.tax_years == "2025"
    assert dict(found.left_off) == {"P-300": "exemption senior-deferral keeps it off the sale"}
    # NOTE: on September 1 the second installment (due July 31) is 32 days late, not 60.
    september = {
        e.parcel_number: e for e in sale_list(session, date(2026, 9, 1), today=TODAY).entries
    }
    assert set(september) == {"P-100", "P-200"}
    assert september["P-100"].amount_cents < listed["P-100"].amount_cents


def test_a_parcel_owing_less_than_the_least_amount_is_left_off_with_the_reason(session, town):
    load_lien_rule(session, CLERK, {**RULE, "effective": "2026-06-01", "min_amount": "99999.00"})
    found = sale_list(session, SALE, today=TODAY)
    assert found.entries == []
    assert "less than the least amount sold, $99,999.00" in dict(found.left_off)["P-100"]


def test_a_sale_before_the_rule_allows_is_refused_with_the_reason(session, town):
    with pytest.raises(
        LienError, match="before the rule allows a sale .the earliest is 2026-04-02"
    ):
        sale_list(session, date(2026, 3, 1), today=TODAY)
    load_lien_rule(
        session, CLERK, {**RULE, "effective": "2026-06-01", "sale": {"on": "2027-06-01"}}
    )
    with pytest.raises(LienError, match="earliest is 2027-06-01"):
        certify_sale(session, CLERK, SALE, today=TODAY)
    assert session.scalar(sa.select(sa.func.count()).select_from(LienSale)) == 0


def test_certifying_freezes_one_lien_per_parcel_and_a_second_time_is_refused(session, town):
    sale = certify_sale(session, CLERK, SALE, today=TODAY)
    assert sale.list_id == "LS-2027-01-15" and sale.parcel_count == 3
    liens = session.scalars(sa.select(Lien).order_by(Lien.id)).all()
    assert {lien.parcel.parcel_number for lien in liens} == {"P-100", "P-200", "P-400"}
    assert all(lien.status == LienStatus.UNDER_LIEN and lien.sale_date == SALE for lien in liens)
    assert sale.total_cents == sum(lien.amount_cents for lien in liens)
    audit = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "lien_sale.certify"))
    assert audit.summary["parcels"] == 3
    with pytest.raises(LienError, match="already certified .list LS-2027-01-15"):
        certify_sale(session, CLERK, SALE, today=TODAY)
    assert session.scalar(sa.select(sa.func.count()).select_from(Lien)) == 3
    later = sale_list(session, date(2027, 6, 1), today=TODAY)
    assert later.entries == [] and "already under lien" in dict(later.left_off)["P-100"]


def test_a_parcel_paid_before_certification_drops_off_the_list(session, town):
    owed = account_position(session, town["P-200"].id, TODAY).past_due_cents(TAX)
    pay(session, town["P-200"], owed, TODAY)
    sale = certify_sale(session, CLERK, SALE, today=TODAY)
    assert "P-200" not in {lien.parcel.parcel_number for lien in sale.liens}


def test_the_sale_file_has_a_header_a_detail_per_parcel_and_a_trailer_that_add_up(session, town):
    sale = certify_sale(session, CLERK, SALE, today=TODAY)
    records = list(csv.reader(io.StringIO(sale_text(sale))))
    header, *details, trailer = records
    assert header == ["H", "LS-2027-01-15", "2027-01-15", "2026-12-06", "Y", "MB-LIEN-1"]
    assert [d[0] for d in details] == ["D"] * 3 and [d[1] for d in details] == ["1", "2", "3"]
    assert [d[2] for d in details] == ["P-100", "P-200", "P-400"]
    for record in details:
        principal, charges, amount, cost, total = (int(x.replace(".", "")) for x in record[8:13])
        assert principal + charges == amount and amount + cost == total and cost == 1500
    assert trailer[0] == "T" and trailer[1] == "3"
    assert int(trailer[4].replace(".", "")) == sale.total_cents
    assert int(trailer[6].replace(".", "")) == sale.total_cents + 3 * 1500


def test_online_payment_of_a_parcel_under_lien_is_refused_and_nothing_is_recorded(session, town):
    certify_sale(session, CLERK, SALE, today=TODAY)
    account = town["P-100"]
    invoice = tax_invoice(session, account)
    assert "a tax lien was sold on parcel P-100 on 2027-01-15" in online_payment_refusal(
        session, [invoice.id]
    )
    before = session.scalar(sa.select(sa.func.count()).select_from(Payment))
    with pytest.raises(PaymentRefused, match="cannot be paid online"):
        pay(session, account, 5000, TODAY, channel=Channel.ONLINE, actor=RESIDENT)
    with pytest.raises(PaymentRefused, match="cannot be paid online"):
        pay(session, account, 5000, TODAY, channel=Channel.ONLINE, invoices=[], actor=RESIDENT)
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment)) == before
    # NOTE: a clerk's card page is the counter: staff may take the card.
    assert pay(session, account, 5000, TODAY, channel=Channel.ONLINE, actor=CLERK).amount_cents


def test_the_counter_takes_the_redemption_and_the_lien_is_redeemed_when_paid_in_full(session, town):
    certify_sale(session, CLERK, SALE, today=TODAY)
    account = town["P-100"]
    lien = session.scalar(sa.select(Lien).where(Lien.account_id == account.id))
    drawer = open_drawer(session, CLERK)
    number = tax_invoice(session, account).number

    def counter(cents):
        return take_counter_payment(
            session,
            CLERK,
            drawer=drawer,
            account=account,
            amount_cents=cents,
            tender=Tender.CASH,
            reference=None,
            invoice_numbers=[number],
            on=TODAY,
        )

    counter(1000)
    session.refresh(lien)
    assert lien.status == LienStatus.UNDER_LIEN
    counter(lien.amount_cents - 1000)
    session.refresh(lien)
    assert lien.status == LienStatus.REDEEMED and lien.redeemed_on == TODAY
    assert session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "lien.redeem"))
    assert online_payment_refusal(session, [tax_invoice(session, account).id]) is None


def test_the_api_certifies_once_and_shows_the_lien_on_the_parcel_and_the_account(
    app, client, api_headers
):
    from core.extensions import db

    with app.app_context():
        town = delinquent_town(db.session)
        db.session.commit()
        number = town["P-100"].number
    clerk, auditor = api_headers("clerk"), api_headers("auditor")
    preview = client.get("/api/v1/tax/lien-sales/preview?sale_date=2027-01-15", headers=auditor)
    assert preview.status_code == 200 and preview.text.startswith("H,PREVIEW,2027-01-15")
    early = client.post("/api/v1/tax/lien-sales", json={"sale_date": "2026-03-01"}, headers=clerk)
    assert early.status_code == 422 and "before the rule allows" in early.text
    made = client.post("/api/v1/tax/lien-sales", json={"sale_date": "2027-01-15"}, headers=clerk)
    assert made.status_code == 201, made.text
    assert made.get_json()["parcel_count"] == 3
    again = client.post("/api/v1/tax/lien-sales", json={"sale_date": "2027-01-15"}, headers=clerk)
    assert again.status_code == 422 and "already certified" in again.text
    parcel = client.get("/api/v1/tax/parcels/P-100/liens", headers=auditor).get_json()
    assert [(x["list_id"], x["status"]) for x in parcel] == [("LS-2027-01-15", "under_lien")]
    balance = client.get(f"/api/v1/accounts/{number}/balance", headers=auditor).get_json()
    assert balance["liens"][0]["parcel_number"] == "P-100"
    sheet = client.get("/api/v1/tax/lien-sales/LS-2027-01-15.csv", headers=auditor)
    assert sheet.text.startswith("H,LS-2027-01-15,2027-01-15")


def test_a_tax_notice_of_a_parcel_under_lien_prints_the_lien_in_the_owners_words(
    app, session, town, tmp_path
):
    import subprocess

    from notices import content
    from notices.document import NoticeKind
    from notices.render import render

    certify_sale(session, CLERK, SALE, today=TODAY)
    invoice = tax_invoice(session, town["P-100"])
    document = content.bill(session, app.config, invoice, NoticeKind.PAST_DUE, on=TODAY)
    path = tmp_path / "notice.pdf"
    path.write_bytes(render(document))
    text = " ".join(
        subprocess.run(
            ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert "A tax lien was sold on parcel P-100 on January 15, 2027." in text
    assert "it cannot be paid online" in text
    other = content.bill(session, app.config, tax_invoice(session, town["P-300"]), on=TODAY)
    assert not any("tax lien" in line for line in other.messages)

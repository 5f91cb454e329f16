"""Cook County's estimated first installment (35 ILCS 200/21-30), posted: 55% of each parcel's
prior-year tax billed before the year's levies are known, the year's bill the actual tax less
the estimate, an estimate above the tax taken back (what was paid of it as account credit), the
ledger balanced by levy, penalties from each installment's own due date, and the worked example
of docs/tax.md to the cent."""

from __future__ import annotations

import copy
from datetime import date

import pytest
import sqlalchemy as sa
import yaml

from accounts.models import Parcel, ParcelValuation
from accounts.services import create_account
from billing.adjustments import AdjustmentError, recompute_and_reissue, void_invoice
from billing.computed import RuleError
from billing.levy_format import parse_levy
from billing.models import CreditMemo, Invoice, InvoiceKind, InvoiceStatus
from billing.penalty_service import assess_penalties
from billing.position import TAX, account_position
from billing.rules import load_levy, load_penalty_rules
from billing.runs import RunError, RunOptions, open_run, post_run
from core.audit import Actor
from core.extensions import db
from ledger import chart
from ledger.balances import account_credit, account_receivable, gl_balance
from tests.billing.billing_fixtures import KEY
from tests.billing.test_tax import EXAMPLES
from tests.billing.test_tax_bills_posted import journal, pay
from tests.conftest import account_data

LOADER = Actor.system("test loader")
COOK_2022 = EXAMPLES / "illinois_chicago_2022.yaml"
COOK_2023 = EXAMPLES / "illinois_chicago_2023_estimated.yaml"
PENALTIES = EXAMPLES.parent / "penalty_examples" / "illinois_property_tax.yaml"


def document(path=COOK_2023) -> dict:
    """A levy example file as a document."""
    return yaml.safe_load(path.read_text())


def owner(session, number: str, market: int, klass="residential", flags=(), years=(2022, 2023)):
    """An owner and a Chicago parcel, valued at `market` cents for each of `years`."""
    account, _code = create_account(
        session, LOADER, account_data(holder_name=f"Owner of {number}"), code_key=KEY
    )
    session.add(
        Parcel(
            parcel_number=number,
            situs_street="5400 N Lakewood Ave",
            situs_city="Chicago",
            situs_zip="60640",
            property_class=klass,
            owner_account=account,
            exemption_flags=list(flags),
            valuations=[ParcelValuation(tax_year=y, market_value_cents=market) for y in years],
        )
    )
    session.flush()
    return account


def run(session, cycle: str, issue=date(2024, 7, 1), due=date(2024, 8, 1)) -> dict:
    """Open and post a tax run."""
    opened = open_run(
        session, LOADER, kind=InvoiceKind.TAX, cycle=cycle, issue_date=issue, due_date=due
    )
    return post_run(session, opened, LOADER, RunOptions())


def bill_2022(session) -> None:
    """The 2022 levy (example 5) and its bills, each paid on time."""
    load_levy(session, LOADER, document(COOK_2022))
    run(session, "2022", date(2023, 11, 1), date(2023, 12, 1))
    for invoice in session.scalars(sa.select(Invoice)).all():
        pay(session, invoice.account, invoice.total_cents, date(2023, 11, 20))


def bills(session, account, *, estimated: bool) -> list[Invoice]:
    """The account's live 2023 bills, the estimates or the year's own."""
    return session.scalars(
        sa.select(Invoice).where(
            Invoice.account_id == account.id,
            Invoice.period_start == date(2023, 1, 1),
            Invoice.estimated.is_(estimated),
            Invoice.status != InvoiceStatus.VOID,
        )
    ).all()


@pytest.fixture
def chicago(session):
    """Example 13's town (chicago_town)."""
    return chicago_town(session)


def chicago_town(session):
    """Example 13's parcels billed for 2022, the 2023 levy loaded and its estimate posted."""
    parcels = {
        "home": owner(session, "14-08-203-001-0000", 300_000_00, flags=["homestead"]),
        "senior": owner(session, "14-08-203-002-0000", 300_000_00, flags=["homestead", "senior"]),
        "appealed": owner(session, "14-08-203-003-0000", 1_000_000_00, "commercial"),
        "new": owner(session, "14-08-203-004-0000", 300_000_00, flags=["homestead"], years=[2023]),
    }
    bill_2022(session)
    # NOTE: the Board of Review cut the building's 2023 value to $400,000 on appeal.
    appealed = session.scalar(
        sa.select(ParcelValuation)
        .join(Parcel)
        .where(Parcel.parcel_number == "14-08-203-003-0000", ParcelValuation.tax_year == 2023)
    )
    appealed.market_value_cents = 400_000_00
    load_levy(session, LOADER, document())
    report = run(session, "2023-estimate")
    return parcels, report


def test_the_estimate_is_55_percent_of_each_parcels_2022_tax_to_the_cent(session, chicago):
    parcels, report = chicago
    expected = {"home": 3_006_83, "senior": 2_697_29, "appealed": 28_281_31}
    for name, cents in expected.items():
        (invoice,) = bills(session, parcels[name], estimated=True)
        assert invoice.total_cents == cents
        assert [(i.number, i.due_date, i.amount_cents) for i in invoice.installments] == [
            (1, date(2024, 3, 1), cents)
        ]
        assert invoice.issue_date == date(2024, 1, 31)
    (line,) = bills(session, parcels["home"], estimated=True)[0].lines
    assert line.description == "Estimated at 55% of 2022 tax of $5,466.97"
    assert report["invoices"] == 3
    assert report["exception_counts"] == {"no_prior_tax": 1}


def test_a_parcel_with_no_2022_tax_gets_no_estimate_and_its_2023_bill_is_its_whole_tax(
    session, chicago
):
    parcels, _report = chicago
    assert bills(session, parcels["new"], estimated=True) == []
    run(session, "2023")
    (second,) = bills(session, parcels["new"], estimated=False)
    assert second.total_cents == 5_630_21
    assert [(i.number, i.amount_cents) for i in second.installments] == [(2, 5_630_21)]


def test_the_estimate_credits_the_estimated_tax_account_not_the_jurisdictions(session, chicago):
    parcels, _report = chicago
    (invoice,) = bills(session, parcels["home"], estimated=True)
    assert journal(session, "invoice", invoice.number) == {
        (chart.TAX_RECEIVABLE, True): 3_006_83,
        (chart.ESTIMATED_TAX, False): -3_006_83,
    }
    assert gl_balance(session, chart.ESTIMATED_TAX) == 3_006_83 + 2_697_29 + 28_281_31


def test_the_second_installment_is_the_2023_tax_less_the_estimate_billed(session, chicago):
    parcels, _report = chicago
    pay(session, parcels["home"], 1_000_00, date(2024, 2, 20))  # part of the estimate
    run(session, "2023")
    (second,) = bills(session, parcels["home"], estimated=False)
    lines = [(line.source, line.amount_cents) for line in second.lines]
    assert lines == [
        ("levy:2023:chicago-composite", 5_630_21),
        ("estimate:2023:deducted", -3_006_83),
    ]
    assert second.total_cents == 2_623_38
    assert [(i.number, i.due_date, i.amount_cents) for i in second.installments] == [
        (2, date(2024, 8, 1), 2_623_38)
    ]
    # Deducted is what the estimate billed, not what was paid: $2,006.83 of it is still owed.
    position = account_position(session, parcels["home"].id, date(2024, 7, 1))
    assert position.owed_cents(TAX, 2023) == 5_630_21 - 1_000_00
    assert account_receivable(session, parcels["home"].id) == 5_630_21 - 1_000_00
    (senior,) = bills(session, parcels["senior"], estimated=False)
    assert senior.total_cents == 5_070_61 - 2_697_29


def test_after_both_bills_each_jurisdiction_holds_its_actual_tax_and_the_estimate_account_zero(
    session, chicago
):
    parcels, _report = chicago
    pay(session, parcels["appealed"], 28_281_31, date(2024, 2, 27))
    run(session, "2023")
    liability = session.scalar(
        sa.text(
            "SELECT g.code FROM taxing_jurisdiction j JOIN gl_account g "
            "ON g.id = j.liability_gl_id WHERE j.code = 'chicago-composite'"
        )
    )
    tax_2022 = 5_466_97 + 4_904_17 + 51_420_57
    tax_2023 = 5_630_21 + 5_070_61 + 21_099_02 + 5_630_21
    assert gl_balance(session, liability) == tax_2022 + tax_2023
    assert gl_balance(session, chart.ESTIMATED_TAX) == 0
    for name in parcels:
        for invoice in bills(session, parcels[name], estimated=False):
            assert sum(journal(session, "invoice", invoice.number).values()) == 0


def test_an_estimate_paid_above_the_years_tax_becomes_account_credit(session, chicago):
    parcels, _report = chicago
    account = parcels["appealed"]
    pay(session, account, 28_281_31, date(2024, 2, 27))  # the estimate, paid in full
    run(session, "2023")
    (second,) = bills(session, account, estimated=False)
    assert second.total_cents == 0
    assert [(i.number, i.amount_cents) for i in second.installments] == [(2, 0)]
    assert [(line.source, line.amount_cents) for line in second.lines] == [
        ("levy:2023:chicago-composite", 21_099_02),
        ("estimate:2023:deducted", -21_099_02),
    ]
    # The owner paid $28,281.31 for a year whose tax is $21,099.02: $7,182.29 is theirs.
    assert account_receivable(session, account.id) == 0
    assert account_credit(session, account.id) == 7_182_29
    position = account_position(session, account.id, date(2024, 7, 1))
    assert position.owed_cents(TAX, 2023) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(CreditMemo)) == 0


def test_an_unpaid_estimate_above_the_years_tax_is_cut_to_the_tax(session, chicago):
    parcels, _report = chicago
    account = parcels["appealed"]
    pay(session, account, 25_000_00, date(2024, 2, 27))
    run(session, "2023")
    (first,) = bills(session, account, estimated=True)
    memo = session.scalar(sa.select(CreditMemo).where(CreditMemo.invoice_id == first.id))
    assert memo.amount_cents == 28_281_31 - 25_000_00  # what it still owed, cancelled
    assert first.balance_cents == 0 and first.status == InvoiceStatus.PAID
    # Paid $25,000.00 of a $21,099.02 tax: $3,900.98 of credit.
    assert account_receivable(session, account.id) == 0
    assert account_credit(session, account.id) == 25_000_00 - 21_099_02
    assert gl_balance(session, chart.ESTIMATED_TAX) == 0  # every estimate cleared


def test_penalties_run_from_each_installments_own_due_date(session, chicago):
    parcels, _report = chicago
    load_penalty_rules(session, LOADER, yaml.safe_load(PENALTIES.read_text()))
    account = parcels["home"]
    assess_penalties(session, LOADER, rounding="half_up", as_of=date(2024, 3, 1))
    assert account_position(session, account.id, date(2024, 3, 1)).owed_cents() == 3_006_83
    assess_penalties(session, LOADER, rounding="half_up", as_of=date(2024, 3, 2))
    (first,) = bills(session, account, estimated=True)
    assert [(c.installment_number, c.amount_cents) for c in first.charges] == [(1, 45_10)]
    run(session, "2023")
    assess_penalties(session, LOADER, rounding="half_up", as_of=date(2024, 8, 2))
    (second,) = bills(session, account, estimated=False)
    # 1.5% of $2,623.38 from August 2; the first installment's months go on (March 2 to
    # August 2: six months, 9% of $3,006.83 = $270.6147, rounded cumulatively).
    assert [(c.installment_number, c.amount_cents) for c in second.charges] == [(2, 39_35)]
    session.refresh(first)
    assert sum(c.amount_cents for c in first.charges) == 270_61


def test_an_estimate_run_for_a_year_whose_prior_year_was_never_billed_is_refused(session):
    owner(session, "14-08-203-001-0000", 300_000_00, flags=["homestead"])
    load_levy(session, LOADER, document())
    with pytest.raises(RunError, match=r"^cycle: tax year 2022 was never billed"):
        run(session, "2023-estimate")
    assert session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 0


def test_the_years_run_waits_for_an_open_estimate_run_and_an_estimate_after_it_is_refused(
    session,
):
    owner(session, "14-08-203-001-0000", 300_000_00, flags=["homestead"])
    bill_2022(session)
    load_levy(session, LOADER, document())
    open_run(
        session,
        LOADER,
        kind=InvoiceKind.TAX,
        cycle="2023-estimate",
        issue_date=date(2024, 1, 31),
        due_date=date(2024, 3, 1),
    )
    with pytest.raises(RunError, match=r"^cycle: the 2023 estimate run is \w+; post it first"):
        run(session, "2023")
    session.rollback()


def test_the_levy_can_take_its_final_rates_after_the_estimate_but_not_a_new_estimate(
    session, chicago
):
    final = document()
    final["levies"][0]["rate"] = "7.001"
    load_levy(session, LOADER, final)  # the rates are set after the estimate is mailed
    changed = copy.deepcopy(final)
    changed["estimated_first_installment"]["percent"] = "50"
    with pytest.raises(RuleError, match="^estimated_first_installment: 3 estimated"):
        load_levy(session, LOADER, changed)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"percent": "0"}, r'^estimated_first_installment.percent: "0" must be more than 0'),
        ({"percent": "100.5"}, r"estimated_first_installment.percent: .* at most 100"),
        ({"percent": 55.0}, r"^estimated_first_installment.percent: 55.0 is a float"),
        (
            {"due": "2024-08-01"},
            r"^estimated_first_installment.due: 2024-08-01 is not before the second "
            r"installment's due date 2024-08-01",
        ),
        (
            {"due": "2024-09-01"},
            r"^estimated_first_installment.due: 2024-09-01 is not before the second",
        ),
        (
            {"issue": "2024-03-02"},
            r"^estimated_first_installment.due: 2024-03-01 is before the issue date",
        ),
        ({"share": "55"}, r"^estimated_first_installment: unknown key \"share\""),
    ],
)
def test_a_bad_estimate_is_refused_naming_its_place(change, message):
    bad = document()
    bad["estimated_first_installment"] |= change
    with pytest.raises(RuleError, match=message):
        parse_levy(bad)


def test_an_estimate_with_two_more_installments_or_with_discounts_is_refused():
    bad = document()
    bad["installments"] = [{"due": "2024-08-01"}, {"due": "2024-10-01"}]
    with pytest.raises(RuleError, match=r"^installments: with an estimated first installment"):
        parse_levy(bad)
    bad = document()
    bad["discounts"] = [{"pay_by": "2024-07-01", "percent": "1"}]
    bad["discount_account"] = "4900"
    with pytest.raises(RuleError, match=r"^discounts: a year with an estimated first"):
        parse_levy(bad)


def test_a_clerk_runs_the_estimate_through_the_api_with_the_levys_dates(app, client, api_headers):
    headers = api_headers("clerk")
    request = {
        "kind": "tax",
        "cycle": "2023-estimate",
        "issue_date": "2024-01-15",
        "due_date": "2024-02-15",
    }
    with app.app_context():
        owner(db.session, "14-08-203-001-0000", 300_000_00, flags=["homestead"])
        load_levy(db.session, LOADER, document())
        db.session.commit()
    refused = client.post("/api/v1/billing-runs", json=request, headers=headers)
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["cycle"][0].startswith(
        "cycle: tax year 2022 was never billed"
    )
    with app.app_context():
        bill_2022(db.session)
        db.session.commit()
    preview = client.post("/api/v1/billing-runs", json=request, headers=headers).get_json()
    assert preview["report"]["invoices"] == 1 and preview["report"]["total_cents"] == 3_006_83
    assert (preview["issue_date"], preview["due_date"]) == ("2024-01-31", "2024-03-01")
    posted = client.post(f"/api/v1/billing-runs/{preview['id']}/post", headers=headers)
    assert posted.get_json()["invoices_posted"] == 1
    with app.app_context():
        invoice = db.session.scalar(sa.select(Invoice).where(Invoice.estimated.is_(True)))
        assert (invoice.total_cents, invoice.due_date) == (3_006_83, date(2024, 3, 1))


def test_the_estimate_runs_from_the_command_line(app, runner):
    with app.app_context():
        owner(db.session, "14-08-203-001-0000", 300_000_00, flags=["homestead"])
        bill_2022(db.session)
        load_levy(db.session, LOADER, document())
        db.session.commit()
    args = ["billing", "run", "--kind", "tax", "--cycle", "2023-estimate"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "Posted: 1 invoices in this run, $3,006.83." in result.output
    with app.app_context():
        invoice = db.session.scalar(sa.select(Invoice).where(Invoice.estimated.is_(True)))
        assert (invoice.issue_date, invoice.due_date) == (date(2024, 1, 31), date(2024, 3, 1))


def test_a_voided_estimate_is_not_recomputed_as_the_years_full_bill(session, chicago):
    parcels, _report = chicago
    (first,) = bills(session, parcels["home"], estimated=True)
    void_invoice(session, LOADER, first, reason="mailed to the wrong owner", on=date(2024, 2, 2))
    with pytest.raises(AdjustmentError, match="is an estimated first installment"):
        recompute_and_reissue(
            session,
            LOADER,
            first,
            issue_date=date(2024, 2, 5),
            due_date=date(2024, 3, 1),
            rounding="half_up",
            spike_multiple=3,
        )

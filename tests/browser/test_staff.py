"""Clerks and auditors in Chromium: a clerk finds an account, takes a counter payment and
prints its receipt; a clerk resolves a reconciliation item; every staff page is
photographed (test-artifacts/staff/)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from billing.models import Invoice, InvoiceStatus
from core.extensions import db
from core.models import JobStatus
from core.scheduling import find, run_entry
from ledger.balances import account_receivable
from ledger.verify import verify_chain
from payments.gateway import StripeGateway
from payments.models import Payment, PaymentStatus, ReconciliationItem, ReconciliationStatus
from scheduler import SCHEDULE
from tests.billing.billing_fixtures import bill_households
from tests.browser.conftest import ARTIFACTS, Browsing
from tests.browser.test_pay import sign_in_and_open
from tests.portal.test_bill import pay_and_settle

pytestmark = pytest.mark.slow


def shot(browsing: Browsing, name: str) -> None:
    """The whole page at 1280 px, as test-artifacts/staff/<name>.png."""
    folder = ARTIFACTS / "staff"
    folder.mkdir(parents=True, exist_ok=True)
    browsing.page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_a_clerk_finds_an_account_takes_cash_at_the_counter_and_prints_the_receipt(
    live_app, browsing, clerk
):
    (billed,) = bill_households(live_app.app, "olson")
    page = browsing.page
    sign_in_and_open(browsing, "/staff/accounts/", clerk)
    page.get_by_label("Account number, name, e-mail, address or parcel id").fill("olson")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name=billed.number).click()
    expect(page.get_by_role("heading", name=f"Account {billed.number}")).to_be_visible()
    shot(browsing, "account")

    page.goto(f"{browsing.url}/staff/counter/")
    page.get_by_label("Opening float").fill("100.00")
    page.get_by_role("button", name="Open my drawer").click()
    # NOTE: the form that takes a bill's payment, not the payoff quote's below it.
    take = page.locator("form").filter(has=page.get_by_role("heading", name="Take a payment"))
    take.get_by_label("Account number").fill(billed.number)
    amount = f"{billed.owed_cents // 100}.{billed.owed_cents % 100:02d}"
    take.get_by_label("Amount").fill(amount)
    take.get_by_label("Paid with").select_option("cash")
    take.get_by_role("button", name="Take the payment").click()
    expect(page.get_by_role("status").filter(has_text="Receipt R-")).to_be_visible()
    shot(browsing, "counter")
    with page.expect_download() as download:
        page.get_by_role("link", name="(PDF)").first.click(modifiers=["Alt"])
    path = download.value.path()
    assert path is not None and Path(path).read_bytes().startswith(b"%PDF")
    with live_app.app.app_context():
        status = db.session.scalar(
            sa.select(Invoice.status).where(Invoice.number == billed.invoice_number)
        )
        assert status == InvoiceStatus.PAID
    page.get_by_label("Counted cash").fill(
        f"{(billed.owed_cents + 10000) // 100}.{billed.owed_cents % 100:02d}"
    )
    page.get_by_role("button", name="Close my drawer").click()
    expect(page.get_by_role("status").filter(has_text="the counts match")).to_be_visible()
    assert browsing.errors == []


def test_a_clerk_resolves_a_reconciliation_item_and_staff_pages_render(live_app, browsing, clerk):
    (billed,) = bill_households(live_app.app, "olson")
    pay_and_settle(live_app.app, billed.number, 2500)
    with StripeGateway.from_config(live_app.app.config) as gateway:
        orphan = gateway.create_payment_intent(
            amount_cents=4200,
            currency="usd",
            customer_id=None,
            metadata={"account_number": billed.number},
            idempotency_key="orphan",
            payment_method="pm_card_visa",
            confirm=True,
        )
    run = run_entry(live_app.app, find(SCHEDULE, "reconcile_stripe"))
    assert run.status == JobStatus.SUCCEEDED and run.counts["flagged"] == 1, run.error
    page = browsing.page
    sign_in_and_open(browsing, "/staff/reconciliation/", clerk)
    shot(browsing, "reconciliation")
    page.get_by_role("link", name="#1").click()
    expect(page.get_by_text(orphan.id).first).to_be_visible()
    page.get_by_label("Account number it was paid for").fill(billed.number)
    page.locator("form.action-record").get_by_label("Why").fill(
        "The resident paid by a link from an e-mail; the metadata names the account."
    )
    shot(browsing, "reconciliation-item")
    page.get_by_role("button", name="Record it as a payment of an account").click()
    expect(page.get_by_role("status").filter(has_text="is resolved")).to_be_visible()
    with live_app.app.app_context():
        item = db.session.scalar(sa.select(ReconciliationItem))
        assert (item.status, item.action) == (ReconciliationStatus.RESOLVED, "record")
        payment = db.session.scalar(
            sa.select(Payment).where(Payment.stripe_payment_intent_id == orphan.id)
        )
        assert payment.status == PaymentStatus.SUCCEEDED and payment.amount_cents == 4200
        owed = account_receivable(db.session, payment.account_id)
        assert owed == billed.owed_cents - 2500 - 4200
        assert verify_chain(db.session).ok
    for path, name in (
        ("/staff/", "home"),
        ("/staff/dashboard", "dashboard"),
        ("/staff/books/ledger", "ledger"),
        ("/staff/books/trial-balance", "trial-balance"),
        ("/staff/books/audit", "audit-log"),
        ("/staff/jobs", "job-runs"),
        ("/staff/notice-batches", "print-batches"),
        ("/staff/questions", "questions"),
        (f"/staff/accounts/{billed.number}/notices", "account-notices"),
        (f"/staff/accounts/{billed.number}/pay", "card-payment"),
        (f"/staff/accounts/{billed.number}/edit", "account-edit"),
        ("/staff/accounts/?q=olson", "account-search"),
        ("/staff/counter/", "counter-closed"),
        ("/staff/approvals/", "approvals-empty"),
        ("/staff/billing-runs/", "billing-runs"),
        ("/staff/books/exports", "exports-page"),
    ):
        response = page.goto(browsing.url + path)
        assert response.status == 200, path
        shot(browsing, name)
    assert browsing.errors == []


def test_an_auditor_downloads_the_ledger_as_csv_and_xlsx_and_the_csv_verifies(
    live_app, browsing, make_staff, tmp_path
):
    import zipfile

    from ledger.export_verify import verify_export

    (billed,) = bill_households(live_app.app, "olson")
    pay_and_settle(live_app.app, billed.number, 2500)
    page = browsing.page
    sign_in_and_open(browsing, "/staff/books/exports", make_staff("auditor"))
    shot(browsing, "exports")
    for fmt in ("CSV", "XLSX"):
        with page.expect_download() as download:
            page.get_by_role("link", name=f"ledger as {fmt}").click()
        target = tmp_path / fmt
        with zipfile.ZipFile(download.value.path()) as archive:
            archive.extractall(target)
        assert sorted(p.name for p in target.iterdir()) == [
            f"ledger.{fmt.lower()}",
            f"ledger.{fmt.lower()}.manifest.json",
        ]
    csv_file = tmp_path / "CSV" / "ledger.csv"
    assert verify_export(csv_file).ok
    data = bytearray(csv_file.read_bytes())
    data[-5] = ord("0") if data[-5] != ord("0") else ord("1")  # one byte of the last hash
    csv_file.write_bytes(bytes(data))
    assert not verify_export(csv_file).ok
    assert browsing.errors == []


def test_a_clerk_posts_a_billing_run_from_uploaded_readings(live_app, browsing, clerk, tmp_path):
    from tests.console.test_runs import town

    town(live_app.app)
    readings = tmp_path / "readings.csv"
    readings.write_text(
        "meter_id,read_on,reading\nW-olson,2026-10-31,18400\nW-nguyen,2026-10-31,9000\n"
    )
    page = browsing.page
    sign_in_and_open(browsing, "/staff/billing-runs/", clerk)
    page.get_by_label("Readings file").set_input_files(str(readings))
    page.get_by_role("button", name="Load the readings").click()
    expect(page.get_by_role("status").filter(has_text="Readings loaded: 2 rows")).to_be_visible()
    page.get_by_label("Kind", exact=True).select_option("utility")
    page.get_by_role("textbox", name="Cycle").fill("2026-10")
    page.get_by_label("Issue date").fill("2026-11-02")
    page.get_by_label("Due date").fill("2026-11-23")
    page.get_by_role("button", name="Preview the cycle").click()
    expect(page.get_by_role("heading", name="Billing run 1: utility 2026-10")).to_be_visible()
    shot(browsing, "billing-run-preview")
    # posted in the background while the page follows its progress, then shows the report
    with page.expect_request(lambda request: request.url.endswith("/progress")):
        page.get_by_role("button", name="Post this run").click()
    expect(page.get_by_role("status").filter(has_text="posted: 2 invoices")).to_be_visible()
    shot(browsing, "billing-run-report")
    with live_app.app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Invoice.id))) == 2
    assert browsing.errors == []


def test_a_supervisor_approves_the_refund_a_clerk_asked_for(
    live_app, browsing, make_staff, browser
):
    from tests.browser.conftest import open_context
    from tests.console.test_approvals import counter_payment

    (billed,) = bill_households(live_app.app, "olson")
    payment_id = counter_payment(live_app.app, billed.number, 5000)
    page = browsing.page
    sign_in_and_open(browsing, f"/staff/accounts/{billed.number}", make_staff("clerk"))
    page.get_by_label("What", exact=True).select_option("refund")
    page.get_by_label("On", exact=True).select_option(f"payment:{payment_id}")
    page.get_by_label("Amount (refunds and credit memos)").fill("20.00")
    page.get_by_label("Why").fill("Paid twice by mistake at the counter.")
    page.get_by_role("button", name="Ask a supervisor").click()
    expect(
        page.get_by_role("status").filter(has_text="is waiting for a supervisor")
    ).to_be_visible()
    supervisor, context = open_context(browser, browsing.url)
    sign_in_and_open(supervisor, "/staff/approvals/", make_staff("supervisor"))
    shot(supervisor, "approvals")
    supervisor.page.get_by_role("button", name="Approve request 1").click()
    expect(
        supervisor.page.get_by_role("status").filter(has_text="approved: refund")
    ).to_be_visible()
    with live_app.app.app_context():
        from payments.models import Refund

        assert db.session.scalar(sa.select(Refund.amount_cents)) == 2000
    assert browsing.errors == [] and supervisor.errors == []
    context.close()

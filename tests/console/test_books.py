"""The auditor's books: the journal by date, GL account and source; the trial balance as of
any date; the audit log with filters. All read only."""

from __future__ import annotations

import re
from html import unescape

from tests.billing.billing_fixtures import bill_households
from tests.portal.test_bill import pay_and_settle


def test_the_ledger_pages_show_each_entry_balanced_with_its_source_and_actor(app, signed_in):
    (billed,) = bill_households(app, "olson")
    pay_and_settle(app, billed.number, 2500)
    auditor = signed_in("auditor")
    page = unescape(auditor.get("/staff/books/ledger").text)
    assert f"invoice {billed.invoice_number}" in page
    assert "payment" in page and "$25.00" in page
    only_payments = unescape(auditor.get("/staff/books/ledger?source=payment").text)
    assert f"invoice {billed.invoice_number}" not in only_payments and "$25.00" in only_payments
    stripe = unescape(auditor.get("/staff/books/ledger?gl=1020").text)
    assert "1020 Stripe clearing" in stripe and f"invoice {billed.invoice_number}" not in stripe
    later = auditor.get("/staff/books/ledger?from=2030-01-01").text
    assert "No entry matches." in later
    assert auditor.get("/staff/books/ledger?from=yesterday").status_code == 400


def test_the_trial_balance_as_of_any_date_balances(app, signed_in):
    (billed,) = bill_households(app, "olson")
    auditor = signed_in("auditor")
    page = auditor.get("/staff/books/trial-balance?as_of=2026-11-30").text
    assert "Debits equal credits." in page
    totals = re.search(r"Totals</th><td class=\"num\">([^<]+)</td><td class=\"num\">([^<]+)<", page)
    assert totals and totals.group(1) == totals.group(2) != "$0.00"
    before = auditor.get("/staff/books/trial-balance?as_of=2026-10-01").text
    assert "Nothing posted by then." in before


def test_the_audit_log_filters_by_action_and_time(app, signed_in):
    bill_households(app, "olson")
    auditor = signed_in("auditor")
    page = auditor.get("/staff/books/audit?action=account.").text
    assert "account.create" in page and "user.login" not in page
    logins = auditor.get("/staff/books/audit?action=user.login").text
    assert "user.login" in logins
    assert "No event matches." in auditor.get("/staff/books/audit?since=2099-01-01").text
    assert auditor.get("/staff/books/audit?until=soon").status_code == 400


def test_an_auditor_downloads_an_export_with_its_manifest_and_it_verifies(app, signed_in, tmp_path):
    import io
    import zipfile

    from ledger.export_verify import verify_export

    (billed,) = bill_households(app, "olson")
    pay_and_settle(app, billed.number, 2500)
    auditor = signed_in("auditor")
    assert "Exports for auditors" in auditor.get("/staff/books/exports").text
    for fmt in ("csv", "xlsx", "jsonl"):
        response = auditor.get(f"/staff/books/exports/ledger.zip?format={fmt}")
        assert response.status_code == 200 and response.mimetype == "application/zip"
        names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
        assert names == [f"ledger.{fmt}", f"ledger.{fmt}.manifest.json"]
    zipfile.ZipFile(io.BytesIO(auditor.get("/staff/books/exports/ledger.zip").data)).extractall(
        tmp_path
    )
    assert verify_export(tmp_path / "ledger.csv").ok
    data = (tmp_path / "ledger.csv").read_bytes().replace(b"2500", b"2600", 1)
    (tmp_path / "ledger.csv").write_bytes(data)
    assert not verify_export(tmp_path / "ledger.csv").ok
    assert auditor.get("/staff/books/exports/nothing.zip").status_code == 404
    assert auditor.get("/staff/books/exports/ledger.zip?format=pdf").status_code == 400

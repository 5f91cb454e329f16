"""The clerks' exception queue: apply a waiting check to an account chosen by hand, or return it;
once each, audited, from the console and the API; and the CLI that imports the files."""

from __future__ import annotations

import io

import sqlalchemy as sa

from billing.models import Invoice, InvoiceStatus
from core.extensions import db
from core.models import AuditEvent
from ledger import chart
from ledger.balances import account_credit, gl_balance
from ledger.verify import verify_chain
from payments.lockbox_queue import QueueRefused, apply_item, return_item
from payments.models import Payment, Receipt, RemittanceFile, RemittanceItem, RemittanceStatus
from tests.conftest import csrf_token
from tests.payments.lockbox_files import Check, bai
from tests.payments.test_lockbox import CLERK, DEPOSIT, TODAY, billed, take


def _queued(session, names=("olson", "berg")):
    """A file whose first check misreads its stub, and whose second check is short."""
    stubs = billed(session, list(names))
    (a1, i1, s1), (a2, i2, s2) = stubs
    misread = s1.scan_line[:5] + str((int(s1.scan_line[5]) + 3) % 10) + s1.scan_line[6:]
    checks = [
        Check(s1.amount_due_cents, misread, "5001"),
        Check(s2.amount_due_cents - 500, s2.scan_line, "5002"),
    ]
    take(session, bai(checks, DEPOSIT))
    session.commit()
    items = session.scalars(sa.select(RemittanceItem).order_by(RemittanceItem.sequence)).all()
    return stubs, items


def test_a_clerk_applies_a_misread_check_to_the_right_account_once(session):
    ((a1, i1, s1), _second), (misread, _short) = _queued(session)
    assert misread.reason == "bad_check_digit"
    held = gl_balance(session, chart.REMITTANCES_HELD)

    try:
        apply_item(
            session, CLERK, misread, account=a1, amount_cents=100, note="stub torn", on=TODAY
        )
    except QueueRefused as refused:
        assert refused.field == "amount_cents" and "apply all of it" in refused.message
    session.rollback()
    receipt = apply_item(
        session,
        CLERK,
        misread,
        account=a1,
        amount_cents=s1.amount_due_cents,
        note="stub torn; account number read from the check's memo line",
        on=TODAY,
    )
    session.commit()

    assert session.get(Invoice, i1.id).status == InvoiceStatus.PAID
    assert receipt.paid_on == TODAY and receipt.balance_after_cents == 0
    assert gl_balance(session, chart.REMITTANCES_HELD) == held - s1.amount_due_cents
    item = session.get(RemittanceItem, misread.id)
    assert (item.status, item.account_id, item.resolved_by) == (
        RemittanceStatus.APPLIED,
        a1.id,
        CLERK.label,
    )
    assert session.get(Payment, item.payment_id).tender_reference == "5001"
    event = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "remittance.apply"))
    assert event.summary["account"] == a1.number and "memo line" in event.summary["note"]
    try:
        apply_item(
            session,
            CLERK,
            item,
            account=a1,
            amount_cents=s1.amount_due_cents,
            note="second time",
            on=TODAY,
        )
        raise AssertionError("an applied item was applied again")
    except QueueRefused as refused:
        assert refused.field == "item"
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(Receipt)) == 1
    assert verify_chain(session).problem is None


def test_a_returned_check_is_owed_back_to_its_payer_and_leaves_the_bill_open(session):
    (_first, (a2, i2, s2)), (_misread, short) = _queued(session)
    assert short.reason == "amount_differs"
    returned = return_item(session, CLERK, short, note="payer asked for it back", on=TODAY)
    session.commit()
    assert returned.status == RemittanceStatus.RETURNED
    assert gl_balance(session, chart.REFUNDS_PAYABLE) == short.amount_cents
    assert session.get(Invoice, i2.id).status == InvoiceStatus.OPEN
    assert account_credit(session, a2.id) == 0
    assert (
        session.scalar(
            sa.select(AuditEvent.summary).where(AuditEvent.action == "remittance.return")
        )["amount_cents"]
        == short.amount_cents
    )


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _billed(app, names):
    """Households billed and committed; returns (account number, invoice id, stub) each."""
    with app.app_context():
        stubs = billed(db.session, names)
        db.session.commit()
        return [(a.number, i.id, s) for a, i, s in stubs]


def _upload(client, data: bytes, **form):
    page = client.get("/staff/lockbox/")
    fields = {"csrf_token": csrf_token(page.text), "layout": "bai-lockbox", **form}
    return client.post(
        "/staff/lockbox/import",
        data={**fields, "file": (io.BytesIO(data), "lb.txt")},
        content_type="multipart/form-data",
    )


def test_the_console_imports_a_file_and_a_clerk_works_its_queue(app, signed_in):
    (_n1, _i1, s1), (number2, _i2, s2) = _billed(app, ["olson", "berg"])
    data = bai(
        [
            Check(s1.amount_due_cents, s1.scan_line, "6001"),
            Check(s2.amount_due_cents + 100, s2.scan_line, "6002"),
        ],
        DEPOSIT,
    )
    client = signed_in("clerk")
    assert "Nothing is waiting" in client.get("/staff/lockbox/").text
    dry = _upload(client, data, dry_run="1")
    assert dry.status_code == 200 and "Checked, nothing taken" in dry.text
    assert "the check is not for the stub" in dry.text
    assert _count(app, RemittanceFile) == 0

    assert _upload(client, data).status_code == 303
    queue = client.get("/staff/lockbox/")
    assert "1 settled, 1 in the exception queue" in queue.text
    again = _upload(client, data)
    assert again.status_code == 422 and "already imported" in again.text
    with app.app_context():
        item = db.session.scalar(
            sa.select(RemittanceItem).where(RemittanceItem.status == RemittanceStatus.EXCEPTION)
        )
        item_id, cents = item.id, item.amount_cents
    assert f"/staff/lockbox/items/{item_id}" in queue.text
    shown = client.get(f"/staff/lockbox/items/{item_id}")
    assert "Apply to an account" in shown.text and "6002" in shown.text
    form = {
        "csrf_token": csrf_token(shown.text),
        "account": number2,
        "amount": f"{cents / 100:.2f}",
        "note": "overpaid by a dollar; keep as credit",
    }
    assert client.post(f"/staff/lockbox/items/{item_id}/apply", data=form).status_code == 303
    assert client.post(f"/staff/lockbox/items/{item_id}/apply", data=form).status_code == 409
    with app.app_context():
        account_id = db.session.scalar(
            sa.select(RemittanceItem.account_id).where(RemittanceItem.id == item_id)
        )
        assert account_credit(db.session, account_id) == 100
    assert _count(app, Payment) == 2


def test_the_api_imports_a_file_lists_the_queue_and_applies_an_item(app, client, api_headers):
    ((number, invoice_id, stub),) = _billed(app, ["olson"])
    data = bai([Check(stub.amount_due_cents - 1, stub.scan_line, "7001")], DEPOSIT)
    headers = {**api_headers("clerk"), "Content-Type": "application/octet-stream"}
    url = "/api/v1/lockbox/files?layout=bai-lockbox&filename=lb.txt"
    made = client.post(url, data=data, headers=headers)
    assert made.status_code == 201, made.json
    assert made.json["exceptions"][0]["reason"] == "amount_differs"
    again = client.post(url, data=data, headers=headers)
    assert again.status_code == 409 and "already imported" in again.json["errors"]["file"][0]
    cut = client.post(url, data=data[:-81], headers=headers)
    assert cut.status_code == 422 and "truncated" in cut.json["errors"]["file"][0]
    bad = client.post("/api/v1/lockbox/files?layout=no-such", data=data, headers=headers)
    assert bad.status_code == 422 and "layout" in bad.json["errors"]

    (item,) = client.get("/api/v1/lockbox/exceptions", headers=api_headers("auditor")).json
    body = {
        "account_number": number,
        "amount_cents": item["amount_cents"],
        "note": "the resident paid a cent short; apply it",
    }
    apply_url = f"/api/v1/lockbox/items/{item['id']}/apply"
    assert client.post(apply_url, json=body, headers=api_headers("auditor")).status_code == 403
    done = client.post(apply_url, json=body, headers=api_headers("clerk"))
    assert done.status_code == 201 and done.json["status"] == "applied"
    assert client.get("/api/v1/lockbox/exceptions", headers=api_headers("auditor")).json == []
    with app.app_context():
        assert db.session.get(Invoice, invoice_id).balance_cents == 1


def test_the_cli_imports_a_file_once_and_a_dry_run_takes_nothing(app, runner, tmp_path):
    stubs = _billed(app, ["olson", "berg"])
    path = tmp_path / "lockbox.txt"
    checks = [
        Check(s.amount_due_cents, s.scan_line, f"80{n}") for n, (_a, _i, s) in enumerate(stubs)
    ]
    path.write_bytes(bai(checks, DEPOSIT))
    command = ["lockbox", "import", str(path), "--layout", "bai-lockbox"]
    dry = runner.invoke(args=[*command, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would settle 2" in dry.output
    assert _count(app, Payment) == 0
    done = runner.invoke(args=command)
    assert done.exit_code == 0 and "settled 2" in done.output, done.output
    again = runner.invoke(args=command)
    assert again.exit_code == 1 and "already imported" in again.output
    layouts = runner.invoke(args=["lockbox", "layouts"])
    assert {"bai-lockbox", "csv-lockbox", "rpps-billpay"} <= set(layouts.output.split())
    assert _count(app, Payment) == 2

"""Four eyes: a clerk asks for a refund, a void, a credit memo or a waiver; another person,
a supervisor, approves (the change is made then) or turns it down; all audited."""

from __future__ import annotations

import io
from datetime import date

import pypdf
import sqlalchemy as sa

from accounts.models import Account
from billing.models import Invoice, InvoiceCharge, InvoiceStatus
from billing.penalty_service import assess_penalties
from console.models import ApprovalRequest, ApprovalStatus
from core.audit import Actor
from core.extensions import db
from core.models import AuditEvent
from ledger.balances import account_receivable
from ledger.verify import verify_chain
from notices import content, statements
from notices.render import render
from payments.counter import open_drawer, take_counter_payment
from payments.models import Payment, PaymentStatus, Refund, Tender
from tests.billing.billing_fixtures import bill_households
from tests.conftest import csrf_token, sign_in


def ask(client, number: str, **form):
    page = client.get(f"/staff/accounts/{number}").text
    return client.post(
        "/staff/approvals/", data={"csrf_token": csrf_token(page), "account": number, **form}
    )


def decide(client, request_id: int, verb: str, note: str = ""):
    page = client.get("/staff/approvals/").text
    return client.post(
        f"/staff/approvals/{request_id}/{verb}", data={"csrf_token": csrf_token(page), "note": note}
    )


def counter_payment(app, number: str, cents: int) -> int:
    with app.app_context():
        actor = Actor("user", "9", "clerk-at-the-counter", "test")
        drawer = open_drawer(db.session, actor)
        account = db.session.scalar(sa.select(Account).where(Account.number == number))
        receipt = take_counter_payment(
            db.session,
            actor,
            drawer=drawer,
            account=account,
            amount_cents=cents,
            tender=Tender.CASH,
            reference=None,
            invoice_numbers=[],
            on=date(2026, 11, 20),
        )
        db.session.commit()
        return receipt.payment_id


def test_a_refund_asked_by_a_clerk_is_made_when_a_supervisor_approves(app, make_staff):
    (billed,) = bill_households(app, "olson")
    payment_id = counter_payment(app, billed.number, 5000)
    clerk, supervisor = app.test_client(), app.test_client()
    sign_in(clerk, make_staff("clerk"))
    sign_in(supervisor, make_staff("supervisor"))
    asked = ask(
        clerk,
        billed.number,
        kind="refund",
        target=f"payment:{payment_id}",
        amount="20.00",
        reason="Paid twice by mistake at the counter.",
    )
    assert asked.status_code == 303
    with app.app_context():
        row = db.session.scalar(sa.select(ApprovalRequest))
        assert row.status == ApprovalStatus.PENDING and db.session.scalar(sa.select(Refund)) is None
    assert decide(clerk, row.id, "approve").status_code == 403  # clerks cannot approve
    assert decide(supervisor, row.id, "approve").status_code == 303
    with app.app_context():
        row = db.session.get(ApprovalRequest, row.id)
        refund = db.session.scalar(sa.select(Refund))
        assert row.status == ApprovalStatus.APPROVED and row.outcome == f"refund {refund.id}"
        assert refund.amount_cents == 2000 and row.decided_by.startswith("supervisor-")
        actions = db.session.scalars(sa.select(AuditEvent.action)).all()
        assert {"approval.ask", "approval.approved"} <= set(actions)
        assert verify_chain(db.session).ok
    assert decide(supervisor, row.id, "approve").status_code == 409  # decided once


def test_the_asker_cannot_approve_their_own_request(app, make_staff):
    (billed,) = bill_households(app, "olson")
    payment_id = counter_payment(app, billed.number, 5000)
    supervisor = app.test_client()
    sign_in(supervisor, make_staff("supervisor"))
    ask(
        supervisor,
        billed.number,
        kind="void_payment",
        target=f"payment:{payment_id}",
        reason="The check bounced at the bank.",
    )
    with app.app_context():
        row_id = db.session.scalar(sa.select(ApprovalRequest.id))
    refused = decide(supervisor, row_id, "approve")
    assert refused.status_code == 409 and "another person" in refused.text
    other = app.test_client()
    sign_in(other, make_staff("supervisor"))
    assert decide(other, row_id, "approve").status_code == 303
    with app.app_context():
        assert db.session.get(Payment, payment_id).status == PaymentStatus.VOIDED


def test_a_waiver_and_a_credit_memo_lower_what_is_owed_and_a_refusal_changes_nothing(
    app, make_staff
):
    (billed,) = bill_households(app, "olson")
    with app.app_context():
        assess_penalties(db.session, Actor.job("t"), as_of=date(2026, 12, 20), rounding="half_up")
        db.session.commit()
        charge = db.session.scalar(sa.select(InvoiceCharge))
        invoice = db.session.scalar(sa.select(Invoice))
        account = db.session.scalar(sa.select(Account))
        owed_before = account_receivable(db.session, account.id)
        charge_id, charge_cents, invoice_id = charge.id, charge.balance_cents, invoice.id
    clerk, supervisor = app.test_client(), app.test_client()
    sign_in(clerk, make_staff("clerk"))
    sign_in(supervisor, make_staff("supervisor"))
    ask(
        clerk,
        billed.number,
        kind="waive_charge",
        target=f"charge:{charge_id}",
        reason="First late payment in ten years.",
    )
    ask(
        clerk,
        billed.number,
        kind="credit_memo",
        target=f"invoice:{invoice_id}",
        amount="10.00",
        reason="The meter was read twice.",
    )
    ask(
        clerk,
        billed.number,
        kind="void_invoice",
        target=f"invoice:{invoice_id}",
        reason="Billed the wrong household.",
    )
    with app.app_context():
        ids = db.session.scalars(sa.select(ApprovalRequest.id).order_by(ApprovalRequest.id)).all()
    assert decide(supervisor, ids[0], "approve").status_code == 303
    assert decide(supervisor, ids[1], "approve").status_code == 303
    assert decide(supervisor, ids[2], "reject").status_code == 422  # a note is needed
    assert decide(supervisor, ids[2], "reject", "It was the right household.").status_code == 303
    with app.app_context():
        rows = {r.id: r for r in db.session.scalars(sa.select(ApprovalRequest))}
        assert [rows[i].status for i in ids] == [
            ApprovalStatus.APPROVED,
            ApprovalStatus.APPROVED,
            ApprovalStatus.REJECTED,
        ]
        account = db.session.scalar(sa.select(Account))
        assert account_receivable(db.session, account.id) == owed_before - charge_cents - 1000
        assert db.session.get(InvoiceCharge, charge_id).waived_at is not None
        assert db.session.get(Invoice, invoice_id).status != InvoiceStatus.VOID
        assert verify_chain(db.session).ok
    # Asked again after the invoice was partly credited: a void is refused by its service.
    ask(
        clerk,
        billed.number,
        kind="void_invoice",
        target=f"invoice:{invoice_id}",
        reason="Billed the wrong household after all.",
    )
    with app.app_context():
        last = db.session.scalar(sa.select(ApprovalRequest.id).order_by(ApprovalRequest.id.desc()))
    assert decide(supervisor, last, "approve").status_code == 303
    with app.app_context():
        row = db.session.get(ApprovalRequest, last)
        assert row.status == ApprovalStatus.FAILED and row.outcome
        assert db.session.get(Invoice, invoice_id).status != InvoiceStatus.VOID


def test_requests_name_something_of_the_account_and_say_why(app, make_staff):
    ours, theirs = bill_households(app, "olson", "nguyen")
    their_payment = counter_payment(app, theirs.number, 1000)
    clerk = app.test_client()
    sign_in(clerk, make_staff("clerk"))
    ask(
        clerk,
        ours.number,
        kind="refund",
        target=f"payment:{their_payment}",
        amount="5.00",
        reason="Not our payment at all.",
    )
    ask(clerk, ours.number, kind="refund", target="payment:1", amount="5.00", reason="no")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(ApprovalRequest.id))) == 0
    auditor = app.test_client()
    sign_in(auditor, make_staff("auditor"))
    assert (
        ask(
            auditor,
            ours.number,
            kind="void_invoice",
            target="invoice:1",
            reason="Auditors may not.",
        ).status_code
        == 403
    )


def _notice_text(document) -> str:
    """A notice's PDF text, white space folded, as the resident reads it."""
    pages = pypdf.PdfReader(io.BytesIO(render(document))).pages
    return " ".join(" ".join(page.extract_text().split()) for page in pages)


def test_the_resident_reads_the_words_written_for_them_never_the_staff_reason(app, make_staff):
    (billed,) = bill_households(app, "moreno")
    payment_id = counter_payment(app, billed.number, 5000)
    clerk, supervisor = app.test_client(), app.test_client()
    clerk_email = make_staff("clerk")
    sign_in(clerk, clerk_email)
    sign_in(supervisor, make_staff("supervisor"))
    for form in (
        {
            "kind": "refund",
            "target": f"payment:{payment_id}",
            "amount": "20.00",
            "reason": "Caller says she paid twice; checked drawer 7 tape.",
            "resident_text": "Your second payment of $20.00 on November 20 is refunded.",
        },
        {
            "kind": "credit_memo",
            "target": f"invoice:{_invoice_id(app, billed.invoice_number)}",
            "amount": "3.00",
            "reason": "Meter reader keyed 3 units too many (ticket 4411).",
        },
    ):
        assert ask(clerk, billed.number, **form).status_code == 303
    with app.app_context():
        ids = db.session.scalars(sa.select(ApprovalRequest.id).order_by(ApprovalRequest.id)).all()
    for request_id in ids:
        assert decide(supervisor, request_id, "approve").status_code == 303
    with app.app_context():
        refund = db.session.scalar(sa.select(Refund))
        account = db.session.scalar(sa.select(Account).where(Account.number == billed.number))
        notice = _notice_text(content.refund_notice(db.session, app.config, refund))
        statement = _notice_text(
            statements.statement(
                db.session, app.config, account, date(2026, 11, 1), refund.refunded_on
            )
        )
    for text in (notice, statement):
        assert "drawer 7" not in text and "ticket 4411" not in text
        assert clerk_email not in text and "asked by" not in text and "request" not in text
    assert "Your second payment of $20.00 on November 20 is refunded." in notice
    assert "Your second payment of $20.00 on November 20 is refunded." in statement
    # no words given: the statement says what happened in its standard wording
    assert f"Credit on bill {billed.invoice_number}" in statement


def test_words_for_the_resident_longer_than_a_line_are_refused_naming_the_field(
    app, make_staff, api_headers
):
    (billed,) = bill_households(app, "ngata")
    supervisor = api_headers("supervisor")
    client = app.test_client()
    too_long = client.post(
        f"/api/v1/invoices/{billed.invoice_number}/credit-memos",
        json={"amount_cents": 100, "reason": "meter misread", "resident_text": "x" * 201},
        headers=supervisor,
    )
    assert too_long.status_code == 422 and "resident_text" in too_long.get_json()["errors"]
    clerk = app.test_client()
    sign_in(clerk, make_staff("clerk"))
    refused = ask(
        clerk,
        billed.number,
        kind="credit_memo",
        target=f"invoice:{_invoice_id(app, billed.invoice_number)}",
        amount="1.00",
        reason="meter misread",
        resident_text="y" * 201,
    )
    assert refused.status_code == 303
    with app.app_context():
        assert db.session.scalar(sa.select(ApprovalRequest)) is None


def _invoice_id(app, number: str) -> int:
    """An invoice's id by its number."""
    with app.app_context():
        return db.session.scalar(sa.select(Invoice.id).where(Invoice.number == number))


def test_a_refund_of_a_payment_not_settled_yet_fails_saying_so(app, make_staff):
    from payments.models import Channel
    from payments.services import record_payment

    (billed,) = bill_households(app, "olson")
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.number == billed.number))
        payment = record_payment(
            db.session,
            Actor("resident", None, "quick pay", "test"),
            account=account,
            amount_cents=5000,
            invoice_numbers=[],
            channel=Channel.ONLINE,
            tender=Tender.CARD,
        )
        payment.stripe_payment_intent_id = f"pi_test_{payment.id}"
        db.session.commit()
        payment_id = payment.id
    clerk, supervisor = app.test_client(), app.test_client()
    sign_in(clerk, make_staff("clerk"))
    sign_in(supervisor, make_staff("supervisor"))
    ask(
        clerk,
        billed.number,
        kind="refund",
        target=f"payment:{payment_id}",
        amount="20.00",
        reason="Paid twice by mistake online.",
    )
    with app.app_context():
        request_id = db.session.scalar(sa.select(ApprovalRequest.id))
    assert decide(supervisor, request_id, "approve").status_code == 303
    page = supervisor.get("/staff/approvals/").text
    assert (
        f"Request {request_id} could not be carried out: this payment has not settled yet" in page
    )
    with app.app_context():
        row = db.session.get(ApprovalRequest, request_id)
        assert row.status == ApprovalStatus.FAILED
        assert db.session.scalar(sa.select(Refund)) is None


def test_a_request_form_sent_twice_asks_once(app, make_staff):
    from tests.conftest import form_token

    (billed,) = bill_households(app, "olson")
    payment_id = counter_payment(app, billed.number, 5000)
    clerk = app.test_client()
    sign_in(clerk, make_staff("clerk"))
    page = clerk.get(f"/staff/accounts/{billed.number}").text
    sent = {
        "csrf_token": csrf_token(page),
        "form_token": form_token(page),
        "account": billed.number,
        "kind": "refund",
        "target": f"payment:{payment_id}",
        "amount": "20.00",
        "reason": "Paid twice by mistake at the counter.",
    }
    first = clerk.post("/staff/approvals/", data=sent)
    again = clerk.post("/staff/approvals/", data=sent)
    assert first.status_code == again.status_code == 303
    assert again.location == first.location
    with app.app_context():
        request_id = db.session.scalar(sa.select(ApprovalRequest.id))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApprovalRequest)) == 1
    told = clerk.get(again.location).text
    assert f"This form was sent twice; it asked once. Request {request_id} is waiting" in told

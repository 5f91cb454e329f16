"""Residents' questions and disputes about a bill: asked from the bill page, answered from
the clerks' queue, shown on the bill and e-mailed in the resident's language; a dispute
holds the bill's reminders until it is answered."""

from __future__ import annotations

import email
import email.policy
from datetime import date

import pytest
import sqlalchemy as sa

from billing.models import Invoice
from core.audit import Actor
from core.extensions import db
from core.models import AuditEvent
from notices import reminders
from notices.models import Reminder, ReminderPause
from portal.models import Question, QuestionStatus
from tests.conftest import csrf_token
from tests.portal.conftest import quick_pay

#: The day the October bills fall due: the "due" reminder stage.
DUE_DAY = date(2026, 11, 23)
SPANISH_MONTHS = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
]


def _ask(client, invoice_number: str, **fields):
    """Fill in the question form of a bill as a browser would."""
    page = client.get(f"/my/bills/{invoice_number}/question")
    assert page.status_code == 200, page.text
    data = {"csrf_token": csrf_token(page.text), "kind": "question", "message": "Why so high?"}
    data.update(fields)
    return client.post(f"/my/bills/{invoice_number}/question", data=data)


def _answer(clerk, question_id: int, text: str, *, close: bool = False):
    """Answer a question from its staff page."""
    page = clerk.get(f"/staff/questions/{question_id}")
    assert page.status_code == 200, page.text
    data = {"csrf_token": csrf_token(page.text), "answer": text}
    if close:
        data["close"] = "y"
    return clerk.post(f"/staff/questions/{question_id}", data=data)


def _questions(app) -> list[Question]:
    with app.app_context():
        rows = db.session.scalars(sa.select(Question).order_by(Question.id)).all()
        db.session.expunge_all()
        return list(rows)


def _actions(app) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(sa.select(AuditEvent.action)))


def _reminded_invoices(app, as_of: date = DUE_DAY) -> set[str]:
    """Run the reminders job for the day; the invoice numbers reminded so far."""
    with app.app_context():
        reminders.send_reminders(db.session, app.config, Actor.job("send_reminders"), as_of=as_of)
        return set(
            db.session.scalars(
                sa.select(Invoice.number).join(Reminder, Reminder.invoice_id == Invoice.id)
            )
        )


def _planned_invoices(app, as_of: date = DUE_DAY) -> set[str]:
    """The invoices the reminders job would remind on the day (nothing is sent)."""
    with app.app_context():
        planned = reminders.plan(db.session, app.config, as_of, reminders.Outcome())
        ids = [invoice_id for account in planned for invoice_id, _stage in account.items]
        numbers = set(db.session.scalars(sa.select(Invoice.number).where(Invoice.id.in_(ids))))
        db.session.rollback()
        return numbers


# --- Asking -----------------------------------------------------------------------------------


def test_a_question_asked_from_the_bill_page_reaches_the_clerks_queue(
    app, resident, billed, signed_in
):
    bill = resident.get("/my/bill").text
    link = f"/my/bills/{billed.invoice_number}/question"
    assert link in bill
    form = resident.get(link).text
    assert 'value="maria.olson@example.org"' in form  # the account's address, to change if wanted
    assert '<label for="message">' in form and '<label for="reply_to">' in form
    assert "A question" in form and "I disagree with this bill (dispute)" in form

    asked = _ask(resident, billed.invoice_number, message="  Why is the water charge so high?  ")
    assert asked.status_code == 303 and asked.location.endswith("/my/bill")
    bill = resident.get("/my/bill").text
    assert f"We received your question about bill {billed.invoice_number}." in bill
    assert "Why is the water charge so high?" in bill
    assert "We have your message and will answer by e-mail and on this page." in bill

    (question,) = _questions(app)
    assert question.kind == "question" and question.status is QuestionStatus.OPEN
    assert question.message == "Why is the water charge so high?"
    assert question.reply_to == "maria.olson@example.org" and question.pause_id is None
    assert "question.ask" in _actions(app)

    clerk = signed_in("clerk")
    queue = clerk.get("/staff/questions")
    assert queue.status_code == 200
    assert billed.number in queue.text and billed.invoice_number in queue.text
    assert "Why is the water charge so high?" in queue.text
    assert f'href="/staff/questions/{question.id}"' in queue.text


def test_the_queue_lists_waiting_questions_before_answered_ones(app, resident, billed, signed_in):
    _ask(resident, billed.invoice_number, message="First: the meter was read twice?")
    _ask(resident, billed.invoice_number, message="Second: when is the next read?")
    first, second = _questions(app)
    clerk = signed_in("clerk")
    assert _answer(clerk, first.id, "It was read once.").status_code == 303
    page = clerk.get("/staff/questions").text
    waiting, answered = page.split("Answered</h2>")
    assert "Second: when is the next read?" in waiting
    assert "First: the meter was read twice?" in answered
    assert "First: the meter" not in waiting


def test_a_sixth_waiting_question_on_one_bill_is_refused(app, resident, billed):
    for n in range(5):
        assert _ask(resident, billed.invoice_number, message=f"Question {n}").status_code == 303
    refused = _ask(resident, billed.invoice_number, message="Question 6")
    assert refused.status_code == 422
    assert "This bill already has 5 questions waiting for an answer." in refused.text
    assert len(_questions(app)) == 5


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"message": "   "}, "message", "Write your question."),
        ({"message": "x" * 2001}, "message", "Keep your message to 2,000 characters or fewer."),
        ({"reply_to": "maria at example"}, "reply_to", "Enter an e-mail address such as"),
        ({"kind": "complaint"}, "kind", "Choose whether this is a question or a dispute."),
    ],
)
def test_bad_input_is_named_next_to_its_field_and_nothing_is_kept(
    app, resident, billed, fields, field, message
):
    response = _ask(resident, billed.invoice_number, **fields)
    assert response.status_code == 422
    assert message in response.text
    assert f'id="{field}-error"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert _questions(app) == []


def test_the_longest_message_is_taken(app, resident, billed):
    assert _ask(resident, billed.invoice_number, message="y" * 2000).status_code == 303
    assert len(_questions(app)[0].message) == 2000


def test_a_form_without_its_csrf_token_is_refused(app, resident, billed):
    response = resident.post(
        f"/my/bills/{billed.invoice_number}/question",
        data={"kind": "question", "message": "Why?"},
    )
    assert response.status_code == 400
    assert _questions(app) == []


def test_another_accounts_bill_is_not_found_and_not_shown(app, client, households):
    olson, nguyen = households
    quick_pay(client, olson.number, olson.access_code)
    token = csrf_token(client.get("/my/bill").text)
    url = f"/my/bills/{nguyen.invoice_number}/question"
    seen = client.get(url)
    posted = client.post(url, data={"csrf_token": token, "kind": "dispute", "message": "Mine?"})
    for response in (seen, posted):
        assert response.status_code == 404
        assert nguyen.number not in response.text
        assert "nguyen" not in response.text.lower()
        assert "Ask about bill" not in response.text
    assert nguyen.invoice_number not in posted.text
    assert _questions(app) == []
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReminderPause)) == 0


def test_without_a_session_the_form_sends_the_resident_to_quick_pay(client, billed):
    response = client.get(f"/my/bills/{billed.invoice_number}/question")
    assert response.status_code == 302 and response.location.endswith("/pay")


# --- Disputes and reminders -------------------------------------------------------------------


def test_a_dispute_pauses_the_bills_reminders_until_it_is_answered(
    app, client, households, signed_in
):
    olson, nguyen = households
    quick_pay(client, olson.number, olson.access_code)
    disputed = _ask(
        client, olson.invoice_number, kind="dispute", message="The meter was never read."
    )
    assert disputed.status_code == 303
    bill = client.get("/my/bill").text
    assert "Reminders for this bill are paused until we answer." in bill
    (question,) = _questions(app)
    with app.app_context():
        pause = db.session.get(ReminderPause, question.pause_id)
        assert pause.reason == f"Resident dispute #{question.id}"
        assert pause.paused_by == f"quickpay:{olson.number}" and pause.resumed_at is None

    # the due-day run reminds the other household only
    assert _reminded_invoices(app) == {nguyen.invoice_number}

    clerk = signed_in("clerk")
    detail = clerk.get(f"/staff/questions/{question.id}").text
    assert "paused by this dispute" in detail and "Resume reminders" in detail
    answered = _answer(clerk, question.id, "We re-read the meter; the bill stands.")
    assert answered.status_code == 303

    with app.app_context():
        pause = db.session.get(ReminderPause, question.pause_id)
        assert pause.resumed_at is not None and pause.resumed_by.startswith("clerk-")
    # the next run sends the disputed bill its reminder after all
    assert _reminded_invoices(app) == {nguyen.invoice_number, olson.invoice_number}
    assert {"question.ask", "question.answer"} <= _actions(app)


def test_a_clerk_can_resume_reminders_without_answering(app, resident, billed, signed_in):
    _ask(resident, billed.invoice_number, kind="dispute", message="Wrong meter.")
    (question,) = _questions(app)
    assert billed.invoice_number not in _planned_invoices(app)

    clerk = signed_in("clerk")
    assert "(reminders paused)" in clerk.get("/staff/questions").text
    page = clerk.get(f"/staff/questions/{question.id}").text
    resumed = clerk.post(
        f"/staff/questions/{question.id}/resume", data={"csrf_token": csrf_token(page)}
    )
    assert resumed.status_code == 303
    assert billed.invoice_number in _planned_invoices(app)
    (question,) = _questions(app)
    assert question.status is QuestionStatus.OPEN and question.answer is None
    assert "question.resume_reminders" in _actions(app)
    assert "(reminders running)" in clerk.get("/staff/questions").text

    again = clerk.post(
        f"/staff/questions/{question.id}/resume", data={"csrf_token": csrf_token(page)}
    )
    assert again.status_code == 303
    assert "not paused by this question" in clerk.get(again.location).text


# --- Answering --------------------------------------------------------------------------------


def test_the_answer_shows_on_the_bill_and_is_emailed_in_spanish(
    app, resident, billed, smtp, signed_in
):
    switched = resident.post(
        "/language",
        data={"csrf_token": csrf_token(resident.get("/my/bill").text), "lang": "es"},
    )
    assert switched.status_code == 303
    asked = _ask(
        resident,
        billed.invoice_number,
        message="¿Por qué subió la cuenta del agua?",
        reply_to="hija.olson@example.net",
    )
    assert asked.status_code == 303
    (question,) = _questions(app)
    assert question.language == "es" and question.reply_to == "hija.olson@example.net"

    clerk = signed_in("clerk")
    answer = "Hubo una fuga en el medidor; le devolvemos la diferencia."
    answered = _answer(clerk, question.id, answer, close=True)
    assert answered.status_code == 303
    assert "hija.olson@example.net: sent" in clerk.get(answered.location).text

    (envelope,) = smtp.handler.envelopes
    assert envelope.rcpt_tos == ["hija.olson@example.net"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Content-Language"] == "es"
    assert billed.invoice_number in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert answer in body and "¿Por qué subió la cuenta del agua?" in body
    assert any(f" de {month} de " in body for month in SPANISH_MONTHS)  # the date, in Spanish

    (question,) = _questions(app)
    assert question.status is QuestionStatus.CLOSED and question.answer_email_status == "sent"
    assert question.answered_by.startswith("clerk-") and question.answered_at is not None
    assert {"question.answer", "question.answer_email"} <= _actions(app)

    # the resident comes back later with the code on the bill and reads the answer there
    later = app.test_client()
    quick_pay(later, billed.number, billed.access_code)
    assert answer in later.get("/my/bill").text


def test_an_empty_answer_is_refused_next_to_the_field(app, resident, billed, signed_in):
    _ask(resident, billed.invoice_number)
    (question,) = _questions(app)
    clerk = signed_in("clerk")
    response = _answer(clerk, question.id, "   ")
    assert response.status_code == 422
    assert 'id="answer-error"' in response.text and "Write the answer." in response.text
    assert _questions(app)[0].status is QuestionStatus.OPEN


# --- Who may see and answer -------------------------------------------------------------------


def test_an_auditor_reads_the_queue_but_cannot_answer(app, resident, billed, signed_in):
    _ask(resident, billed.invoice_number, kind="dispute", message="Not my meter.")
    (question,) = _questions(app)
    auditor = signed_in("auditor")
    assert "Not my meter." in auditor.get("/staff/questions").text
    page = auditor.get(f"/staff/questions/{question.id}")
    assert page.status_code == 200 and "Not my meter." in page.text
    assert "Send the answer" not in page.text and "Resume reminders" not in page.text
    token = csrf_token(page.text)
    refused = auditor.post(
        f"/staff/questions/{question.id}", data={"csrf_token": token, "answer": "No."}
    )
    assert refused.status_code == 403
    assert (
        auditor.post(
            f"/staff/questions/{question.id}/resume", data={"csrf_token": token}
        ).status_code
        == 403
    )
    (question,) = _questions(app)
    assert question.status is QuestionStatus.OPEN and question.answer is None
    assert billed.invoice_number not in _planned_invoices(app)


def test_the_queue_needs_a_staff_sign_in(client):
    response = client.get("/staff/questions")
    assert response.status_code == 302 and "/login" in response.location


def test_an_unknown_question_is_not_found(signed_in):
    clerk = signed_in("clerk")
    response = clerk.get("/staff/questions/999999")
    assert response.status_code == 404
    assert "There is no such question." in response.text

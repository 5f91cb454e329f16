"""Residents' questions and disputes about a bill, and the clerks' answers.

A dispute holds a ReminderPause on its invoice (notices.reminders skips paused invoices)
until a clerk answers it or resumes reminders by hand. Refusals carry English texts
marked for the catalog; the portal shows them through portal.messages.translate.
"""

from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from accounts.models import Account
from billing.models import Invoice
from core.audit import Actor, record
from notices.models import ReminderPause
from portal.messages import N_
from portal.models import Question, QuestionStatus

KINDS = ("question", "dispute")
MAX_MESSAGE = 2000
MAX_ANSWER = 5000
#: NOTE: a household may keep this many questions waiting on one bill; more waits for answers.
MAX_OPEN_PER_INVOICE = 5
_EMAIL_RE = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;.]{2,}$")

#: The resident's refusals (English; translated where they are shown).
KIND_MISSING = N_("Choose whether this is a question or a dispute.")
MESSAGE_MISSING = N_("Write your question.")
MESSAGE_TOO_LONG = N_("Keep your message to 2,000 characters or fewer.")
EMAIL_BAD = N_("Enter an e-mail address such as name@example.com, or leave it empty.")
NOT_THIS_ACCOUNT = N_("This bill is not one of this account's bills.")
TOO_MANY_OPEN = N_(
    "This bill already has 5 questions waiting for an answer. "
    "Please wait for our answer before you write again."
)


class QuestionRefused(Exception):
    """The change was not made; `errors` maps each field (or "form") to why."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def questions_by_invoice(session: Session, account_id: int) -> dict[int, list[Question]]:
    """The account's questions, oldest first, by invoice id (the bill page shows them)."""
    rows = session.scalars(
        sa.select(Question).where(Question.account_id == account_id).order_by(Question.id)
    ).all()
    grouped: dict[int, list[Question]] = {}
    for row in rows:
        grouped.setdefault(row.invoice_id, []).append(row)
    return grouped


def valid_email(text: str) -> bool:
    """A plausible single address (the SMTP server has the last word)."""
    return len(text) <= 254 and bool(_EMAIL_RE.match(text))


def _ask_errors(
    session: Session, account: Account, invoice: Invoice, kind: str, message: str, reply_to: str
) -> dict[str, str]:
    """Every reason the question cannot be taken, by field."""
    errors: dict[str, str] = {}
    if invoice.account_id != account.id:
        errors["form"] = NOT_THIS_ACCOUNT
    if kind not in KINDS:
        errors["kind"] = KIND_MISSING
    if not message:
        errors["message"] = MESSAGE_MISSING
    elif len(message) > MAX_MESSAGE:
        errors["message"] = MESSAGE_TOO_LONG
    if reply_to and not valid_email(reply_to):
        errors["reply_to"] = EMAIL_BAD
    if not errors and open_count(session, invoice.id) >= MAX_OPEN_PER_INVOICE:
        errors["form"] = TOO_MANY_OPEN
    return errors


def open_count(session: Session, invoice_id: int) -> int:
    """How many of the invoice's questions wait for an answer."""
    return session.scalar(
        sa.select(sa.func.count())
        .select_from(Question)
        .where(Question.invoice_id == invoice_id, Question.status == QuestionStatus.OPEN)
    )


def ask(
    session: Session,
    actor: Actor,
    *,
    account: Account,
    invoice: Invoice,
    kind: str,
    message: str,
    reply_to: str | None,
    language: str,
    resident_id: int | None,
    now: datetime,
) -> Question:
    """Put a question in the clerks' queue; a dispute also pauses the invoice's reminders."""
    message = (message or "").strip()
    reply_to = (reply_to or "").strip()
    errors = _ask_errors(session, account, invoice, kind, message, reply_to)
    if errors:
        raise QuestionRefused(errors)
    question = Question(
        account_id=account.id,
        invoice_id=invoice.id,
        kind=kind,
        message=message,
        reply_to=reply_to or account.email or None,
        language=language if language in ("en", "es") else "en",
        status=QuestionStatus.OPEN,
        resident_id=resident_id,
        created_at=now,
    )
    session.add(question)
    session.flush()
    if kind == "dispute":
        pause = ReminderPause(
            invoice_id=invoice.id,
            reason=f"Resident dispute #{question.id}",
            paused_by=actor.label,
            created_at=now,
        )
        session.add(pause)
        session.flush()
        question.pause_id = pause.id
    record(
        session,
        actor,
        "question.ask",
        question,
        account=account.number,
        invoice=invoice.number,
        kind=kind,
        language=question.language,
        characters=len(message),
        pause=question.pause_id,
    )
    return question


def _resume(session: Session, actor: Actor, question: Question, now: datetime) -> bool:
    """Lift the dispute's pause if it still holds; True when it did."""
    if question.pause_id is None:
        return False
    pause = session.get(ReminderPause, question.pause_id)
    if pause is None or pause.resumed_at is not None:
        return False
    pause.resumed_at, pause.resumed_by = now, actor.label
    return True


def answer(
    session: Session, actor: Actor, question: Question, text: str, *, close: bool, now: datetime
) -> Question:
    """Record the clerk's answer (shown on the bill page) and let reminders run again."""
    text = (text or "").strip()
    if question.status == QuestionStatus.CLOSED:
        raise QuestionRefused({"form": "This question is closed; it cannot be answered again."})
    if not text:
        raise QuestionRefused({"answer": "Write the answer."})
    if len(text) > MAX_ANSWER:
        raise QuestionRefused({"answer": f"Keep the answer to {MAX_ANSWER:,} characters."})
    before = {"status": question.status.value, "answer": question.answer}
    question.answer = text
    question.answered_by = actor.label
    question.answered_at = now
    question.status = QuestionStatus.CLOSED if close else QuestionStatus.ANSWERED
    question.answer_email_status = None  # this answer's e-mail is not sent yet
    resumed = _resume(session, actor, question, now)
    record(
        session,
        actor,
        "question.answer",
        question,
        before=before,
        after={"status": question.status.value, "answer": text},
        reminders_resumed=resumed,
    )
    return question


def resume_reminders(session: Session, actor: Actor, question: Question, *, now: datetime) -> None:
    """Let reminders for the disputed invoice run again, before (or without) an answer."""
    if not _resume(session, actor, question, now):
        raise QuestionRefused({"form": "Reminders for this bill are not paused by this question."})
    record(session, actor, "question.resume_reminders", question, pause=question.pause_id)


def record_answer_email(session: Session, actor: Actor, question: Question, status: str) -> None:
    """Keep what became of the answer's e-mail (sent, written, bounced or failed)."""
    question.answer_email_status = status
    record(session, actor, "question.answer_email", question, status=status, to=question.reply_to)


def reminders_paused(session: Session, question: Question) -> bool:
    """True while the question's dispute holds the invoice's reminders."""
    if question.pause_id is None:
        return False
    pause = session.get(ReminderPause, question.pause_id)
    return pause is not None and pause.resumed_at is None


def holding_pauses(session: Session, questions: list[Question]) -> set[int]:
    """The ids of the questions whose dispute still holds its invoice's reminders."""
    pause_ids = {q.pause_id for q in questions if q.pause_id is not None}
    if not pause_ids:
        return set()
    holding = set(
        session.scalars(
            sa.select(ReminderPause.id).where(
                ReminderPause.id.in_(pause_ids), ReminderPause.resumed_at.is_(None)
            )
        )
    )
    return {q.id for q in questions if q.pause_id in holding}


def open_questions(session: Session) -> list[Question]:
    """The clerks' queue: questions waiting for an answer, oldest first."""
    return list(
        session.scalars(
            sa.select(Question)
            .where(Question.status == QuestionStatus.OPEN)
            .options(selectinload(Question.account), selectinload(Question.invoice))
            .order_by(Question.created_at, Question.id)
        )
    )


def answered_questions(session: Session, limit: int = 100) -> list[Question]:
    """The latest answered or closed questions, newest answer first (under the queue)."""
    return list(
        session.scalars(
            sa.select(Question)
            .where(Question.status != QuestionStatus.OPEN)
            .options(selectinload(Question.account), selectinload(Question.invoice))
            .order_by(Question.answered_at.desc(), Question.id.desc())
            .limit(limit)
        )
    )

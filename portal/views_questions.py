"""Questions and disputes about a bill: the resident's form, and the clerks' queue and answers.

Thin, like every view: validate, call portal.questions, commit once, then e-mail the answer
after the commit and keep the e-mail's outcome with a second small commit. Staff pages are
English only; residents' texts go through Flask-Babel.
"""

from __future__ import annotations

from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale, format_date, get_locale
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField

from core.auth import request_actor, requires
from core.calendar import town_zone
from core.db import utcnow
from core.extensions import db
from notices.content import pay_url
from portal import messages, web
from portal import questions as service
from portal.mail import send_email
from portal.models import Question

bp = Blueprint("portal_questions", __name__, template_folder="templates")


class AskForm(FlaskForm):
    """A resident's question or dispute about one bill."""

    #: "question" or "dispute" (radio buttons).
    kind = StringField(default="question")
    message = TextAreaField()
    reply_to = StringField()


class AnswerForm(FlaskForm):
    """A clerk's answer, and whether it closes the question."""

    answer = TextAreaField("Answer")
    close = BooleanField("Close the question")


def _add_error(form: FlaskForm, field: str, text: str) -> None:
    """Show a refusal next to its field, or above the form ("form")."""
    if field == "form":
        form.form_errors.append(text)
    else:
        form[field].errors = [*form[field].errors, text]


# --- The resident's form ------------------------------------------------------------------


def _ask_page(form: AskForm, invoice, status: int = 200):
    page = render_template(
        "portal/question.html",
        form=form,
        invoice=invoice,
        account=web.account(),
        max_message=service.MAX_MESSAGE,
    )
    return page, status


@bp.route("/my/bills/<number>/question", methods=["GET", "POST"])
@web.resident_required
def ask(number: str):
    """Ask a question about a bill, or dispute it (which pauses its reminders)."""
    invoice = web.own_invoice_or_404(number)
    account = web.account()
    form = AskForm(reply_to=account.email or "")
    if request.method == "GET":
        return _ask_page(form, invoice)
    if not form.validate_on_submit():
        flash(_("This page had expired. Enter your details again."))
        return redirect(url_for(".ask", number=invoice.number))
    try:
        question = service.ask(
            db.session,
            web.actor(),
            account=account,
            invoice=invoice,
            kind=form.kind.data,
            message=form.message.data,
            reply_to=form.reply_to.data,
            language=str(get_locale() or "en"),
            resident_id=g.portal_session.resident_id,
            now=utcnow(),
        )
    except service.QuestionRefused as refused:
        db.session.rollback()
        for field, text in refused.errors.items():
            _add_error(form, field, messages.translate(text))
        return _ask_page(form, invoice, 422)
    db.session.commit()
    if question.kind == "dispute":
        flash(
            _(
                "We received your dispute of bill %(number)s. Reminders for this bill are "
                "paused until we answer.",
                number=invoice.number,
            )
        )
    else:
        flash(_("We received your question about bill %(number)s.", number=invoice.number))
    return redirect(url_for("portal.bill"), 303)


# --- The clerks' queue --------------------------------------------------------------------


def _age(then: datetime, now: datetime) -> str:
    """How long a question has waited, in the largest whole unit."""
    minutes = max(0, int((now - then).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} days"


@bp.route("/staff/questions")
@login_required
@requires("read")
def queue():
    """Residents' questions: those waiting first (oldest on top), then the latest answered."""
    now = utcnow()
    waiting = service.open_questions(db.session)
    return render_template(
        "portal/staff/questions.html",
        waiting=waiting,
        paused=service.holding_pauses(db.session, waiting),
        answered=service.answered_questions(db.session),
        age=lambda question: _age(question.created_at, now),
        zone=town_zone(current_app.config),
    )


def _question_or_404(question_id: int) -> Question:
    row = db.session.get(Question, question_id) if 0 < question_id < 2**31 else None
    if row is None:
        abort(404, description="There is no such question.")
    return row


def _detail_page(question: Question, form: AnswerForm, status: int = 200):
    page = render_template(
        "portal/staff/question.html",
        question=question,
        form=form,
        paused=service.reminders_paused(db.session, question),
        age=_age(question.created_at, utcnow()),
        max_answer=service.MAX_ANSWER,
        zone=town_zone(current_app.config),
    )
    return page, status


@bp.route("/staff/questions/<int:id>", methods=["GET", "POST"])
@login_required
@requires("read")
def detail(id: int):
    """One question with its bill; the answer form (POST needs the write permission)."""
    question = _question_or_404(id)
    if request.method == "POST":
        return _answer(question)
    return _detail_page(question, AnswerForm(answer=question.answer or ""))


@requires("write")
def _answer(question: Question):
    """Save the answer, commit, then e-mail it in the resident's language."""
    form = AnswerForm()
    if not form.validate_on_submit():
        form.form_errors.append("This form had expired. Send the answer again.")
        return _detail_page(question, form, 400)
    actor = request_actor()
    try:
        service.answer(
            db.session, actor, question, form.answer.data, close=form.close.data, now=utcnow()
        )
    except service.QuestionRefused as refused:
        db.session.rollback()
        for field, text in refused.errors.items():
            _add_error(form, field, text)
        return _detail_page(question, form, 422)
    db.session.commit()
    outcome = _email_answer(question, actor)
    flash(f"Question #{question.id} answered. {outcome}")
    return redirect(url_for(".queue"), 303)


def _email_answer(question: Question, actor) -> str:
    """Send the answer to the reply address (after the commit) and keep the outcome."""
    if not question.reply_to:
        return "No e-mail address was given; the answer shows on the resident's bill page."
    config = current_app.config
    with force_locale(question.language):
        subject = _("Our answer about your bill %(number)s", number=question.invoice.number)
        text = _(
            "Hello,\n\nOn %(day)s you wrote to us about bill %(number)s:\n\n%(message)s\n\n"
            "Our answer:\n\n%(answer)s\n\n"
            "You can also read it with your bill: %(url)s\n\n%(town)s",
            day=format_date(question.created_at, "long"),
            number=question.invoice.number,
            message=question.message,
            answer=question.answer,
            url=pay_url(config, question.account),
            town=config["MUNICIPALITY_NAME"],
        )
    delivery = send_email(
        config, to=question.reply_to, subject=subject, text=text, language=question.language
    )
    service.record_answer_email(db.session, actor, question, delivery.status)
    db.session.commit()
    return f"E-mail to {question.reply_to}: {delivery.status}."


@bp.route("/staff/questions/<int:id>/resume", methods=["POST"])
@login_required
@requires("write")
def resume(id: int):
    """Let reminders run again for a disputed bill without answering yet."""
    question = _question_or_404(id)
    try:
        service.resume_reminders(db.session, request_actor(), question, now=utcnow())
    except service.QuestionRefused as refused:
        db.session.rollback()
        flash(refused.errors["form"])
        return redirect(url_for(".detail", id=question.id), 303)
    db.session.commit()
    flash(f"Reminders for bill {question.invoice.number} run again.")
    return redirect(url_for(".detail", id=question.id), 303)


def init_app(app) -> None:
    """Register the pages."""
    app.register_blueprint(bp)

"""The letters of a shutoff appeal, in the account's language: the acknowledgement of a filed
appeal and the supervisor's decision with the reasons written for the resident (never the
staff's internal note). Each is a one-page PDF, e-mailed to a working address, else left for the
clerks to print from the appeal's page (docs/shutoff.md, "Appeals")."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping
from datetime import date
from html import escape

from reportlab.pdfgen.canvas import Canvas

from accounts.models import Account
from notices.mail_delivery import Mailer
from notices.mail_message import Message, format_date
from notices.models import AppealStatus, ShutoffAppeal
from notices.pdf_sheet import MARGIN, PAGE_HEIGHT, RIGHT
from notices.plan_letters import _facts, _header, _lines

TEXTS = {
    "en": {
        "account": "Account",
        "holder": "Account holder",
        "filed": "Appeal filed on",
        "ack_title": "We received your shutoff appeal",
        "ack_body": (
            "We received your appeal of the shutoff of your utility service. No shutoff notice "
            "will be sent and your service will not be shut off while a supervisor reviews it. "
            "We will write to you with the decision and its reasons."
        ),
        "your_words": "What you told us:",
        "decision_title": "The decision on your shutoff appeal",
        "upheld": (
            "Your appeal was upheld on {day}. The shutoff notice for this past-due balance is "
            "withdrawn; the balance is still owed."
        ),
        "denied": (
            "Your appeal was denied on {day}. Your service may be shut off from {shutoff} unless "
            "the past-due balance is paid or you agree a payment plan with the town."
        ),
        "reasons": "The reasons:",
        "subject_ack": "{town}: we received your shutoff appeal",
        "subject_decision": "{town}: the decision on your shutoff appeal",
    },
    "es": {
        "account": "Cuenta",
        "holder": "Titular de la cuenta",
        "filed": "Apelación presentada el",
        "ack_title": "Recibimos su apelación del corte",
        "ack_body": (
            "Recibimos su apelación del corte de su servicio. Mientras un supervisor la revisa, "
            "no se enviará ningún aviso de corte ni se cortará su servicio. Le escribiremos con la "
            "decisión y sus motivos."
        ),
        "your_words": "Lo que usted nos dijo:",
        "decision_title": "La decisión sobre su apelación del corte",
        "upheld": (
            "Su apelación fue aceptada el {day}. El aviso de corte por este saldo vencido queda "
            "sin efecto; el saldo se sigue debiendo."
        ),
        "denied": (
            "Su apelación fue rechazada el {day}. Su servicio puede cortarse a partir del "
            "{shutoff} si no se paga el saldo vencido o no acuerda un plan de pagos con el "
            "municipio."
        ),
        "reasons": "Los motivos:",
        "subject_ack": "{town}: recibimos su apelación del corte",
        "subject_decision": "{town}: la decisión sobre su apelación del corte",
    },
}


def _texts(account: Account) -> tuple[str, dict]:
    language = "es" if str(account.language).lower() == "es" else "en"
    return language, TEXTS[language]


def _wrap(text: str) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines.extend(textwrap.wrap(paragraph, 90) or [""])
    return lines


def acknowledgement_words(appeal: ShutoffAppeal, account: Account) -> list[str]:
    """The acknowledgement's sentences, in the account's language."""
    _language, t = _texts(account)
    return [*_wrap(t["ack_body"]), "", t["your_words"], *_wrap(appeal.statement)]


def decision_words(appeal: ShutoffAppeal, account: Account, shutoff_from: date | None) -> list[str]:
    """The decision's sentences for the resident: the outcome and the reasons written for them."""
    language, t = _texts(account)
    day = format_date(appeal.decided_on, language)
    if appeal.status == AppealStatus.UPHELD:
        outcome = t["upheld"].format(day=day)
    else:
        shutoff = format_date(shutoff_from, language) if shutoff_from else day
        outcome = t["denied"].format(day=day, shutoff=shutoff)
    return [*_wrap(outcome), "", t["reasons"], *_wrap(appeal.resident_reasons or "")]


def letter_pdf(config: Mapping, account: Account, title: str, appeal, words: list[str]) -> bytes:
    """A one-page letter: the letterhead, the account, the filing day and the sentences."""
    language, t = _texts(account)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(RIGHT + MARGIN, PAGE_HEIGHT))
    canvas.setTitle(title)
    y = _header(canvas, config, title)
    y = _facts(
        canvas,
        y,
        [
            (t["account"], account.number),
            (t["holder"], account.holder_name),
            (t["filed"], format_date(appeal.filed_on, language)),
        ],
    )
    _lines(canvas, y - 10, words)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def acknowledgement_pdf(config: Mapping, appeal: ShutoffAppeal, account: Account) -> bytes:
    """The acknowledgement of a filed appeal as a PDF."""
    _language, t = _texts(account)
    return letter_pdf(
        config, account, t["ack_title"], appeal, acknowledgement_words(appeal, account)
    )


def decision_pdf(
    config: Mapping, appeal: ShutoffAppeal, account: Account, shutoff_from: date | None
) -> bytes:
    """The decision letter as a PDF (the reasons for the resident; never the internal note)."""
    _language, t = _texts(account)
    words = decision_words(appeal, account, shutoff_from)
    return letter_pdf(config, account, t["decision_title"], appeal, words)


def _send(
    config: Mapping, mailer: Mailer, account: Account, subject: str, words: list[str], pdf: bytes
) -> str:
    if not (account.email and account.email_bounced_at is None):
        return "to_mail"
    language, t = _texts(account)
    text = "\n".join([f"{t['account']} {account.number}", "", *words]) + "\n"
    message = Message(
        to=account.email,
        subject=subject.format(town=config["MUNICIPALITY_NAME"]),
        text=text,
        html="<p>" + "<br>".join(escape(line) for line in text.splitlines()) + "</p>",
        attachment_name=f"appeal-{account.number}.pdf",
        attachment=pdf,
        language=language,
    )
    outcome = mailer.send(message)
    return "emailed" if outcome.status in ("sent", "written") else "to_mail"


def send_acknowledgement(
    config: Mapping, mailer: Mailer, appeal: ShutoffAppeal, account: Account
) -> str:
    """E-mail the acknowledgement to a working address: "emailed"; else "to_mail"."""
    _language, t = _texts(account)
    pdf = acknowledgement_pdf(config, appeal, account)
    words = acknowledgement_words(appeal, account)
    return _send(config, mailer, account, t["subject_ack"], words, pdf)


def send_decision(
    config: Mapping,
    mailer: Mailer,
    appeal: ShutoffAppeal,
    account: Account,
    shutoff_from: date | None,
) -> str:
    """E-mail the decision letter to a working address: "emailed"; else "to_mail"."""
    _language, t = _texts(account)
    pdf = decision_pdf(config, appeal, account, shutoff_from)
    words = decision_words(appeal, account, shutoff_from)
    return _send(config, mailer, account, t["subject_decision"], words, pdf)


def tell_decision(session, config: Mapping, mailer: Mailer, appeal: ShutoffAppeal) -> str:
    """Send the decision letter for a decided appeal; a denial names the earliest shutoff it
    allows (the rule's business days after the decision)."""
    from billing.closed_days import town_working_calendar
    from billing.shutoff_rules import shutoff_rule_on
    from notices.shutoff_appeals import denial_earliest

    shutoff_from = None
    if appeal.status == AppealStatus.DENIED:
        calendar = town_working_calendar(session, config.get("MUNICIPALITY_STATE", ""))
        rule = shutoff_rule_on(session, appeal.decided_on)
        shutoff_from = denial_earliest(calendar, rule, appeal.decided_on)
    account = session.get(Account, appeal.account_id)
    return send_decision(config, mailer, appeal, account, shutoff_from)

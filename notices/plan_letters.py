"""The papers of a payment plan: the agreement a resident accepts online or signs at the
counter, and the letter that tells a resident the plan defaulted; in English and Spanish.

`agreement_pdf` and `default_letter_pdf` draw plain values on US Letter in the notices' fonts;
`tell_default` e-mails the default letter to a working address, else leaves it for the clerks
to mail from the plans page (docs/arrangements.md, "Default").
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date
from html import escape

from reportlab.pdfgen.canvas import Canvas
from sqlalchemy.orm import Session

from accounts.models import Account
from billing.arrangements import current_plans, plan_standing, schedule_of
from billing.arrangements_terms import GROUP_WORDS, Standing
from billing.models import PaymentPlan
from core.money import format_cents
from notices.mail_delivery import Mailer
from notices.mail_message import Message, format_date
from notices.pdf_sheet import BOLD, GREY, INK, MARGIN, PAGE_HEIGHT, REGULAR, RIGHT, RULE

TEXTS = {
    "en": {
        "agreement": "Payment plan agreement",
        "account": "Account",
        "holder": "Account holder",
        "included": "Balance included in the plan",
        "classes": "Charges included",
        "schedule": "Schedule of payments",
        "number": "Payment",
        "due": "Due",
        "amount": "Amount",
        "down": "Down payment",
        "installment": "Installment {n}",
        "total": "Total",
        "terms": [
            "This plan schedules a balance you already owe; it adds no charge.",
            "While you keep the plan, the town does not add late penalties to the included",
            "balance, send reminders for it or start a shutoff for it, as its rules say.",
            "New bills are due on their own due dates, as usual.",
            "If a payment is more than {grace} days late, the plan ends: the whole remaining",
            "balance is due at once and collection resumes.",
        ],
        "accepted": "Accepted online on {day}.",
        "sign": "Signature of the account holder",
        "date": "Date",
        "default_title": "Your payment plan has ended",
        "default_body": [
            "The payment of {amount} due on {due} was not received within {grace} days.",
            "Your payment plan ended on {day}. The remaining balance of {remaining}",
            "is now due in full, and the usual reminders and penalties apply again.",
            "Please pay or call the town office to talk about your account.",
        ],
        "subject": "{town}: your payment plan has ended",
        "bill_line": "Payment plan: {amount} due {due} ({what}); {left} of the plan is left.",
        "bill_down": "down payment",
        "bill_installment": "installment {n}",
    },
    "es": {
        "agreement": "Acuerdo de plan de pagos",
        "account": "Cuenta",
        "holder": "Titular de la cuenta",
        "included": "Saldo incluido en el plan",
        "classes": "Cargos incluidos",
        "schedule": "Calendario de pagos",
        "number": "Pago",
        "due": "Vence",
        "amount": "Importe",
        "down": "Pago inicial",
        "installment": "Cuota {n}",
        "total": "Total",
        "terms": [
            "Este plan distribuye un saldo que usted ya debe; no agrega ningún cargo.",
            "Mientras cumpla el plan, el municipio no agrega recargos al saldo incluido,",
            "no envía recordatorios ni inicia un corte de servicio por ese saldo, según sus reglas.",
            "Las facturas nuevas vencen en sus propias fechas, como siempre.",
            "Si un pago se atrasa más de {grace} días, el plan termina: todo el saldo",
            "restante vence de inmediato y se reanuda el cobro.",
        ],
        "accepted": "Aceptado en línea el {day}.",
        "sign": "Firma del titular de la cuenta",
        "date": "Fecha",
        "default_title": "Su plan de pagos ha terminado",
        "default_body": [
            "No recibimos el pago de {amount} que vencía el {due} dentro de {grace} días.",
            "Su plan de pagos terminó el {day}. El saldo restante de {remaining}",
            "vence ahora en su totalidad, y se aplican de nuevo los recordatorios y recargos.",
            "Por favor pague o llame a la oficina municipal para hablar de su cuenta.",
        ],
        "subject": "{town}: su plan de pagos ha terminado",
        "bill_line": "Plan de pagos: {amount} vence el {due} ({what}); quedan {left} del plan.",
        "bill_down": "pago inicial",
        "bill_installment": "cuota {n}",
    },
}
GROUP_WORDS_ES = {"utility": "servicios públicos", "tax": "impuesto predial", "other": "otros"}


def _texts(language: str) -> dict:
    """The texts of a language; English when munibill has none for it."""
    return TEXTS.get(str(language).lower(), TEXTS["en"])


def _header(canvas: Canvas, config: Mapping, title: str) -> float:
    """The town's letterhead and the title; returns where the body starts."""
    top = PAGE_HEIGHT - MARGIN
    canvas.setFillColorRGB(*INK)
    canvas.setFont(BOLD, 14)
    canvas.drawString(MARGIN, top - 14, config["MUNICIPALITY_NAME"])
    canvas.setFont(REGULAR, 9)
    canvas.setFillColorRGB(*GREY)
    canvas.drawString(MARGIN, top - 28, config["MUNICIPALITY_ADDRESS"])
    canvas.setFillColorRGB(*INK)
    canvas.setFont(BOLD, 16)
    canvas.drawString(MARGIN, top - 64, title)
    canvas.setStrokeColorRGB(*RULE)
    canvas.line(MARGIN, top - 72, RIGHT, top - 72)
    return top - 96


def _lines(canvas: Canvas, y: float, lines: Sequence[str], size: int = 10) -> float:
    """Draw lines of text from y down; returns the next y."""
    canvas.setFont(REGULAR, size)
    for line in lines:
        canvas.drawString(MARGIN, y, line)
        y -= size + 4
    return y


def _facts(canvas: Canvas, y: float, rows: Sequence[tuple[str, str]]) -> float:
    """Label and value rows; returns the next y."""
    for label, value in rows:
        canvas.setFont(REGULAR, 10)
        canvas.drawString(MARGIN, y, label)
        canvas.setFont(BOLD, 10)
        canvas.drawString(MARGIN + 200, y, value)
        y -= 15
    return y


def included_words(groups: Sequence[str], language: str) -> str:
    """The included groups in the resident's words."""
    words = GROUP_WORDS_ES if str(language).lower() == "es" else GROUP_WORDS
    return ", ".join(words.get(g, g) for g in groups)


def agreement_pdf(config: Mapping, plan: PaymentPlan, account: Account, language: str) -> bytes:
    """The agreement: who, the balance included, the schedule, the terms, and its acceptance
    (the day it was accepted online, or lines to sign at the counter)."""
    t = _texts(language)
    lang = "es" if str(language).lower() == "es" else "en"
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(RIGHT + MARGIN, PAGE_HEIGHT))
    canvas.setTitle(t["agreement"])
    y = _header(canvas, config, t["agreement"])
    y = _facts(
        canvas,
        y,
        [
            (t["account"], account.number),
            (t["holder"], account.holder_name),
            (t["included"], format_cents(plan.included_cents)),
            (t["classes"], included_words(plan.classes, language)),
        ],
    )
    y -= 10
    canvas.setFont(BOLD, 11)
    canvas.drawString(MARGIN, y, t["schedule"])
    y -= 18
    for part in schedule_of(plan):
        label = t["down"] if part.number == 0 else t["installment"].format(n=part.number)
        canvas.setFont(REGULAR, 10)
        canvas.drawString(MARGIN, y, label)
        canvas.drawString(MARGIN + 200, y, format_date(part.due_date, lang))
        canvas.drawRightString(RIGHT, y, format_cents(part.amount_cents))
        y -= 14
    canvas.setFont(BOLD, 10)
    canvas.drawString(MARGIN, y, t["total"])
    canvas.drawRightString(RIGHT, y, format_cents(sum(i.amount_cents for i in plan.installments)))
    y -= 28
    y = _lines(canvas, y, [line.format(grace=plan.rule.grace_days) for line in t["terms"]])
    y -= 24
    if plan.accepted_how == "online" and plan.accepted_on is not None:
        _lines(canvas, y, [t["accepted"].format(day=format_date(plan.accepted_on, lang))])
    else:
        canvas.line(MARGIN, y, MARGIN + 260, y)
        canvas.line(MARGIN + 320, y, RIGHT, y)
        canvas.setFont(REGULAR, 8)
        canvas.drawString(MARGIN, y - 10, t["sign"])
        canvas.drawString(MARGIN + 320, y - 10, t["date"])
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def default_letter_pdf(
    config: Mapping, plan: PaymentPlan, account: Account, now: Standing, language: str
) -> bytes:
    """The letter telling a resident the plan ended: the missed payment and what is due now."""
    t = _texts(language)
    lang = "es" if str(language).lower() == "es" else "en"
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(RIGHT + MARGIN, PAGE_HEIGHT))
    canvas.setTitle(t["default_title"])
    y = _header(canvas, config, t["default_title"])
    y = _facts(canvas, y, [(t["account"], account.number), (t["holder"], account.holder_name)])
    _lines(canvas, y - 10, default_words(plan, now, lang))
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def default_words(plan: PaymentPlan, now: Standing, language: str) -> list[str]:
    """The default letter's sentences in a language."""
    t = _texts(language)
    missed = next(
        (i for i in plan.installments if i.number == plan.missed_installment),
        plan.installments[-1],
    )
    day: date = plan.ended_on or now.as_of
    return [
        line.format(
            amount=format_cents(missed.amount_cents),
            due=format_date(missed.due_date, language),
            grace=plan.rule.grace_days,
            day=format_date(day, language),
            remaining=format_cents(now.remaining_cents),
        )
        for line in t["default_body"]
    ]


def plan_bill_lines(session: Session, account: Account, day: date) -> tuple[str, ...]:
    """For a bill or notice made on a day: the current plan's installment to pay next and what
    of the plan is left, in the account's language (none without a current plan)."""
    plans = current_plans(session, [account.id], day)
    if not plans:
        return ()
    plan = plans[0]
    now = plan_standing(session, plan, day)
    if now.next_unpaid is None:
        return ()
    language = str(account.language)
    t = _texts(language)
    part = now.next_unpaid
    what = t["bill_down"] if part.number == 0 else t["bill_installment"].format(n=part.number)
    covered = sum(i.amount_cents for i in plan.installments if i.number <= part.number)
    amount = max(now.due_now_cents, min(covered - now.paid_cents, part.amount_cents))
    return (
        t["bill_line"].format(
            amount=format_cents(amount),
            due=format_date(part.due_date, language),
            what=what,
            left=format_cents(now.remaining_cents),
        ),
    )


def tell_default(
    config: Mapping, mailer: Mailer, plan: PaymentPlan, account: Account, now: Standing
) -> str:
    """E-mail the default letter to a working address: "emailed"; else "to_mail" (the clerks
    print it from the plans page)."""
    if not (account.email and account.email_bounced_at is None):
        return "to_mail"
    language = str(account.language)
    t = _texts(language)
    lines = [f"{t['account']} {account.number}", "", *default_words(plan, now, language)]
    text = "\n".join(lines) + "\n"
    message = Message(
        to=account.email,
        subject=t["subject"].format(town=config["MUNICIPALITY_NAME"]),
        text=text,
        html="<p>" + "<br>".join(escape(line) for line in text.splitlines()) + "</p>",
        attachment_name=f"plan-{account.number}.pdf",
        attachment=default_letter_pdf(config, plan, account, now, language),
        language=language,
    )
    outcome = mailer.send(message)
    return "emailed" if outcome.status in ("sent", "written") else "to_mail"

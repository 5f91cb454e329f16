"""Writing a notice e-mail: its texts in English or Spanish, and the MIME message with its PDF.

Pure of the database: plain values in, plain results out. `message_for` writes
the subject and bodies of a notice e-mail in the account's language;
`compose` builds the MIME message that notices.mail_delivery sends.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from core.money import format_cents

#: The notice kinds an e-mail can carry (the values of notices.document.NoticeKind).
KINDS = (
    "utility_bill",
    "tax_bill",
    "reminder",
    "past_due",
    "final",
    "receipt",
    "refund",
    "statement",
    "shutoff",
)

#: Every text of a notice e-mail, per language; both languages have the same keys.
#: Placeholders: {municipality}, {account_number}, {reference}, {amount}, {due_date},
#: {pay_url}, {name}. Values are escaped when the HTML body is built, never here.
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "subject.utility_bill": "{municipality}: utility bill for account {account_number}",
        "subject.tax_bill": "{municipality}: property tax bill for account {account_number}",
        "subject.reminder": "{municipality}: payment reminder for account {account_number}",
        "subject.past_due": "{municipality}: past-due notice for account {account_number}",
        "subject.final": "{municipality}: final notice for account {account_number}",
        "subject.receipt": "{municipality}: payment receipt for account {account_number}",
        "subject.refund": "{municipality}: refund notice for account {account_number}",
        "subject.statement": "{municipality}: account statement for account {account_number}",
        "intro.utility_bill": "Your utility bill is attached as a PDF.",
        "intro.tax_bill": "Your property tax bill is attached as a PDF.",
        "intro.reminder": (
            "This is a reminder about a payment on your account. "
            "The reminder notice is attached as a PDF."
        ),
        "intro.past_due": (
            "Your account has a past-due balance. The past-due notice is attached as a PDF."
        ),
        "intro.final": (
            "This is a final notice about the unpaid balance on your account. "
            "The notice is attached as a PDF; please read it promptly."
        ),
        "intro.receipt": "Thank you for your payment. Your receipt is attached as a PDF.",
        "intro.refund": (
            "A refund has been issued on your account. The refund notice is attached as a PDF."
        ),
        "intro.statement": "Your account statement is attached as a PDF.",
        "amount.utility_bill": "Amount due",
        "amount.tax_bill": "Amount due",
        "amount.reminder": "Amount due",
        "amount.past_due": "Amount past due",
        "amount.final": "Amount due",
        "amount.receipt": "Amount paid",
        "amount.refund": "Amount refunded",
        "amount.statement": "Balance",
        "subject.shutoff": "{municipality}: shutoff notice for account {account_number}",
        "intro.shutoff": (
            "Your utility service may be shut off unless the past-due amount is paid. "
            "The shutoff notice, with the date and the amount that stops it, is attached as a PDF."
        ),
        "amount.shutoff": "Past-due amount that stops the shutoff",
        "greeting": "Dear {name},",
        "account": "Account",
        "reference": "Reference",
        "due_date": "Due date",
        "pay_text": "Pay online: {pay_url}",
        "pay_link": "Pay online",
        "footer": (
            "This message was sent by {municipality}. Please do not reply to it; "
            "for questions, contact the office shown on the attached notice."
        ),
    },
    "es": {
        "subject.utility_bill": (
            "{municipality}: factura de servicios públicos de la cuenta {account_number}"
        ),
        "subject.tax_bill": (
            "{municipality}: factura del impuesto sobre la propiedad de la cuenta {account_number}"
        ),
        "subject.reminder": "{municipality}: recordatorio de pago de la cuenta {account_number}",
        "subject.past_due": "{municipality}: aviso de pago vencido de la cuenta {account_number}",
        "subject.final": "{municipality}: aviso final de la cuenta {account_number}",
        "subject.receipt": "{municipality}: recibo de pago de la cuenta {account_number}",
        "subject.refund": "{municipality}: aviso de reembolso de la cuenta {account_number}",
        "subject.statement": "{municipality}: estado de cuenta de la cuenta {account_number}",
        "intro.utility_bill": "Adjuntamos su factura de servicios públicos en PDF.",
        "intro.tax_bill": "Adjuntamos su factura del impuesto sobre la propiedad en PDF.",
        "intro.reminder": (
            "Le recordamos un pago pendiente en su cuenta. Adjuntamos el recordatorio en PDF."
        ),
        "intro.past_due": (
            "Su cuenta tiene un saldo vencido. Adjuntamos el aviso de pago vencido en PDF."
        ),
        "intro.final": (
            "Este es un aviso final sobre el saldo impago de su cuenta. "
            "Adjuntamos el aviso en PDF; léalo cuanto antes."
        ),
        "intro.receipt": "Gracias por su pago. Adjuntamos su recibo en PDF.",
        "intro.refund": (
            "Se ha emitido un reembolso en su cuenta. Adjuntamos el aviso de reembolso en PDF."
        ),
        "intro.statement": "Adjuntamos su estado de cuenta en PDF.",
        "amount.utility_bill": "Importe a pagar",
        "amount.tax_bill": "Importe a pagar",
        "amount.reminder": "Importe a pagar",
        "amount.past_due": "Importe vencido",
        "amount.final": "Importe a pagar",
        "amount.receipt": "Importe pagado",
        "amount.refund": "Importe reembolsado",
        "amount.statement": "Saldo",
        "subject.shutoff": "{municipality}: aviso de corte de servicio de la cuenta {account_number}",
        "intro.shutoff": (
            "Su servicio público puede cortarse si no se paga el saldo vencido. Adjuntamos en PDF "
            "el aviso de corte, con la fecha y el importe que lo evita."
        ),
        "amount.shutoff": "Saldo vencido que evita el corte",
        "greeting": "Estimado(a) {name}:",
        "account": "Cuenta",
        "reference": "Referencia",
        "due_date": "Fecha de vencimiento",
        "pay_text": "Pague en línea: {pay_url}",
        "pay_link": "Pague en línea",
        "footer": (
            "Este mensaje fue enviado por {municipality}. No responda a este correo; "
            "si tiene preguntas, comuníquese con la oficina que figura en el aviso adjunto."
        ),
    },
}

_MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "es": (
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
    ),
}


@dataclass(frozen=True)
class Message:
    """One notice e-mail, ready to compose: texts already in its language."""

    #: The recipient's address.
    to: str
    subject: str
    #: The plain-text body.
    text: str
    #: The HTML body (every value in it already escaped).
    html: str
    #: The PDF's file name, e.g. "bill-12345678-2025-03.pdf".
    attachment_name: str
    #: The PDF's bytes.
    attachment: bytes
    #: "en" or "es"; becomes the Content-Language header.
    language: str


# --- Texts -----------------------------------------------------------------------------


def _language(language: str) -> str:
    """The language's key in TEXTS; ValueError if munibill has no texts for it."""
    key = str(language).lower()
    if key not in TEXTS:
        raise ValueError(f"no e-mail texts in language {language!r}; known: {', '.join(TEXTS)}")
    return key


def format_date(day: date, language: str) -> str:
    """A date as written in a sentence: "March 15, 2025" or "15 de marzo de 2025"."""
    month = _MONTHS[_language(language)][day.month - 1]
    if _language(language) == "es":
        return f"{day.day} de {month} de {day.year}"
    return f"{month} {day.day}, {day.year}"


def _one_line(text: str) -> str:
    """Collapse line breaks and runs of spaces, so a value cannot add a header."""
    return " ".join(text.split())


def message_for(
    kind: str,
    language: str,
    *,
    municipality: str,
    account_number: str,
    reference: str,
    amount_cents: int | None,
    due_date: date | None,
    pay_url: str | None,
    to: str,
    pdf: bytes,
    filename: str,
    holder_name: str | None = None,
    rows: Sequence[tuple[str, str]] = (),
) -> Message:
    """The subject and both bodies of a notice e-mail, in English or Spanish.

    Says what is attached, the amount and the due date when given, any further
    (label, value) `rows` already in the language (a receipt's: how, when and under
    which numbers it was paid), and the pay link when given. Every value is
    escaped in the HTML body. ValueError for an unknown kind or language, or a pay
    link that is not http(s).
    """
    kind = str(kind)
    if kind not in KINDS:
        raise ValueError(f"no e-mail texts for notice kind {kind!r}")
    lang = _language(language)
    texts = TEXTS[lang]
    if pay_url is not None and not pay_url.lower().startswith(("https://", "http://")):
        raise ValueError(f"the pay link must be an http(s) URL, not {pay_url!r}")
    values = {
        "municipality": municipality,
        "account_number": account_number,
        "reference": reference,
        "amount": format_cents(amount_cents) if amount_cents is not None else "",
        "due_date": format_date(due_date, lang) if due_date is not None else "",
        "pay_url": pay_url or "",
        "name": holder_name or "",
    }

    def say(key: str) -> str:
        return texts[key].format(**values)

    subject = _one_line(say(f"subject.{kind}"))
    details = [(texts["account"], account_number)]
    if reference:
        details.append((texts["reference"], reference))
    if amount_cents is not None:
        details.append((texts[f"amount.{kind}"], values["amount"]))
    if due_date is not None:
        details.append((texts["due_date"], values["due_date"]))
    details += [(label, _one_line(value)) for label, value in rows]

    text_lines = []
    if holder_name:
        text_lines += [say("greeting"), ""]
    text_lines += [say(f"intro.{kind}"), ""]
    text_lines += [f"{label}: {value}" for label, value in details]
    if pay_url:
        text_lines += ["", say("pay_text")]
    text_lines += ["", "-- ", say("footer"), ""]

    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{esc(lang)}">',
        '<head><meta charset="utf-8">',
        f"<title>{esc(subject)}</title></head>",
        '<body style="font-family: Arial, Helvetica, sans-serif; color: #222;">',
    ]
    if holder_name:
        parts.append(f"<p>{esc(say('greeting'))}</p>")
    parts.append(f"<p>{esc(say(f'intro.{kind}'))}</p>")
    parts.append('<table role="presentation" cellpadding="4" cellspacing="0">')
    parts += [
        f'<tr><th align="left">{esc(label)}</th><td>{esc(value)}</td></tr>'
        for label, value in details
    ]
    parts.append("</table>")
    if pay_url:
        parts.append(f'<p><a href="{esc(pay_url)}">{esc(texts["pay_link"])}</a></p>')
    parts.append(f'<p style="color: #666; font-size: 90%;">{esc(say("footer"))}</p>')
    parts += ["</body>", "</html>", ""]

    return Message(
        to=to,
        subject=subject,
        text="\n".join(text_lines),
        html="\n".join(parts),
        attachment_name=filename,
        attachment=pdf,
        language=lang,
    )


# --- Composing -------------------------------------------------------------------------


def _address(value: str) -> str:
    """The bare address in "Name <addr>" or "addr"."""
    return parseaddr(value)[1]


def _domain(sender: str) -> str:
    """The domain of the sender's address, for the Message-ID."""
    domain = _address(sender).rpartition("@")[2].strip().strip(">").lower()
    return domain or "localhost"


def compose(message: Message, *, sender: str) -> EmailMessage:
    """The MIME message: multipart/mixed of multipart/alternative (plain, HTML) and the PDF."""
    composed = EmailMessage(policy=policy.default)
    composed["From"] = sender
    composed["To"] = message.to
    composed["Subject"] = _one_line(message.subject)
    composed["Date"] = formatdate(localtime=False)
    composed["Message-ID"] = make_msgid(domain=_domain(sender))
    composed.set_content(message.text, subtype="plain", charset="utf-8")
    composed.add_alternative(message.html, subtype="html", charset="utf-8")
    if message.attachment:
        composed.add_attachment(
            message.attachment,
            maintype="application",
            subtype="pdf",
            filename=message.attachment_name,
        )
    # Last: making the message multipart moves every Content-* header into the first part.
    composed["Content-Language"] = message.language
    return composed

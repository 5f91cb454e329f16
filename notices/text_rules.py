"""Text messages, the pure part: mobile numbers in E.164, how many SMS segments a body takes,
the quiet hours on the town's clock, the reply keywords, and the words of every text and of
the consent, in English and Spanish (docs/texts.md). Plain values in and out.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.money import format_cents
from notices.mail_message import format_date

#: The version of the consent words below; stored with each consent. Change it with them.
CONSENT_VERSION = "2026-12-06"
#: A notice's text takes at most this many SMS segments.
MAX_SEGMENTS = 2

#: GSM 03.38 basic character set (a character is 7 bits) and its extension (two characters).
GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = set("^{}\\[~]|€\f")

#: Replies that end texting, resume it, or ask for help (matched on the whole reply).
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
START_WORDS = {"START", "UNSTOP", "YES"}
HELP_WORDS = {"HELP", "INFO"}


class BadNumber(ValueError):
    """A number that cannot receive the town's texts; the message says why."""


def normalize_us_mobile(raw: str) -> str:
    """A US number as typed ("(920) 203-4567", "920.203.4567", "+1 920 203 4567") in E.164
    ("+19202034567"); BadNumber with the reason otherwise."""
    text = (raw or "").strip()
    if not text:
        raise BadNumber("Enter a mobile phone number.")
    if re.search(r"[^\d\s().+-]", text):
        raise BadNumber("A phone number has only digits (and spaces, dashes or parentheses).")
    digits = re.sub(r"\D", "", text)
    if text.startswith("+") and not digits.startswith("1"):
        raise BadNumber("Only US mobile numbers can receive the town's texts.")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        raise BadNumber("A US phone number has 10 digits, area code first.")
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    if area[0] in "01" or exchange[0] in "01":
        raise BadNumber("This is not a valid US phone number (check the area code).")
    if area[1:] == "11":
        raise BadNumber("This is not a valid US phone number (check the area code).")
    if exchange == "555" and line.startswith("01"):
        raise BadNumber("555-01XX numbers are reserved for fiction and cannot receive texts.")
    return f"+1{digits}"


def display_number(e164: str) -> str:
    """ "+19202034567" as "(920) 203-4567"."""
    digits = e164.removeprefix("+1")
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def is_gsm(body: str) -> bool:
    """True when every character is in the GSM 7-bit alphabet (else the text goes as UCS-2)."""
    return all(char in GSM_BASIC or char in GSM_EXTENDED for char in body)


def segments(body: str) -> int:
    """How many SMS segments the body takes: 160 GSM characters alone or 153 each in parts;
    70 UCS-2 characters alone or 67 each in parts (a character outside the BMP counts two)."""
    if is_gsm(body):
        length = sum(2 if char in GSM_EXTENDED else 1 for char in body)
        single, part = 160, 153
    else:
        length = sum(2 if ord(char) > 0xFFFF else 1 for char in body)
        single, part = 70, 67
    if length <= single:
        return 1
    return -(-length // part)


def quiet_until(now: datetime, zone: ZoneInfo, quiet: tuple[int, int]) -> datetime | None:
    """When the quiet hours (minutes of the town's day: start, end) hold at `now`, the UTC
    instant they end; None when a text may go now."""
    local = now.astimezone(zone)
    minute = local.hour * 60 + local.minute
    start, end = quiet
    if start > end:  # across midnight, e.g. 21:00-08:00
        inside = minute >= start or minute < end
        day = local.date() + timedelta(days=1) if minute >= start else local.date()
    else:
        inside = start <= minute < end
        day = local.date()
    if not inside:
        return None
    resume = datetime.combine(day, time(end // 60, end % 60), tzinfo=zone)
    return resume.astimezone(UTC)


def keyword(body: str) -> str | None:
    """ "stop", "start" or "help" for a reply that is one of those words; None otherwise."""
    word = (body or "").strip().strip(".!").upper()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return None


WORDS = {
    "en": {
        "consent": (
            "I agree that {town} may send automated text messages about account {account} "
            "(shutoff notices and other notices about the account) to the mobile number I "
            "entered. Consent is not a condition of any service or payment. Message frequency varies. Message and data "
            "rates may apply. Reply HELP for help and STOP to cancel at any time."
        ),
        "welcome": (
            "{town}: texts about account {account} are on. Msg frequency varies; msg & data "
            "rates may apply. Reply HELP for help, STOP to opt out."
        ),
        "help": "{town} billing: call {phone}. Msg & data rates may apply. Reply STOP to opt out.",
        "resumed": "{town}: texts are on again. Reply HELP for help, STOP to opt out.",
        "shutoff": (
            "{town}: SHUTOFF NOTICE. Your utility service may be shut off on or after {date} "
            "unless the past-due amount of {amount} is paid before then. Pay: {url} "
            "Reply STOP to opt out."
        ),
        "hanger": (
            "{town}: 48-HOUR NOTICE. Your water service may be shut off on or after {date} "
            "unless the past-due amount of {amount} is paid. Pay: {url} Reply STOP to opt out."
        ),
    },
    "es": {
        "consent": (
            "Acepto que {town} envíe mensajes de texto automáticos sobre la cuenta {account} "
            "(avisos de corte y otros avisos de la cuenta) al número móvil que indiqué. El "
            "consentimiento no es "
            "condición de ningún servicio ni pago. La frecuencia de los mensajes varía. Pueden "
            "aplicarse tarifas de mensajes y datos. Responda HELP para obtener ayuda y STOP "
            "para cancelar en cualquier momento."
        ),
        "welcome": (
            "{town}: ya recibirá textos sobre la cuenta {account}. Pueden aplicarse tarifas. "
            "HELP: ayuda. STOP: cancelar."
        ),
        "help": "{town}: llame al {phone}. Pueden aplicarse tarifas. Responda STOP para cancelar.",
        "resumed": "{town}: los textos se reanudaron. HELP: ayuda. STOP: cancelar.",
        # NOTE: only GSM characters (no á, í, ó, ú), so the notice fits in two segments.
        "shutoff": (
            "{town}: AVISO DE CORTE. Su servicio puede cortarse a partir del {date} si antes no "
            "se paga el saldo vencido de {amount}. Pague en {url} Responda STOP para cancelar."
        ),
        "hanger": (
            "{town}: AVISO DE 48 HORAS. Su servicio de agua puede cortarse a partir del {date} "
            "si no se paga el saldo vencido de {amount}. Pague en {url} Responda STOP para "
            "cancelar."
        ),
    },
}


def words(language: str) -> dict[str, str]:
    """The texts of a language (English for any other)."""
    return WORDS.get(language, WORDS["en"])


def shutoff_body(
    language: str, town: str, amount_cents: int, shutoff_on: date, url: str, *, kind="shutoff"
) -> str:
    """The shutoff notice's text (kind "shutoff"; "hanger": the 48-hour notice's): the town,
    the amount that stops it, the earliest shutoff date, where to pay and how to opt out. Never
    the access code."""
    return words(language)[kind].format(
        town=town,
        amount=format_cents(amount_cents),
        date=format_date(shutoff_on, language if language in WORDS else "en"),
        url=url,
    )

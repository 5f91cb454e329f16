"""What a bill's lines and meter reads say in the account's language.

Each invoice line keeps its description and unit in every language as posted (billing.words);
a language it has no text in gets the default language's. A meter read's service and unit are
fixed words: the service from notices.texts, the unit from billing.words.
"""

from __future__ import annotations

from dataclasses import replace

from billing.computed import RuleError
from billing.models import Invoice
from billing.rate_plan_format import parse_unit
from billing.words import text_in, words
from notices.document import Line, MeterRead
from notices.texts import TEXTS


def invoice_lines(invoice: Invoice, language: str) -> tuple[Line, ...]:
    """The invoice's lines with their arithmetic, in the language (the default one's where the
    line has no text in it)."""
    return tuple(
        Line(
            description=text_in(line.descriptions, language, line.description),
            amount_cents=line.amount_cents,
            quantity=line.quantity,
            unit=line.unit,
            rate=line.unit_rate,
            rate_places=line.rate_places,
            unit_words=text_in(line.units, language, line.unit or "") or None,
        )
        for line in invoice.lines
    )


def read_in(read: MeterRead, language: str) -> MeterRead:
    """A meter read with its service and unit in the notice's language."""
    texts = TEXTS.get(language, TEXTS["en"])
    try:
        unit = str(words(language)[f"unit.{parse_unit(read.unit, 'meter_unit')}"])
    except RuleError:
        unit = read.unit
    return replace(read, service=str(texts.get(f"service.{read.service}", read.service)), unit=unit)

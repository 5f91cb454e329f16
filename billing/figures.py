"""How a line's arithmetic is printed: its quantity, unit and rate, as the tariff writes them.

Pure module, and the one place notices, the portal and the console take a line's figures from,
so that a bill reads the same wherever a resident or a clerk sees it (docs/rates.md, "How a
line is printed"):

- a quantity is printed exactly, trailing zeros trimmed: 1, 4.5, 12,000;
- a rate is printed with the decimal places the rules wrote it with ("11.95" prints $11.95,
  "4.4400" prints $4.4400), never more than stored and never in exponent form; a line whose
  places were not kept prints its rate without trailing zeros;
- a tax line reads so that quantity × rate is the amount before rounding: the taxable value
  × the rate in mills or percent, or the value in hundreds × the rate per $100.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from billing.words import DEFAULT_LANGUAGE, WORDS, words
from core.money import format_cents

#: The tax basis of a line, from its unit in the default language ("per $1,000 of value": mills).
BASIS_OF_UNIT = {WORDS[DEFAULT_LANGUAGE][f"unit.{b}"]: b for b in ("mills", "per_100", "percent")}


@dataclass(frozen=True)
class Figures:
    """A line's arithmetic as printed: the notice's columns, and the sentence the pages use."""

    quantity: str
    unit: str
    rate: str
    #: "4.5 × $4.09 per 1,000 gallons", "taxable value $148,822.25 × 5.214 mills".
    text: str


def plain(number: Decimal, places: int | None = None) -> str:
    """A number grouped by thousands with `places` decimals (None: no trailing zeros)."""
    exponent = number.as_tuple().exponent
    stored = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places is None:
        return f"{number.normalize():,f}"
    return f"{number:,.{min(places, stored)}f}"


def line_figures(
    quantity: Decimal | None,
    rate: Decimal | None,
    *,
    unit: str | None,
    unit_words: str | None = None,
    rate_places: int | None = None,
    language: str = DEFAULT_LANGUAGE,
) -> Figures | None:
    """A line's figures in a language, or None for a line without a quantity and a rate.

    `unit` is the line's unit in the default language, as stored; it tells a tax line's basis.
    `unit_words` is the unit in the language (the line's own, else `unit`).
    """
    if quantity is None or rate is None:
        return None
    table = words(language)
    shown = plain(rate, rate_places)
    basis = BASIS_OF_UNIT.get(unit or "")
    if basis == "per_100":
        hundreds, per = plain(quantity / 100), table["figures.hundreds"]
        return Figures(hundreds, per, f"${shown}", _sentence(table, hundreds, f"${shown}", per))
    if basis is not None:
        value = format_cents(int(quantity * 100))
        worded = table[f"figures.{basis}"].format(rate=shown)
        taxable = table["figures.taxable"]
        text = table["figures.taxed"].format(unit=taxable, quantity=value, rate=worded)
        return Figures(value, taxable, worded, text)
    count, label = plain(quantity), unit_words or unit or ""
    return Figures(count, label, f"${shown}", _sentence(table, count, f"${shown}", label))


def _sentence(table: dict, quantity: str, rate: str, unit: str) -> str:
    """'4.5 × $4.09 per 1,000 gallons', or '4.5 × $4.09' for a line without a unit."""
    if not unit:
        return f"{quantity} × {rate}"
    return table["figures.line"].format(quantity=quantity, rate=rate, unit=unit)

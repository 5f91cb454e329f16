"""Texts in the town's languages: translatable texts of the rules files, and the words the
engine writes itself (units, block ranges, penalty details, how a line's arithmetic reads).

Pure module. A translatable text in a rules file is a plain string, which is the default
language's, or a mapping of language to string (`{en: "Water usage", es: "Consumo de agua"}`).
The default language's text is required; it is shown in a language that has none. What the
engine writes itself is in `WORDS`, one dictionary per language with the same keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from babel.dates import get_month_names

from billing.computed import RuleError

#: The language of a plain string in a rules file, and the fallback of every other one.
DEFAULT_LANGUAGE = "en"
#: The languages notices and pages are written in (accounts.models.Language has the same).
LANGUAGES = ("en", "es")
#: A text's wording in the languages other than the default: ((language, text), ...).
Translations = tuple[tuple[str, str], ...]


def _months(language: str) -> tuple[str, ...]:
    """The names of the months in a language, as the Unicode CLDR writes them (through Babel)."""
    return tuple(get_month_names("wide", locale=language).values())


WORDS: dict[str, dict[str, Any]] = {
    "en": {
        # The units of invoice lines.
        "unit.gal": "gallons",
        "unit.kgal": "1,000 gallons",
        "unit.cf": "cubic feet",
        "unit.hcf": "HCF",
        "unit.ccf": "CCF",
        "unit.m3": "cubic metres",
        "unit.monthly": "month",
        "unit.bimonthly": "2 months",
        "unit.quarterly": "quarter",
        "unit.dwelling": "dwelling unit",
        "unit.mills": "per $1,000 of value",
        "unit.per_100": "per $100 of value",
        "unit.percent": "% of value",
        # Descriptions the engine completes.
        "line.range": "{text} ({low}–{high} {symbol})",
        "line.over": "{text} (over {low} {symbol})",
        "line.first": "{text} (first {included} {symbol})",
        "line.meter": "{text}, {size} meter",
        "line.limit": "{text} ({amount})",
        "line.estimated": "{text} (estimated read)",
        "line.tax_ceiling": "{name}: frozen at the tax ceiling of {ceiling}",
        # Penalty and interest charges.
        "penalty.default": "Late payment penalty",
        "interest.default": "Interest on unpaid balance",
        "penalty.percent": ": {percent}% of {base}",
        "penalty.cumulative": ": {percent}% of {base} (rounded with the months before)",
        "penalty.schedule": ": brings the total to {percent}% of {base}",
        "penalty.unpaid": "{amount} unpaid",
        "penalty.original": "{amount} billed",
        "penalty.minimum": " (minimum charge)",
        "penalty.cap": " (limited to the cap of {cap})",
        "penalty.period": ", {label}",
        "penalty.month": "{month} {year}",
        "penalty.month_from": "month from {day}",
        "penalty.unpaid_with_charges": "{amount} unpaid, earlier charges included",
        "penalty.account_past_due": "{amount} past due on the account",
        "penalty.plus_flat": ": {flat} plus {percent}% of {base}",
        "penalty.daily": ": {percent}% a year for {days} days from {first} to {last} on what was unpaid",
        "penalty.tier": "{percent}% of {amount}",
        "penalty.tiers_comma": "{first}, {then}",
        "penalty.tiers_and": "{first} and {then}",
        "penalty.tiered": ": {parts} ({base})",
        "penalty.tiered_plus_flat": ": {flat} plus {parts} ({base})",
        "penalty.tiered_cumulative": ": {parts} ({base}; rounded with the months before)",
        "penalty.daily_tier": "{amount} at {percent}% a year{range}",
        "penalty.tier_up_to": " up to {upper}",
        "penalty.tier_above": " above {lower}",
        "penalty.tier_between": " from {lower} to {upper}",
        "penalty.tier_all": "",
        "penalty.daily_tiered": ": {parts}, {days} days from {first} to {last}",
        "months": _months("en"),
        # How a line's arithmetic reads (billing.figures).
        "figures.line": "{quantity} × {rate} per {unit}",
        "figures.taxable": "taxable value",
        "figures.taxed": "{unit} {quantity} × {rate}",
        "figures.mills": "{rate} mills",
        "figures.percent": "{rate}%",
        "figures.hundreds": "$100 of value",
        "unit.semi_annual": "6 months",
        "unit.annual": "year",
        "line.dates": "{text} ({start} – {end})",
        "line.greater": "{text} (the greater of {choices})",
        "line.lesser": "{text} (the lesser of {choices})",
        "line.credit_percent": "{text} ({percent}% of {amount})",
        "line.credit_limited": "{text} (limited to the bill, {amount})",
        "line.winter": "Billed on the winter average of {average} {symbol} (used {used} {symbol})",
        "line.winter_default": "Billed on {average} {symbol}, the average for an account without winter usage (used {used} {symbol})",
    },
    "es": {
        "unit.gal": "galones",
        "unit.kgal": "1,000 galones",
        "unit.cf": "pies cúbicos",
        "unit.hcf": "HCF",
        "unit.ccf": "CCF",
        "unit.m3": "metros cúbicos",
        "unit.monthly": "mes",
        "unit.bimonthly": "2 meses",
        "unit.quarterly": "trimestre",
        "unit.dwelling": "vivienda",
        "unit.mills": "por $1,000 de valor",
        "unit.per_100": "por $100 de valor",
        "unit.percent": "% del valor",
        "line.range": "{text} ({low}–{high} {symbol})",
        "line.over": "{text} (más de {low} {symbol})",
        "line.first": "{text} (primeros {included} {symbol})",
        "line.meter": "{text}, medidor de {size}",
        "line.limit": "{text} ({amount})",
        "line.estimated": "{text} (lectura estimada)",
        "line.tax_ceiling": "{name}: congelado en el tope de impuesto de {ceiling}",
        "penalty.default": "Recargo por pago tardío",
        "interest.default": "Intereses sobre el saldo pendiente",
        "penalty.percent": ": {percent}% de {base}",
        "penalty.cumulative": ": {percent}% de {base} (redondeado con los meses anteriores)",
        "penalty.schedule": ": el total llega al {percent}% de {base}",
        "penalty.unpaid": "{amount} pendientes",
        "penalty.original": "{amount} facturados",
        "penalty.minimum": " (cargo mínimo)",
        "penalty.cap": " (limitado al tope de {cap})",
        "penalty.period": ", {label}",
        "penalty.month": "{month} de {year}",
        "penalty.month_from": "mes desde el {day}",
        "penalty.unpaid_with_charges": "{amount} pendientes, cargos anteriores incluidos",
        "penalty.account_past_due": "{amount} vencidos en la cuenta",
        "penalty.plus_flat": ": {flat} más {percent}% de {base}",
        "penalty.daily": ": {percent}% anual por {days} días del {first} al {last} sobre lo pendiente",
        "penalty.tier": "{percent}% de {amount}",
        "penalty.tiers_comma": "{first}, {then}",
        "penalty.tiers_and": "{first} y {then}",
        "penalty.tiered": ": {parts} ({base})",
        "penalty.tiered_plus_flat": ": {flat} más {parts} ({base})",
        "penalty.tiered_cumulative": ": {parts} ({base}; redondeado con los meses anteriores)",
        "penalty.daily_tier": "{amount} al {percent}% anual{range}",
        "penalty.tier_up_to": " hasta {upper}",
        "penalty.tier_above": " sobre el exceso de {lower}",
        "penalty.tier_between": " de {lower} a {upper}",
        "penalty.tier_all": "",
        "penalty.daily_tiered": ": {parts}, {days} días del {first} al {last}",
        "months": _months("es"),
        "figures.line": "{quantity} × {rate} por {unit}",
        "figures.taxable": "valor imponible",
        "figures.taxed": "{unit} {quantity} × {rate}",
        "figures.mills": "{rate} por mil",
        "figures.percent": "{rate}%",
        "figures.hundreds": "$100 de valor",
        "unit.semi_annual": "6 meses",
        "unit.annual": "año",
        "line.dates": "{text} ({start} – {end})",
        "line.greater": "{text} (el mayor de {choices})",
        "line.lesser": "{text} (el menor de {choices})",
        "line.credit_percent": "{text} ({percent}% de {amount})",
        "line.credit_limited": "{text} (limitado a la factura, {amount})",
        "line.winter": "Facturado sobre el promedio de invierno de {average} {symbol} (consumo de {used} {symbol})",
        "line.winter_default": "Facturado sobre {average} {symbol}, el promedio para una cuenta sin consumo de invierno (consumo de {used} {symbol})",
    },
}


def words(language: str) -> dict[str, Any]:
    """The engine's words in a language (the default language's for one it does not know)."""
    return WORDS.get(language, WORDS[DEFAULT_LANGUAGE])


def say(key: str, **fields: object) -> dict[str, str]:
    """One of the engine's phrases in every language, filled in."""
    return {language: str(table[key]).format(**fields) for language, table in WORDS.items()}


def parse_text(value: Any, where: str, read: Callable[[Any, str], str]) -> tuple[str, Translations]:
    """(default text, translations) of a plain string or a {language: text} mapping.

    `read` checks one string the way the calling format does; a language's text is checked at
    `where.<language>`, so an error names the place, e.g. `components[2].description.es`.
    """
    if not isinstance(value, Mapping):
        return read(value, where), ()
    for language in value:
        if language not in LANGUAGES:
            raise RuleError(
                f"{where}.{language}: {language!r} is not a language of the notices "
                f"(use {', '.join(LANGUAGES)})"
            )
    if DEFAULT_LANGUAGE not in value:
        raise RuleError(
            f"{where}: give the text in {DEFAULT_LANGUAGE!r} too; it is shown where a "
            "language has none"
        )
    default = read(value[DEFAULT_LANGUAGE], f"{where}.{DEFAULT_LANGUAGE}")
    others = tuple(
        (language, read(value[language], f"{where}.{language}"))
        for language in LANGUAGES
        if language != DEFAULT_LANGUAGE and language in value
    )
    return default, others


def text_document(default: str, translations: Translations) -> str | dict[str, str]:
    """A text as a rules document writes it: a plain string unless it has translations."""
    return in_languages(default, translations) if translations else default


def in_languages(default: str, translations: Translations) -> dict[str, str]:
    """A text by language, the default language's first."""
    return {DEFAULT_LANGUAGE: default, **dict(translations)}


def missing_texts(where: str, translations: Translations, languages: tuple[str, ...]) -> list[str]:
    """A warning for each of the town's languages a text has no wording in."""
    have = {DEFAULT_LANGUAGE, *(language for language, _ in translations)}
    return [
        f"{where}: no text in {language!r}; the {DEFAULT_LANGUAGE!r} text is shown instead"
        for language in languages
        if language not in have
    ]


def text_in(texts: Mapping[str, str] | None, language: str, default: str) -> str:
    """A stored text in a language, else in the default language, else `default`."""
    texts = texts or {}
    return texts.get(language) or texts.get(DEFAULT_LANGUAGE) or default

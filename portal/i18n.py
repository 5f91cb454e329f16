"""The portal's languages (Flask-Babel): English and Spanish, chosen on every page.

The choice is, in order: the language the resident picked in this browser (kept in
the session cookie), the language of the account the session shows (remembered per
account), then the browser's Accept-Language. Staff pages are English only.
"""

from __future__ import annotations

import functools
from datetime import date
from pathlib import Path

from babel import dates as babel_dates
from flask import Flask, g, request, session
from flask_babel import Babel, format_date, get_locale, get_translations

LANGUAGES = ("en", "es")
#: Each language's name in itself, as the switch shows it.
LANGUAGE_NAMES = {"en": "English", "es": "Español"}
SESSION_KEY = "lang"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"

babel = Babel()


def chosen_language() -> str | None:
    """The language picked in this browser, if any."""
    value = session.get(SESSION_KEY)
    return value if value in LANGUAGES else None


def select_locale() -> str:
    """The language of this request's pages."""
    picked = chosen_language()
    if picked:
        return picked
    account = g.get("portal_account")
    if account is not None:
        return account.language.value
    return request.accept_languages.best_match(LANGUAGES) or "en"


def long_date(day) -> str:
    """A date as residents write it: 'November 23, 2026', '23 de noviembre de 2026'."""
    if type(day) is not date:  # a moment is written in the municipality's time zone
        return format_date(day, "long")
    return _written_date(day, str(get_locale() or "en"))


@functools.lru_cache(maxsize=4096)
def _written_date(day: date, locale: str) -> str:
    """A calendar day written out in a language (the same few days fill every page)."""
    return babel_dates.format_date(day, "long", locale=locale)


def month_name(day: date) -> str:
    """The month of a day with its year: 'February 2026', 'febrero de 2026'."""
    return _written_month(day.replace(day=1), str(get_locale() or "en"))


@functools.lru_cache(maxsize=512)
def _written_month(first: date, locale: str) -> str:
    """A month written out in a language."""
    return babel_dates.format_skeleton("yMMMM", first, locale=locale)


def init_app(app: Flask) -> None:
    """Bind Babel to the app with the portal's catalogs."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    # NOTE: our forms write their own messages; WTForms' catalogs would be parsed per form.
    app.config.setdefault("WTF_I18N_ENABLED", False)
    # A moment (a question asked, a receipt issued) is written in the municipality's time.
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config["MUNICIPALITY_TIMEZONE"])
    babel.init_app(app, locale_selector=select_locale)
    install_template_gettext(app)


def _translations():
    """The catalog bound by the render in progress (else looked up as Flask-Babel does)."""
    bound = g.get("_render_translations")
    return bound if bound is not None else get_translations()


def install_template_gettext(app: Flask) -> None:
    """Templates' _() reads the catalog bound once per render instead of finding it per text.

    A bill page has some forty texts; Flask-Babel's own callables look up the request
    context, the domain and the locale for each one, which was a third of the page's time.
    The catalog is bound again at every render, so force_locale around a render still works.
    """

    @app.context_processor
    def _bind_translations():
        g._render_translations = get_translations()
        return {}

    app.jinja_env.install_gettext_callables(
        lambda text: _translations().ugettext(text),
        lambda singular, plural, n: _translations().ungettext(singular, plural, n),
        newstyle=True,
        pgettext=lambda context, text: _translations().upgettext(context, text),
        npgettext=lambda context, singular, plural, n: _translations().unpgettext(
            context, singular, plural, n
        ),
    )

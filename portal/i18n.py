"""The portal's languages (Flask-Babel): English and Spanish, chosen on every page.

The choice is, in order: the language the resident picked in this browser (kept in
the session cookie), the language of the account the session shows (remembered per
account), then the browser's Accept-Language. Staff pages are English only.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, request, session
from flask_babel import Babel

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


def init_app(app: Flask) -> None:
    """Bind Babel to the app with the portal's catalogs."""
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    babel.init_app(app, locale_selector=select_locale)

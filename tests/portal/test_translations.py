"""The Spanish catalog covers every text of the portal, keeps every placeholder, and the
compiled catalog the app reads is the one the translations say."""

from __future__ import annotations

import io
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "portal" / "translations" / "es" / "LC_MESSAGES"
KEYWORDS = {
    "_": None,
    "gettext": None,
    "lazy_gettext": None,
    "N_": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "lazy_pgettext": ((1, "c"), 2),
}
METHODS = [("portal/**.py", "python"), ("portal/templates/**.html", "jinja2")]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def source_texts() -> set[str]:
    """Every text the portal's code and templates mark for translation (as babel.cfg says)."""
    texts = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS
    ):
        texts.add((message[0] if isinstance(message, tuple) else message, context))
    return texts


def spanish():
    with (CATALOG / "messages.po").open("rb") as handle:
        return read_po(handle, locale="es")


def test_every_portal_text_has_a_spanish_translation():
    catalog = spanish()
    missing = sorted(
        text
        for text, context in source_texts()
        if not (catalog.get(text, context=context) and catalog.get(text, context=context).string)
    )
    assert missing == [], "run `make translations` and translate: " + "; ".join(missing[:20])
    fuzzy = sorted(m.id for m in catalog if m.id and m.fuzzy)
    assert fuzzy == []


def test_translations_keep_every_placeholder():
    for message in spanish():
        if not message.id or not message.string or isinstance(message.id, tuple):
            continue
        assert set(PLACEHOLDER.findall(message.id)) == set(PLACEHOLDER.findall(message.string)), (
            message.id
        )


def test_the_compiled_catalog_is_the_translations():
    compiled = io.BytesIO()
    write_mo(compiled, spanish())
    assert (CATALOG / "messages.mo").read_bytes() == compiled.getvalue(), (
        "messages.mo is stale: run `make translations`"
    )


def test_the_pages_speak_spanish_when_asked(client, billed):
    from tests.portal.conftest import quick_pay

    page = client.get("/pay", headers={"Accept-Language": "es-US,es;q=0.9"}).text
    assert '<html lang="es">' in page and "Pague su factura" in page
    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
    english = client.get("/my/bill").text  # the account's own language wins over the browser's
    assert "Your bill" in english

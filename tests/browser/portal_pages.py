"""What every portal page must pass in the browser: axe-core finds no serious or critical
violation, nothing scrolls sideways at 360 px, and a screenshot is kept at 360 and 1280 px.

axe-core comes from the npm registry (package.json; `make test` installs it). It is
evaluated through the DevTools protocol, which the page's Content-Security-Policy does
not govern, so the page keeps its real policy while it is checked.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.browser.conftest import ARTIFACTS, Browsing

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (360, 1280)
#: The rules axe runs: WCAG 2.1 A and AA, and its best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING = ("serious", "critical")


def axe_source() -> str:
    """axe-core's script; a missing install is an error, never a skip."""
    if not AXE.exists():
        raise AssertionError(f"axe-core is not installed at {AXE}: run `make test` (npm ci)")
    return AXE.read_text()


def axe_violations(browsing: Browsing) -> list[dict]:
    """The serious and critical violations axe finds on the page as it is now."""
    page = browsing.page
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        AXE_TAGS,
    )
    return [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in BLOCKING
    ]


def overflow(browsing: Browsing) -> int:
    """How many pixels the page is wider than the window (0: no sideways scrolling)."""
    return browsing.page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def check_page(browsing: Browsing, name: str) -> None:
    """axe, width and screenshots at both widths; the window is left 1280 px wide."""
    page = browsing.page
    folder = ARTIFACTS / "portal"
    folder.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
        problems = axe_violations(browsing)
        assert problems == [], f"{name} at {width} px: {json.dumps(problems, indent=1)}"
        assert overflow(browsing) <= 0, f"{name} scrolls sideways at {width} px"
    page.set_viewport_size({"width": 1280, "height": 900})

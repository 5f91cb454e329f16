"""docs/security.md names only modules and tests that exist: each test it names by function is
in the file named before it in the same cell, so the page cannot claim a defence nothing tests.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"
PATH = re.compile(r"\b((?:[a-z_]+/)+[a-z_]+\.(?:py|md|txt))\b")
NAMED = re.compile(r"`(test_[a-z0-9_]+)`")


def _cells() -> list[str]:
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| ")]
    return [cell for row in rows for cell in row.split(" | ")]


def test_every_file_the_security_page_names_exists():
    named = {path for cell in _cells() for path in PATH.findall(cell)}
    assert len(named) > 30
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert not missing


def test_every_test_the_security_page_names_is_in_the_file_named_before_it():
    wrong, checked = [], 0
    for cell in _cells():
        for part in re.split(r"; ", cell):
            files = PATH.findall(part)
            for name in NAMED.findall(part):
                source = (ROOT / files[-1]).read_text() if files else ""
                checked += 1
                if not re.search(rf"^(?:async )?def {name}\(", source, re.M):
                    wrong.append((files[-1:], name))
    assert checked > 25
    assert not wrong

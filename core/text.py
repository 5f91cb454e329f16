"""Checks on text people type: what counts as digits, what can never be stored, what may be
logged of a sign-in's e-mail box.

Python's str.isdigit() is true for "²" and "١٢٣", which int() then refuses or reads as
another number; a form or a URL takes only ASCII digits. PostgreSQL cannot store the NUL
character, so no text holding it goes further than the request that brought it.
"""

from __future__ import annotations

import hashlib
import re

NUL = "\x00"


def only_digits(text: str) -> bool:
    """True for a non-empty string of ASCII digits 0-9, nothing else."""
    return bool(text) and text.isascii() and text.isdigit()


#: An address's shape, loosely: something@host.tld, no spaces.
_ADDRESS = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}")


def typed_address(text: str) -> str:
    """What the audit log keeps of what someone typed as their e-mail on a sign-in form: the
    address when it is shaped like one; otherwise (a password typed in the wrong box, say) only
    a marked hash of it, which tells repeated attempts apart and reveals nothing."""
    cleaned = (text or "").strip().lower()
    if len(cleaned) <= 254 and _ADDRESS.fullmatch(cleaned):
        return cleaned
    digest = hashlib.sha256(cleaned.encode()).hexdigest()[:12]
    return f"(not an e-mail address; sha256 {digest})"

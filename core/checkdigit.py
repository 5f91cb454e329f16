"""Luhn (mod 10) check digits, as used on account numbers and scan lines.

Pure module. The algorithm is documented in docs/accounts.md so that a print
shop or a bank lockbox can check numbers without this code.
"""

from __future__ import annotations

from core.text import only_digits


def luhn_digit(digits: str) -> str:
    """Return the Luhn check digit for a string of decimal digits."""
    if not only_digits(digits):
        raise ValueError(f"{digits!r} is not a string of digits")
    total = 0
    # NOTE: counting from the right, every second digit starting with the
    # rightmost payload digit is doubled (the check digit will sit right of it).
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def with_luhn(digits: str) -> str:
    """Append the Luhn check digit."""
    return digits + luhn_digit(digits)


def is_valid_luhn(number: str) -> bool:
    """True when the last digit is the Luhn check digit of the others."""
    if len(number) < 2 or not only_digits(number):
        return False
    return luhn_digit(number[:-1]) == number[-1]

"""Rows the benchmarks write straight into their databases (not a benchmark itself)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from core.checkdigit import with_luhn


def account_rows(ids: Iterable[int], now: datetime) -> list[dict]:
    """Active billing accounts with these ids, for a Core insert into the account table."""
    return [
        {
            "id": i,
            "number": with_luhn(str(1_000_000 + i)),
            "holder_name": f"Holder {i}",
            "mail_street": f"{i} Main St",
            "mail_city": "Maple Falls",
            "mail_state": "WI",
            "mail_zip": "54901",
            "language": "en",
            "paperless": False,
            "access_code_hash": "x",
            "access_code_version": 1,
            "status": "active",
            "created_at": now,
        }
        for i in ids
    ]

"""Bank statement files for tests, written the way banks write them (BAI2, CSV)."""

from __future__ import annotations

from datetime import date

CREDIT_CODE, FEE_CODE, DEBIT_CODE = "301", "698", "699"


def bai2_statement(
    lines: list[tuple[int, str, str, str]],
    *,
    day: date,
    opening: int = 0,
    account: str = "4417001234",
    file_id: str = "1",
    closing: int | None = None,
) -> bytes:
    """A BAI2 file of one account: lines are (signed cents, type code, customer ref, text)."""
    moved = sum(cents for cents, *_ in lines)
    closing = opening + moved if closing is None else closing
    stamp = f"{day:%y%m%d}"
    details = [
        f"16,{code},{abs(cents)},Z,B{n:06d},{reference},{text}/"
        for n, (cents, code, reference, text) in enumerate(lines, start=1)
    ]
    total = opening + closing + sum(abs(cents) for cents, *_ in lines)
    records = [
        f"01,BANKID,MUNIBILL,{stamp},0630,{file_id},,,2/",
        f"02,MUNIBILL,BANKID,1,{stamp},,USD,2/",
        f"03,{account},USD,010,{opening},,,015,{closing},,/",
        *details,
        f"49,{total},{len(details) + 2}/",
        f"98,{total},1,{len(details) + 4}/",
        f"99,{total},1,{len(details) + 6}/",
    ]
    return ("\n".join(records) + "\n").encode("ascii")


def csv_statement(lines: list[tuple[int, str, str, str]], *, day: date, opening: int = 0) -> bytes:
    """The same statement in the csv-signed layout: lines are (cents, type, reference, text)."""

    def money(cents: int) -> str:
        return f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"

    rows = ["account,date,amount,reference,description,type"]
    rows.append(f"4417001234,{day},{money(opening)},,Opening balance,OPEN")
    for cents, kind, reference, text in lines:
        rows.append(f"4417001234,{day},{money(cents)},{reference},{text},{kind}")
    closing = opening + sum(cents for cents, *_ in lines)
    rows.append(f"4417001234,{day},{money(closing)},,Closing balance,CLOSE")
    return ("\n".join(rows) + "\n").encode()

"""Sample notices, one builder per kind, as `notices.content` would fill them.

Realistic figures for the fictional City of Maple Falls: a water, sewer and
trash bill, a two-installment property tax bill, the reminder, past-due and
final notices that follow an unpaid bill, a receipt, a refund and a statement.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from core.checkdigit import with_luhn
from notices.document import (
    ActivityRow,
    Letterhead,
    Line,
    MeterRead,
    NoticeDocument,
    NoticeKind,
    Recipient,
    Stub,
    Summary,
    UsageMonth,
)
from notices.scanline import scan_line

ACCOUNT = with_luhn("1000123")
ACCESS_CODE = "K7QM-4T2X"
BILL_NUMBER = "2026-000123"

LETTERHEAD = Letterhead(
    name="City of Maple Falls",
    address_lines=("Utility Billing, 200 Main Street", "Maple Falls, OR 97001"),
    phone="(541) 555-0142",
    website="www.maplefalls-or.gov",
)
RECIPIENT = Recipient(
    name="María Gonzalez-Ortiz",
    lines=("1432 Alder Court", "Apt 3B", "Maple Falls OR 97001-2234"),
    zip_code="970012234",
)


def pay_url(account: str = ACCOUNT) -> str:
    """The quick-pay page of an account."""
    return f"https://pay.maplefalls-or.gov/q/{account}?c={ACCESS_CODE.replace('-', '')}"


def stub(cents: int, due: date, label: str | None = None, account: str = ACCOUNT) -> Stub:
    """A remittance stub with its scan line."""
    return Stub(
        account_number=account,
        amount_due_cents=cents,
        due_date=due,
        scan_line=scan_line(account, cents, due),
        pay_url=pay_url(account),
        label=label,
    )


USAGE_GALLONS = (
    4210, 3980, 3720, 3650, 3590, 3810, 4120, 4870, 6230, 7940, 8610, 7380, 6407
)  # fmt: skip


def usage() -> tuple[UsageMonth, ...]:
    """October 2025 to October 2026."""
    months = [(2025, 10), (2025, 11), (2025, 12)] + [(2026, m) for m in range(1, 11)]
    return tuple(
        UsageMonth(f"{y}-{m:02d}", Decimal(q))
        for (y, m), q in zip(months, USAGE_GALLONS, strict=True)
    )


UTILITY_LINES = {
    "en": (
        "Water base charge, 3/4 in meter",
        "Water usage",
        "Sewer base charge",
        "Sewer usage (winter average)",
        "Trash collection, 64-gallon cart",
        "Stormwater utility fee",
    ),
    "es": (
        "Cargo fijo de agua, medidor de 3/4 in",
        "Consumo de agua",
        "Cargo fijo de alcantarillado",
        "Alcantarillado (promedio de invierno)",
        "Recolección de basura, contenedor de 64 galones",
        "Tarifa de aguas pluviales",
    ),
}


def utility_lines(language: str = "en") -> tuple[Line, ...]:
    d = UTILITY_LINES[language]
    month = "month" if language == "en" else "mes"
    return (
        Line(d[0], 1850, Decimal("1"), month, Decimal("18.50")),
        Line(d[1], 2723, Decimal("6.407"), "kgal", Decimal("4.25")),
        Line(d[2], 2400, Decimal("1"), month, Decimal("24.00")),
        Line(d[3], 2106, Decimal("4.130"), "kgal", Decimal("5.10")),
        Line(d[4], 2175, Decimal("1"), month, Decimal("21.75")),
        Line(d[5], 650, Decimal("1"), "ERU", Decimal("6.50")),
    )


def utility_bill(language: str = "en") -> NoticeDocument:
    """A monthly water, sewer and trash bill with one meter and 13 months of usage."""
    lines = utility_lines(language)
    current = sum(line.amount_cents for line in lines)
    due = date(2026, 11, 23)
    return NoticeDocument(
        kind=NoticeKind.UTILITY_BILL,
        language=language,
        letterhead=LETTERHEAD,
        recipient=RECIPIENT,
        account_number=ACCOUNT,
        access_code=ACCESS_CODE,
        issue_date=date(2026, 11, 3),
        reference=BILL_NUMBER,
        service_location="1432 Alder Court, Maple Falls",
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        due_date=due,
        lines=lines,
        reads=(
            MeterRead(
                meter_id="W-204518",
                service="Water" if language == "en" else "Agua",
                read_from=date(2026, 9, 30),
                read_to=date(2026, 10, 31),
                previous=Decimal("48213"),
                current=Decimal("54620"),
                consumption=Decimal("6407"),
                unit="gal",
            ),
        ),
        usage=usage(),
        summary=Summary(
            previous_balance_cents=11842,
            payments_and_credits_cents=11842,
            penalties_cents=0,
            current_charges_cents=current,
            total_due_cents=current,
        ),
        stubs=(stub(current, due),),
    )


def long_utility_bill(count: int = 60) -> NoticeDocument:
    """A utility bill with many lines (a commercial account with many services)."""
    lines = tuple(
        Line(f"Service charge {n:02d}, building {n % 7 + 1}", 1000 + n * 37,
             Decimal(n), "each", Decimal("10.00"))
        for n in range(1, count + 1)
    )  # fmt: skip
    current = sum(line.amount_cents for line in lines)
    bill = utility_bill()
    summary = replace(bill.summary, current_charges_cents=current, total_due_cents=current)
    return replace(bill, lines=lines, summary=summary, stubs=(stub(current, bill.due_date),))


TAX_LINES = {
    "en": (
        "Lane County",
        "City of Maple Falls",
        "Maple Falls School District 12",
        "Lane Community College",
        "Maple Falls Library bond",
    ),
    "es": (
        "Condado de Lane",
        "Ciudad de Maple Falls",
        "Distrito Escolar 12 de Maple Falls",
        "Colegio Comunitario de Lane",
        "Bono de la Biblioteca de Maple Falls",
    ),
}
TAX_RATES = (("1.2793", 36511), ("4.8200", 137563), ("4.5210", 129029), ("0.6191", 17669),
             ("0.3500", 9989))  # fmt: skip


def tax_bill(language: str = "en", installments: int = 2) -> NoticeDocument:
    """A property tax bill: five levies on a $285,400 taxable value, paid in installments."""
    unit = "per $1,000" if language == "en" else "por $1,000"
    lines = tuple(
        Line(name, cents, Decimal("285400"), unit, Decimal(rate))
        for name, (rate, cents) in zip(TAX_LINES[language], TAX_RATES, strict=True)
    )
    total = sum(line.amount_cents for line in lines)
    base, extra = divmod(total, installments)
    dues = [date(2026, 11, 16), date(2027, 2, 16), date(2027, 5, 17), date(2027, 8, 16)]
    # Labelled "1/2" as notices.content does; the renderer spells it out.
    stubs = tuple(
        stub(base + (1 if n < extra else 0), dues[n], f"{n + 1}/{installments}")
        for n in range(installments)
    )
    return NoticeDocument(
        kind=NoticeKind.TAX_BILL,
        language=language,
        letterhead=replace(LETTERHEAD, address_lines=("Tax Collector, 200 Main Street",
                                                      "Maple Falls, OR 97001")),
        recipient=RECIPIENT,
        account_number=ACCOUNT,
        access_code=ACCESS_CODE,
        issue_date=date(2026, 10, 20),
        reference="2026-T-004512",
        service_location="R-17-03-22-00400, 1432 Alder Court",
        period_start=date(2026, 7, 1),
        period_end=date(2027, 6, 30),
        due_date=dues[0],
        lines=lines,
        summary=Summary(0, 0, 0, total, total),
        stubs=stubs,
    )  # fmt: skip


def reminder() -> NoticeDocument:
    """Seven days before the due date, the bill is still unpaid."""
    bill = utility_bill()
    return replace(
        bill,
        kind=NoticeKind.REMINDER,
        issue_date=date(2026, 11, 16),
        reference="N-2026-040117",
        lines=(),
        reads=(),
        usage=(),
    )


PENALTY = 1307
PAST_DUE_TOTAL = utility_bill().summary.total_due_cents + PENALTY


def past_due() -> NoticeDocument:
    """A week after the due date: the penalty is assessed and a new date given."""
    bill = utility_bill()
    action = date(2026, 12, 14)
    return replace(
        bill,
        kind=NoticeKind.PAST_DUE,
        issue_date=date(2026, 11, 30),
        reference="N-2026-041502",
        lines=(),
        reads=(),
        usage=(),
        summary=Summary(bill.summary.total_due_cents, 0, PENALTY, 0, PAST_DUE_TOTAL),
        penalty_cents=PENALTY,
        due_date=action,
        action_date=action,
        stubs=(stub(PAST_DUE_TOTAL, action),),
    )


def final_notice() -> NoticeDocument:
    """The last notice before water service is disconnected."""
    action = date(2026, 12, 28)
    return replace(
        past_due(),
        kind=NoticeKind.FINAL,
        issue_date=date(2026, 12, 15),
        reference="N-2026-043020",
        messages=(
            "Water service at 1432 Alder Court will be disconnected on or after "
            "December 28, 2026 unless the past-due balance is paid in full.",
            "A fee of $50.00 is charged to restore service after a disconnection. If you "
            "cannot pay in full, call (541) 555-0142 before the disconnection date to ask "
            "about a payment arrangement.",
        ),
        due_date=action,
        action_date=action,
        stubs=(stub(PAST_DUE_TOTAL, action),),
    )


def shutoff_notice() -> NoticeDocument:
    """A utility account's shutoff notice: the past-due amount that stops it by the earliest
    shutoff date."""
    shutoff_on = date(2027, 1, 7)
    return replace(
        past_due(),
        kind=NoticeKind.SHUTOFF,
        summary=None,
        issue_date=date(2026, 12, 28),
        reference="S-20261228-10000016",
        service_location="1432 Alder Court, Maple Falls",
        activity=(),
        messages=(),
        penalty_cents=0,
        also_owed=(),
        due_date=shutoff_on,
        action_date=shutoff_on,
        amount_cents=PAST_DUE_TOTAL,
        stubs=(stub(PAST_DUE_TOTAL, shutoff_on),),
    )


def receipt() -> NoticeDocument:
    """A card payment applied to two bills."""
    return NoticeDocument(
        kind=NoticeKind.RECEIPT,
        language="en",
        letterhead=LETTERHEAD,
        recipient=RECIPIENT,
        account_number=ACCOUNT,
        access_code=None,
        issue_date=date(2026, 11, 20),
        reference="R-2026-018877",
        service_location="1432 Alder Court, Maple Falls",
        amount_cents=15000,
        tender="Visa ending in 4242",
        activity=(
            ActivityRow(date(2026, 10, 3), "Utility bill 2026-000098", -2134),
            ActivityRow(date(2026, 11, 3), "Utility bill 2026-000123", -12866),
        ),
        balance_after_cents=200,
    )


def refund() -> NoticeDocument:
    """An overpayment refunded by check."""
    return NoticeDocument(
        kind=NoticeKind.REFUND,
        language="en",
        letterhead=LETTERHEAD,
        recipient=RECIPIENT,
        account_number=ACCOUNT,
        access_code=ACCESS_CODE,
        issue_date=date(2026, 11, 5),
        reference="RF-2026-000311",
        service_location="1432 Alder Court, Maple Falls",
        amount_cents=4500,
        tender="check no. 10452 mailed to your mailing address",
        messages=("Your payment of October 2 paid the September bill twice.",),
        activity=(
            ActivityRow(date(2026, 10, 2), "Payment received, overpayment", -4500, -4500),
            ActivityRow(date(2026, 11, 5), "Refund by check no. 10452", 4500, 0),
        ),
        balance_after_cents=0,
    )


STATEMENT_ROWS = (
    (date(2026, 7, 1), "Opening balance", 0),
    (date(2026, 7, 3), "Utility bill 2026-000061", 11218),
    (date(2026, 7, 21), "Payment, thank you", -11218),
    (date(2026, 8, 3), "Utility bill 2026-000079", 12960),
    (date(2026, 8, 19), "Payment, thank you", -12960),
    (date(2026, 9, 3), "Utility bill 2026-000092", 11842),
    (date(2026, 9, 25), "Late payment penalty", 1184),
    (date(2026, 10, 2), "Payment, thank you", -13026),
    (date(2026, 10, 3), "Utility bill 2026-000110", 11842),
    (date(2026, 10, 28), "Payment, thank you", -11842),
    (date(2026, 11, 3), "Utility bill 2026-000123", 13066),
)


def statement() -> NoticeDocument:
    """Four months of activity with a running balance, and a stub for what is owed."""
    rows = []
    balance = 0
    for day, description, cents in STATEMENT_ROWS:
        balance += cents
        rows.append(ActivityRow(day, description, cents, balance))
    return NoticeDocument(
        kind=NoticeKind.STATEMENT,
        language="en",
        letterhead=LETTERHEAD,
        recipient=RECIPIENT,
        account_number=ACCOUNT,
        access_code=ACCESS_CODE,
        issue_date=date(2026, 11, 4),
        reference="2026-07 to 2026-10",
        service_location="1432 Alder Court, Maple Falls",
        period_start=date(2026, 7, 1),
        period_end=date(2026, 11, 3),
        due_date=date(2026, 11, 23),
        activity=tuple(rows),
        balance_after_cents=balance,
        stubs=(stub(balance, date(2026, 11, 23)),),
    )


#: One builder per kind.
BY_KIND = {
    NoticeKind.UTILITY_BILL: utility_bill,
    NoticeKind.TAX_BILL: tax_bill,
    NoticeKind.REMINDER: reminder,
    NoticeKind.PAST_DUE: past_due,
    NoticeKind.FINAL: final_notice,
    NoticeKind.RECEIPT: receipt,
    NoticeKind.REFUND: refund,
    NoticeKind.STATEMENT: statement,
    NoticeKind.SHUTOFF: shutoff_notice,
}

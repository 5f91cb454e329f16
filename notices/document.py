"""What a notice says, as plain values: the contract between gathering (database) and drawing (PDF).

Pure module. `notices.content` fills these from the database; `notices.render`
draws them with ReportLab; neither knows the other. Every amount is in
cents, every date a `date` (but a receipt's moment of payment, an aware
`datetime`); texts are already in the notice's language except the fixed
wording, which the renderer takes from `notices.texts`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


class NoticeKind(enum.StrEnum):
    """The kinds of notice munibill prints and e-mails."""

    UTILITY_BILL = "utility_bill"
    TAX_BILL = "tax_bill"
    REMINDER = "reminder"
    PAST_DUE = "past_due"
    FINAL = "final"
    RECEIPT = "receipt"
    REFUND = "refund"
    STATEMENT = "statement"
    #: Utility service will be shut off unless the past-due amount is paid (docs/shutoff.md).
    SHUTOFF = "shutoff"


@dataclass(frozen=True)
class Letterhead:
    """The municipality, as printed at the top of every notice and as the stub's return address."""

    name: str
    #: Street, then "City, ST 12345".
    address_lines: tuple[str, ...]
    phone: str
    website: str
    #: A PNG or JPEG drawn beside the name, if configured.
    logo_path: str | None = None


@dataclass(frozen=True)
class Recipient:
    """Whom the notice is mailed to, for the envelope's address window."""

    name: str
    #: Street, optional second line, "City ST ZIP+4".
    lines: tuple[str, ...]
    #: The ZIP (5 or 9 digits, no dash) the print batch is sorted by.
    zip_code: str


@dataclass(frozen=True)
class Line:
    """One invoice line with its arithmetic (printed by billing.figures)."""

    description: str
    amount_cents: int
    quantity: Decimal | None = None
    #: The unit as stored, in the default language (it tells a tax line's basis).
    unit: str | None = None
    rate: Decimal | None = None
    #: The decimal places the rules wrote the rate with; None: printed without trailing zeros.
    rate_places: int | None = None
    #: The unit in the notice's language, when it differs from `unit`.
    unit_words: str | None = None


@dataclass(frozen=True)
class MeterRead:
    """A meter's previous and current reading on a utility bill."""

    meter_id: str
    service: str
    read_from: date
    read_to: date
    previous: Decimal
    current: Decimal
    consumption: Decimal
    unit: str


@dataclass(frozen=True)
class UsageMonth:
    """One bar of the usage chart: a month's consumption."""

    #: "2026-10".
    month: str
    quantity: Decimal


@dataclass(frozen=True)
class Summary:
    """The account summary box: how the total due comes about."""

    previous_balance_cents: int
    payments_and_credits_cents: int
    penalties_cents: int
    current_charges_cents: int
    total_due_cents: int


@dataclass(frozen=True)
class Stub:
    """A tear-off remittance stub (a tax bill has one per installment)."""

    account_number: str
    amount_due_cents: int
    due_date: date
    #: The OCR scan line (notices.scanline), also encoded in the Code 128 barcode.
    scan_line: str
    #: The quick-pay page of the account, encoded in the QR code.
    pay_url: str
    #: "Installment 1 of 2" or None.
    label: str | None = None


@dataclass(frozen=True)
class AlsoOwed:
    """What the account owes outside the notice's own group, printed as a line of its own
    ("Also owed: property tax $X; see your tax notice"), never folded into the stub."""

    #: utility, tax or other.
    group: str
    #: The tax year of a tax line; 0 otherwise.
    tax_year: int
    cents: int


@dataclass(frozen=True)
class ActivityRow:
    """One row of a receipt's or statement's table: a bill, a payment, a credit, a refund."""

    day: date
    description: str
    #: What it added to the balance (+) or took off it (-).
    amount_cents: int
    #: The balance after it (statements), or None.
    balance_cents: int | None = None


@dataclass(frozen=True)
class NoticeDocument:
    """Everything one notice shows. Fields a kind does not use stay empty."""

    kind: NoticeKind
    #: "en" or "es".
    language: str
    letterhead: Letterhead
    recipient: Recipient
    account_number: str
    #: The code printed for quick pay (with the account number); None on receipts.
    access_code: str | None
    issue_date: date
    #: The title's reference: an invoice number, a receipt number, a statement period.
    reference: str
    #: The service address or the parcel (number and situs) the notice is about.
    service_location: str = ""
    period_start: date | None = None
    period_end: date | None = None
    due_date: date | None = None
    lines: tuple[Line, ...] = ()
    reads: tuple[MeterRead, ...] = ()
    #: Up to 24 months, oldest first, ending with this bill's month.
    usage: tuple[UsageMonth, ...] = ()
    summary: Summary | None = None
    stubs: tuple[Stub, ...] = ()
    activity: tuple[ActivityRow, ...] = ()
    #: Paragraphs of the municipality's own wording (final notices: disconnection, lien).
    messages: tuple[str, ...] = ()
    #: For the past-due and final notices: the penalty assessed, and the date that matters.
    penalty_cents: int = 0
    action_date: date | None = None
    #: The day every amount is as of, when it is not the issue date (a bill printed later).
    as_of: date | None = None
    #: What the account owes outside the notice's own group (bills and their notices).
    also_owed: tuple[AlsoOwed, ...] = ()
    #: Receipts and refund notices: the amount, the tender and what remains owed.
    amount_cents: int = 0
    tender: str = ""
    balance_after_cents: int = 0
    #: Receipts: the moment of the payment on the town's clock (an aware datetime), and for
    #: a card payment Stripe's reference of it (the PaymentIntent id).
    paid_at: datetime | None = None
    card_reference: str = ""
    #: Receipts: the convenience fee charged with the payment, apart from the bill (payments.md).
    convenience_fee_cents: int = 0
    extra: dict[str, str] = field(default_factory=dict)

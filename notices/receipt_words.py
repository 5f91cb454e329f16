"""What a receipt says of its payment: how it was paid, when, and under which numbers.

In words a resident recognises: "Visa ending in 4242" for a card (the brand and last
four digits Stripe gave, payments.cards; "card" while they are not known), "check
number 1234" for a check, "cash" or "money order" otherwise; the time on the town's
clock; the receipt number, which is the town's confirmation number; and for a card,
Stripe's reference of the payment (its PaymentIntent id, which Stripe's Dashboard
and our payment records both find); and a convenience fee charged with the payment,
which is not part of the bill. The receipt's PDF (its payment box) and its
e-mail show the same rows. Pure module: it reads the rows it is given, never the
database.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from core.calendar import town_zone
from core.money import format_cents
from notices.document import NoticeDocument
from notices.pdf_canvas import Texts, clock_time, long_date

if TYPE_CHECKING:
    from payments.models import Payment, Receipt

#: Stripe's brand codes as the brands write their own names (the same in every language).
#: A code not listed is shown as "card".
BRAND_NAMES = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "american_express": "American Express",
    "discover": "Discover",
    "diners": "Diners Club",
    "diners_club": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
    "cartes_bancaires": "Cartes Bancaires",
    "eftpos_au": "eftpos",
    "interac": "Interac",
}


def brand_name(code: str | None) -> str | None:
    """A card brand as residents read it ("visa" gives "Visa"); None for none or an unknown one."""
    return BRAND_NAMES.get((code or "").strip().lower())


def paid_by(texts: Texts, payment: Payment) -> str:
    """How a payment was made, in the notice's language ("Visa ending in 4242", "cash")."""
    tender = payment.tender.value
    if tender == "card" and payment.card_last4:
        brand = brand_name(payment.card_brand)
        key = "tender.card_of" if brand else "tender.card_ending"
        return str(texts[key]).format(brand=brand, last4=payment.card_last4)
    if tender == "check" and payment.tender_reference:
        return str(texts["tender.check_number"]).format(number=payment.tender_reference)
    return str(texts[f"tender.{tender}"])


def paid_at(config: Mapping, receipt: Receipt) -> datetime:
    """The moment of a receipt's payment, on the town's clock."""
    return receipt.paid_at.astimezone(town_zone(config))


def card_reference(payment: Payment) -> str:
    """Stripe's reference of a card payment (its PaymentIntent id); empty for other tenders."""
    if payment.tender.value != "card":
        return ""
    return payment.stripe_payment_intent_id or ""


def payment_rows(doc: NoticeDocument, texts: Texts) -> list[tuple[str, str]]:
    """How, when and under which numbers a receipt's payment was made, as (label, value) rows."""
    rows = [
        (str(texts["paid_by"]), doc.tender),
        (str(texts["payment_date"]), long_date(doc.issue_date, texts)),
    ]
    if doc.paid_at is not None:
        rows.append((str(texts["payment_time"]), clock_time(doc.paid_at, texts)))
    rows.append((str(texts["confirmation"]), doc.reference))
    if doc.card_reference:
        rows.append((str(texts["card_reference"]), doc.card_reference))
    if doc.convenience_fee_cents:
        rows.append((str(texts["convenience_fee"]), format_cents(doc.convenience_fee_cents)))
    return rows

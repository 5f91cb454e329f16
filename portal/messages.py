"""Texts that reach residents from outside the portal's templates, put into their language.

The card processor's messages (payments.gateway) and the payment services' refusals are
written in English where they are made; the portal shows them through `translate`,
which looks each one up in the catalog. `N_` marks a text for the catalog without
translating it here, so `pybabel extract` finds every one of them.
"""

from __future__ import annotations

from flask_babel import get_locale, gettext, lazy_gettext, lazy_pgettext

from billing import liens
from payments import ach_codes, bank_payments, gateway
from payments.payflow import sentence
from payments.services import PaymentRefused


def N_(text: str) -> str:  # noqa: N802 - the conventional name of a no-op translation marker
    """Mark a text for extraction; return it unchanged."""
    return text


#: Every message the card processor's errors can show a resident (payments.gateway).
CARD_MESSAGES = (
    N_("Payments are temporarily unavailable. Please try again in a few minutes."),
    N_("Your card was declined. Try another card."),
    N_("We could not process this payment. Please contact the billing office."),
    N_("Your card's security code is incorrect. Check it and try again."),
    N_("Your card number is incorrect. Check it and try again."),
    N_("Your card's expiration date is incorrect. Check it and try again."),
    N_("Your card has insufficient funds. Try another card."),
    N_("Your card has expired. Check the expiration date or try another card."),
    N_("An error occurred while processing your card. Try again in a moment."),
    N_(
        "Your bank needs you to approve this payment. Pay again and follow your bank's steps, "
        "or try another card."
    ),
    N_("Your bank could not approve this payment. Try again or use another card."),
    N_("This payment did not go through, so it cannot be paid again. Start a new payment."),
    N_("The card was not saved. Enter it again."),
    N_("Nothing is owed on this account."),
    N_("We are confirming your payment. Please do not pay again: this page updates by itself."),
    N_("A payment for these bills is being confirmed; try again in a few minutes."),
    N_(
        "The convenience fee for this payment has changed. Nothing was charged: check the new "
        "total, then pay again, choose another way to pay, or cancel."
    ),
)
assert set(gateway.RESIDENT_MESSAGES.values()) <= set(CARD_MESSAGES)

#: What the bank page's refusals can say (payments.bank_payments, portal.views_bank).
BANK_MESSAGES = (
    N_(
        "This bank account cannot be used to pay online because earlier payments from it were "
        "returned by the bank. Please pay by card, or contact the billing office."
    ),
    N_("This payment cannot be paid from a bank account."),
    N_("This payment cannot be confirmed again."),
    N_("The bank account was not linked. Try again."),
    N_("Read and accept the authorization to continue."),
)
assert bank_payments.BLOCKED in BANK_MESSAGES


#: Why an online payment of a parcel's tax under lien is refused (billing.liens).
LIEN_MESSAGES = (
    N_(
        "A tax lien was sold on parcel %(parcel)s on %(day)s; its taxes cannot be paid online. "
        "Pay the redemption amount to the tax collector at the counter."
    ),
)
assert liens.LIEN_REFUSAL in LIEN_MESSAGES


def lien_refusal(params: dict[str, str]) -> str:
    """The lien refusal (billing.liens.refusal_of's words) in the page's language."""
    return gettext(liens.LIEN_REFUSAL, **params)


def refusal_text(refused: PaymentRefused) -> str:
    """A payment service's refusal as a sentence in the page's language."""
    if refused.template is not None:
        return gettext(refused.template, **refused.params)
    return translate(sentence(refused.message))


def translate(text: str) -> str:
    """The text in the page's language when the catalog has it; else as it is."""
    return gettext(text) if text else text


def bank_failure_text(code: str | None) -> str:
    """Why the bank did not pay a debit (its return code), in the page's language."""
    return ach_codes.resident_words(code or ach_codes.UNSPECIFIED, str(get_locale() or "en"))


def failure_text(code: str | None) -> str:
    """Why a card payment failed, from its stored code, in the page's language."""
    return translate(gateway.resident_message(code))


#: Names of statuses and kinds as residents read them.
LABELS = {
    # NOTE: a bill's status has its own context: Spanish writes it feminine (la factura).
    ("invoice", "open"): lazy_pgettext("bill status", "Open"),
    ("invoice", "partially_paid"): lazy_pgettext("bill status", "Partly paid"),
    ("invoice", "paid"): lazy_pgettext("bill status", "Paid"),
    ("invoice", "void"): lazy_pgettext("bill status", "Cancelled"),
    ("invoice", "written_off"): lazy_pgettext("bill status", "Written off"),
    ("bill", "utility"): lazy_gettext("Utility bill"),
    ("bill", "tax"): lazy_gettext("Property tax bill"),
    ("payment", "succeeded"): lazy_gettext("Received"),
    ("payment", "voided"): lazy_gettext("Voided"),
    ("payment", "processing"): lazy_gettext("Pending"),
    ("payment", "returned"): lazy_gettext("Returned by your bank"),
    ("channel", "online"): lazy_gettext("Online payment"),
    ("channel", "counter"): lazy_gettext("Payment at the counter"),
    ("channel", "mail"): lazy_gettext("Payment by mail"),
    ("channel", "autopay"): lazy_gettext("Autopay"),
    ("tender", "card"): lazy_gettext("Card"),
    ("tender", "cash"): lazy_gettext("Cash"),
    ("tender", "check"): lazy_gettext("Check"),
    ("tender", "money_order"): lazy_gettext("Money order"),
    ("tender", "bill_pay"): lazy_gettext("Bank bill payment"),
    ("tender", "bank_debit"): lazy_gettext("Bank account (ACH)"),
    ("notice", "utility_bill"): lazy_gettext("Utility bill"),
    ("notice", "tax_bill"): lazy_gettext("Property tax bill"),
    ("notice", "reminder"): lazy_gettext("Reminder"),
    ("notice", "past_due"): lazy_gettext("Past-due notice"),
    ("notice", "final"): lazy_gettext("Final notice"),
    ("notice", "receipt"): lazy_gettext("Receipt"),
    ("notice", "refund"): lazy_gettext("Refund notice"),
    ("notice", "statement"): lazy_gettext("Statement"),
    ("delivery", "print"): lazy_gettext("Mailed"),
    ("delivery", "email"): lazy_gettext("E-mailed"),
    ("delivery", "download"): lazy_gettext("Downloaded"),
    ("history", "bill"): lazy_gettext("Bill"),
    ("history", "payment"): lazy_gettext("Payment"),
    ("history", "notice"): lazy_gettext("Notice"),
}


def label(kind: str, value: str) -> str:
    """A status or kind in the page's language ('Partly paid'); the raw value if unknown."""
    text = LABELS.get((kind, value))
    return str(text) if text is not None else value.replace("_", " ").capitalize()


def pay_script_messages() -> dict[str, str]:
    """The texts pay.js shows, in the page's language (read from data- attributes)."""
    return {
        "unavailable": gettext(
            "Payments are temporarily unavailable. Please try again in a few minutes."
        ),
        "expired": gettext("This page has expired. Reload it and try again."),
        "not-saved": gettext(
            "The card could not be checked. Check the card details and try again."
        ),
        "busy": gettext("Paying…"),
        "done": gettext("Payment sent. Opening the receipt…"),
    }

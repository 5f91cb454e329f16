"""Stripe's calls for US bank debits (ACH Direct Debit), through the one gateway's client.

The account number never reaches us: Stripe.js collects the account (Financial
Connections where the bank offers it, else account and routing numbers verified by
microdeposits) and attaches it to the intent this module creates; our server then
confirms the intent with the mandate the resident accepted on our page
(`mandate_data.customer_acceptance.online`: the moment, the IP address, the browser).
Only payments.gateway imports `stripe`; this module calls through its client.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payments.gateway import StripeGateway, _id_of, _metadata, _positive_cents, _require_key

BANK = "us_bank_account"
#: Financial Connections first; microdeposits when the resident's bank offers no instant link.
OPTIONS = {
    BANK: {
        "verification_method": "automatic",
        "financial_connections": {"permissions": ["payment_method"]},
    }
}


@dataclass(frozen=True)
class MandateAcceptance:
    """What the resident accepted, where and when (Stripe's customer_acceptance.online)."""

    accepted_at: datetime
    ip_address: str
    user_agent: str


@dataclass(frozen=True)
class BankIntent:
    """A PaymentIntent or SetupIntent of a bank debit, as far as our flow reads it."""

    id: str
    status: str
    client_secret: str | None
    payment_method_id: str | None
    #: Stripe's mandate, once confirmed.
    mandate_id: str | None
    #: Where the resident enters the microdeposit amounts (next_action verify_with_microdeposits).
    verification_url: str | None
    failure_code: str | None


@dataclass(frozen=True)
class BankAccount:
    """A saved bank account: what identifies it (fingerprint) and what a resident recognises."""

    payment_method_id: str
    fingerprint: str | None
    bank_name: str | None
    last4: str | None
    account_type: str | None


def _mandate_of(data: dict[str, Any]) -> str | None:
    """The mandate of a SetupIntent (`mandate`) or of a PaymentIntent's charge."""
    if data.get("mandate"):
        return _id_of(data["mandate"])
    charge = data.get("latest_charge")
    details = (charge or {}).get("payment_method_details") if isinstance(charge, dict) else None
    return _id_of(((details or {}).get(BANK) or {}).get("mandate"))


def bank_intent(data: dict[str, Any]) -> BankIntent:
    """Our reading of a bank debit's intent."""
    action = data.get("next_action") or {}
    verify = action.get("verify_with_microdeposits") or {}
    error = data.get("last_payment_error") or data.get("last_setup_error") or {}
    return BankIntent(
        id=data["id"],
        status=data.get("status", ""),
        client_secret=data.get("client_secret"),
        payment_method_id=_id_of(data.get("payment_method")),
        mandate_id=_mandate_of(data),
        verification_url=verify.get("hosted_verification_url"),
        failure_code=error.get("code"),
    )


def _acceptance(mandate: MandateAcceptance) -> dict[str, Any]:
    """mandate_data as Stripe's confirm takes it."""
    return {
        "customer_acceptance": {
            "type": "online",
            "accepted_at": int(mandate.accepted_at.timestamp()),
            "online": {"ip_address": mandate.ip_address, "user_agent": mandate.user_agent[:500]},
        }
    }


def create_bank_payment_intent(
    gateway: StripeGateway,
    *,
    amount_cents: int,
    customer_id: str,
    metadata: dict[str, str],
    idempotency_key: str,
) -> BankIntent:
    """A PaymentIntent for one debit of a US bank account, for Stripe.js to collect the account."""
    params = {
        "amount": _positive_cents(amount_cents),
        "currency": "usd",
        "customer": customer_id,
        "metadata": _metadata(metadata),
        "payment_method_types": [BANK],
        "payment_method_options": OPTIONS,
    }
    create = gateway._client.v1.payment_intents.create
    return bank_intent(gateway._call(create, params, _require_key(idempotency_key)))


def confirm_bank_payment_intent(
    gateway: StripeGateway,
    intent_id: str,
    *,
    payment_method_id: str,
    mandate: MandateAcceptance,
    idempotency_key: str,
) -> BankIntent:
    """Confirm the debit with the mandate the resident accepted: it goes to the bank (processing)."""
    params = {
        "payment_method": payment_method_id,
        "mandate_data": _acceptance(mandate),
        "expand": ["latest_charge"],
    }
    confirm = gateway._client.v1.payment_intents.confirm
    return bank_intent(gateway._call(confirm, intent_id, params, _require_key(idempotency_key)))


def create_bank_setup_intent(
    gateway: StripeGateway, *, customer_id: str, idempotency_key: str
) -> BankIntent:
    """A SetupIntent to save a bank account for autopay (debits off-session)."""
    params = {
        "customer": customer_id,
        "payment_method_types": [BANK],
        "payment_method_options": OPTIONS,
        "usage": "off_session",
    }
    create = gateway._client.v1.setup_intents.create
    return bank_intent(gateway._call(create, params, _require_key(idempotency_key)))


def confirm_bank_setup_intent(
    gateway: StripeGateway,
    setup_intent_id: str,
    *,
    payment_method_id: str,
    mandate: MandateAcceptance,
    idempotency_key: str,
) -> BankIntent:
    """Confirm saving the account with the standing mandate the resident accepted."""
    params = {"payment_method": payment_method_id, "mandate_data": _acceptance(mandate)}
    confirm = gateway._client.v1.setup_intents.confirm
    return bank_intent(
        gateway._call(confirm, setup_intent_id, params, _require_key(idempotency_key))
    )


def bank_account(gateway: StripeGateway, payment_method_id: str) -> BankAccount:
    """The bank account behind a payment method (its fingerprint, bank, last four digits)."""
    data = gateway._call(gateway._client.v1.payment_methods.retrieve, payment_method_id)
    account = data.get(BANK) or {}
    return BankAccount(
        payment_method_id=data["id"],
        fingerprint=account.get("fingerprint"),
        bank_name=account.get("bank_name"),
        last4=account.get("last4"),
        account_type=account.get("account_type"),
    )


def charge_saved_bank_account(
    gateway: StripeGateway,
    *,
    amount_cents: int,
    customer_id: str,
    payment_method_id: str,
    mandate_id: str | None,
    metadata: dict[str, str],
    idempotency_key: str,
) -> BankIntent:
    """Debit a saved bank account under its standing mandate (autopay): confirmed at creation."""
    params: dict[str, Any] = {
        "amount": _positive_cents(amount_cents),
        "currency": "usd",
        "customer": customer_id,
        "metadata": _metadata(metadata),
        "payment_method_types": [BANK],
        "payment_method": payment_method_id,
        "confirm": True,
    }
    if mandate_id:
        params["mandate"] = mandate_id
    create = gateway._client.v1.payment_intents.create
    return bank_intent(gateway._call(create, params, _require_key(idempotency_key)))

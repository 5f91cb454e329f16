"""Webhook events signed the way Stripe signs them (for the kinds localstripe never sends)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from itertools import count

from tests.conftest import WEBHOOK_SECRET

_ids = count(1)


def intent_event(
    kind: str,
    payment,
    *,
    amount: int | None = None,
    intent_id: str | None = None,
    error: dict | None = None,
    created: int | None = None,
) -> dict:
    """A payment_intent.* event for one of our payments."""
    intent = {
        "id": intent_id or payment.stripe_payment_intent_id or f"pi_test_{payment.id}",
        "object": "payment_intent",
        "amount": amount if amount is not None else payment.amount_cents,
        "amount_received": amount if amount is not None else payment.amount_cents,
        "currency": "usd",
        "metadata": {"payment_id": str(payment.id), "account_number": payment.account.number},
        "status": kind.split(".")[1],
        "last_payment_error": error,
    }
    return {
        "id": f"evt_test_{next(_ids)}",
        "object": "event",
        "type": kind,
        "created": created or int(time.time()),
        "data": {"object": intent},
    }


def signed(
    event: dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> tuple[bytes, dict]:
    """The body and the Stripe-Signature header for an event."""
    body = json.dumps(event).encode()
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={stamp},v1={digest}", "Content-Type": "application/json"}


def deliver(client, event: dict, **kwargs):
    """POST a signed event to the webhook endpoint and close the answer, as a WSGI server does.

    Closing the answer runs what the endpoint left for after it (settling the
    waiting successes), so the test sees the state a real server leaves.
    """
    body, headers = signed(event, **kwargs)
    return client.post("/webhooks/stripe", data=body, headers=headers, buffered=True)

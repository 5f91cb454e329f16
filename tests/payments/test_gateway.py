"""The Stripe gateway against a real localstripe process (and small stand-in servers for
the failures localstripe cannot produce).
"""

# What localstripe 1.15.10 does and does not do, as found while writing these tests
# (stripe-python 16.1, API version 2026-10-28.endive; nothing here reaches api.stripe.com).
#
# Works:
# - POST /v1/customers (name, email, metadata).
# - POST /v1/payment_intents with amount (> 0), currency, customer, metadata,
#   payment_method_types, payment_method, capture_method, confirm=true and
#   off_session=true (off_session only together with confirm=true).
# - Test payment methods by id: pm_card_visa (4242 4242 4242 4242, pays),
#   pm_card_chargeCustomerFail (4000 0000 0000 0341, declined when charged) and
#   pm_card_visa_chargeDeclined (4000 0000 0000 0002: declined only when ATTACHED or saved
#   through a SetupIntent; a charge with it PASSES). The intent keeps the magic id as its
#   payment_method. 3-D Secure cards (4000 0025 0000 3155, 4000 0027 6000 3184,
#   4000 0000 0000 3220, ...) leave the intent in requires_action.
# - A declined charge: HTTP 402, code card_declined, never a decline_code; the error names the
#   charge but not the payment intent (Stripe names the intent), and the intent is left in
#   requires_payment_method with last_payment_error {code, message}. The gateway looks the
#   intent up through the charge.
# - GET and cancel of payment intents; lists take limit and starting_after (has_more works),
#   in creation order, oldest first (Stripe lists newest first).
# - POST /v1/setup_intents (customer, usage, payment_method_types); POST
#   /v1/setup_intents/<id>/confirm with the publishable key, client_secret and
#   payment_method_data, as its Stripe.js does; the SetupIntent then carries a new pm_....
# - POST /v1/refunds with payment_intent and amount (partial refunds too); a refund is
#   `succeeded` at once; refunding a declined intent is a 400.
# - GET /v1/events with `type` (one exact type) and created[gt|gte|lt|lte].
# - Webhooks: POST /_config/webhooks/<name> with url, secret and optional events[] registers
#   an endpoint; every event is signed as Stripe does (Stripe-Signature: t=<event created>,
#   v1=HMAC-SHA256(secret, "t.payload")), posted about 1 s after the event, once, never
#   retried whatever the answer, to the endpoints registered at SENDING time: a delivery
#   scheduled just before a wipe still goes out, possibly to the next test's receiver.
#   DELETE /_config/data empties the objects but keeps the endpoints (our test server adds
#   DELETE /_config/webhooks for that).
# - Events it emits: payment_intent.succeeded, payment_intent.payment_failed,
#   customer.created/updated/deleted, customer.source.created, invoice.*,
#   customer.subscription.created/deleted, plan.created, product.created, payout.*,
#   balance.available.
# - Its Stripe.js stand-in is served at <base>/js.stripe.com/v3/.
#
# Does not work:
# - Idempotency-Key is ignored: the same key twice creates two objects. In the demo only our
#   own unique constraints stop doubles.
# - POST /v1/payment_intents/<id>/confirm with payment_method -> 500 "Not implemented"; any
#   other confirm parameter (off_session, return_url, ...) -> 400 "Unexpected ...". Confirm
#   with no parameters works only if the intent already has a payment method.
# - Every unknown parameter is a 400 "Unexpected <name>": on payment intents description,
#   receipt_email, statement_descriptor, setup_future_usage, automatic_payment_methods,
#   return_url; on refunds `reason`; on cancel `cancellation_reason`.
# - GET /v1/payment_intents refuses created[...] (400 "Unexpected created"): the gateway then
#   lists everything and filters itself. GET /v1/events refuses types[] (the gateway sends
#   `type` for one type and filters several itself).
# - No amount_received, no decline codes other than card_declined (so no insufficient_funds,
#   expired_card, incorrect_cvc, processing_error: tested below with a stand-in server),
#   latest_charge comes back as the whole charge object instead of its id.
# - No events for refunds, charges (charge.succeeded, charge.refunded), disputes, setup
#   intents, or payment_intent.created/canceled/processing/requires_action. No disputes at
#   all, no Checkout, no Prices, no /v1/<objects>/search, no /v1/webhook_endpoints.
# - Its Stripe.js stand-in: confirmCardPayment() ignores the card and only finishes a 3-D
#   Secure step (POST /v1/payment_intents/<id>/_authenticate), and createPaymentMethod() does
#   nothing, so a browser cannot confirm a PaymentIntent with a card. What works in a browser
#   (and on Stripe too): confirmCardSetup(setupIntentSecret, {payment_method: {card}}) saves
#   the card on a SetupIntent, then the server creates the PaymentIntent with that payment
#   method and confirm=true (test_a_card_saved_by_stripe_js_pays_a_bill_end_to_end).
#   createToken() works as well.
# - Its own `localstripe` command binds :: (every interface) and keeps its state in
#   /tmp/localstripe.pickle; see tests/payments/localstripe_server.py for how we avoid both.

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from payments.gateway import (
    DECLINED_MESSAGE,
    UNAVAILABLE_MESSAGE,
    PaymentError,
    StripeGateway,
    WebhookSignatureError,
    resident_message,
    verify_webhook,
)
from tests.payments.conftest import (
    STRIPE_PUBLISHABLE_KEY,
    STRIPE_SECRET_KEY,
    STRIPE_WEBHOOK_SECRET,
)
from tests.payments.localstripe_server import LocalStripeServer, register_webhook

#: (method, path, headers, body) -> (status, JSON body) of a stand-in server.
Responder = Callable[[str, str, dict[str, str], bytes], tuple[int, dict]]


@contextmanager
def http_server(respond: Responder) -> Iterator[str]:
    """A tiny HTTP server on 127.0.0.1 in a thread; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        """Hands every request to `respond`."""

        def _answer(self) -> None:
            """Read the request, ask `respond`, write the JSON answer."""
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, answer = respond(self.command, self.path, dict(self.headers), body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            """Stay quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def gateway_on(base_url: str, **overrides) -> StripeGateway:
    """A gateway on any base URL, quick to give up."""
    settings = {"timeout_seconds": 2.0, "max_network_retries": 0, **overrides}
    return StripeGateway(api_key=STRIPE_SECRET_KEY, api_base=base_url, **settings)


def pay(gateway: StripeGateway, payment_method: str, amount_cents: int = 12_345, key: str = "1"):
    """Create a customer and charge `payment_method` at once."""
    customer = gateway.create_customer(
        name="Maria Olson",
        email="maria.olson@example.org",
        account_number="10000017",
        idempotency_key=f"customer-{key}",
    )
    return gateway.create_payment_intent(
        amount_cents=amount_cents,
        currency="usd",
        customer_id=customer.id,
        metadata={"account_number": "10000017", "payment_id": key},
        idempotency_key=f"payment-{key}",
        payment_method=payment_method,
        confirm=True,
    )


def confirm_card_setup_like_stripe_js(base_url: str, client_secret: str, number: str) -> dict:
    """What localstripe's Stripe.js does for confirmCardSetup(): the card goes to Stripe only."""
    setup_intent_id = client_secret.split("_secret_")[0]
    body = {
        "key": STRIPE_PUBLISHABLE_KEY,
        "use_stripe_sdk": True,
        "client_secret": client_secret,
        "payment_method_data": {
            "type": "card",
            "card": {"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"},
        },
    }
    request = urllib.request.Request(
        f"{base_url}/v1/setup_intents/{setup_intent_id}/confirm",
        data=json.dumps(body).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """A Stripe-Signature header as Stripe writes it."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


# --- paying --------------------------------------------------------------------------------


def test_a_card_payment_confirmed_at_creation_succeeds(gateway):
    """A test card charged at creation pays, and reads back the same."""
    intent = pay(gateway, "pm_card_visa")
    assert intent.status == "succeeded"
    assert intent.amount_cents == 12_345 and intent.currency == "usd"
    assert intent.metadata == {"account_number": "10000017", "payment_id": "1"}
    assert intent.latest_charge_id and intent.latest_charge_id.startswith("ch_")
    assert intent.client_secret and intent.client_secret.startswith(intent.id + "_secret_")
    assert intent.last_error is None
    assert gateway.retrieve_payment_intent(intent.id) == intent


def test_a_card_saved_by_stripe_js_pays_a_bill_end_to_end(gateway, localstripe_fresh):
    """The pay flow: Stripe.js saves the card on a SetupIntent, the server charges it."""
    customer = gateway.create_customer(
        name="Maria Olson", email=None, account_number="10000017", idempotency_key="customer-1"
    )
    assert customer.account_number == "10000017" and customer.email is None
    setup = gateway.create_setup_intent(customer_id=customer.id, idempotency_key="setup-1")
    assert setup.status == "requires_payment_method" and setup.usage == "off_session"
    confirmed = confirm_card_setup_like_stripe_js(
        localstripe_fresh, setup.client_secret, "4242424242424242"
    )
    assert confirmed["status"] == "succeeded"
    saved = gateway.retrieve_setup_intent(setup.id)
    assert saved.payment_method_id and saved.payment_method_id.startswith("pm_")
    intent = gateway.create_payment_intent(
        amount_cents=4_210,
        currency="USD",
        customer_id=customer.id,
        metadata={"invoice": "INV-2026-000123"},
        idempotency_key="payment-1",
        payment_method=saved.payment_method_id,
        confirm=True,
    )
    assert (intent.status, intent.currency, intent.customer_id) == (
        "succeeded",
        "usd",
        customer.id,
    )
    assert intent.payment_method_id == saved.payment_method_id


def test_an_intent_waits_for_the_resident_and_can_be_cancelled(gateway):
    """An unconfirmed intent waits for a card and can be cancelled."""
    intent = gateway.create_payment_intent(
        amount_cents=500,
        currency="usd",
        customer_id=None,
        metadata={},
        idempotency_key="payment-1",
    )
    assert intent.status == "requires_payment_method" and intent.latest_charge_id is None
    assert gateway.cancel_payment_intent(intent.id).status == "canceled"


def test_a_card_that_needs_the_bank_s_approval_waits_for_the_resident(gateway, localstripe_fresh):
    """A 3-D Secure card leaves the intent waiting for the resident (requires_action)."""
    customer = gateway.create_customer(
        name="Maria Olson", email=None, account_number="10000017", idempotency_key="customer-1"
    )
    setup = gateway.create_setup_intent(customer_id=customer.id, idempotency_key="setup-1")
    card = confirm_card_setup_like_stripe_js(
        localstripe_fresh, setup.client_secret, "4000002500003155"
    )
    assert card["status"] == "requires_action"
    intent = gateway.create_payment_intent(
        amount_cents=900,
        currency="usd",
        customer_id=customer.id,
        metadata={},
        idempotency_key="payment-1",
        payment_method=card["payment_method"],
        confirm=True,
    )
    assert intent.status == "requires_action"


def test_a_declined_card_tells_the_resident_to_try_another_card(gateway):
    """A decline maps to the resident's message and names the intent to record."""
    with pytest.raises(PaymentError) as caught:
        pay(gateway, "pm_card_chargeCustomerFail")
    error = caught.value
    assert error.message_for_resident == DECLINED_MESSAGE == str(error)
    assert (error.code, error.retryable, error.http_status) == ("card_declined", False, 402)
    assert error.payment_intent_id, "the declined intent must be known, to record it"
    intent = gateway.retrieve_payment_intent(error.payment_intent_id)
    assert intent.status == "requires_payment_method"
    assert intent.last_error and intent.last_error.code == "card_declined"
    assert intent.last_error.message_for_resident == DECLINED_MESSAGE


def test_a_card_number_that_is_declined_when_charged_fails_the_same_way(gateway, localstripe_fresh):
    """Card 4000 0000 0000 0341, saved then charged off-session, is declined."""
    customer = gateway.create_customer(
        name="Maria Olson", email=None, account_number="10000017", idempotency_key="customer-1"
    )
    setup = gateway.create_setup_intent(customer_id=customer.id, idempotency_key="setup-1")
    card = confirm_card_setup_like_stripe_js(
        localstripe_fresh, setup.client_secret, "4000000000000341"
    )
    with pytest.raises(PaymentError) as caught:
        gateway.create_payment_intent(
            amount_cents=900,
            currency="usd",
            customer_id=customer.id,
            metadata={},
            idempotency_key="payment-1",
            payment_method=card["payment_method"],
            confirm=True,
            off_session=True,
        )
    assert caught.value.message_for_resident == DECLINED_MESSAGE
    assert not caught.value.retryable


def test_bad_amounts_and_missing_keys_never_reach_stripe(gateway):
    """Programming errors are refused before any call to Stripe."""
    common = {"currency": "usd", "customer_id": None, "metadata": {}}
    for amount in (0, -5, 12.5, True):
        with pytest.raises(ValueError, match="amount_cents"):
            gateway.create_payment_intent(amount_cents=amount, idempotency_key="k", **common)
    with pytest.raises(ValueError, match="idempotency key"):
        gateway.create_payment_intent(amount_cents=100, idempotency_key="", **common)
    with pytest.raises(ValueError, match="off_session"):
        gateway.create_payment_intent(
            amount_cents=100, idempotency_key="k", off_session=True, **common
        )
    assert gateway.list_payment_intents() == []


# --- refunds and lists ---------------------------------------------------------------------


def test_part_of_a_payment_is_refunded(gateway):
    """A partial refund of a paid intent."""
    intent = pay(gateway, "pm_card_visa", amount_cents=10_000)
    refund = gateway.create_refund(
        payment_intent_id=intent.id, amount_cents=2_500, idempotency_key="refund-1"
    )
    assert (refund.status, refund.amount_cents, refund.currency) == ("succeeded", 2_500, "usd")
    assert refund.payment_intent_id == intent.id
    assert refund.charge_id == intent.latest_charge_id


def test_a_declined_payment_cannot_be_refunded(gateway):
    """Stripe refuses to refund what was never paid; that is not retryable."""
    with pytest.raises(PaymentError) as caught:
        pay(gateway, "pm_card_chargeCustomerFail")
    with pytest.raises(PaymentError) as refused:
        gateway.create_refund(
            payment_intent_id=caught.value.payment_intent_id,
            amount_cents=100,
            idempotency_key="refund-1",
        )
    assert refused.value.http_status == 400 and not refused.value.retryable


def test_listing_intents_pages_through_all_of_them(gateway):
    """The list follows has_more/starting_after to the last page."""
    made = [pay(gateway, "pm_card_visa", amount_cents=100 + n, key=str(n)).id for n in range(5)]
    listed = gateway.list_payment_intents(limit=2)
    assert sorted(i.id for i in listed) == sorted(made)
    assert [i.created for i in listed] == sorted(i.created for i in listed)


def test_listing_intents_created_after_a_moment(gateway):
    """created_after filters, even where Stripe's own filter is refused."""
    made = pay(gateway, "pm_card_visa").id
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    assert [i.id for i in gateway.list_payment_intents(created_after=an_hour_ago)] == [made]
    assert gateway.list_payment_intents(created_after=an_hour_ago + timedelta(hours=2)) == []
    with pytest.raises(ValueError, match="aware"):
        gateway.list_payment_intents(created_after=datetime(2026, 1, 1))


def test_events_are_listed_by_type(gateway):
    """Events filter by one type, several types, a wildcard and a moment."""
    paid = pay(gateway, "pm_card_visa", key="1")
    with pytest.raises(PaymentError):
        pay(gateway, "pm_card_chargeCustomerFail", key="2")
    succeeded = gateway.list_events(types=["payment_intent.succeeded"])
    assert [e.data_object["id"] for e in succeeded] == [paid.id]
    both = gateway.list_events(
        types=["payment_intent.succeeded", "payment_intent.payment_failed"],
        created_after=datetime.now(UTC) - timedelta(minutes=5),
    )
    assert [e.type for e in both] == ["payment_intent.succeeded", "payment_intent.payment_failed"]
    assert {e.type for e in gateway.list_events(types=["customer.*"])} == {"customer.created"}
    assert both[0].payload["data"]["object"]["id"] == paid.id


# --- webhooks ------------------------------------------------------------------------------


@pytest.fixture
def delivered(localstripe_fresh) -> Iterator[Callable[[str], tuple[bytes, str]]]:
    """A webhook receiver on 127.0.0.1 registered with localstripe.

    Call it with an object id to await the post about that object: a delivery that an
    earlier test scheduled may still arrive here first, and is skipped.
    """
    posts: queue.Queue[tuple[bytes, str]] = queue.Queue()

    def receive(method, path, headers, body):
        """Keep the raw body and its signature header."""
        posts.put((body, headers.get("Stripe-Signature", "")))
        return 200, {}

    def about(object_id: str) -> tuple[bytes, str]:
        """The first post whose event is about `object_id`."""
        deadline = time.monotonic() + 15
        while True:
            body, signature = posts.get(timeout=max(0.1, deadline - time.monotonic()))
            if json.loads(body)["data"]["object"]["id"] == object_id:
                return body, signature

    with http_server(receive) as receiver:
        register_webhook(
            localstripe_fresh,
            "munibill-test",
            f"{receiver}/webhooks/stripe",
            STRIPE_WEBHOOK_SECRET,
            events=["payment_intent.succeeded"],
        )
        yield about


def test_a_signed_payment_succeeded_webhook_is_accepted(gateway, delivered):
    """A real signed delivery from localstripe verifies."""
    intent = pay(gateway, "pm_card_visa")
    payload, signature = delivered(intent.id)
    event = verify_webhook(payload, signature, STRIPE_WEBHOOK_SECRET)
    assert event["type"] == "payment_intent.succeeded"
    assert event["data"]["object"]["id"] == intent.id
    assert event["data"]["object"]["metadata"]["account_number"] == "10000017"
    assert gateway.verify_webhook(payload, signature, STRIPE_WEBHOOK_SECRET) == event


def test_a_tampered_wrongly_signed_or_stale_webhook_is_refused(gateway, delivered):
    """Changing the body, the secret or the clock beyond tolerance is refused."""
    payload, signature = delivered(pay(gateway, "pm_card_visa").id)
    timestamp = int(signature.split(",")[0].removeprefix("t="))
    tampered = payload.replace(b'"amount": 12345', b'"amount": 1')
    assert tampered != payload
    refusals = {
        "tampered": (tampered, signature, STRIPE_WEBHOOK_SECRET, None),
        "wrong secret": (payload, signature, "whsec_someone_else", None),
        "stale": (payload, signature, STRIPE_WEBHOOK_SECRET, timestamp + 301),
        "from the future": (payload, signature, STRIPE_WEBHOOK_SECRET, timestamp - 301),
    }
    for name, (body, header, secret, now) in refusals.items():
        with pytest.raises(WebhookSignatureError):
            verify_webhook(body, header, secret, now=now)
            pytest.fail(f"a {name} webhook was accepted")
    assert verify_webhook(payload, signature, STRIPE_WEBHOOK_SECRET, now=timestamp + 299)


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (None, "missing"),
        ("", "missing"),
        ("v1=abc", "no timestamp"),
        ("t=1700000000", "no v1 signature"),
        ("t=1700000000,v0=" + "0" * 64, "no v1 signature"),
        ("t=soon,v1=" + "0" * 64, "no timestamp"),
        ("t=1700000000,v1=\u00e9\u00e9", "no v1 signature matches"),
    ],
)
def test_a_malformed_signature_header_is_refused(header, why):
    """A missing or malformed Stripe-Signature header is refused, saying why."""
    with pytest.raises(WebhookSignatureError, match=why):
        verify_webhook(b'{"id": "evt_1", "type": "x"}', header, "whsec_1", now=1_700_000_000)


def test_a_rotated_secret_still_verifies_and_the_body_must_be_an_event():
    """Any v1 signature may match; the signed body must be an event object."""
    now = 1_700_000_000
    body = b'{"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {}}}'
    old, new = sign(body, "whsec_old", now), sign(body, "whsec_new", now)
    both = f"{new},v1={old.split('v1=')[1]}"
    assert verify_webhook(body, both, "whsec_old", now=now)["id"] == "evt_1"
    for not_an_event in (b"[1, 2]", b"not json", b'{"type": "x"}', b"\xff\xfe"):
        with pytest.raises(WebhookSignatureError, match="not"):
            verify_webhook(not_an_event, sign(not_an_event, "whsec_old", now), "whsec_old", now=now)
    with pytest.raises(WebhookSignatureError, match="secret"):
        verify_webhook(body, old, "", now=now)


# --- Stripe unreachable or failing ---------------------------------------------------------


def test_a_stopped_stripe_is_temporarily_unavailable(tmp_path: Path):
    """Connection refused is retryable and tells the resident to try later."""
    with LocalStripeServer(tmp_path / "localstripe") as server:
        gateway = gateway_on(server.base_url)
        assert gateway.list_payment_intents() == []
    assert not server.running
    with gateway, pytest.raises(PaymentError) as caught:
        gateway.create_customer(
            name="Maria Olson", email=None, account_number="10000017", idempotency_key="c-1"
        )
    assert caught.value.message_for_resident == UNAVAILABLE_MESSAGE
    assert caught.value.retryable and caught.value.http_status is None
    assert "Connection" in caught.value.detail


def test_a_stripe_that_does_not_answer_in_time_is_temporarily_unavailable():
    """A read timeout is retryable and tells the resident to try later."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        with gateway_on(f"http://127.0.0.1:{port}", timeout_seconds=0.3) as gateway:
            started = time.monotonic()
            with pytest.raises(PaymentError) as caught:
                gateway.retrieve_payment_intent("pi_123")
    assert caught.value.message_for_resident == UNAVAILABLE_MESSAGE and caught.value.retryable
    assert time.monotonic() - started < 5


def _card_error(code: str, decline_code: str | None = None) -> tuple[int, dict]:
    """A card error as api.stripe.com sends it."""
    error = {"type": "card_error", "code": code, "message": "Stripe's text"}
    if decline_code:
        error["decline_code"] = decline_code
    error["payment_intent"] = {"id": "pi_from_stripe", "object": "payment_intent"}
    return 402, {"error": error}


@pytest.mark.parametrize(
    ("answer", "message", "retryable"),
    [
        pytest.param(
            _card_error("card_declined", "generic_decline"), DECLINED_MESSAGE, False, id="declined"
        ),
        pytest.param(
            _card_error("card_declined", "stolen_card"), DECLINED_MESSAGE, False, id="stolen"
        ),
        pytest.param(
            _card_error("card_declined", "insufficient_funds"),
            "insufficient funds",
            False,
            id="insufficient_funds",
        ),
        pytest.param(_card_error("expired_card"), "has expired", False, id="expired"),
        pytest.param(_card_error("incorrect_cvc"), "security code is incorrect", False, id="cvc"),
        pytest.param(
            _card_error("processing_error"),
            "error occurred while processing",
            False,
            id="processing_error",
        ),
        pytest.param(
            _card_error("card_declined", "authentication_required"),
            "approve",
            False,
            id="authentication_required",
        ),
        pytest.param(
            (500, {"error": {"type": "api_error", "message": "boom"}}),
            UNAVAILABLE_MESSAGE,
            True,
            id="500",
        ),
        pytest.param((503, {}), UNAVAILABLE_MESSAGE, True, id="503-without-body"),
        pytest.param(
            (429, {"error": {"type": "rate_limit_error"}}), UNAVAILABLE_MESSAGE, True, id="429"
        ),
        pytest.param(
            (401, {"error": {"type": "invalid_request_error"}}),
            "billing office",
            False,
            id="bad-api-key",
        ),
        pytest.param(
            (400, {"error": {"type": "invalid_request_error", "code": "parameter_invalid"}}),
            "billing office",
            False,
            id="our-bug",
        ),
    ],
)
def test_stripe_errors_become_messages_a_resident_can_act_on(answer, message, retryable):
    """Each Stripe failure becomes a resident's message and a retry decision."""
    with (
        http_server(lambda *_request: answer) as base,
        gateway_on(base) as gateway,
        pytest.raises(PaymentError) as caught,
    ):
        gateway.create_payment_intent(
            amount_cents=100,
            currency="usd",
            customer_id="cus_1",
            metadata={},
            idempotency_key="payment-1",
            payment_method="pm_1",
            confirm=True,
        )
    assert message in caught.value.message_for_resident
    assert caught.value.retryable is retryable
    assert caught.value.http_status == answer[0]
    if answer[0] == 402:
        assert caught.value.payment_intent_id == "pi_from_stripe"


def test_each_call_sends_our_key_and_our_idempotency_key_and_retries_a_5xx():
    """Our key and idempotency key go with every attempt; a 503 is retried."""
    seen: list[dict[str, str]] = []

    def flaky(method, path, headers, body):
        """Fail the first call with a 503, then create the customer."""
        seen.append(headers)
        if len(seen) == 1:
            return 503, {"error": {"type": "api_error", "message": "try again"}}
        return 200, {"id": "cus_1", "object": "customer", "name": "Maria Olson", "metadata": {}}

    with http_server(flaky) as base, gateway_on(base, max_network_retries=1) as gateway:
        customer = gateway.create_customer(
            name="Maria Olson", email=None, account_number="1", idempotency_key="customer-7"
        )
    assert customer.id == "cus_1" and customer.account_number is None
    assert len(seen) == 2
    assert {h["Idempotency-Key"] for h in seen} == {"customer-7"}
    assert {h["Authorization"] for h in seen} == {f"Bearer {STRIPE_SECRET_KEY}"}


def test_a_publishable_or_missing_key_is_a_configuration_error():
    """The gateway refuses to start without a secret key."""
    from core.settings import ConfigError

    for key in ("", STRIPE_PUBLISHABLE_KEY):
        with pytest.raises(ConfigError, match="STRIPE_SECRET_KEY"):
            StripeGateway(api_key=key)
    gateway = StripeGateway.from_config(
        {"STRIPE_SECRET_KEY": STRIPE_SECRET_KEY, "STRIPE_API_BASE": "http://127.0.0.1:9"}
    )
    gateway.close()


def test_resident_messages_prefer_the_decline_code():
    """The decline code is more precise than the error code, so it wins."""
    assert resident_message("card_declined", "insufficient_funds").startswith("Your card has")
    assert resident_message("card_declined", "do_not_honor") == DECLINED_MESSAGE
    assert resident_message("card_declined") == DECLINED_MESSAGE
    assert "billing office" in resident_message(None)


# --- the localstripe fixture itself ---------------------------------------------------------


def test_each_localstripe_run_starts_empty_and_leaves_no_pickle(tmp_path: Path):
    """No state crosses from one localstripe run to the next, through the pickle or otherwise."""
    pickle = Path("/tmp/localstripe.pickle")
    before = pickle.stat().st_mtime_ns if pickle.exists() else None
    with LocalStripeServer(tmp_path / "first") as first, gateway_on(first.base_url) as gateway:
        pay(gateway, "pm_card_visa")
        assert len(gateway.list_payment_intents()) == 1
    with LocalStripeServer(tmp_path / "second") as second, gateway_on(second.base_url) as gateway:
        assert gateway.list_payment_intents() == []
    after = pickle.stat().st_mtime_ns if pickle.exists() else None
    assert before == after, "localstripe wrote /tmp/localstripe.pickle"


def test_localstripe_ignores_idempotency_keys(gateway):
    """Documents a localstripe gap: the same idempotency key creates twice."""

    def create():
        """A customer, always with the same idempotency key."""
        return gateway.create_customer(
            name="Maria Olson", email=None, account_number="1", idempotency_key="same-key"
        )

    assert create().id != create().id, "localstripe learned idempotency: update the notes above"


def test_localstripe_refuses_a_refund_reason(gateway):
    """Documents a localstripe gap: a refund `reason` is a 400."""
    intent = pay(gateway, "pm_card_visa")
    with pytest.raises(PaymentError) as caught:
        gateway.create_refund(
            payment_intent_id=intent.id,
            amount_cents=100,
            idempotency_key="refund-1",
            reason="requested_by_customer",
        )
    assert caught.value.http_status == 400 and "reason" in caught.value.detail

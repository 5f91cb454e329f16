"""The Stripe webhook endpoint (thin: verify, store, answer, settle)."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request

from core.extensions import csrf, db
from payments.gateway import WebhookSignatureError, verify_webhook
from payments.models import EventStatus, StripeEvent
from payments.webhooks import (
    SUCCEEDED,
    claim,
    mark_failed,
    process_events,
    settle_waiting,
    store_event,
)

log = logging.getLogger(__name__)
webhooks = Blueprint("webhooks", __name__)


@webhooks.route("/webhooks/stripe", methods=["POST"])
@csrf.exempt
def stripe_webhook():
    """Verify the signature and store the event; then settle successes, process the rest.

    A success is answered as soon as it is stored and settled right after the
    answer has been sent, together with every other success waiting at that
    moment (one transaction per batch), so a burst of payments settles in a
    few transactions. Every other event is processed before the answer; if
    that fails the event is kept with its error and the answer is 500, so
    Stripe sends it again.
    """
    try:
        event = verify_webhook(
            request.get_data(),
            request.headers.get("Stripe-Signature"),
            current_app.config["STRIPE_WEBHOOK_SECRET"],
        )
    except WebhookSignatureError as error:
        log.warning("refused a webhook from %s: %s", request.remote_addr, error)
        return jsonify(errors={"_request": [str(error)]}), 400
    new = store_event(db.session, event)
    db.session.commit()  # the event is kept whatever happens next
    if event["type"] == SUCCEEDED:
        status = EventStatus.RECEIVED.value if new else _status(event["id"])
        response = jsonify(received=True, duplicate=not new, status=status)
        response.call_on_close(_settler(current_app._get_current_object()))
        return response
    rows = claim(db.session, event["id"])
    if rows:
        try:
            process_events(db.session, rows)
            db.session.commit()
        except Exception as error:  # noqa: BLE001 - kept with its error for the clerks, and Stripe retries
            db.session.rollback()
            log.exception("webhook event %s (%s) failed", event["id"], event["type"])
            mark_failed(db.session, event["id"], error)
            db.session.commit()
            return jsonify(
                errors={"_request": ["The event was stored but could not be processed."]}
            ), 500
    return jsonify(received=True, duplicate=not new, status=_status(event["id"]))


def _status(event_id: str) -> str:
    """What became of a stored event so far."""
    status = db.session.scalar(sa.select(StripeEvent.status).where(StripeEvent.id == event_id))
    db.session.rollback()
    return (status or EventStatus.RECEIVED).value


def _settler(app):
    """Settle the waiting successes once the answer is on its way (the WSGI server closes the response)."""

    def settle() -> None:
        with app.app_context():
            try:
                settle_waiting(db.session, batch=app.config["WEBHOOK_BATCH_SIZE"])
            except Exception:  # noqa: BLE001 - the events stay stored and are taken by the next settler
                log.exception("settling the waiting webhook events failed")

    return settle


def init_app(app) -> None:
    """Register the webhook endpoint."""
    app.register_blueprint(webhooks)

"""The Stripe webhook endpoint (thin: verify, store, process, commit)."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request

from core.db import utcnow
from core.extensions import csrf, db
from payments.gateway import WebhookSignatureError, verify_webhook
from payments.models import EventStatus, StripeEvent
from payments.webhooks import process_event, store_event

log = logging.getLogger(__name__)
webhooks = Blueprint("webhooks", __name__)


@webhooks.route("/webhooks/stripe", methods=["POST"])
@csrf.exempt
def stripe_webhook():
    """Verify the signature, store the event, process it; 500 (so Stripe retries) if processing fails."""
    try:
        event = verify_webhook(
            request.get_data(),
            request.headers.get("Stripe-Signature"),
            current_app.config["STRIPE_WEBHOOK_SECRET"],
        )
    except WebhookSignatureError as error:
        log.warning("refused a webhook from %s: %s", request.remote_addr, error)
        return jsonify(errors={"_request": [str(error)]}), 400
    row, new = store_event(db.session, event)
    if not new and row.status in (
        EventStatus.PROCESSED,
        EventStatus.IGNORED,
        EventStatus.UNMATCHED,
    ):
        db.session.rollback()
        return jsonify(received=True, duplicate=True)
    db.session.commit()  # the event is kept whatever happens next
    try:
        status = process_event(db.session, row)
        db.session.commit()
    except Exception as error:  # noqa: BLE001 - kept with its error for the clerks, and Stripe retries
        db.session.rollback()
        log.exception("webhook event %s (%s) failed", event["id"], event["type"])
        failed = db.session.get(StripeEvent, event["id"])
        failed.status, failed.error, failed.processed_at = (
            EventStatus.FAILED,
            str(error)[:2000],
            utcnow(),
        )
        failed.attempts += 1
        db.session.commit()
        return jsonify(
            errors={"_request": ["The event was stored but could not be processed."]}
        ), 500
    return jsonify(received=True, status=status.value)


def init_app(app) -> None:
    """Register the webhook endpoint."""
    app.register_blueprint(webhooks)

"""The Stripe webhook endpoint (thin: verify, store, answer, settle)."""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request

from core.calendar import town_zone
from core.db import utcnow
from core.extensions import csrf, db
from core.limits import body_limit
from core.settings import ConfigError
from payments.cards import fill_card_details
from payments.gateway import StripeGateway, WebhookSignatureError, verify_webhook
from payments.models import EventStatus, StripeEvent
from payments.webhooks import (
    STRIPE,
    SUCCEEDED,
    claim,
    mark_failed,
    process_events,
    settle_waiting,
    store_event,
)

log = logging.getLogger(__name__)
webhooks = Blueprint("webhooks", __name__)
#: How far back the settler looks for settled payments whose card is not known yet.
CARD_WINDOW = timedelta(minutes=15)


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
            process_events(db.session, rows, town_zone(current_app.config))
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
    """Settle the waiting successes once the answer is on its way (the WSGI server closes the
    response); then ask Stripe for the cards of the payments just settled without one."""

    def settle() -> None:
        with app.app_context():
            try:
                settle_waiting(
                    db.session, batch=app.config["WEBHOOK_BATCH_SIZE"], zone=town_zone(app.config)
                )
            except Exception:  # noqa: BLE001 - the events stay stored and are taken by the next settler
                log.exception("settling the waiting webhook events failed")
            _fill_cards(app)

    return settle


def _fill_cards(app) -> None:
    """The cards of payments settled in the last minutes that lack one (payments.cards); the
    fees job takes those still missing later. Never raises: the payments are settled anyway."""
    try:
        with StripeGateway.from_config(app.config) as gateway:
            fill_card_details(
                db.session,
                STRIPE,
                gateway,
                settled_after=utcnow() - CARD_WINDOW,
                limit=app.config["WEBHOOK_BATCH_SIZE"],
            )
    except ConfigError:
        return  # no Stripe to ask (the receipt says "card" until the fees job asks)
    except Exception:  # noqa: BLE001 - the cards are asked for again by the fees job
        db.session.rollback()
        log.exception("reading the cards of settled payments failed")


def init_app(app) -> None:
    """Register the webhook endpoint, with the webhooks' own body limit."""
    app.register_blueprint(webhooks)
    body_limit(app, "webhooks.stripe_webhook", "WEBHOOK_MAX_CONTENT_LENGTH")

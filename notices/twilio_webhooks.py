"""Twilio's webhooks (thin: check the signature, call a service, commit, answer): inbound texts
(STOP ends texting, START resumes it, HELP answers) and the delivery status of each text sent
(docs/texts.md). A request without Twilio's valid X-Twilio-Signature is refused with 403.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, request

from core.extensions import csrf, db
from core.limits import body_limit
from notices import text_messages
from notices.sms_gateway import reply_twiml, signature_valid
from notices.text_rules import BadNumber, keyword, normalize_us_mobile, words

log = logging.getLogger(__name__)
bp = Blueprint("twilio_webhooks", __name__)


def _signed() -> None:
    """403 unless Twilio signed this request (its URL as Twilio called it: PUBLIC_BASE_URL and
    the path, with the query string if any)."""
    config = current_app.config
    url = config["PUBLIC_BASE_URL"] + request.path
    if request.query_string:
        url += "?" + request.query_string.decode()
    signature = request.headers.get("X-Twilio-Signature")
    if not signature_valid(config.get("TWILIO_AUTH_TOKEN", ""), url, request.form, signature):
        log.warning("refused a Twilio webhook from %s: bad signature", request.remote_addr)
        abort(403)


def _twiml(text: str | None) -> Response:
    return Response(reply_twiml(text), mimetype="application/xml")


@bp.route("/webhooks/twilio/inbound", methods=["POST"])
@csrf.exempt
def inbound():
    """A text from a resident: STOP, START or HELP (any other text gets no answer)."""
    _signed()
    config = current_app.config
    try:
        phone = normalize_us_mobile(request.form.get("From", ""))
    except BadNumber:
        return _twiml(None)
    word = keyword(request.form.get("Body", ""))
    known = text_messages.consents_of_number(db.session, phone)
    language = known[0].language if known else "en"
    values = {"town": config["MUNICIPALITY_NAME"], "phone": config["MUNICIPALITY_PHONE"]}
    reply = None
    if word == "stop":
        text_messages.stop_number(db.session, phone)
        # NOTE: Twilio confirms an opt-out itself and blocks further texts to the number.
    elif word == "start":
        if text_messages.start_number(db.session, phone):
            reply = words(language)["resumed"].format(**values)
    elif word == "help":
        reply = words(language)["help"].format(**values)
    db.session.commit()
    return _twiml(reply)


@bp.route("/webhooks/twilio/status", methods=["POST"])
@csrf.exempt
def status():
    """Twilio's status callback of a text we sent: kept on the text."""
    _signed()
    sid = request.form.get("MessageSid", "")
    found = text_messages.record_status(
        db.session, sid, request.form.get("MessageStatus", ""), request.form.get("ErrorCode")
    )
    db.session.commit()
    if found is None:
        log.info("status callback for a message we did not send: %s", sid)
    return Response(status=204)


def init_app(app) -> None:
    """Register the Twilio webhooks, with the webhooks' own body limit."""
    app.register_blueprint(bp)
    body_limit(app, "twilio_webhooks.inbound", "WEBHOOK_MAX_CONTENT_LENGTH")
    body_limit(app, "twilio_webhooks.status", "WEBHOOK_MAX_CONTENT_LENGTH")

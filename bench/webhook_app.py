"""The app for bench/webhooks.py: munibill plus a baseline endpoint on the same server.

The baseline does the least a correct receiver must do: verify the signature
and insert the raw event row (into a table of its own, created by the bench).
"""

import sqlalchemy as sa
from flask import jsonify, request

from core import create_app
from core.extensions import csrf, db
from payments.gateway import WebhookSignatureError, verify_webhook

app = create_app()
RAW = sa.table("bench_raw_event", sa.column("id", sa.String), sa.column("body", sa.Text))


@app.route("/bench/baseline-webhook", methods=["POST"])
@csrf.exempt
def baseline_webhook():
    """Verify, insert the raw row, answer."""
    body = request.get_data()
    try:
        event = verify_webhook(
            body, request.headers.get("Stripe-Signature"), app.config["STRIPE_WEBHOOK_SECRET"]
        )
    except WebhookSignatureError:
        return jsonify(error="bad signature"), 400
    db.session.execute(sa.insert(RAW).values(id=event["id"], body=body.decode()))
    db.session.commit()
    return jsonify(received=True)

"""The clerks' reconciliation queue: each item with both records, resolved once, with who and
when; an auditor reads it and cannot resolve."""

from __future__ import annotations

import re

import sqlalchemy as sa

from core.audit import Actor
from core.extensions import db
from core.models import AuditEvent
from payments.models import ReconciliationItem, ReconciliationKind, ReconciliationStatus
from payments.reconcile_queue import flag
from tests.conftest import csrf_token


def flagged(app) -> int:
    with app.app_context():
        assert flag(
            db.session,
            Actor.job("reconcile_stripe"),
            ReconciliationKind.UNKNOWN_HERE,
            "pi_3NoSuchPayment",
            payment=None,
            ours={},
            theirs={"amount_cents": 4200, "status": "succeeded", "customer": "cus_X"},
            suggestion="Find whose payment this is and settle it, or refund it at Stripe.",
        )
        db.session.commit()
        return db.session.scalar(sa.select(ReconciliationItem.id))


def test_a_clerk_resolves_an_item_once_and_the_queue_keeps_who_and_when(app, signed_in):
    item_id = flagged(app)
    clerk = signed_in("clerk")
    queue = clerk.get("/staff/reconciliation/").text
    assert "pi_3NoSuchPayment" in queue and "unknown here" in queue
    page = clerk.get(f"/staff/reconciliation/{item_id}").text
    assert "4200" in page and "cus_X" in page and "Find whose payment" in page
    short = clerk.post(
        f"/staff/reconciliation/{item_id}/resolve",
        data={"csrf_token": csrf_token(page), "resolution": "ok"},
    )
    assert short.status_code == 422 and "Say what was done" in short.text
    done = clerk.post(
        f"/staff/reconciliation/{item_id}/resolve",
        data={
            "csrf_token": csrf_token(page),
            "resolution": "Refunded at Stripe: no such resident.",
        },
    )
    assert done.status_code == 303
    again = clerk.post(
        f"/staff/reconciliation/{item_id}/resolve",
        data={"csrf_token": csrf_token(page), "resolution": "Resolved a second time?"},
    )
    assert again.status_code == 409 and "was resolved by" in again.text
    with app.app_context():
        item = db.session.get(ReconciliationItem, item_id)
        assert item.status == ReconciliationStatus.RESOLVED
        assert item.resolution == "Refunded at Stripe: no such resident."
        assert item.resolved_by.startswith("clerk-")
        actions = db.session.scalars(sa.select(AuditEvent.action)).all()
        assert actions.count("reconciliation.resolve") == 1
    history = clerk.get("/staff/reconciliation/").text
    assert re.search(r"Nothing is waiting", history)
    assert "Refunded at Stripe: no such resident." in history


def test_an_auditor_reads_the_queue_but_cannot_resolve(app, signed_in):
    item_id = flagged(app)
    auditor = signed_in("auditor")
    page = auditor.get(f"/staff/reconciliation/{item_id}").text
    assert "Resolve this item" not in page
    refused = auditor.post(
        f"/staff/reconciliation/{item_id}/resolve",
        data={"csrf_token": csrf_token(page), "resolution": "An auditor may not do this."},
    )
    assert refused.status_code == 403
    assert auditor.get("/staff/reconciliation/999999").status_code == 404

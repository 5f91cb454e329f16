"""A gunicorn worker killed with SIGKILL in the middle of a webhook burst: once the senders have
sent again what got no answer, every payment is settled exactly once and the books are whole."""

from __future__ import annotations

import os
import random
import signal

import pytest
import sqlalchemy as sa

from billing.models import Invoice, InvoiceStatus
from core.extensions import db
from payments.models import Payment, StripeEvent
from tests.faults.conftest import Senders, child_env, children, gunicorn, wait_for
from tests.faults.ledger_checks import books_whole, settled_once
from tests.payments.signing import intent_event
from tests.payments.test_webhooks import _payment, _town

HOUSEHOLDS = 120
WORKERS = 3
SENDERS = 12


def _events(app, payment_ids: list[int]) -> list[dict]:
    """A success per payment, a fifth of them delivered twice, shuffled."""
    with app.app_context():
        events = [
            intent_event("payment_intent.succeeded", db.session.get(Payment, payment_id))
            for payment_id in payment_ids
        ]
    stream = events + random.Random(7).sample(events, len(events) // 5)
    random.Random(11).shuffle(stream)
    return stream


def _waiting(app) -> int:
    with app.app_context():
        waiting = db.session.scalar(
            sa.select(sa.func.count()).where(StripeEvent.status == "received")
        )
        db.session.rollback()
        return waiting


@pytest.mark.postgres
@pytest.mark.slow
def test_a_worker_killed_mid_burst_leaves_every_payment_settled_exactly_once(
    app, database_url, instance, tmp_path
):
    payment_ids = [_payment(app, account_id) for account_id in _town(app, HOUSEHOLDS)]
    stream = _events(app, payment_ids)
    killed: list[int] = []
    with gunicorn(child_env(database_url, instance), WORKERS, tmp_path / "gunicorn.log") as (
        port,
        master,
    ):
        senders = Senders(port, stream, SENDERS)

        def kill_workers() -> None:
            """Each round waits until the workers are answering again (a few more deliveries
            acknowledged since the last round: a freshly forked worker still importing the app
            holds no request), then SIGKILLs every worker at once; with more senders than
            workers each worker is in a request, so a round cuts deliveries off. Rounds go on
            until a delivery was cut off and sent again, or the stream is spent."""
            while not senders.retries:
                served = len(senders.acknowledged)
                if not wait_for(
                    lambda served=served: (
                        len(senders.acknowledged) >= served + 2 * WORKERS or not senders.remaining
                    ),
                    60,
                    step=0.002,
                ):
                    break
                if not senders.remaining:
                    break
                victims = children(master.pid)
                assert victims, "gunicorn has no worker"
                for victim in victims:
                    os.kill(victim, signal.SIGKILL)
                killed.extend(victims)
                wait_for(lambda: senders.retries > 0, 2, step=0.01)

        senders.run(during=kill_workers)
        assert senders.remaining == 0
        assert senders.retries >= 1  # a kill cut a delivery off, and it was sent again
        assert set(senders.acknowledged) == {event["id"] for event in stream}
        assert wait_for(lambda: _waiting(app) == 0, 30), "stored successes were left unsettled"
        # gunicorn replaced every worker killed
        assert killed and not set(killed) & set(children(master.pid))
    with app.app_context():
        session = db.session
        settled_once(session, payment_ids)
        assert (
            session.scalar(sa.select(sa.func.count()).where(Invoice.status != InvoiceStatus.PAID))
            == 0
        )
        assert session.scalar(sa.select(sa.func.count()).select_from(StripeEvent)) == HOUSEHOLDS
        books_whole(session)

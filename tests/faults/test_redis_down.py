"""The shared rate-limit store (Redis) out of reach: the throttled forms answer 503 and let no
guess through uncounted; once it is back they work again, with the counts it kept."""

from __future__ import annotations

from core.audit import Actor
from core.auth import create_staff_user
from core.extensions import db
from tests.billing.billing_fixtures import bill_households
from tests.conftest import PASSWORD, sign_in
from tests.faults.conftest import Relay
from tests.portal.conftest import quick_pay

REDIS_PORT = 6379


def test_quick_pay_and_sign_in_refuse_cleanly_while_redis_is_down(throttled):
    relay = Relay(REDIS_PORT)
    relay.up()
    try:
        app = throttled(f"redis://127.0.0.1:{relay.port}/0")
        (billed,) = bill_households(app, "olson")
        email = "clerk@example.org"
        with app.app_context():
            create_staff_user(
                db.session,
                Actor.system("test"),
                email=email,
                name="Clerk",
                role="clerk",
                password=PASSWORD,
            )
            db.session.commit()
        client = app.test_client()
        for _ in range(3):
            assert quick_pay(client, billed.number, "AAAAA-AAAAA").status_code == 422
        relay.down()
        for refused in (
            quick_pay(client, billed.number, billed.access_code),
            sign_in(app.test_client(), email),
        ):
            assert refused.status_code == 503
            assert "temporarily unavailable" in refused.text
            assert "Traceback" not in refused.text
        relay.up()
        assert quick_pay(app.test_client(), billed.number, billed.access_code).status_code == 303
        for _ in range(2):  # the three failures counted before the outage still count
            assert quick_pay(client, billed.number, "AAAAA-AAAAA").status_code == 422
        assert quick_pay(client, billed.number, billed.access_code).status_code == 429
    finally:
        relay.down()

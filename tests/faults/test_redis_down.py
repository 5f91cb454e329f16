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
        # NOTE: Flask-Limiter keeps the first key prefix of the process, so this test counts its
        # failures on an account and an address no other test uses (they last 15 minutes).
        _, billed = bill_households(app, "olson", "nguyen")
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
        client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
        for _ in range(3):
            assert quick_pay(client, billed.number, "AAAAA-AAAAA").status_code == 422
        relay.down()
        for refused in (
            quick_pay(client, billed.number, billed.access_code),
            sign_in(client, email),
        ):
            assert refused.status_code == 503
            assert "temporarily unavailable" in refused.text
            assert "Traceback" not in refused.text
        relay.up()
        back = app.test_client()
        back.environ_base["REMOTE_ADDR"] = "198.51.100.8"
        assert quick_pay(back, billed.number, billed.access_code).status_code == 303
        for _ in range(2):  # the three failures counted before the outage still count
            assert quick_pay(client, billed.number, "AAAAA-AAAAA").status_code == 422
        assert quick_pay(client, billed.number, billed.access_code).status_code == 429
    finally:
        relay.down()

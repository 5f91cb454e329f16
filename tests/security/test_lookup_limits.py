"""The lookup throttles count what an attacker cannot multiply: an IPv6 client by its /64
(a household is handed a whole /64), and an account's tries across every form that checks
its access code (quick pay, sign-up, linking an account), five in all."""

from __future__ import annotations

import pytest

from core.clients import address_key
from tests.billing.billing_fixtures import bill_households
from tests.portal.conftest import quick_pay
from tests.security.conftest import RESIDENT_PASSWORD, register_resident
from tests.security.test_throttles import LOOKUP_LIMIT, post_form, resident_sign_in

WRONG = "AAAAA-AAAAA"


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
    ],
)
def test_an_ipv4_client_is_counted_by_its_address_and_an_ipv6_client_by_its_64(address, counted_as):
    assert address_key(address) == counted_as


def _from(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_eight_addresses_in_one_ipv6_64_share_one_bucket(throttled):
    app = throttled()
    accounts = bill_households(app, "olson", "nguyen", "garcia", "smith", "jones", "brown")
    answers = [
        quick_pay(_from(app, f"2001:db8:1:2::{n + 1:x}"), billed.number, WRONG).status_code
        for n, billed in enumerate(accounts[:5])
    ]
    assert answers == [422] * LOOKUP_LIMIT
    for n in range(5, 8):
        # another three addresses of the same /64, each on an account it never tried
        refused = quick_pay(_from(app, f"2001:db8:1:2::{n + 1:x}"), accounts[5].number, WRONG)
        assert refused.status_code == 429


def test_two_ipv6_64s_are_counted_apart(throttled):
    app = throttled()
    accounts = bill_households(app, "olson", "nguyen", "garcia", "smith", "jones", "brown")
    for billed in accounts[:5]:
        assert quick_pay(_from(app, "2001:db8:1:2::1"), billed.number, WRONG).status_code == 422
    assert quick_pay(_from(app, "2001:db8:1:2::2"), accounts[5].number, WRONG).status_code == 429
    other = quick_pay(_from(app, "2001:db8:1:3::1"), accounts[5].number, WRONG)
    assert other.status_code == 422


def test_behind_a_trusted_proxy_the_forwarded_ipv6_client_is_counted_by_its_64(throttled):
    app = throttled(TRUSTED_PROXY_HOPS="1")
    accounts = bill_households(app, "olson", "nguyen", "garcia", "smith", "jones", "brown")

    def through_proxy(client_address: str):
        client = _from(app, "10.0.0.1")  # the proxy
        client.environ_base["HTTP_X_FORWARDED_FOR"] = client_address
        return client

    for n, billed in enumerate(accounts[:5]):
        answer = quick_pay(through_proxy(f"2001:db8:1:2::{n + 1:x}"), billed.number, WRONG)
        assert answer.status_code == 422
    refused = quick_pay(through_proxy("2001:db8:1:2::99"), accounts[5].number, WRONG)
    assert refused.status_code == 429
    elsewhere = quick_pay(through_proxy("2001:db8:9:9::1"), accounts[5].number, WRONG)
    assert elsewhere.status_code == 422


def _sign_up(client, number: str, code: str):
    data = {
        "email": "someone.new@example.net",
        "password": RESIDENT_PASSWORD,
        "confirm": RESIDENT_PASSWORD,
        "account": number,
        "code": code,
    }
    return post_form(client, "/register", "/register", data)


def _link(client, number: str, code: str):
    return post_form(client, "/my/accounts", "/my/accounts/link", {"account": number, "code": code})


def test_an_account_gets_five_tries_in_all_across_quick_pay_sign_up_and_linking(throttled):
    app = throttled()
    olson, nguyen = bill_households(app, "olson", "nguyen")
    register_resident(app, olson.number)
    resident = _from(app, "198.51.100.1")
    assert resident_sign_in(resident, None, {}).status_code == 303
    tries = [
        quick_pay(_from(app, "192.0.2.1"), nguyen.number, WRONG).status_code,
        quick_pay(_from(app, "192.0.2.2"), nguyen.number, WRONG).status_code,
        _sign_up(_from(app, "192.0.2.3"), nguyen.number, WRONG).status_code,
        _sign_up(_from(app, "192.0.2.4"), nguyen.number, WRONG).status_code,
        _link(resident, nguyen.number, WRONG).status_code,
    ]
    assert tries == [422] * LOOKUP_LIMIT
    for form in (quick_pay, _sign_up):
        assert form(_from(app, "203.0.113.9"), nguyen.number, nguyen.access_code).status_code == 429
    assert _link(resident, nguyen.number, nguyen.access_code).status_code == 429

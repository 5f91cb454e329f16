"""Throttles on every form that checks a password, an access code or sends e-mail.

Quick pay's own throttle (per address and per account) is tested in tests/portal; here
every other such form is driven past its limit from one address, and then even the right
details are refused with 429 (a page that still carries the security headers).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.billing.billing_fixtures import bill_households
from tests.conftest import PASSWORD, csrf_token
from tests.security.conftest import RESIDENT_EMAIL, RESIDENT_PASSWORD, register_resident
from tests.security.test_headers import check

#: Sign-in forms and the forms that send e-mail: per address, per minute.
SIGN_IN_LIMIT = 20
#: Forms that check an access code: failed tries per address and account (QUICKPAY_LIMIT).
LOOKUP_LIMIT = 5


def post_form(client: FlaskClient, page: str, action: str, data: dict):
    """Post a form with the token of the page it is on."""
    token = csrf_token(client.get(page).text)
    return client.post(action, data={"csrf_token": token, **data})


def staff_sign_in(client, n, right):
    email = right["staff"] if n is None else f"guess{n}@example.org"
    return post_form(client, "/login", "/login", {"email": email, "password": PASSWORD})


def resident_sign_in(client, n, right):
    email = RESIDENT_EMAIL if n is None else f"guess{n}@example.net"
    data = {"email": email, "password": RESIDENT_PASSWORD}
    return post_form(client, "/signin", "/signin", data)


def reset_request(client, n, right):
    email = RESIDENT_EMAIL if n is None else f"someone{n}@example.net"
    return post_form(client, "/reset", "/reset", {"email": email})


def resend_confirmation(client, n, right):
    email = RESIDENT_EMAIL if n is None else f"someone{n}@example.net"
    return post_form(client, "/signin", "/verify/resend", {"email": email})


def register(client, n, right):
    data = {
        "email": f"new{n}@example.net",
        "password": RESIDENT_PASSWORD,
        "confirm": RESIDENT_PASSWORD,
        "account": right["number"],
        "code": right["code"] if n is None else f"WRONG-{n}",
    }
    return post_form(client, "/register", "/register", data)


def link_account(client, n, right):
    code = right["code"] if n is None else f"WRONG-{n}"
    data = {"account": right["number"], "code": code}
    return post_form(client, "/my/accounts", "/my/accounts/link", data)


#: Forms limited per address and minute, each on its own count.
SIGN_IN_FORMS: dict[str, Callable] = {
    "staff sign-in": staff_sign_in,
    "resident sign-in": resident_sign_in,
    "password reset request": reset_request,
    "new confirmation link": resend_confirmation,
}
#: Forms that check an access code; they share quick pay's counts, so each is tried alone.
LOOKUP_FORMS: dict[str, Callable] = {
    "sign-up with an access code": register,
    "linking an account by its access code": link_account,
}


def town(app, make_staff) -> dict:
    """Two billed households, a registered resident on the first, a clerk; the right
    details of each form."""
    olson, nguyen = bill_households(app, "olson", "nguyen")
    register_resident(app, olson.number)
    return {"staff": make_staff("clerk"), "number": nguyen.number, "code": nguyen.access_code}


def past_the_limit(client, send: Callable, limit: int, right: dict) -> list[str]:
    """Send the form limit times with wrong details, then with the right ones; what is wrong."""
    tries = [send(client, n, right).status_code for n in range(limit)]
    if 429 in tries:
        return [f"refused before the limit: {tries}"]
    refused = send(client, None, right)
    if refused.status_code != 429:
        return [f"the right details past the limit answered {refused.status_code}"]
    problems = [] if "too many" in refused.text.lower() else ["the 429 page does not say why"]
    return problems + check({"429": refused})


def test_past_their_limit_sign_in_and_e_mail_forms_refuse_even_the_right_details(
    throttled, make_staff
):
    app = throttled()
    right = town(app, make_staff)
    problems = []
    for form, send in SIGN_IN_FORMS.items():
        client = app.test_client()
        problems += [f"{form}: {p}" for p in past_the_limit(client, send, SIGN_IN_LIMIT, right)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("form", list(LOOKUP_FORMS))
def test_past_the_limit_an_access_code_form_refuses_even_the_right_code(
    throttled, make_staff, form
):
    app = throttled()
    right = town(app, make_staff)
    client = app.test_client()
    if form == "linking an account by its access code":
        assert resident_sign_in(client, None, right).status_code == 303
    assert past_the_limit(client, LOOKUP_FORMS[form], LOOKUP_LIMIT, right) == []

"""Sessions: a session planted before sign-in never becomes the signed-in one, and with
production settings every cookie the app sets is Secure, HttpOnly and SameSite."""

from __future__ import annotations

from http.cookies import SimpleCookie

from flask.testing import FlaskClient

from tests.billing.billing_fixtures import bill_households
from tests.conftest import PASSWORD, csrf_token, sign_in
from tests.portal.conftest import quick_pay
from tests.security.conftest import https_client, register_resident, resident_sign_in

COOKIE = "munibill_session"


def cookie_of(client: FlaskClient) -> str:
    """The session cookie the browser holds."""
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None, "the browser holds no session cookie"
    return cookie.value


def plant(client: FlaskClient, value: str) -> None:
    """Put a session cookie in a browser, as an attacker would (a link, a shared computer)."""
    client.set_cookie(COOKIE, value)


def test_a_staff_session_planted_before_sign_in_is_not_the_one_signed_in(app, make_staff):
    attacker = app.test_client()
    planted_token = csrf_token(attacker.get("/login").text)
    planted = cookie_of(attacker)
    victim = app.test_client()
    plant(victim, planted)

    assert sign_in(victim, make_staff("clerk")).status_code == 302
    assert victim.get("/staff/").status_code == 200
    assert cookie_of(victim) != planted
    assert attacker.get("/staff/").status_code == 302  # still signed out
    # the token the attacker read before the sign-in is worthless afterwards
    refused = victim.post("/logout", data={"csrf_token": planted_token})
    assert refused.status_code == 400
    assert victim.get("/staff/").status_code == 200


def test_a_quick_pay_session_planted_before_the_lookup_never_shows_the_victims_bill(app):
    victim_home, attacker_home = bill_households(app, "olson", "nguyen")
    attacker = app.test_client()
    assert quick_pay(attacker, attacker_home.number, attacker_home.access_code).status_code == 303
    planted = cookie_of(attacker)
    victim = app.test_client()
    plant(victim, planted)

    assert quick_pay(victim, victim_home.number, victim_home.access_code).status_code == 303
    assert victim_home.number in victim.get("/my/bill").text
    assert cookie_of(victim) != planted
    after = attacker.get("/my/bill")
    assert after.status_code == 302 and after.headers["Location"].endswith("/pay")
    assert victim_home.number not in attacker.get("/my/history", follow_redirects=True).text


def test_a_resident_session_planted_before_sign_in_never_shows_the_residents_accounts(app):
    (home,) = bill_households(app, "olson")
    register_resident(app, home.number)
    attacker = app.test_client()
    assert quick_pay(attacker, home.number, "NOT-THE-CODE").status_code == 422
    attacker.get("/signin")
    planted = cookie_of(attacker)
    victim = app.test_client()
    plant(victim, planted)

    assert resident_sign_in(victim).status_code == 303
    assert home.number in victim.get("/my/bill").text
    assert cookie_of(victim) != planted
    for page in ("/my/bill", "/my/accounts"):
        answer = attacker.get(page)
        assert answer.status_code == 302 and answer.headers["Location"].endswith("/pay")


def set_cookies(response) -> list[str]:
    """The Set-Cookie headers of a response."""
    return response.headers.getlist("Set-Cookie")


def test_every_cookie_over_every_kind_of_session_is_secure_httponly_and_samesite(
    production_app, make_staff
):
    """Staff, quick-pay and registered-resident sessions from the first page to sign-out,
    with a language switch, a refused form and an error page on the way."""
    app = production_app
    (home,) = bill_households(app, "olson")
    register_resident(app, home.number)
    seen: list[str] = []

    def visit(client: FlaskClient, method: str, path: str, **kwargs):
        response = client.open(path, method=method, **kwargs)
        seen.extend(set_cookies(response))
        return response

    staff = https_client(app)
    token = csrf_token(visit(staff, "GET", "/login").text)
    email = make_staff("clerk")
    data = {"csrf_token": token, "email": email, "password": "wrong password!"}
    assert visit(staff, "POST", "/login", data=data).status_code == 401
    signed = visit(staff, "POST", "/login", data={**data, "password": PASSWORD})
    assert signed.status_code == 302
    page = visit(staff, "GET", "/staff/").text
    visit(staff, "GET", "/staff/no-such-page")
    visit(staff, "POST", "/staff/counter/open", data={})
    assert visit(staff, "POST", "/logout", data={"csrf_token": csrf_token(page)}).status_code == 302

    quick = https_client(app)
    token = csrf_token(visit(quick, "GET", "/pay").text)
    lookup = {"csrf_token": token, "method": "code", "account": home.number}
    visit(quick, "POST", "/pay", data={**lookup, "code": home.access_code})
    bill = visit(quick, "GET", "/my/bill").text
    visit(quick, "POST", "/language", data={"csrf_token": csrf_token(bill), "lang": "es"})
    visit(quick, "POST", "/my/signout", data={"csrf_token": csrf_token(bill)})

    resident = https_client(app)
    seen.extend(set_cookies(resident_sign_in(resident)))
    accounts = visit(resident, "GET", "/my/accounts").text
    visit(resident, "POST", "/my/signout", data={"csrf_token": csrf_token(accounts)})

    assert len(seen) >= 8, seen
    for header in seen:
        morsel = next(iter(SimpleCookie(header).values()))
        flags = header.lower()
        assert morsel["secure"] and "; secure" in flags, header
        assert morsel["httponly"] and "; httponly" in flags, header
        assert morsel["samesite"].lower() in ("lax", "strict"), header
    assert any("expires=thu, 01 jan 1970" in h.lower() for h in seen), "no cookie was cleared"

"""Registered residents: signing up with a bill's access code, confirming the e-mail address,
signing in, choosing a new password, and the accounts a resident links, views and takes
paperless. Mail goes to a real SMTP server; nothing tells a stranger who is registered."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from accounts.models import Account
from core.extensions import db
from core.models import AuditEvent
from portal.models import PortalSession, Resident, ResidentAccount
from tests.conftest import csrf_token
from tests.portal.conftest import quick_pay

PASSWORD = "a long enough resident password"
NEW_PASSWORD = "another long resident password"
ADDRESS = "ana.olson@example.net"
NO_MATCH = "Those details do not match our records"
CHECK_EMAIL = "Check your e-mail"
LINK_RE = re.compile(r"https?://\S+")
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def post(client, page: str, action: str, data: dict):
    """Post a form as a browser would: with the CSRF token of the page it is on."""
    token = csrf_token(client.get(page).text)
    return client.post(action, data={"csrf_token": token, **data})


def sign_up(client, number: str, code: str, address: str = ADDRESS, password: str = PASSWORD):
    data = {
        "email": address,
        "password": password,
        "confirm": password,
        "account": number,
        "code": code,
    }
    return post(client, "/register", "/register", data)


def sign_in(client, address: str = ADDRESS, password: str = PASSWORD):
    return post(client, "/signin", "/signin", {"email": address, "password": password})


def mails(smtp, address: str) -> list[email.message.EmailMessage]:
    """The messages the SMTP server accepted for the address, oldest first."""
    return [
        email.message_from_bytes(envelope.content, policy=email.policy.default)
        for envelope in smtp.handler.envelopes
        if address in envelope.rcpt_tos
    ]


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def link_in(message, path: str) -> str:
    """The path of the link in the message that goes to path (e.g. '/verify/')."""
    links = [link for link in LINK_RE.findall(text_of(message)) if path in link]
    assert links, text_of(message)
    return links[0][links[0].index(path) :]


def registered(client, smtp, billed, address: str = ADDRESS) -> None:
    """A resident who signed up with the household's code and confirmed the address."""
    assert CHECK_EMAIL in sign_up(client, billed.number, billed.access_code, address).text
    (message,) = mails(smtp, address)
    assert client.get(link_in(message, "/verify/")).status_code == 200


def signed_in(client, smtp, billed, address: str = ADDRESS):
    registered(client, smtp, billed, address)
    response = sign_in(client, address)
    assert response.status_code == 303, response.text
    return client


def resident_row(address: str = ADDRESS) -> Resident:
    return db.session.scalar(sa.select(Resident).where(Resident.email == address))


def account_row(number: str) -> Account:
    return db.session.scalar(sa.select(Account).where(Account.number == number))


def test_a_resident_signs_up_confirms_the_address_and_sees_the_bill(app, client, smtp, billed):
    response = sign_up(client, billed.number, billed.access_code, "  Ana.Olson@Example.NET ")
    assert response.status_code == 200
    assert CHECK_EMAIL in response.text and ADDRESS in response.text
    (message,) = mails(smtp, ADDRESS)
    assert message["Subject"] == "Confirm your e-mail address"
    confirmed = client.get(link_in(message, "/verify/"))
    assert confirmed.status_code == 200 and "is confirmed" in confirmed.text
    response = sign_in(client)
    assert response.status_code == 303 and response.location.endswith("/my/bill")
    page = client.get("/my/bill").text
    assert billed.number in page and billed.invoice_number in page
    assert "Accounts and settings" in page
    with app.app_context():
        resident = resident_row()
        assert resident.verified_at is not None
        assert resident.password_hash != PASSWORD and PASSWORD not in resident.password_hash
        assert [link.account.number for link in resident.links] == [billed.number]


def test_an_unconfirmed_resident_cannot_sign_in_and_may_ask_for_a_new_link(client, smtp, billed):
    sign_up(client, billed.number, billed.access_code)
    refused = sign_in(client)
    assert refused.status_code == 422
    assert "not confirmed yet" in refused.text
    assert client.get("/my/bill").status_code == 302
    again = post(client, "/signin", "/verify/resend", {"email": ADDRESS})
    assert CHECK_EMAIL in again.text
    first, second = mails(smtp, ADDRESS)
    assert client.get(link_in(second, "/verify/")).status_code == 200
    assert sign_in(client).status_code == 303


def test_a_wrong_password_of_an_unconfirmed_resident_says_only_that_it_is_wrong(
    client, smtp, billed
):
    sign_up(client, billed.number, billed.access_code)
    refused = sign_in(client, password="not the password at all")
    assert "The e-mail address or password is not correct." in refused.text
    assert "not confirmed" not in refused.text


@pytest.mark.parametrize("which", ["wrong code", "unknown account", "other account's code"])
def test_a_wrong_access_code_at_sign_up_never_says_whether_the_account_exists(
    app, client, smtp, households, which
):
    olson, nguyen = households
    number, code = {
        "wrong code": (olson.number, "AAAAA-AAAAA"),
        "unknown account": ("99999997", "AAAAA-AAAAA"),
        "other account's code": (olson.number, nguyen.access_code),
    }[which]
    response = sign_up(client, number, code)
    assert response.status_code == 422
    assert NO_MATCH in response.text
    assert "Olson" not in response.text and "Nguyen" not in response.text
    assert smtp.handler.envelopes == []
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Resident.id))) == 0


def test_sign_up_names_each_field_that_is_missing_or_too_short(client, billed):
    response = post(
        client,
        "/register",
        "/register",
        {"email": "not an address", "password": "short", "confirm": "short"},
    )
    assert response.status_code == 422
    assert "Enter your e-mail address, such as name@example.com." in response.text
    assert "Choose a password of at least 12 characters." in response.text
    assert "Enter the account number from your bill." in response.text
    assert "Enter the access code from your bill." in response.text
    assert response.text.count('aria-invalid="true"') == 4
    response = post(
        client,
        "/register",
        "/register",
        {
            "email": ADDRESS,
            "password": PASSWORD,
            "confirm": PASSWORD + "!",
            "account": billed.number,
            "code": billed.access_code,
        },
    )
    assert "The two passwords are not the same." in response.text


def test_an_address_already_registered_gets_the_same_page_and_a_warning_email(
    app, client, smtp, households
):
    olson, nguyen = households
    first = sign_up(client, olson.number, olson.access_code)
    stranger = app.test_client()
    second = sign_up(stranger, nguyen.number, nguyen.access_code, password="whatever else entirely")
    assert second.status_code == first.status_code == 200
    assert _main(second.text) == _main(first.text)
    confirmation, warning = mails(smtp, ADDRESS)
    assert warning["Subject"] == "Someone tried to sign up with your e-mail address"
    assert link_in(warning, "/reset") == "/reset"
    assert "/verify/" not in text_of(warning)
    with app.app_context():
        (resident,) = db.session.scalars(sa.select(Resident)).all()
        assert [link.account.number for link in resident.links] == [olson.number]


def _main(page: str) -> str:
    """The page's main content, without the per-request CSRF token."""
    body = page[page.index("<main") : page.index("</main>")]
    return re.sub(r'name="csrf_token" value="[^"]+"', "", body)


def test_a_resident_links_a_second_household_and_switches_between_them(
    app, client, smtp, households
):
    olson, nguyen = households
    signed_in(client, smtp, olson)
    linked = post(
        client,
        "/my/accounts",
        "/my/accounts/link",
        {"account": nguyen.number, "code": nguyen.access_code, "nickname": "Rental on Oak St"},
    )
    assert linked.status_code == 303
    page = client.get("/my/accounts").text
    assert f"Account {nguyen.number} is linked." in page
    assert olson.number in page and nguyen.number in page and "Rental on Oak St" in page
    switched = post(client, "/my/accounts", f"/my/accounts/{nguyen.number}/view", {})
    assert switched.status_code == 303 and switched.location.endswith("/my/bill")
    bill = client.get("/my/bill").text
    assert nguyen.invoice_number in bill and olson.invoice_number not in bill
    post(client, "/my/accounts", f"/my/accounts/{olson.number}/view", {})
    assert olson.invoice_number in client.get("/my/bill").text
    client.post("/my/signout", data={"csrf_token": csrf_token(client.get("/my/bill").text)})
    several = sign_in(client)
    assert several.status_code == 303 and several.location.endswith("/my/accounts")


def test_linking_an_account_needs_its_code_and_only_once(client, smtp, households):
    olson, nguyen = households
    signed_in(client, smtp, olson)
    wrong = post(
        client,
        "/my/accounts",
        "/my/accounts/link",
        {"account": nguyen.number, "code": "AAAAA-AAAAA"},
    )
    assert wrong.status_code == 422 and NO_MATCH in wrong.text
    assert "Nguyen" not in wrong.text
    twice = post(
        client,
        "/my/accounts",
        "/my/accounts/link",
        {"account": olson.number, "code": olson.access_code},
    )
    assert twice.status_code == 422
    assert "This account is already linked to your online account." in twice.text


@pytest.mark.parametrize("action", ["view", "unlink", "paperless"])
def test_an_account_not_linked_is_not_found(app, client, smtp, households, action):
    olson, nguyen = households
    signed_in(client, smtp, olson)
    response = post(
        client, "/my/accounts", f"/my/accounts/{nguyen.number}/{action}", {"paperless": "on"}
    )
    assert response.status_code == 404
    assert nguyen.number not in response.text and "Nguyen" not in response.text
    assert nguyen.invoice_number not in response.text
    with app.app_context():
        assert account_row(nguyen.number).paperless is False
        row = db.session.scalar(sa.select(PortalSession).where(PortalSession.ended_at.is_(None)))
        assert row.account.number == olson.number


def test_unlinking_the_viewed_account_moves_to_another_and_then_to_none(
    app, client, smtp, households
):
    olson, nguyen = households
    signed_in(client, smtp, olson)
    post(
        client,
        "/my/accounts",
        "/my/accounts/link",
        {"account": nguyen.number, "code": nguyen.access_code},
    )
    assert (
        post(client, "/my/accounts", f"/my/accounts/{olson.number}/unlink", {}).status_code == 303
    )
    assert nguyen.invoice_number in client.get("/my/bill").text
    post(client, "/my/accounts", f"/my/accounts/{nguyen.number}/unlink", {})
    bill = client.get("/my/bill")
    assert bill.status_code == 302 and bill.location.endswith("/my/accounts")
    page = client.get("/my/accounts")
    assert page.status_code == 200 and "No account is linked" in page.text
    assert "Sign out" in page.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(ResidentAccount.id))) == 0


def test_the_accounts_page_is_for_signed_in_residents_only(client, billed):
    nobody = client.get("/my/accounts")
    assert nobody.status_code == 302 and nobody.location.endswith("/pay")
    quick_pay(client, billed.number, billed.access_code)
    quick = client.get("/my/accounts")
    assert quick.status_code == 302 and quick.location.endswith("/signin")


def test_paperless_on_and_off_changes_the_account(app, client, smtp, billed):
    signed_in(client, smtp, billed)
    on = post(
        client, "/my/accounts", f"/my/accounts/{billed.number}/paperless", {"paperless": "on"}
    )
    assert on.status_code == 303
    assert "now come by e-mail" in client.get("/my/accounts").text
    with app.app_context():
        assert account_row(billed.number).paperless is True
    post(client, "/my/accounts", f"/my/accounts/{billed.number}/paperless", {"paperless": "off"})
    with app.app_context():
        assert account_row(billed.number).paperless is False
        changes = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "account.paperless")
        ).all()
        assert [c.summary["after"]["paperless"] for c in changes] == [True, False]


def test_paperless_offers_the_residents_address_when_the_accounts_bounced(
    app, client, smtp, billed
):
    with app.app_context():
        account_row(billed.number).email_bounced_at = NOW
        db.session.commit()
    signed_in(client, smtp, billed)
    asked = post(
        client, "/my/accounts", f"/my/accounts/{billed.number}/paperless", {"paperless": "on"}
    )
    assert asked.status_code == 303 and f"offer={billed.number}" in asked.location
    offer = client.get(asked.location).text
    assert f"Send its bills to {ADDRESS}" in offer
    with app.app_context():
        assert account_row(billed.number).paperless is False
    accepted = client.post(
        f"/my/accounts/{billed.number}/paperless",
        data={"csrf_token": csrf_token(offer), "paperless": "on", "use_my_email": "yes"},
    )
    assert accepted.status_code == 303
    with app.app_context():
        account = account_row(billed.number)
        assert account.paperless is True
        assert account.email == ADDRESS and account.email_bounced_at is None


def test_a_reset_link_works_once_and_ends_every_other_session(app, client, smtp, billed):
    signed_in(client, smtp, billed)
    phone = app.test_client()
    assert sign_in(phone).status_code == 303
    asked = post(app.test_client(), "/reset", "/reset", {"email": ADDRESS})
    assert f"If {ADDRESS} is registered" in asked.text
    message = mails(smtp, ADDRESS)[-1]
    assert message["Subject"] == "Choose a new password"
    path = link_in(message, "/reset/")
    browser = app.test_client()
    saved = post(browser, path, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert saved.status_code == 303 and saved.location.endswith("/signin")
    assert client.get("/my/bill").status_code == 302
    assert phone.get("/my/bill").status_code == 302
    again = browser.get(path)
    assert again.status_code == 400 and "already been used" in again.text
    assert sign_in(browser).status_code == 422
    assert sign_in(browser, password=NEW_PASSWORD).status_code == 303


def test_a_reset_request_for_an_unknown_address_answers_the_same(client, smtp, billed):
    answer = post(client, "/reset", "/reset", {"email": "nobody@example.net"})
    assert answer.status_code == 200 and "If nobody@example.net is registered" in answer.text
    assert smtp.handler.envelopes == []


def test_an_expired_or_tampered_link_is_refused_with_a_clear_message(app, client, smtp, billed):
    with time_machine.travel(NOW, tick=False) as clock:
        sign_up(client, billed.number, billed.access_code)
        verify = link_in(mails(smtp, ADDRESS)[0], "/verify/")
        tampered = client.get(verify[:-3] + ("aaa" if not verify.endswith("aaa") else "bbb"))
        assert tampered.status_code == 400 and "This link is not valid" in tampered.text
        clock.shift(timedelta(hours=48, minutes=1))
        late = client.get(verify)
        assert late.status_code == 400 and "This link has expired" in late.text
        with app.app_context():
            assert resident_row().verified_at is None
        post(client, "/reset", "/reset", {"email": ADDRESS})
        reset = link_in(mails(smtp, ADDRESS)[-1], "/reset/")
        assert client.get(reset).status_code == 200
        clock.shift(timedelta(minutes=61))
        expired = client.get(reset)
        assert expired.status_code == 400 and "This link has expired" in expired.text
        assert "This link is not valid" in client.get("/reset/not-a-token").text


def test_five_wrong_passwords_lock_the_sign_in_for_fifteen_minutes(app, client, smtp, billed):
    with time_machine.travel(NOW, tick=False) as clock:
        registered(client, smtp, billed)
        for _ in range(4):
            wrong = sign_in(client, password="not the password at all")
            assert "The e-mail address or password is not correct." in wrong.text
        locked = sign_in(client, password="not the password at all")
        assert "Too many failed sign-ins" in locked.text and "15 minutes" in locked.text
        still = sign_in(client)
        assert still.status_code == 422 and "Too many failed sign-ins" in still.text
        clock.shift(timedelta(minutes=15, seconds=1))
        assert sign_in(client).status_code == 303
    with app.app_context():
        assert resident_row().failed_logins == 0


def test_every_sign_in_starts_a_fresh_session_and_ends_the_old_one(app, client, smtp, billed):
    signed_in(client, smtp, billed)
    assert sign_in(client).status_code == 303
    with app.app_context():
        rows = db.session.scalars(sa.select(PortalSession).order_by(PortalSession.id)).all()
        assert [row.ended_at is None for row in rows] == [False, True]
        assert rows[0].token_hash != rows[1].token_hash


@pytest.mark.parametrize(
    "path",
    [
        "/register",
        "/signin",
        "/verify/resend",
        "/reset",
        "/reset/any-token",
        "/my/accounts/link",
        "/my/accounts/{number}/view",
        "/my/accounts/{number}/unlink",
        "/my/accounts/{number}/paperless",
    ],
)
def test_every_form_refuses_a_post_without_its_csrf_token(client, smtp, billed, path):
    signed_in(client, smtp, billed)
    response = client.post(path.format(number=billed.number), data={"paperless": "on"})
    assert response.status_code == 400


def test_unlinking_an_account_turns_off_the_autopay_this_resident_set_up(app, client, smtp, billed):
    from portal.models import Autopay

    signed_in(client, smtp, billed)
    with app.app_context():
        resident = db.session.scalar(sa.select(Resident))
        account = db.session.scalar(sa.select(Account).where(Account.number == billed.number))
        db.session.add(
            Autopay(
                account_id=account.id,
                resident_id=resident.id,
                stripe_customer_id="cus_test",
                stripe_payment_method_id="pm_test",
                card_brand="visa",
                card_last4="4242",
            )
        )
        db.session.commit()
    post(client, "/my/accounts", f"/my/accounts/{billed.number}/unlink", {})
    with app.app_context():
        row = db.session.scalar(sa.select(Autopay))
        assert row.active is False and row.canceled_at is not None

"""Staff sign-in, lockout, CSRF, the read-only auditor and API tokens."""

from datetime import timedelta

import sqlalchemy as sa

from core.audit import Actor
from core.auth import create_api_token
from core.db import utcnow
from core.extensions import db
from core.models import AuditEvent, StaffUser
from tests.conftest import PASSWORD, account_data, csrf_token, sign_in


def test_a_clerk_signs_in_and_reaches_the_console(client, make_staff):
    email = make_staff("clerk")
    response = sign_in(client, email)
    assert response.status_code == 302
    page = client.get("/staff/")
    assert page.status_code == 200
    assert email in page.get_data(as_text=True)


def test_sign_in_starts_a_fresh_session(client, make_staff):
    email = make_staff("clerk")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    sign_in(client, email)
    with client.session_transaction() as session:
        assert "planted" not in session


def test_session_cookie_is_httponly_and_samesite(client, make_staff):
    response = sign_in(client, make_staff("clerk"))
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_wrong_password_says_only_that_the_details_are_wrong(client, make_staff):
    email = make_staff("clerk")
    response = sign_in(client, email, "not the password")
    assert response.status_code == 401
    text = response.get_data(as_text=True)
    assert "e-mail or password is not correct" in text
    assert (
        sign_in(client, "nobody@example.org", "whatever-it-is")
        .get_data(as_text=True)
        .count("e-mail or password is not correct")
        == 1
    )


def test_five_failures_lock_the_user_out_even_with_the_right_password(app, client, make_staff):
    email = make_staff("clerk")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert sign_in(client, email, "wrong password!").status_code == 401
    response = sign_in(client, email, PASSWORD)
    assert response.status_code == 401
    assert "Too many failed sign-ins" in response.get_data(as_text=True)
    with app.app_context():
        user = db.session.scalar(sa.select(StaffUser).where(StaffUser.email == email))
        assert user.locked_until > utcnow() + timedelta(minutes=10)
        actions = db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.actor_label == email)
        ).all()
        assert "user.locked" in actions and "user.login_refused" in actions


def test_lockout_ends_after_its_time(app, client, make_staff):
    email = make_staff("clerk")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        sign_in(client, email, "wrong password!")
    with app.app_context():
        user = db.session.scalar(sa.select(StaffUser).where(StaffUser.email == email))
        user.locked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert sign_in(client, email).status_code == 302


def test_a_form_without_its_csrf_token_is_refused(client, make_staff):
    email = make_staff("clerk")
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302  # still signed out


def test_a_staff_form_posted_without_csrf_changes_nothing(app, signed_in, session_account):
    client = signed_in("clerk")
    response = client.post(
        f"/staff/accounts/{session_account}/edit", data={"holder_name": "Mallory"}
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT holder_name FROM account")) == "Maria Olson"


def test_an_auditor_can_read_but_a_post_is_refused(app, signed_in, session_account):
    client = signed_in("auditor")
    page = client.get(f"/staff/accounts/{session_account}/edit")
    assert page.status_code == 403
    detail = client.get(f"/staff/accounts/{session_account}")
    assert detail.status_code == 200
    token = csrf_token(detail.get_data(as_text=True))
    response = client.post(
        f"/staff/accounts/{session_account}/edit",
        data={**account_data(holder_name="Changed"), "csrf_token": token},
    )
    assert response.status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT holder_name FROM account")) == "Maria Olson"


def test_an_auditor_may_still_sign_out(signed_in):
    client = signed_in("auditor")
    token = csrf_token(client.get("/staff/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/staff/").status_code == 302


def test_a_clerk_edits_contact_details_and_the_change_is_audited(app, signed_in, session_account):
    client = signed_in("clerk")
    form = client.get(f"/staff/accounts/{session_account}/edit").get_data(as_text=True)
    data = {**account_data(mail_zip="54902"), "csrf_token": csrf_token(form)}
    response = client.post(f"/staff/accounts/{session_account}/edit", data=data)
    assert response.status_code == 302
    with app.app_context():
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "account.update")
        )
        assert event.summary == {
            "before": {"mail_zip": "54901-2231"},
            "after": {"mail_zip": "54902"},
        }
        assert event.actor_type == "user"


def test_a_bad_zip_in_the_form_is_named_and_nothing_changes(app, signed_in, session_account):
    client = signed_in("clerk")
    form = client.get(f"/staff/accounts/{session_account}/edit").get_data(as_text=True)
    data = {**account_data(mail_zip="5490"), "csrf_token": csrf_token(form)}
    response = client.post(f"/staff/accounts/{session_account}/edit", data=data)
    assert response.status_code == 422
    assert "Use a ZIP code like 54901" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT mail_zip FROM account")) == "54901-2231"


def test_pages_need_a_signed_in_user(client):
    assert client.get("/staff/accounts/").status_code == 302


def test_revoked_and_expired_tokens_are_refused(app, client):
    with app.app_context():
        _t, revoked = create_api_token(db.session, Actor.system("test"), name="old", role="clerk")
        _t.revoked_at = utcnow()
        _e, expired = create_api_token(
            db.session,
            Actor.system("test"),
            name="late",
            role="clerk",
            expires_at=utcnow() - timedelta(days=1),
        )
        db.session.commit()
    for secret in (revoked, expired, "mbt_nothing_here"):
        response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 401
        assert response.get_json()["errors"]["_request"]


def test_tokens_are_stored_hashed(app, api_headers):
    secret = api_headers("auditor")["Authorization"].split()[1]
    with app.app_context():
        stored = db.session.execute(sa.text("SELECT prefix, token_hash FROM api_token")).one()
    assert secret not in stored.token_hash and stored.prefix in secret


def test_the_api_ignores_the_session_cookie(signed_in):
    client = signed_in("admin")
    assert client.get("/api/v1/me").status_code == 401


def test_security_headers_on_every_page(client):
    response = client.get("/login")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"

"""Staff sessions live on the server: signing out, an admin's or the operator's revocation,
a new password and a deactivation end them wherever the cookie was copied, and a session
ends by itself when idle too long or too long after its sign-in, however busy."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from core.db import utcnow
from core.extensions import db
from core.models import AuditEvent, SessionEnd, StaffSession, StaffUser
from tests.conftest import PASSWORD, csrf_token, sign_in

COOKIE = "munibill_session"
NEW_PASSWORD = "a brand new staff password"


def browser(app: Flask, address: str = "127.0.0.1", agent: str = "Firefox") -> FlaskClient:
    """A browser at an address, sending its user agent."""
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": address, "HTTP_USER_AGENT": agent})
    return client


def signed_in_browser(app: Flask, email: str, **where) -> FlaskClient:
    """A browser signed in as the staff user through the real form."""
    client = browser(app, **where)
    assert sign_in(client, email).status_code == 302
    return client


def copy_cookie(source: FlaskClient, thief: FlaskClient) -> None:
    """Put the session cookie one browser holds into another, as a thief would."""
    thief.set_cookie(COOKIE, source.get_cookie(COOKIE).value)


def is_signed_in(client: FlaskClient) -> bool:
    """True when the staff home opens; False when the browser is sent to sign in."""
    answer = client.get("/staff/")
    if answer.status_code == 302:
        assert "/login" in answer.headers["Location"]
        return False
    assert answer.status_code == 200
    return True


def post_form(client: FlaskClient, page: str, action: str, data: dict | None = None):
    """Post a form of a page with the page's CSRF token."""
    token = csrf_token(client.get(page).text)
    return client.post(action, data={"csrf_token": token, **(data or {})})


def user_id(app: Flask, email: str) -> int:
    """The id of the staff user with the e-mail."""
    with app.app_context():
        return db.session.scalar(sa.select(StaffUser.id).where(StaffUser.email == email))


def sessions_of(app: Flask, email: str) -> list[StaffSession]:
    """The user's sessions, oldest first."""
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(StaffSession)
                .where(StaffSession.user_id == user_id(app, email))
                .order_by(StaffSession.id)
            )
        )


def move_clock(app: Flask, email: str, *, started: timedelta, last_seen: timedelta) -> None:
    """Make the user's open session look started and last used that long ago."""
    with app.app_context():
        now = utcnow()
        db.session.execute(
            sa.update(StaffSession)
            .where(StaffSession.user_id == user_id(app, email), StaffSession.ended_at.is_(None))
            .values(created_at=now - started, last_seen_at=now - last_seen)
        )
        db.session.commit()


def audit(app: Flask, action: str) -> list[AuditEvent]:
    """The audit events of an action."""
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def test_a_cookie_copied_before_sign_out_is_refused_after_it_from_another_computer(app, make_staff):
    clerk = make_staff("clerk")
    desk = signed_in_browser(app, clerk)
    thief = browser(app, address="203.0.113.9", agent="curl/8.5")
    copy_cookie(desk, thief)
    assert is_signed_in(thief)  # the copy works while the clerk is signed in

    assert post_form(desk, "/staff/", "/logout").status_code == 302

    assert not is_signed_in(thief)
    assert not is_signed_in(desk)
    assert thief.get("/staff/dashboard").status_code == 302
    # the API never takes a session cookie for a sign-in
    assert thief.get("/api/v1/accounts", headers={"Accept": "application/json"}).status_code == 401
    (row,) = sessions_of(app, clerk)
    assert row.end_reason == SessionEnd.SIGNED_OUT


def test_the_cookie_holds_a_token_whose_hash_alone_is_stored(app, make_staff):
    clerk = make_staff("clerk")
    desk = signed_in_browser(app, clerk)
    serializer = app.session_interface.get_signing_serializer(app)
    token = serializer.loads(desk.get_cookie(COOKIE).value)["staff"]
    (row,) = sessions_of(app, clerk)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in row.token_hash


def test_each_sign_in_is_its_own_session_and_signing_out_of_one_keeps_the_other(app, make_staff):
    clerk = make_staff("clerk")
    desk = signed_in_browser(app, clerk)
    laptop = signed_in_browser(app, clerk, address="198.51.100.4")
    post_form(desk, "/staff/", "/logout")
    assert not is_signed_in(desk)
    assert is_signed_in(laptop)


def test_an_admin_signs_a_user_out_everywhere_and_the_audit_log_says_so(app, make_staff):
    clerk, admin = make_staff("clerk"), make_staff("admin")
    desk = signed_in_browser(app, clerk)
    laptop = signed_in_browser(app, clerk, address="198.51.100.4")
    office = signed_in_browser(app, admin)
    page = office.get("/staff/users/")
    assert page.status_code == 200 and "Sign out everywhere" in page.text and clerk in page.text

    done = post_form(office, "/staff/users/", f"/staff/users/{user_id(app, clerk)}/sign-out")
    assert done.status_code == 302

    assert not is_signed_in(desk) and not is_signed_in(laptop)
    assert is_signed_in(office)
    assert {row.end_reason for row in sessions_of(app, clerk)} == {SessionEnd.REVOKED}
    (event,) = audit(app, "user.sessions_revoked")
    assert event.actor_label == admin and event.object_id == str(user_id(app, clerk))
    assert event.summary["sessions_ended"] == 2


def test_only_an_admin_may_sign_someone_out_everywhere(app, make_staff):
    clerk, supervisor = make_staff("clerk"), make_staff("supervisor")
    desk = signed_in_browser(app, clerk)
    other = signed_in_browser(app, supervisor)
    assert other.get("/staff/users/").status_code == 403
    refused = post_form(other, "/staff/", f"/staff/users/{user_id(app, clerk)}/sign-out")
    assert refused.status_code == 403
    assert is_signed_in(desk)
    assert audit(app, "user.sessions_revoked") == []


def test_the_operator_signs_a_user_out_everywhere_from_the_command_line(app, make_staff, runner):
    clerk = make_staff("clerk")
    desk = signed_in_browser(app, clerk)

    result = runner.invoke(args=["users", "sign-out", clerk])

    assert result.exit_code == 0, result.output
    assert not is_signed_in(desk)
    (event,) = audit(app, "user.sessions_revoked")
    assert event.origin == "cli" and event.summary["sessions_ended"] == 1


def test_changing_ones_password_signs_out_every_other_session_but_this_one(app, make_staff):
    clerk = make_staff("clerk")
    desk = signed_in_browser(app, clerk)
    laptop = signed_in_browser(app, clerk, address="198.51.100.4")
    thief = browser(app, address="203.0.113.9", agent="curl/8.5")
    copy_cookie(laptop, thief)

    changed = post_form(
        desk,
        "/staff/password",
        "/staff/password",
        {"current": PASSWORD, "new": NEW_PASSWORD, "again": NEW_PASSWORD},
    )

    assert changed.status_code == 302
    assert is_signed_in(desk)
    assert not is_signed_in(laptop) and not is_signed_in(thief)
    (event,) = audit(app, "user.password_change")
    assert event.summary["sessions_ended"] == 1
    assert sign_in(browser(app), clerk).status_code == 401  # the old password no longer works
    assert sign_in(browser(app), clerk, NEW_PASSWORD).status_code == 302


def test_a_wrong_current_password_changes_nothing(app, make_staff):
    clerk = make_staff("clerk")
    desk = signed_in_browser(app, clerk)
    laptop = signed_in_browser(app, clerk, address="198.51.100.4")
    refused = post_form(
        desk,
        "/staff/password",
        "/staff/password",
        {"current": "not my password at all", "new": NEW_PASSWORD, "again": NEW_PASSWORD},
    )
    assert refused.status_code == 422 and "current password is not correct" in refused.text
    assert is_signed_in(laptop)
    assert audit(app, "user.password_change") == []
    assert len(audit(app, "user.password_change_refused")) == 1
    assert sign_in(browser(app), clerk).status_code == 302


def test_an_auditor_may_change_their_own_password(app, make_staff):
    auditor = make_staff("auditor")
    desk = signed_in_browser(app, auditor)
    changed = post_form(
        desk,
        "/staff/password",
        "/staff/password",
        {"current": PASSWORD, "new": NEW_PASSWORD, "again": NEW_PASSWORD},
    )
    assert changed.status_code == 302 and is_signed_in(desk)


def test_a_password_set_by_the_operator_ends_every_session(app, make_staff, runner):
    clerk = make_staff("clerk")
    desk = signed_in_browser(app, clerk)
    result = runner.invoke(
        args=["users", "set-password", clerk, "--password-stdin"], input=NEW_PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert not is_signed_in(desk)
    assert sign_in(browser(app), clerk, NEW_PASSWORD).status_code == 302


def test_a_deactivated_users_session_ends_and_no_sign_in_is_let_in(app, make_staff):
    clerk, admin = make_staff("clerk"), make_staff("admin")
    desk = signed_in_browser(app, clerk)
    office = signed_in_browser(app, admin)

    done = post_form(office, "/staff/users/", f"/staff/users/{user_id(app, clerk)}/deactivate")

    assert done.status_code == 302
    assert not is_signed_in(desk)
    assert sign_in(browser(app), clerk).status_code == 401
    (row,) = sessions_of(app, clerk)
    assert row.end_reason == SessionEnd.DEACTIVATED
    (event,) = audit(app, "user.deactivate")
    assert event.actor_label == admin and event.summary["sessions_ended"] == 1


def test_a_user_deactivated_from_the_command_line_is_signed_out(app, make_staff, runner):
    clerk = make_staff("clerk")
    desk = signed_in_browser(app, clerk)
    assert runner.invoke(args=["users", "deactivate", clerk]).exit_code == 0
    assert not is_signed_in(desk)
    assert runner.invoke(args=["users", "reactivate", clerk]).exit_code == 0
    assert not is_signed_in(desk)  # reactivating opens no old session again
    assert sign_in(browser(app), clerk).status_code == 302


def test_an_admin_cannot_deactivate_themselves(app, make_staff):
    admin = make_staff("admin")
    office = signed_in_browser(app, admin)
    post_form(office, "/staff/users/", f"/staff/users/{user_id(app, admin)}/deactivate")
    assert is_signed_in(office)


def test_a_session_idle_longer_than_the_limit_ends(app, make_staff):
    clerk = make_staff("clerk")
    desk = signed_in_browser(app, clerk)
    idle = timedelta(minutes=app.config["STAFF_IDLE_MINUTES"])

    move_clock(app, clerk, started=idle, last_seen=idle - timedelta(minutes=1))
    assert is_signed_in(desk)  # used just in time: the idle limit counts from now again
    move_clock(app, clerk, started=2 * idle, last_seen=idle + timedelta(minutes=1))

    answer = desk.get("/staff/", follow_redirects=True)
    assert "Your session has ended. Sign in again." in answer.text
    assert not is_signed_in(desk)
    (row,) = sessions_of(app, clerk)
    assert row.end_reason == SessionEnd.IDLE


def test_using_a_session_never_extends_its_life_past_the_absolute_limit(app, make_staff):
    clerk = make_staff("clerk")
    desk = signed_in_browser(app, clerk)
    absolute = timedelta(hours=app.config["STAFF_SESSION_HOURS"])
    move_clock(app, clerk, started=absolute - timedelta(minutes=2), last_seen=timedelta(0))
    (before,) = sessions_of(app, clerk)

    assert is_signed_in(desk)
    (after,) = sessions_of(app, clerk)
    assert after.created_at == before.created_at  # use moves the last-seen time only

    move_clock(app, clerk, started=absolute + timedelta(minutes=1), last_seen=timedelta(0))
    assert not is_signed_in(desk)
    (row,) = sessions_of(app, clerk)
    assert row.end_reason == SessionEnd.EXPIRED

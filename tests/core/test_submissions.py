"""One-time form tokens: the first sending takes the token; a second, even at the same moment,
finds what the first answered."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.orm import Session

from core import submissions
from core.audit import Actor
from core.extensions import db

CLERK = Actor("user", "3", "clerk@example.org", "127.0.0.1")
FORM = "counter.payment"


def test_a_new_token_is_new_each_time_and_only_ours_are_well_formed():
    first, second = submissions.new_token(), submissions.new_token()
    assert first != second and submissions.well_formed(first)
    for text in ("", None, "x" * 31, "x" * 33, first[:-1] + "%", first + "\x00"):
        assert not submissions.well_formed(text)


def test_the_second_sending_of_a_form_finds_the_first_answer(session):
    token = submissions.new_token()
    assert submissions.claim(session, CLERK, FORM, token) is None
    submissions.answered(session, token, location="/staff/counter/", message="Receipt R-1")
    session.commit()
    earlier = submissions.claim(session, CLERK, FORM, token)
    assert (earlier.location, earlier.message) == ("/staff/counter/", "Receipt R-1")
    assert submissions.same_sender(earlier, CLERK, FORM)
    other = Actor("user", "4", "other@example.org", "127.0.0.1")
    assert not submissions.same_sender(earlier, other, FORM)
    assert not submissions.same_sender(earlier, CLERK, "approvals.ask")


def test_a_refused_sending_leaves_the_token_free(session):
    token = submissions.new_token()
    assert submissions.claim(session, CLERK, FORM, token) is None
    session.rollback()  # what the form recorded was refused
    assert submissions.claim(session, CLERK, FORM, token) is None


@pytest.mark.postgres
def test_two_sendings_of_a_form_at_the_same_moment_are_recorded_once(app):
    token = submissions.new_token()
    found: list = []
    with app.app_context(), Session(db.engine) as first:
        assert submissions.claim(first, CLERK, FORM, token) is None
        submissions.answered(first, token, location="/staff/counter/", message="Receipt R-1")
        pid: list[int] = []

        def second() -> None:
            with app.app_context(), Session(db.engine) as own:
                pid.append(own.connection().exec_driver_sql("select pg_backend_pid()").scalar())
                earlier = submissions.claim(own, CLERK, FORM, token)
                found.append(earlier and (earlier.location, earlier.message))
                own.rollback()

        thread = threading.Thread(target=second)
        thread.start()
        waiting = False
        while thread.is_alive() and not waiting:
            waiting = bool(pid) and (
                first.connection()
                .exec_driver_sql(
                    "select 1 from pg_stat_activity where pid = %s and wait_event_type = 'Lock'",
                    (pid[0],),
                )
                .first()
                is not None
            )
            if not waiting:
                thread.join(timeout=0.05)
        first.commit()
        thread.join(timeout=60)
    assert waiting and found == [("/staff/counter/", "Receipt R-1")]

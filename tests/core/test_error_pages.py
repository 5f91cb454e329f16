"""Error pages that cannot be drawn as usual (their frame needs the database that failed) are
still the right answer: a plain page with the same status, never a server's own 500."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError


def _database_gone() -> OperationalError:
    return OperationalError("SELECT 1", {}, ConnectionResetError("server closed the connection"))


def test_a_lost_database_is_a_plain_503_page_when_the_usual_page_needs_the_database(app):
    @app.route("/test-lost-database")
    def lost():
        raise _database_gone()

    @app.context_processor
    def signed_in_user():
        raise _database_gone()  # as loading the signed-in user from a lost database would

    answer = app.test_client().get("/test-lost-database")
    assert answer.status_code == 503
    assert "temporarily unavailable" in answer.text and "Traceback" not in answer.text
    assert answer.headers["Content-Security-Policy"]  # the security headers still go out


def test_the_usual_503_page_when_the_frame_can_be_drawn(app):
    @app.route("/test-lost-database")
    def lost():
        raise _database_gone()

    answer = app.test_client().get("/test-lost-database")
    assert answer.status_code == 503 and "City of" in answer.text

"""A resident contests a shutoff on the portal: the bill page offers it where a shutoff notice
is open, the form needs the resident's reasons (and a CSRF token), the confirmation and the
status follow, a second appeal is refused with the reason, another account's appeal is a 404,
the page speaks Spanish, and the decision shows the reasons for the resident but never the
staff's internal note."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from accounts.models import Language
from accounts.services import find_account
from billing.shutoff_rules import load_shutoff_rule
from core.extensions import db
from notices.models import AppealStatus, ShutoffAppeal
from notices.shutoff_appeals import decide_appeal
from notices.shutoff_notices import issue_shutoff_notice
from tests.conftest import csrf_token
from tests.notices.test_shutoff import CLERK, DAY, RULE
from tests.portal.conftest import quick_pay

#: Tuesday December 29, 2026, noon in the town: the day after the shutoff notice.
NOON = datetime(2026, 12, 29, 18, 0, tzinfo=UTC)


def notice_households(app, households) -> None:
    """Load the shutoff rule and notice the first household on December 28, 2026."""
    with app.app_context():
        load_shutoff_rule(db.session, CLERK, RULE)
        account = find_account(db.session, households[0].number)
        issue_shutoff_notice(db.session, app.config, CLERK, account, DAY)
        db.session.commit()


@pytest.fixture
def noticed(app, households):
    notice_households(app, households)
    with time_machine.travel(NOON, tick=False):
        yield households


def _contest(client, statement: str):
    page = client.get("/my/shutoff-appeal").text
    return client.post(
        "/my/shutoff-appeal", data={"csrf_token": csrf_token(page), "statement": statement}
    )


def _appeals(app) -> list[ShutoffAppeal]:
    with app.app_context():
        return list(db.session.scalars(sa.select(ShutoffAppeal)))


def test_the_bill_page_offers_to_contest_an_open_shutoff_notice(noticed, resident):
    page = resident.get("/my/bill").text
    assert "Contest this shutoff" in page
    form = resident.get("/my/shutoff-appeal").text
    assert "Why do you contest the shutoff?" in form and 'name="csrf_token"' in form


def test_a_resident_contests_and_sees_it_pending(app, noticed, resident):
    answer = _contest(resident, "I paid on December 20; here is the receipt number 4411.")
    assert answer.status_code == 303
    status = resident.get(answer.headers["Location"]).text
    assert "We received your appeal." in status and "Pending" in status
    assert "receipt number 4411" in status
    assert "See your appeal" in resident.get("/my/bill").text
    (appeal,) = _appeals(app)
    assert appeal.status == AppealStatus.PENDING and appeal.filed_by == "resident"
    # The acknowledgement went to the account's address, in its language, with its words.
    (mail,) = Path(app.config["OUTBOX_DIR"]).glob("*.eml")
    message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    assert message["Subject"].endswith("we received your shutoff appeal")
    body = " ".join(message.get_body(("plain",)).get_content().split())
    assert "receipt number 4411" in body and "No shutoff notice will be sent" in body


def test_an_empty_reason_or_a_second_appeal_is_refused_with_the_reason(app, noticed, resident):
    empty = _contest(resident, "   ")
    assert empty.status_code == 422 and "Tell us why you contest the shutoff." in empty.text
    assert _appeals(app) == []
    assert _contest(resident, "wrong meter").status_code == 303
    page = resident.get("/my/shutoff-appeal")
    assert "Send my appeal" not in page.text and "Pending" in page.text
    token = csrf_token(resident.get("/my/bill").text)
    again = resident.post("/my/shutoff-appeal", data={"csrf_token": token, "statement": "again"})
    assert again.status_code == 422
    assert "You already have an appeal waiting for a decision." in again.text
    assert len(_appeals(app)) == 1


def test_too_long_a_reason_is_refused(app, noticed, resident):
    answer = _contest(resident, "x" * 2001)
    assert answer.status_code == 422 and "at most 2,000 characters" in answer.text
    assert _appeals(app) == []


def test_without_the_csrf_token_nothing_is_filed(app, noticed, resident):
    answer = resident.post("/my/shutoff-appeal", data={"statement": "no token"})
    assert answer.status_code == 400
    assert _appeals(app) == []


def test_an_account_without_a_shutoff_notice_has_nothing_to_contest(app, noticed, client):
    assert quick_pay(client, noticed[1].number, noticed[1].access_code).status_code == 303
    assert "Contest this shutoff" not in client.get("/my/bill").text
    answer = _contest(client, "not me")
    assert answer.status_code == 422
    assert "There is no shutoff notice on this account to contest." in answer.text


def test_another_accounts_appeal_is_not_found(app, noticed, resident, client):
    answer = _contest(resident, "mine")
    path = answer.headers["Location"]
    with app.test_client() as other:
        assert quick_pay(other, noticed[1].number, noticed[1].access_code).status_code == 303
        assert other.get(path).status_code == 404
        assert other.get("/my/shutoff-appeal/999999").status_code == 404


def test_the_decision_shows_the_residents_reasons_and_never_the_note(app, noticed, resident):
    _contest(resident, "wrong meter")
    (appeal,) = _appeals(app)
    with app.app_context():
        decide_appeal(
            db.session,
            CLERK,
            db.session.get(ShutoffAppeal, appeal.id),
            upheld=False,
            resident_reasons="The meter was tested and reads correctly.",
            internal_note="Staff only: tech visit 12/30.",
            at=NOON,
            on=date(2026, 12, 29),
        )
        db.session.commit()
    page = resident.get(f"/my/shutoff-appeal/{appeal.id}").text
    assert "Denied" in page and "The meter was tested and reads correctly." in page
    assert "may be shut off from January 6, 2027" in page
    assert "Staff only" not in page and "tech visit" not in page
    assert "Staff only" not in resident.get("/my/shutoff-appeal").text


def test_the_appeal_pages_speak_the_accounts_spanish(app, noticed, resident):
    with app.app_context():
        find_account(db.session, noticed[0].number).language = Language.ES
        db.session.commit()
    assert "Impugnar este corte" in resident.get("/my/bill").text
    page = resident.get("/my/shutoff-appeal").text
    assert "¿Por qué impugna el corte?" in page and "Enviar mi apelación" in page
    answer = _contest(resident, "")
    assert answer.status_code == 422 and "Díganos por qué impugna el corte." in answer.text
    done = _contest(resident, "pagué")
    assert "Recibimos su apelación." in resident.get(done.headers["Location"]).text

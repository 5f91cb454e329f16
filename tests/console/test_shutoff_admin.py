"""The staff's pages for the shutoff's records: the rule in force and its older versions, a new
version loaded by a supervisor (typed or uploaded, a bad one refused naming the place and
nothing stored; a clerk has no form and is refused); the medical certificates and recording
one (refusals with the reason); a day's shutoff notices with the PDF and the occupant's copy;
the monthly report with its CSV and PDF; and the same records over the API."""

from __future__ import annotations

import io
from datetime import date

import pytest
import sqlalchemy as sa
import time_machine

from accounts.models import Account, Language
from billing.models import MedicalCertificate, ShutoffRule
from core.extensions import db
from core.models import AuditEvent
from notices.models import ShutoffNotice
from tests.conftest import csrf_token, sign_in
from tests.notices.field_fixtures import noticed_town

PAGE = "/staff/shutoff-records/"
NEW_RULE = """effective: "2027-03-01"
min_past_due: "75.00"
min_days_past_due: 60
notice_lead_days: 7
"""


@pytest.fixture
def town(app):
    """Two households noticed December 28, 2026; the second's bills go to 9 Elm St, so the
    occupant at its service address gets a copy."""
    return noticed_town(
        app,
        [("olson", "1 Oak St", False, Language.EN), ("garcia", "9 Elm St", False, Language.ES)],
    )


def _client(app, make_staff, role: str):
    client = app.test_client()
    assert sign_in(client, make_staff(role)).status_code == 302
    return client


def _post(client, path: str, **data):
    token = csrf_token(client.get(PAGE).text)
    return client.post(path, data={"csrf_token": token, **data})


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_a_supervisor_loads_a_new_rule_and_a_bad_one_is_refused_naming_the_place(
    app, town, make_staff
):
    supervisor = _client(app, make_staff, "supervisor")
    before = _count(app, ShutoffRule)  # the town's two versions, both effective 2026-01-01
    page = supervisor.get(PAGE).text
    assert "the version effective 2026-01-01" in page and "Load a new version" in page
    bad = _post(supervisor, PAGE + "rule", document=NEW_RULE.replace('"75.00"', '"-1.00"'))
    assert bad.status_code == 422 and "min_past_due: must not be negative" in bad.text
    unknown = _post(supervisor, PAGE + "rule", document=NEW_RULE + "colour: blue\n")
    assert unknown.status_code == 422 and "colour" in unknown.text
    checked = _post(supervisor, PAGE + "rule", document=NEW_RULE, dry_run="1")
    assert checked.status_code == 200 and "nothing was stored" in checked.text
    assert _count(app, ShutoffRule) == before
    loaded = _post(supervisor, PAGE + "rule", document=NEW_RULE)
    assert loaded.status_code == 303
    page = supervisor.get(PAGE).text
    assert "2027-03-01" in page and "future" in page and "min_past_due: 75.00" in page
    token = csrf_token(page)
    upload = supervisor.post(
        PAGE + "rule",
        data={
            "csrf_token": token,
            "file": (io.BytesIO(NEW_RULE.replace("03-01", "04-01").encode()), "rule.yaml"),
        },
        content_type="multipart/form-data",
    )
    assert upload.status_code == 303
    assert _count(app, ShutoffRule) == before + 2
    with app.app_context():
        actions = list(db.session.scalars(sa.select(AuditEvent.action)))
    assert actions.count("shutoff_rule.load") == before + 2


def test_a_clerk_sees_the_rule_but_may_not_load_one(app, town, make_staff):
    clerk = _client(app, make_staff, "clerk")
    page = clerk.get(PAGE).text
    assert "A supervisor or an administrator loads a new version" in page
    assert "Load a new version" not in page
    before = _count(app, ShutoffRule)
    assert _post(clerk, PAGE + "rule", document=NEW_RULE).status_code == 403
    assert _count(app, ShutoffRule) == before


def test_a_clerk_records_a_medical_certificate_and_a_bad_one_is_refused(app, town, make_staff):
    clerk = _client(app, make_staff, "clerk")
    with app.app_context():
        number = db.session.get(Account, town[0]).number
    backwards = _post(
        clerk,
        PAGE + "certificates",
        account=number,
        starts="2027-02-01",
        ends="2027-01-01",
        by="Dr. A",
    )
    assert backwards.status_code == 422
    assert "ends on 2027-01-01, before it starts on 2027-02-01" in backwards.text
    nobody = _post(
        clerk,
        PAGE + "certificates",
        account="99999999",
        starts="2027-01-01",
        ends="2027-02-01",
        by="x",
    )
    assert nobody.status_code == 422 and "no account 99999999" in nobody.text
    assert _count(app, MedicalCertificate) == 0
    done = _post(
        clerk,
        PAGE + "certificates",
        account=number,
        starts="2027-01-01",
        ends="2027-03-31",
        by="Maple Clinic",
    )
    assert done.status_code == 303
    page = clerk.get(PAGE).text
    assert "Maple Clinic" in page and "2027-03-31" in page
    auditor = _client(app, make_staff, "auditor")
    assert auditor.get(PAGE).status_code == 200
    refused = _post(
        auditor,
        PAGE + "certificates",
        account=number,
        starts="2027-01-01",
        ends="2027-03-31",
        by="x",
    )
    assert refused.status_code == 403 and _count(app, MedicalCertificate) == 1


def test_the_days_notices_link_to_their_pdfs_and_the_occupants_copy(app, town, make_staff):
    auditor = _client(app, make_staff, "auditor")
    page = auditor.get(PAGE + "?on=2026-12-28").text
    with app.app_context():
        notices = list(db.session.scalars(sa.select(ShutoffNotice).order_by(ShutoffNotice.id)))
        copies = [n.occupant_notice_id for n in notices]
    assert copies[0] is None and copies[1] is not None
    for notice in notices:
        link = f"{PAGE}notices/{notice.notice_id}.pdf"
        assert link in page
        answer = auditor.get(link)
        assert answer.status_code == 200 and answer.data.startswith(b"%PDF")
    assert f"{PAGE}notices/{copies[1]}.pdf" in page
    assert auditor.get(f"{PAGE}notices/{copies[1]}.pdf").data.startswith(b"%PDF")
    assert "No shutoff notice was issued that day." in auditor.get(PAGE + "?on=2026-12-29").text


def test_the_report_page_gives_the_months_with_csv_and_pdf_and_refuses_a_bad_range(
    app, town, make_staff
):
    with time_machine.travel(date(2027, 2, 20), tick=False):
        auditor = _client(app, make_staff, "auditor")
        page = auditor.get(PAGE + "report?from=2026-12&to=2027-02")
        assert page.status_code == 200
        assert "Shutoffs and reconnections, 2026-12 to 2027-02" in page.text
        csv_text = auditor.get(PAGE + "report?from=2026-12&to=2027-02&format=csv").text
        assert csv_text.splitlines()[1].startswith("2026-12,2,")  # two notices in December
        pdf = auditor.get(PAGE + "report?from=2026-12&to=2027-02&format=pdf")
        assert pdf.data.startswith(b"%PDF")
        future = auditor.get(PAGE + "report?from=2027-01&to=2027-05")
        assert future.status_code == 422 and "to: 2027-05 is in the future" in future.text
        reversed_ = auditor.get(PAGE + "report?from=2027-02&to=2027-01")
        assert reversed_.status_code == 422 and "comes after" in reversed_.text


def test_the_api_lists_and_records_the_same_and_only_a_supervisor_loads_a_rule(
    app, client, town, api_headers
):
    clerk, supervisor = api_headers("clerk"), api_headers("supervisor")
    rules = client.get("/api/v1/shutoff-rules", headers=clerk).get_json()
    assert [r["in_force"] for r in rules] == [True, False]  # the last loaded wins the tie
    assert rules[0]["document"]["reconnection_fee"] == "35.00"
    body = {"text": NEW_RULE}
    assert client.post("/api/v1/shutoff-rules", json=body, headers=clerk).status_code == 403
    bad = client.post(
        "/api/v1/shutoff-rules", json={"document": {"effective": "2027-03-01"}}, headers=supervisor
    )
    assert bad.status_code == 422 and bad.get_json()["errors"]
    assert client.post("/api/v1/shutoff-rules", json=body, headers=supervisor).status_code == 201
    assert len(client.get("/api/v1/shutoff-rules", headers=clerk).get_json()) == len(rules) + 1
    notices = client.get("/api/v1/shutoff-notices?on=2026-12-28", headers=clerk).get_json()
    assert len(notices) == 2 and notices[1]["occupant_pdf"].endswith("/pdf")
    assert client.get(notices[0]["pdf"], headers=clerk).data.startswith(b"%PDF")
    certificate = {"account": notices[0]["account"], "starts_on": "2027-02-01"}
    backwards = client.post(
        "/api/v1/medical-certificates",
        json=certificate | {"ends_on": "2027-01-01", "certified_by": "Dr. A"},
        headers=clerk,
    )
    assert backwards.status_code == 422
    assert "before it starts" in backwards.get_json()["errors"]["ends_on"][0]
    made = client.post(
        "/api/v1/medical-certificates",
        json=certificate | {"ends_on": "2027-03-01", "certified_by": "Dr. A"},
        headers=clerk,
    )
    assert made.status_code == 201
    listed = client.get("/api/v1/medical-certificates", headers=api_headers("auditor")).get_json()
    assert [c["certified_by"] for c in listed] == ["Dr. A"]

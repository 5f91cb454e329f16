"""The billing run wizard: readings uploaded, the cycle previewed with its exceptions and
totals, posted, and its report read afterwards."""

from __future__ import annotations

import html
import io
from dataclasses import replace
from datetime import UTC, datetime

import sqlalchemy as sa
import time_machine

from accounts.models import MeterReading
from billing.models import BillingRun, Invoice
from billing.runs import RunOptions, post_run
from core.audit import Actor
from core.extensions import db
from tests.billing.billing_fixtures import household, load_rules
from tests.conftest import csrf_token


def town(app) -> None:
    """Two households read through September; October's reads come from the upload."""
    with app.app_context():
        plans = load_rules(db.session)
        household(db.session, plans, "olson", [1000, 5000, 9000, 13000, None])
        household(db.session, plans, "nguyen", [2000, 4000, 6000, 8000, None])
        db.session.commit()


def upload(client, text: str):
    page = client.get("/staff/billing-runs/").text
    return client.post(
        "/staff/billing-runs/readings",
        data={"csrf_token": csrf_token(page), "file": (io.BytesIO(text.encode()), "readings.csv")},
        content_type="multipart/form-data",
    )


def test_a_clerk_uploads_readings_previews_and_posts_a_cycle(app, signed_in):
    town(app)
    clerk = signed_in("clerk")
    bad = upload(clerk, "meter_id,read_on,reading\nW-olson,2026-10-31,-5\nW-nobody,2026-10-31,10\n")
    assert bad.status_code == 422
    assert "row 2" in bad.text and "row 3" in bad.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(MeterReading.id))) == 8  # nothing loaded
    good = upload(
        clerk, "meter_id,read_on,reading\nW-olson,2026-10-31,18400\nW-nguyen,2026-10-31,9000\n"
    )
    assert good.status_code == 303
    page = clerk.get("/staff/billing-runs/").text
    assert "Readings loaded: 2 rows" in page
    missing = clerk.post(
        "/staff/billing-runs/",
        data={
            "csrf_token": csrf_token(page),
            "kind": "utility",
            "cycle": "2026-10",
            "issue_date": "",
            "due_date": "2026-11-23",
        },
    )
    assert missing.status_code == 422 and "Enter the issue date" in missing.text
    previewed = clerk.post(
        "/staff/billing-runs/",
        data={
            "csrf_token": csrf_token(page),
            "kind": "utility",
            "cycle": "2026-10",
            "issue_date": "2026-11-02",
            "due_date": "2026-11-23",
        },
    )
    assert previewed.status_code == 303
    run_page = clerk.get(previewed.location).text
    assert "previewed" in run_page and "Post this run" in run_page and "Water" in run_page
    with app.app_context():
        assert (
            db.session.scalar(sa.select(sa.func.count(Invoice.id))) == 0
        )  # a preview posts nothing
        run_id = db.session.scalar(sa.select(BillingRun.id))
    posted = clerk.post(
        f"/staff/billing-runs/{run_id}/post", data={"csrf_token": csrf_token(run_page)}
    )
    assert posted.status_code == 303
    report = clerk.get(f"/staff/billing-runs/{run_id}").text
    assert "Run 1 posted: 2 invoices." in report and "Invoices posted" in report
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Invoice.id))) == 2
    again = clerk.post(
        f"/staff/billing-runs/{run_id}/post", data={"csrf_token": csrf_token(report)}
    )
    assert again.status_code == 303
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Invoice.id))) == 2  # posted once


def test_an_auditor_reads_runs_but_cannot_load_or_post(app, signed_in):
    auditor = signed_in("auditor")
    page = auditor.get("/staff/billing-runs/").text
    assert "Load the readings" not in page
    assert upload(auditor, "meter_id,read_on,reading\n").status_code == 403


def test_the_run_page_follows_posting_batch_by_batch(app, signed_in):
    town(app)
    clerk = signed_in("clerk")
    upload(clerk, "meter_id,read_on,reading\nW-olson,2026-10-31,18400\nW-nguyen,2026-10-31,9000\n")
    page = clerk.get("/staff/billing-runs/").text
    clerk.post(
        "/staff/billing-runs/",
        data={
            "csrf_token": csrf_token(page),
            "kind": "utility",
            "cycle": "2026-10",
            "issue_date": "2026-11-02",
            "due_date": "2026-11-23",
        },
    )
    with app.app_context():
        run_id = db.session.scalar(sa.select(BillingRun.id))
    url = f"/staff/billing-runs/{run_id}/progress"
    assert clerk.get(url).get_json() == {"status": "previewed", "posted": 0, "total": 2}
    seen = []
    with app.app_context():
        run = db.session.get(BillingRun, run_id)
        options = replace(RunOptions.from_config(app.config), batch_size=1)
        # what the page reads between two batches, each committed
        post_run(
            db.session,
            run,
            Actor.job("t"),
            options,
            lambda *_: seen.append(clerk.get(url).get_json()),
        )
    assert seen == [
        {"status": "posting", "posted": 1, "total": 2},
        {"status": "posting", "posted": 2, "total": 2},
    ]
    assert clerk.get(url).get_json() == {"status": "posted", "posted": 2, "total": 2}
    assert "run_progress.js" in clerk.get(f"/staff/billing-runs/{run_id}").text


def preview_october(clerk) -> str:
    """Preview the October 2026 utility cycle; returns the run page's address."""
    page = clerk.get("/staff/billing-runs/").text
    previewed = clerk.post(
        "/staff/billing-runs/",
        data={
            "csrf_token": csrf_token(page),
            "kind": "utility",
            "cycle": "2026-10",
            "issue_date": "2026-10-30",
            "due_date": "2026-11-20",
        },
    )
    assert previewed.status_code == 303
    return previewed.location


def test_posting_a_period_that_has_not_ended_needs_the_clerk_to_confirm_it(app, signed_in):
    town(app)  # read through September: October's bills are estimated
    # 10 p.m. on October 30 in the town (America/Chicago) is already October 31 in UTC
    with time_machine.travel(datetime(2026, 10, 31, 3, 0, tzinfo=UTC), tick=False):
        clerk = signed_in("clerk")
        url = preview_october(clerk)
        run_page = clerk.get(url).text
        assert (
            "The period has not ended yet: it ends 2026-10-31 and today is 2026-10-30 in the town."
            in run_page
        )
        assert 'name="confirm_period_not_ended" value="yes" required' in run_page
        refused = clerk.post(f"{url}/post", data={"csrf_token": csrf_token(run_page)})
        assert refused.status_code == 303
        shown = html.unescape(clerk.get(url).text)
        assert (
            "Not posted: the period ends 2026-10-31, after today (2026-10-30). "
            "Tick “Post it although the period has not ended” to post it now."
        ) in shown
        with app.app_context():
            assert db.session.scalar(sa.select(sa.func.count(Invoice.id))) == 0
            assert db.session.scalar(sa.select(BillingRun.status)).value == "previewed"
        posted = clerk.post(
            f"{url}/post",
            data={"csrf_token": csrf_token(run_page), "confirm_period_not_ended": "yes"},
        )
        assert posted.status_code == 303
        report = clerk.get(url).text
        assert "posted: 2 invoices" in report and "has not ended yet" not in report
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Invoice.id))) == 2


def test_a_period_that_ended_today_in_the_town_posts_without_a_confirmation(app, signed_in):
    town(app)
    # 10 p.m. on October 31 in the town: the period's last day has come
    with time_machine.travel(datetime(2026, 11, 1, 3, 0, tzinfo=UTC), tick=False):
        clerk = signed_in("clerk")
        url = preview_october(clerk)
        run_page = clerk.get(url).text
        assert "has not ended yet" not in run_page
        assert "confirm_period_not_ended" not in run_page
        posted = clerk.post(f"{url}/post", data={"csrf_token": csrf_token(run_page)})
        assert posted.status_code == 303
        assert "posted: 2 invoices" in clerk.get(url).text

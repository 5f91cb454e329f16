"""SQL and HTML injection: hostile text typed into every free-text field is stored as typed
and shown inert (escaped) on every page that displays it, and every table still exists.

The fields: the account's name and address (staff edit), an adjustment's reason and the
note that turns it down (approvals), a check number (counter), a reconciliation resolution, a search, a
resident's question and the staff answer, and what anyone types into the sign-in,
quick-pay, sign-up and reset forms (shown back when the form is refused).
"""

from __future__ import annotations

import sqlalchemy as sa
from markupsafe import escape

from accounts.models import Account
from billing.models import Invoice
from console.models import ApprovalRequest
from core.audit import Actor
from core.db import Base
from core.extensions import db
from payments.models import ReconciliationItem
from portal.models import Question
from tests.billing.billing_fixtures import bill_households
from tests.conftest import csrf_token, form_token, sign_in
from tests.portal.conftest import quick_pay

#: SQL that would drop a table if it were pasted into a query, and HTML that would run a
#: script or add an event handler if it were pasted into a page or an attribute.
#: 64 characters: it fits the shortest free-text column (a check number).
HOSTILE = '\';DROP TABLE account;--<script>alert(1)</script>" onmouseover="x'
SHOWN = str(escape(HOSTILE))
LIVE = ("<script>alert(1)", '" onmouseover="x', "';DROP")


def live_parts(html: str) -> list[str]:
    """The parts of the hostile text that appear unescaped in a page."""
    return [part for part in LIVE if part in html]


def pages_show_it_inert(client, paths: list[str], *, expect_shown: bool = True) -> list[str]:
    """Open each page; what is wrong: a live part, or (when expected) the text not shown."""
    problems = []
    for path in paths:
        response = client.get(path)
        html = response.text
        if response.status_code != 200:
            problems.append(f"{path}: {response.status_code}")
        if live_parts(html):
            problems.append(f"{path}: shows {live_parts(html)} unescaped")
        if expect_shown and SHOWN not in html:
            problems.append(f"{path}: does not show the text (escaped) at all")
    return problems


def every_table_is_there(app) -> None:
    """Every table of the models still answers a query."""
    with app.app_context():
        for table in Base.metadata.sorted_tables:
            db.session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def post_page_form(client, page: str, action: str, **data):
    """Post a form with the token of the page it is on."""
    html = client.get(page).text
    tokens = {"csrf_token": csrf_token(html)}
    if 'name="form_token"' in html:
        tokens["form_token"] = form_token(html)
    return client.post(action, data={**tokens, **data})


def flag_item(app) -> int:
    """A reconciliation item for a clerk to resolve."""
    from payments.reconcile_queue import ReconciliationKind, flag

    with app.app_context():
        flag(
            db.session,
            Actor.job("reconcile_stripe"),
            ReconciliationKind.UNKNOWN_HERE,
            "pi_3NoSuchPayment",
            payment=None,
            ours={},
            theirs={"amount_cents": 4200, "status": "succeeded", "customer": "cus_X"},
            suggestion="Find whose payment this is and settle it, or refund it at Stripe.",
        )
        db.session.commit()
        return db.session.scalar(sa.select(ReconciliationItem.id))


def test_hostile_text_in_every_staff_field_is_stored_as_typed_and_shown_inert(
    app, client, make_staff
):
    (home,) = bill_households(app, "olson")
    number = home.number
    item_id = flag_item(app)
    with app.app_context():
        invoice_id = db.session.scalar(sa.select(Invoice.id))
    assert sign_in(client, make_staff("admin")).status_code == 302

    edited = post_page_form(
        client,
        f"/staff/accounts/{number}/edit",
        f"/staff/accounts/{number}/edit",
        holder_name=HOSTILE,
        mail_street=HOSTILE,
        mail_city=HOSTILE,
        mail_state="WI",
        mail_zip="54901",
        email="olson@example.org",
        language="en",
    )
    assert edited.status_code == 302, edited.text
    asked = post_page_form(
        client,
        f"/staff/accounts/{number}",
        "/staff/approvals/",
        account=number,
        kind="credit_memo",
        target=f"invoice:{invoice_id}",
        amount="1.00",
        reason=HOSTILE,
    )
    assert asked.status_code in (302, 303), asked.text
    supervisor = client.application.test_client()
    assert sign_in(supervisor, make_staff("supervisor")).status_code == 302
    with app.app_context():
        request_id = db.session.scalar(sa.select(ApprovalRequest.id))
    rejected = post_page_form(
        supervisor,
        "/staff/approvals/",
        f"/staff/approvals/{request_id}/reject",
        note=HOSTILE,
    )
    assert rejected.status_code == 303, rejected.text
    opened = post_page_form(client, "/staff/counter/", "/staff/counter/open", opening_float="0")
    assert opened.status_code == 303, opened.text
    took = post_page_form(
        client,
        "/staff/counter/",
        "/staff/counter/payments",
        account=number,
        amount="1.00",
        tender="check",
        reference=HOSTILE,
    )
    assert took.status_code == 303, took.text
    resolved = post_page_form(
        client,
        f"/staff/reconciliation/{item_id}",
        f"/staff/reconciliation/{item_id}/resolve",
        resolution=HOSTILE,
    )
    assert resolved.status_code == 303, resolved.text

    problems = pages_show_it_inert(
        client,
        [
            f"/staff/accounts/{number}",
            f"/staff/accounts/{number}/edit",
            "/staff/accounts/?q=olson",
            "/staff/approvals/",
            "/staff/counter/",
            f"/staff/reconciliation/{item_id}",
            "/staff/books/audit",
        ],
    )
    problems += pages_show_it_inert(
        client, ["/staff/accounts/?q=" + HOSTILE, "/staff/dashboard"], expect_shown=False
    )
    assert not problems, "\n".join(problems)
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.number == number))
        assert (account.holder_name, account.mail_street, account.mail_city) == (HOSTILE,) * 3
    every_table_is_there(app)


def test_hostile_text_in_a_residents_question_and_its_answer_is_shown_inert(app, make_staff):
    (home,) = bill_households(app, "olson")
    resident = app.test_client()
    assert quick_pay(resident, home.number, home.access_code).status_code == 303
    page = f"/my/bills/{home.invoice_number}/question"
    asked = post_page_form(resident, page, page, kind="question", message=HOSTILE)
    assert asked.status_code in (302, 303), asked.text
    with app.app_context():
        question = db.session.scalar(sa.select(Question))
        assert question.message == HOSTILE
        question_id = question.id

    clerk = app.test_client()
    assert sign_in(clerk, make_staff("clerk")).status_code == 302
    detail = f"/staff/questions/{question_id}"
    answered = post_page_form(clerk, detail, detail, answer=HOSTILE)
    assert answered.status_code in (302, 303), answered.text

    problems = pages_show_it_inert(clerk, ["/staff/questions", detail])
    problems += pages_show_it_inert(resident, ["/my/bill"])
    assert not problems, "\n".join(problems)
    every_table_is_there(app)


def test_hostile_text_typed_into_sign_in_lookup_and_sign_up_forms_comes_back_inert(app):
    """A refused form is shown again with what was typed: escaped, in its field."""
    app.config["QUICKPAY_ZIP_FALLBACK"] = True  # the ZIP-code form where a town has it
    (home,) = bill_households(app, "olson")
    client = app.test_client()
    refused = {
        "staff sign-in": post_page_form(
            client, "/login", "/login", email=HOSTILE, password=HOSTILE
        ),
        "quick pay": post_page_form(
            client, "/pay", "/pay", method="code", account=HOSTILE, code=HOSTILE
        ),
        "quick pay by ZIP": post_page_form(
            client,
            "/pay",
            "/pay",
            method="zip",
            account=home.number,
            zip_code=HOSTILE,
            last_name=HOSTILE,
        ),
        "resident sign-in": post_page_form(
            client, "/signin", "/signin", email=HOSTILE, password=HOSTILE
        ),
        "sign-up": post_page_form(
            client,
            "/register",
            "/register",
            email=HOSTILE,
            password=HOSTILE,
            confirm=HOSTILE,
            account=HOSTILE,
            code=HOSTILE,
        ),
        "reset request": post_page_form(client, "/reset", "/reset", email=HOSTILE),
        "new confirmation link": post_page_form(client, "/signin", "/verify/resend", email=HOSTILE),
    }
    problems = []
    for form, response in refused.items():
        if not 400 <= response.status_code < 500:
            problems.append(f"{form}: {response.status_code}")
        if live_parts(response.text):
            problems.append(f"{form}: shows {live_parts(response.text)} unescaped")
        if SHOWN not in response.text:
            problems.append(f"{form}: does not give back what was typed (escaped)")
    assert not problems, "\n".join(problems)
    every_table_is_there(app)


def test_text_longer_than_any_field_is_refused_by_name_never_a_server_error(
    app, client, make_staff
):
    """Text longer than its column is refused with the field's message (422) on every
    database, not cut short, and not a 500 (PostgreSQL enforces lengths, SQLite does not)."""
    (home,) = bill_households(app, "olson")
    number = home.number
    item_id = flag_item(app)
    with app.app_context():
        holder = db.session.scalar(sa.select(Account.holder_name))
    assert sign_in(client, make_staff("admin")).status_code == 302
    edit = f"/staff/accounts/{number}/edit"
    contact = {
        "holder_name": "Maria Olson",
        "mail_street": "412 Oak Street",
        "mail_city": "Maple Falls",
        "mail_state": "WI",
        "mail_zip": "54901",
        "email": "olson@example.org",
        "language": "en",
    }
    long = "9" * 3000
    answers = {}
    for field in ("holder_name", "mail_street", "mail_city", "email"):
        answers[field] = post_page_form(client, edit, edit, **{**contact, field: long})
    post_page_form(client, "/staff/counter/", "/staff/counter/open", opening_float="0")
    answers["check number"] = post_page_form(
        client,
        "/staff/counter/",
        "/staff/counter/payments",
        account=number,
        amount="1.00",
        tender="check",
        reference=long,
    )
    answers["resolution"] = post_page_form(
        client,
        f"/staff/reconciliation/{item_id}",
        f"/staff/reconciliation/{item_id}/resolve",
        resolution=long,
    )
    resident = app.test_client()
    assert quick_pay(resident, home.number, home.access_code).status_code == 303
    ask = f"/my/bills/{home.invoice_number}/question"
    answers["question"] = post_page_form(resident, ask, ask, kind="question", message=long)
    wrong = {name: r.status_code for name, r in answers.items() if r.status_code != 422}
    assert not wrong, wrong
    assert "at most 64 characters" in answers["check number"].text
    with app.app_context():
        assert db.session.scalar(sa.select(Account.holder_name)) == holder
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Question)) == 0

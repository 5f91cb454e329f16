"""A reissued access code cuts off everyone who held the old one: quick-pay sessions end,
residents' links end, the old code opens nothing and the new one does; a clerk can remove
one resident's link. The residents are told why, once, in their language."""

from __future__ import annotations

import re
from html import unescape

import pytest
import sqlalchemy as sa

from accounts.models import Account
from accounts.services import reissue_access_code
from core.audit import Actor
from core.extensions import db
from portal.models import Autopay, EndedLink, PortalSession, Resident, ResidentAccount
from portal.residents import CodeChanged, link_account
from tests.conftest import csrf_token, sign_in
from tests.portal.conftest import quick_pay
from tests.portal.test_residents import ADDRESS, account_row, post, signed_in

CODE_CHANGED = "This account's access code was changed; enter the new code from your latest bill."
NO_MATCH = "Those details do not match our records"
NEW_CODE_RE = re.compile(r"<strong>([0-9A-Z]{5}-[0-9A-Z]{5})</strong>")


@pytest.fixture
def clerk(app, make_staff):
    """A second browser: a clerk signed in to the console."""
    staff = app.test_client()
    assert sign_in(staff, make_staff("clerk")).status_code == 302
    return staff


def reissue(staff, number: str, reason: str = "The house was sold") -> str:
    """Press the account page's reissue button; returns the new code the page shows once."""
    page = staff.get(f"/staff/accounts/{number}").text
    response = staff.post(
        f"/staff/accounts/{number}/access-code",
        data={"csrf_token": csrf_token(page), "reason": reason},
    )
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    (code,) = NEW_CODE_RE.findall(response.text)
    return code


def unlink(staff, number: str, resident_id: int, reason: str = "Moved out in October"):
    page = staff.get(f"/staff/accounts/{number}").text
    return staff.post(
        f"/staff/accounts/{number}/residents/{resident_id}/unlink",
        data={"csrf_token": csrf_token(page), "reason": reason},
    )


def resident_id(address: str = ADDRESS) -> int:
    return db.session.scalar(sa.select(Resident.id).where(Resident.email == address))


def test_a_quick_pay_session_opened_with_the_old_code_is_refused_after_a_reissue(
    app, client, clerk, billed
):
    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
    assert billed.invoice_number in client.get("/my/bill").text
    reissue(clerk, billed.number)
    refused = client.get("/my/bill")
    assert refused.status_code == 302 and refused.location.endswith("/pay")
    page = unescape(client.get("/pay").text)
    assert CODE_CHANGED in page and billed.invoice_number not in page
    assert client.get(f"/my/bills/{billed.invoice_number}.pdf").status_code == 302
    with app.app_context():
        (row,) = db.session.scalars(sa.select(PortalSession)).all()
        assert row.ended_at is not None and row.end_reason == "code_changed"


def test_the_old_code_no_longer_opens_quick_pay_and_the_new_one_does(client, clerk, billed):
    new_code = reissue(clerk, billed.number)
    assert new_code != billed.access_code
    old = quick_pay(client, billed.number, billed.access_code)
    assert old.status_code == 422 and NO_MATCH in old.text
    new = quick_pay(client, billed.number, new_code.lower().replace("-", " "))
    assert new.status_code == 303
    assert billed.invoice_number in client.get("/my/bill").text


def test_a_session_opened_before_the_code_changed_is_refused_however_the_code_was_changed(
    app, client, billed
):
    assert quick_pay(client, billed.number, billed.access_code).status_code == 303
    with app.app_context():
        account = account_row(billed.number)
        reissue_access_code(
            db.session, Actor.system("test"), account, code_key=app.config["ACCESS_CODE_KEY"]
        )
        db.session.commit()
    refused = client.get("/my/bill")
    assert refused.status_code == 302 and refused.location.endswith("/pay")
    assert CODE_CHANGED in unescape(client.get("/pay").text)


def test_a_session_of_another_account_lives_on(client, clerk, households):
    olson, nguyen = households
    assert quick_pay(client, nguyen.number, nguyen.access_code).status_code == 303
    reissue(clerk, olson.number)
    assert nguyen.invoice_number in client.get("/my/bill").text


def test_a_linked_resident_loses_the_account_when_its_code_is_reissued_and_links_it_again(
    app, client, clerk, smtp, billed
):
    signed_in(client, smtp, billed)
    assert billed.invoice_number in client.get("/my/bill").text
    new_code = reissue(clerk, billed.number)
    bill = client.get("/my/bill")
    assert bill.status_code == 302 and bill.location.endswith("/my/accounts")
    page = unescape(client.get("/my/accounts").text)
    assert (
        f"Account {billed.number} is no longer linked to your online account: its access code "
        "was changed. Enter the new code from your latest bill to link it again."
    ) in page
    assert billed.invoice_number not in page
    told_once = unescape(client.get("/my/accounts").text)
    assert "its access code was changed" not in told_once
    old = post(
        client,
        "/my/accounts",
        "/my/accounts/link",
        {"account": billed.number, "code": billed.access_code},
    )
    assert old.status_code == 422 and NO_MATCH in old.text
    again = post(
        client, "/my/accounts", "/my/accounts/link", {"account": billed.number, "code": new_code}
    )
    assert again.status_code == 303
    assert billed.invoice_number in client.get("/my/bill").text


def test_a_resident_signing_in_after_the_reissue_is_told_too(app, client, clerk, smtp, billed):
    signed_in(client, smtp, billed)
    client.post("/my/signout", data={"csrf_token": csrf_token(client.get("/my/bill").text)})
    reissue(clerk, billed.number)
    signed = sign_in_resident(client)
    assert signed.status_code == 303 and signed.location.endswith("/my/accounts")
    page = unescape(client.get("/my/accounts").text)
    assert "its access code was changed" in page and "No account is linked" in page


def sign_in_resident(client):
    from tests.portal.test_residents import sign_in as resident_sign_in

    return resident_sign_in(client)


def test_a_clerk_unlinks_a_resident_who_loses_access_and_is_told(
    app, client, clerk, smtp, households
):
    olson, nguyen = households
    signed_in(client, smtp, olson)
    post(
        client,
        "/my/accounts",
        "/my/accounts/link",
        {"account": nguyen.number, "code": nguyen.access_code},
    )
    with app.app_context():
        rid = resident_id()
    account_page = clerk.get(f"/staff/accounts/{olson.number}").text
    assert ADDRESS in account_page and f"Unlink {ADDRESS}" in account_page
    done = unlink(clerk, olson.number, rid)
    assert done.status_code == 303
    assert f"{ADDRESS} is no longer linked to account {olson.number}." in unescape(
        clerk.get(done.location).text
    )
    bill = unescape(client.get("/my/bill").text)
    assert nguyen.invoice_number in bill and olson.invoice_number not in bill
    assert (
        f"Account {olson.number} is no longer linked to your online account. If you have "
        "questions, please contact the billing office."
    ) in bill
    assert "Moved out in October" not in bill  # staff reasons stay on staff pages
    assert olson.number not in client.get("/my/accounts").text
    assert post(client, "/my/accounts", f"/my/accounts/{olson.number}/view", {}).status_code == 404
    with app.app_context():
        links = db.session.scalars(sa.select(ResidentAccount)).all()
        assert [link.account.number for link in links] == [nguyen.number]


def test_an_unlink_needs_a_reason_and_a_resident_who_linked_the_account(
    app, client, clerk, smtp, households
):
    olson, nguyen = households
    signed_in(client, smtp, olson)
    with app.app_context():
        rid = resident_id()
    refused = unlink(clerk, olson.number, rid, reason="  ")
    assert refused.status_code == 303
    assert "is still linked" in unescape(clerk.get(refused.location).text)
    assert unlink(clerk, nguyen.number, rid).status_code == 404
    assert unlink(clerk, olson.number, 10**30).status_code == 404
    assert olson.invoice_number in client.get("/my/bill").text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(EndedLink.id))) == 0


def test_the_resident_is_told_in_spanish(app, client, clerk, smtp, billed):
    signed_in(client, smtp, billed)
    client.post(
        "/language",
        data={"csrf_token": csrf_token(client.get("/my/bill").text), "lang": "es", "next": "/"},
    )
    reissue(clerk, billed.number)
    client.get("/my/bill")
    page = unescape(client.get("/my/accounts").text)
    assert f"La cuenta {billed.number} ya no está vinculada" in page


def test_whoever_loses_the_account_loses_its_autopay_too(app, client, clerk, smtp, billed):
    signed_in(client, smtp, billed)
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.number == billed.number))
        db.session.add(
            Autopay(
                account_id=account.id,
                resident_id=resident_id(),
                stripe_customer_id="cus_x",
                stripe_payment_method_id="pm_x",
            )
        )
        db.session.commit()
    assert not app.config["STRIPE_SECRET_KEY"]  # no Stripe: the enrollment still ends here
    reissue(clerk, billed.number)
    with app.app_context():
        (autopay,) = db.session.scalars(sa.select(Autopay)).all()
        assert autopay.active is False and autopay.canceled_at is not None


def test_a_link_proven_with_a_code_reissued_meanwhile_is_refused(app, billed):
    with app.app_context():
        resident = Resident(email="late@example.net", password_hash="x")
        db.session.add(resident)
        db.session.commit()
        account = account_row(billed.number)  # its code was checked against this version
        with db.engine.begin() as other:  # staff reissue the code in another request
            other.execute(
                sa.update(Account)
                .where(Account.id == account.id)
                .values(access_code_version=Account.access_code_version + 1)
            )
        with pytest.raises(CodeChanged):
            link_account(db.session, Actor.system("test"), resident, account, None)
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count(ResidentAccount.id))) == 0

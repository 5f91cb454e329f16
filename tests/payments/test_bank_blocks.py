"""Clerks see the bank accounts blocked after their returns and unblock one, saying why."""

from __future__ import annotations

import sqlalchemy as sa

from core.extensions import db
from core.models import AuditEvent
from payments.ach_models import BlockedBankAccount
from tests.conftest import csrf_token


def _blocked(app) -> None:
    with app.app_context():
        db.session.add(BlockedBankAccount(fingerprint="fp_twice", returns=2))
        db.session.commit()


def test_a_clerk_unblocks_a_bank_account_with_a_reason_and_it_is_audited(app, signed_in):
    _blocked(app)
    clerk = signed_in("clerk")
    page = clerk.get("/staff/bank-accounts/").text
    assert "fp_twice" in page and "Unblock" in page
    short = clerk.post(
        "/staff/bank-accounts/fp_twice/unblock",
        data={"csrf_token": csrf_token(page), "reason": "ok"},
    )
    assert short.status_code == 422 and "at least 5 characters" in short.text
    done = clerk.post(
        "/staff/bank-accounts/fp_twice/unblock",
        data={"csrf_token": csrf_token(page), "reason": "The bank confirmed the account is open."},
    )
    assert done.status_code == 303
    with app.app_context():
        row = db.session.get(BlockedBankAccount, "fp_twice")
        assert row.unblocked_at is not None and row.unblocked_by.startswith("clerk-")
        actions = db.session.scalars(sa.select(AuditEvent.action)).all()
        assert actions.count("bank_account.unblock") == 1
    assert "Unblocked" in clerk.get("/staff/bank-accounts/").text


def test_an_auditor_reads_the_blocks_but_cannot_unblock(app, signed_in):
    _blocked(app)
    auditor = signed_in("auditor")
    page = auditor.get("/staff/bank-accounts/").text
    assert "fp_twice" in page
    refused = auditor.post(
        "/staff/bank-accounts/fp_twice/unblock",
        data={"csrf_token": csrf_token(page), "reason": "An auditor should not."},
    )
    assert refused.status_code == 403
    with app.app_context():
        assert db.session.get(BlockedBankAccount, "fp_twice").unblocked_at is None

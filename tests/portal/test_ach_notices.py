"""The resident is told, once and in their language, that their bank returned a debit."""

from __future__ import annotations

import email
import email.policy

import sqlalchemy as sa

from accounts.models import Account, Language
from core.audit import Actor
from core.extensions import db
from core.money import format_cents
from payments.ach_models import AchReturn
from payments.models import Payment
from portal.ach_notices import tell_returns
from tests.payments.signing import deliver
from tests.payments.test_ach_returns import RETURN, _charge_failed, _settled
from tests.payments.test_webhooks import TOTAL, _town

JOB = Actor.job("tell_bank_returns")


def _returned(app, client, *, address: str | None, language: Language) -> int:
    """A settled bank debit of a household with this address, returned for no account (R03)."""
    (account_id,) = _town(app)
    with app.app_context():
        account = db.session.get(Account, account_id)
        account.email, account.language = address, language
        db.session.commit()
    payment_id = _settled(app, client, account_id)
    with app.app_context():
        intent_id = db.session.get(Payment, payment_id).stripe_payment_intent_id
    deliver(client, _charge_failed(intent_id, TOTAL, "no_account", created=RETURN))
    return payment_id


def test_the_resident_reads_the_bank_s_reason_and_the_fee_once_in_spanish(app, client, smtp):
    _returned(app, client, address="ana.olson@example.org", language=Language.ES)
    with app.app_context():
        assert tell_returns(db.session, app.config, JOB) == {"emailed": 1}
        assert tell_returns(db.session, app.config, JOB) == {}  # told once
        returned = db.session.scalar(sa.select(AchReturn))
        assert returned.told_by == "email" and returned.told_at is not None
    (envelope,) = smtp.handler.envelopes
    assert envelope.rcpt_tos == ["ana.olson@example.org"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Content-Language"] == "es"
    body = message.get_body(("plain",)).get_content()
    assert "Su banco devolvió este pago porque no encontró la cuenta." in body
    assert "$25.00" in body and "$107.84" in body
    assert "terminada en 6789" in body


def test_an_account_without_an_address_is_marked_and_nothing_is_sent(app, client, smtp):
    _returned(app, client, address=None, language=Language.EN)
    with app.app_context():
        assert tell_returns(db.session, app.config, JOB) == {"no_address": 1}
        assert db.session.scalar(sa.select(AchReturn.told_by)) == "no_address"
    assert smtp.handler.envelopes == []


def test_the_e_mail_names_what_the_bank_debited_and_returned_fee_included(app, client, smtp):
    from tests.payments.test_bank_fees import BANK_FEE, returned_with_fee

    (account_id,) = _town(app)
    with app.app_context():
        db.session.get(Account, account_id).email = "ana.olson@example.org"
        db.session.commit()
    returned_with_fee(app, client, account_id)
    with app.app_context():
        assert tell_returns(db.session, app.config, JOB) == {"emailed": 1}
    (envelope,) = smtp.handler.envelopes
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    debited = format_cents(TOTAL + BANK_FEE)
    assert message["Subject"] == f"Your bank returned your payment of {debited}"
    assert (
        f"Your bank payment of {debited} for account" in message.get_body(("plain",)).get_content()
    )

"""Telling residents that their bank returned a debit: one e-mail per return, in their language.

Each AchReturn not yet told is e-mailed to the account's address with the bank's reason in
the resident's words (payments.ach_codes), what it means for the bill, the returned-payment
fee when one was charged, and where to pay. A return is marked told once its message is
sent (or written to the outbox); an account without a working address is marked
"no_address" (its status page says it all the same). A delivery that fails is tried again
on the next run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from billing.models import InvoiceCharge
from core.audit import Actor, record
from core.db import utcnow
from core.money import format_cents
from payments.ach_codes import resident_words
from payments.ach_models import AchReturn, BankMandate
from payments.convenience_fees import charged_cents
from payments.models import Payment
from portal import mail

#: Returns told per run at most (the next run takes the rest).
BATCH = 200


def _message(config: Mapping, returned: AchReturn, payment: Payment) -> tuple[str, str, str]:
    """The subject and text of the e-mail about one return, and its language."""
    account = payment.account
    language = account.language.value if account.language else "en"
    link = f"{config['PUBLIC_BASE_URL'].rstrip('/')}/pay?account={account.number}"
    session = Session.object_session(returned)
    last4 = session.scalar(sa.select(BankMandate.last4).where(BankMandate.payment_id == payment.id))
    fee = session.get(InvoiceCharge, returned.fee_charge_id) if returned.fee_charge_id else None
    with force_locale(language):
        # What the bank debited and sent back: the bill's amount and any convenience fee on it.
        debited = charged_cents(session, payment)
        values = {"amount": format_cents(debited), "number": account.number}
        subject = _("Your bank returned your payment of %(amount)s", **values)
        paragraphs = [
            _("Hello,"),
            _(
                "Your bank payment of %(amount)s for account %(number)s was returned by your "
                "bank, so it did not pay your bill.",
                **values,
            )
            + (" " + _("Bank account ending in %(last4)s.", last4=last4) if last4 else ""),
            resident_words(returned.return_code, language),
            _(
                "A returned-payment fee of %(fee)s was added to your bill.",
                fee=format_cents(fee.amount_cents),
            )
            if fee is not None
            else "",
            _("The bill is owed again. You can pay it now at:") + "\n" + link,
            config.get("MUNICIPALITY_NAME") or "",
        ]
    text = "\n\n".join(p for p in paragraphs if p) + "\n"
    return subject, text, language


def waiting_returns(session: Session) -> list[AchReturn]:
    """The returns not yet told, oldest first (a batch)."""
    return list(
        session.scalars(
            sa.select(AchReturn)
            .where(AchReturn.told_at.is_(None))
            .order_by(AchReturn.id)
            .limit(BATCH)
        )
    )


def tell_returns(session: Session, config: Mapping, actor: Actor) -> dict[str, int]:
    """E-mail every return not yet told; counts by outcome. Commits after each return."""
    counts: Counter[str] = Counter()
    for returned in waiting_returns(session):
        payment = session.get(Payment, returned.payment_id)
        account = payment.account
        if not account.email or account.email_bounced_at is not None:
            returned.told_at, returned.told_by = utcnow(), "no_address"
            counts["no_address"] += 1
        else:
            subject, text, language = _message(config, returned, payment)
            delivery = mail.send_email(
                config, to=account.email, subject=subject, text=text, language=language
            )
            if delivery.status == "failed":
                counts["failed"] += 1
                continue
            returned.told_at, returned.told_by = utcnow(), "email"
            counts["emailed"] += 1
        record(session, actor, "payment.return_told", payment, by=returned.told_by)
        session.commit()
    return dict(counts)

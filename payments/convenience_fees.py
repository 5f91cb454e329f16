"""Convenience fees: the rules kept as data, the fee of a channel, method and amount, and
the quote a payer sees and agrees to before a payment is charged.

`convenience_fee(session, channel, method, amount_cents)` is the one answer to "what
fee would this payment carry" for every pay page (card online, card at the counter,
bank account). A payment's quote (payments.fee_models.ConvenienceFee) keeps what the
payer was shown; `confirm_quote` refuses a charge whose fee changed since then.
Charging, posting and refunding the fee are in payments/fee_charges.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.audit import Actor, record
from core.db import utcnow
from ledger import chart
from payments.fee_models import ConvenienceFee, ConvenienceFeeRule
from payments.fee_terms import (
    FeeAccount,
    FeeBearer,
    FeeChannel,
    FeeCharge,
    FeeMethod,
    FeeRefund,
    FeeRuleError,
    fee_cents,
    parse_terms,
    terms_to_row,
)
from payments.models import Payment

#: The GL account each choice of a rule posts the fee to.
FEE_GL = {
    FeeAccount.REVENUE: chart.CONVENIENCE_FEE_REVENUE,
    FeeAccount.PROCESSOR: chart.CONVENIENCE_FEES_PAYABLE,
}

#: NOTE: a separate charge is what the card networks' government service-fee programmes ask of
#: a card fee; a bank debit has no such programme, and a second debit would need its own
#: mandate and could be returned on its own. A bank payment's fee rides on its own debit.
BANK_FEE_ON_OWN_LINE = (
    "a bank account's fee is debited on its own line of the payment's debit; a separate "
    "charge is for card rules only"
)


@dataclass(frozen=True)
class FeeQuote:
    """The fee a payment of an amount carries now, by the rule version that gives it."""

    channel: FeeChannel
    method: FeeMethod
    fee_cents: int
    rule_id: int | None = None
    charge_as: FeeCharge = FeeCharge.OWN_LINE
    account: FeeAccount = FeeAccount.REVENUE
    refund: FeeRefund = FeeRefund.NEVER
    #: The town bears the fee of this rule: the payer is charged none.
    absorbed: bool = False


class FeeChanged(Exception):
    """The fee worked out at charge time is not the one the payer saw; the new one is quoted."""

    def __init__(self, fee: ConvenienceFee) -> None:
        super().__init__(f"the convenience fee is now {fee.amount_cents} cents")
        self.fee = fee


def current_rule(
    session: Session, channel: FeeChannel, method: FeeMethod
) -> ConvenienceFeeRule | None:
    """The rule in force for a channel and method (None: no fee)."""
    return session.scalar(
        sa.select(ConvenienceFeeRule)
        .where(
            ConvenienceFeeRule.channel == channel,
            ConvenienceFeeRule.method == method,
            ConvenienceFeeRule.retired_at.is_(None),
        )
        .order_by(ConvenienceFeeRule.id.desc())
        .limit(1)
    )


def convenience_fee(
    session: Session, channel: FeeChannel | str, method: FeeMethod | str, amount_cents: int
) -> FeeQuote:
    """The fee a payer would be charged for paying `amount_cents` by this channel and method."""
    channel, method = FeeChannel(channel), FeeMethod(method)
    rule = current_rule(session, channel, method)
    if rule is None:
        return FeeQuote(channel, method, 0)
    worked_out = fee_cents(rule.terms, amount_cents)
    absorbed = rule.bearer == FeeBearer.TOWN
    return FeeQuote(
        channel,
        method,
        0 if absorbed else worked_out,
        rule_id=rule.id,
        charge_as=rule.charge_as,
        account=rule.account,
        refund=rule.refund,
        absorbed=absorbed and worked_out > 0,
    )


def _choice(enum_cls, row: Mapping[str, Any], name: str, default=None):
    """One of an enum's values from a rule's field, or FeeRuleError naming the field."""
    value = row.get(name, default)
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum_cls)
        raise FeeRuleError(name, f"one of {allowed}, not {value!r}") from None


def set_rule(session: Session, actor: Actor, row: Mapping[str, Any]) -> ConvenienceFeeRule:
    """Keep a new version of the rule of a channel and method; the one before is retired."""
    if not isinstance(row, Mapping):
        raise FeeRuleError("rule", "a rule is an object of fields")
    terms = parse_terms(row)
    channel = _choice(FeeChannel, row, "channel")
    method = _choice(FeeMethod, row, "method")
    fields = terms_to_row(terms)
    charge_as = _choice(FeeCharge, row, "charge_as", FeeCharge.OWN_LINE)
    if method == FeeMethod.BANK_ACCOUNT and charge_as == FeeCharge.SEPARATE:
        raise FeeRuleError("charge_as", BANK_FEE_ON_OWN_LINE)
    rule = ConvenienceFeeRule(
        channel=channel,
        method=method,
        kind=terms.kind,
        flat_cents=terms.flat_cents,
        percent=terms.percent,
        tiers=fields["tiers"],
        minimum_cents=terms.minimum_cents,
        cap_cents=terms.cap_cents,
        bearer=_choice(FeeBearer, row, "bearer", FeeBearer.PAYER),
        charge_as=charge_as,
        account=_choice(FeeAccount, row, "account", FeeAccount.REVENUE),
        refund=_choice(FeeRefund, row, "refund", FeeRefund.NEVER),
        created_by=actor.label,
    )
    # NOTE: the rows of the channel and method are locked, so two clerks setting a rule at once
    # leave one in force: the second waits, then retires the first's.
    before = session.scalars(
        sa.select(ConvenienceFeeRule)
        .where(
            ConvenienceFeeRule.channel == channel,
            ConvenienceFeeRule.method == method,
            ConvenienceFeeRule.retired_at.is_(None),
        )
        .with_for_update()
    ).all()
    now = utcnow()
    for old in before:
        old.retired_at = now
    session.add(rule)
    session.flush()
    record(
        session,
        actor,
        "convenience_fee_rule.set",
        rule,
        retired=[old.id for old in before],
        after=rule_row(rule),
    )
    return rule


def rule_row(rule: ConvenienceFeeRule) -> dict[str, Any]:
    """A rule's fields as the API, CLI and audit log show them."""
    return {
        "id": rule.id,
        "channel": rule.channel.value,
        "method": rule.method.value,
        **terms_to_row(rule.terms),
        "bearer": rule.bearer.value,
        "charge_as": rule.charge_as.value,
        "account": rule.account.value,
        "refund": rule.refund.value,
        "created_by": rule.created_by,
        "in_force": rule.retired_at is None,
    }


def rules_in_force(session: Session) -> list[ConvenienceFeeRule]:
    """Every rule in force, by channel and method."""
    return list(
        session.scalars(
            sa.select(ConvenienceFeeRule)
            .where(ConvenienceFeeRule.retired_at.is_(None))
            .order_by(ConvenienceFeeRule.channel, ConvenienceFeeRule.method)
        )
    )


def fee_of(session: Session, payment: Payment) -> ConvenienceFee | None:
    """The fee quoted on a payment, if any."""
    return session.scalar(sa.select(ConvenienceFee).where(ConvenienceFee.payment_id == payment.id))


def _keep(fee: ConvenienceFee, quote: FeeQuote) -> None:
    """Write a quote into the payment's fee row."""
    fee.rule_id, fee.channel, fee.method = quote.rule_id, quote.channel, quote.method
    fee.amount_cents, fee.quoted_at = quote.fee_cents, utcnow()
    fee.charge_as, fee.account, fee.refund = quote.charge_as, quote.account, quote.refund


def quote_payment(
    session: Session,
    actor: Actor,
    payment: Payment,
    channel: FeeChannel | str,
    method: FeeMethod | str,
) -> ConvenienceFee:
    """Work out the fee of a pending payment and keep it as the quote its payer is shown."""
    quote = convenience_fee(session, channel, method, payment.amount_cents)
    fee = fee_of(session, payment) or ConvenienceFee(payment_id=payment.id, refunded_cents=0)
    _keep(fee, quote)
    session.add(fee)
    session.flush()
    record(
        session,
        actor,
        "payment.fee_quoted",
        payment,
        rule=quote.rule_id,
        fee_cents=quote.fee_cents,
        charge_as=quote.charge_as.value,
    )
    return fee


def copy_quote(
    session: Session, actor: Actor, shown: Payment, to: Payment
) -> ConvenienceFee | None:
    """Give a payment recorded for another try the quote its payer saw on the page (none if
    that payment had none); the charge checks it against the rule as for any quote."""
    fee = fee_of(session, shown)
    if fee is None:
        return None
    copy = ConvenienceFee(payment_id=to.id, refunded_cents=0, quoted_at=fee.quoted_at)
    for name in ("rule_id", "channel", "method", "amount_cents", "charge_as", "account", "refund"):
        setattr(copy, name, getattr(fee, name))
    session.add(copy)
    session.flush()
    record(session, actor, "payment.fee_quoted", to, rule=fee.rule_id, fee_cents=fee.amount_cents)
    return copy


def confirm_quote(session: Session, actor: Actor, payment: Payment) -> ConvenienceFee | None:
    """The quote, if the fee worked out now is still the one the payer saw; else FeeChanged.

    A changed fee is quoted again (the payer must see it and pay again); nothing is charged.
    """
    fee = fee_of(session, payment)
    if fee is None:
        return None
    now = convenience_fee(session, fee.channel, fee.method, payment.amount_cents)
    if (now.fee_cents, now.charge_as) == (fee.amount_cents, fee.charge_as):
        return fee
    before = fee.amount_cents
    _keep(fee, now)
    session.flush()
    record(session, actor, "payment.fee_changed", payment, before=before, now=now.fee_cents)
    raise FeeChanged(fee)


def collected_fee_cents(session: Session, payment: Payment) -> int:
    """The convenience fee collected with a payment (posted), for its receipt; 0 if none."""
    fee = fee_of(session, payment)
    return fee.amount_cents if fee is not None and fee.posted_on is not None else 0


def own_line_cents(fee: ConvenienceFee | None) -> int:
    """What of the fee rides on the payment's own charge (none when charged separately)."""
    if fee is None or fee.charge_as != FeeCharge.OWN_LINE:
        return 0
    return fee.amount_cents


def own_line_fees(session: Session, payment_ids: list[int]) -> dict[int, int]:
    """The own-line fees of many payments by payment id (one query; a payment without is absent)."""
    if not payment_ids:
        return {}
    rows = session.execute(
        sa.select(ConvenienceFee.payment_id, ConvenienceFee.amount_cents).where(
            ConvenienceFee.payment_id.in_(set(payment_ids)),
            ConvenienceFee.charge_as == FeeCharge.OWN_LINE,
        )
    )
    return {payment_id: cents for payment_id, cents in rows}


def charged_cents(session: Session, payment: Payment) -> int:
    """What the payment's own PaymentIntent charges: the bill amount and an own-line fee."""
    return payment.amount_cents + own_line_cents(fee_of(session, payment))

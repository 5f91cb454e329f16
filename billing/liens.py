"""Tax liens (tax certificates): the sale list for a sale date by the town's rule, its
certification (frozen as one Lien per parcel), the check every online payment asks, and the
redemption of a lien once its amount is paid (docs/liens.md).

The list reads the delinquent roll (billing.tax_delinquency) as of the day it is prepared, so a
parcel paid before certification drops off it; the delinquency is measured on the sale date.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Parcel
from billing.lien_rules import lien_rule_on
from billing.models import (
    Lien,
    LienInvoice,
    LienRule,
    LienSale,
    LienStatus,
    Settlement,
    SettlementKind,
)
from billing.tax_delinquency import LienError, RollLine, delinquent_roll
from core.audit import Actor, record, record_many
from core.money import format_cents


@dataclass(frozen=True)
class SaleEntry:
    """One parcel offered at the sale, with the delinquent amount it is listed for."""

    parcel_id: int
    parcel_number: str
    account_id: int
    account_number: str
    owner: str
    situs: str
    property_class: str
    tax_years: str
    principal_cents: int
    charges_cents: int
    cost_cents: int
    invoice_ids: tuple[int, ...]

    @property
    def amount_cents(self) -> int:
        """Principal, penalties and interest (what redeems the lien)."""
        return self.principal_cents + self.charges_cents


@dataclass
class SaleList:
    """The parcels a sale date's list holds, and those left off with the reason."""

    sale_date: date
    #: The day the amounts are as of (the day the list is prepared or certified).
    as_of: date
    rule: LienRule
    entries: list[SaleEntry] = field(default_factory=list)
    #: (parcel number, why it is not listed), for the clerk.
    left_off: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total_cents(self) -> int:
        return sum(e.amount_cents for e in self.entries)


def earliest_sale(rule: LienRule, oldest_due: date | None) -> date | None:
    """The first sale date the rule allows, given the oldest delinquent installment's due date."""
    if rule.sale_on is not None:
        return rule.sale_on
    if oldest_due is None:
        return None
    return oldest_due + timedelta(days=(rule.days_after_delinquency or 0) + 1)


def _qualifies(rule: LienRule, line: RollLine, sale_date: date) -> bool:
    """Whether a delinquent installment is late enough for the sale by the rule."""
    if rule.sale_on is not None:
        return True
    return (sale_date - line.due_date).days > (rule.days_after_delinquency or 0)


def sale_list(session: Session, sale_date: date, *, today: date) -> SaleList:
    """The sale list for a sale date, with amounts as of today; refused (LienError) when no rule
    is in force or the date is before the rule allows."""
    rule = lien_rule_on(session, sale_date)
    if rule is None:
        raise LienError(f"sale_date: no lien sale rule is in force on {sale_date.isoformat()}")
    roll = delinquent_roll(session, today, today=today)
    oldest = min((line.due_date for line in roll.lines), default=None)
    first = earliest_sale(rule, oldest)
    if first is not None and sale_date < first:
        raise LienError(
            f"sale_date: {sale_date.isoformat()} is before the rule allows a sale "
            f"(the earliest is {first.isoformat()})"
        )
    found = SaleList(sale_date, today, rule)
    held = _under_lien(session)
    for lines in roll.by_parcel().values():
        entry_or_reason = _entry(rule, sale_date, lines, held)
        if isinstance(entry_or_reason, str):
            found.left_off.append((lines[0].parcel_number, entry_or_reason))
        elif entry_or_reason is not None:
            found.entries.append(entry_or_reason)
    return found


def _under_lien(session: Session) -> dict[int, str]:
    """The parcels under lien now, with the list id of their lien."""
    rows = session.execute(
        sa.select(Lien.parcel_id, LienSale.list_id)
        .join(LienSale, LienSale.id == Lien.sale_id)
        .where(Lien.status == LienStatus.UNDER_LIEN)
    )
    return {parcel_id: list_id for parcel_id, list_id in rows}


def _entry(
    rule: LienRule, sale_date: date, lines: list[RollLine], held: dict[int, str]
) -> SaleEntry | str | None:
    """A parcel's entry on the list, why it is left off, or None when nothing is late enough."""
    first = lines[0]
    late = [line for line in lines if _qualifies(rule, line, sale_date)]
    if not late:
        return None
    if first.parcel_id in held:
        return f"already under lien (list {held[first.parcel_id]})"
    if first.property_class in rule.excluded_classes:
        return f"property class {first.property_class} is not sold"
    flags = sorted(set(first.exemption_flags) & set(rule.excluded_flags))
    if flags:
        return f"exemption {', '.join(flags)} keeps it off the sale"
    principal = sum(line.principal_cents for line in late)
    charges = sum(line.charges_cents for line in late)
    if principal + charges < rule.min_amount_cents:
        return (
            f"{format_cents(principal + charges)} is less than the least amount sold, "
            f"{format_cents(rule.min_amount_cents)}"
        )
    return SaleEntry(
        parcel_id=first.parcel_id,
        parcel_number=first.parcel_number,
        account_id=first.account_id,
        account_number=first.account_number,
        owner=first.owner,
        situs=first.situs,
        property_class=first.property_class,
        tax_years=" ".join(str(y) for y in sorted({line.tax_year for line in late})),
        principal_cents=principal,
        charges_cents=charges,
        cost_cents=rule.cost_per_parcel_cents,
        invoice_ids=tuple(sorted({i for line in late for i in line.invoice_ids})),
    )


def certify_sale(session: Session, actor: Actor, sale_date: date, *, today: date) -> LienSale:
    """Freeze the sale list for a sale date as one Lien per parcel; refused (LienError, nothing
    written) when the sale was certified already or the list is empty. Audited; flushes."""
    done = session.scalar(sa.select(LienSale).where(LienSale.sale_date == sale_date))
    if done is not None:
        raise LienError(
            f"sale_date: the sale of {sale_date.isoformat()} was already certified "
            f"(list {done.list_id}, on {done.certified_on.isoformat()})"
        )
    found = sale_list(session, sale_date, today=today)
    if not found.entries:
        raise LienError(f"sale_date: no parcel qualifies for the sale of {sale_date.isoformat()}")
    sale = LienSale(
        list_id=f"LS-{sale_date.isoformat()}",
        sale_date=sale_date,
        rule_id=found.rule.id,
        certified_on=today,
        certified_by=actor.label,
        parcel_count=len(found.entries),
        total_cents=found.total_cents,
    )
    session.add(sale)
    for entry in found.entries:
        sale.liens.append(_lien(entry, found.rule, sale_date))
    session.flush()
    session.add_all(
        LienInvoice(lien_id=lien.id, invoice_id=invoice_id)
        for lien, entry in zip(sale.liens, found.entries, strict=True)
        for invoice_id in entry.invoice_ids
    )
    session.flush()
    record(
        session,
        actor,
        "lien_sale.certify",
        sale,
        parcels=sale.parcel_count,
        total_cents=sale.total_cents,
        left_off=[f"{number}: {why}" for number, why in found.left_off],
    )
    return sale


def _lien(entry: SaleEntry, rule: LienRule, sale_date: date) -> Lien:
    return Lien(
        parcel_id=entry.parcel_id,
        account_id=entry.account_id,
        sale_date=sale_date,
        tax_years=entry.tax_years,
        principal_cents=entry.principal_cents,
        charges_cents=entry.charges_cents,
        amount_cents=entry.amount_cents,
        cost_cents=entry.cost_cents,
        status=LienStatus.UNDER_LIEN,
        closes_online=rule.closes_online,
    )


def liens_of_account(session: Session, account_id: int) -> list[Lien]:
    """The liens under which the account's parcels stand now, oldest sale first."""
    return list(
        session.scalars(
            sa.select(Lien)
            .where(Lien.account_id == account_id, Lien.status == LienStatus.UNDER_LIEN)
            .order_by(Lien.sale_date, Lien.id)
        )
    )


def lien_words(lien: Lien) -> str:
    """What a resident reads about a lien on their parcel, in plain words."""
    return (
        f"A tax lien was sold on parcel {lien.parcel.parcel_number} on "
        f"{lien.sale_date.strftime('%B %-d, %Y')}. To clear it, pay the redemption amount "
        f"({format_cents(lien.amount_cents)} and the interest since) to the tax collector."
    )


#: Why an online payment is refused (a sentence with %(parcel)s and %(day)s); the portal shows it
#: in the resident's language (portal.messages).
LIEN_REFUSAL = (
    "A tax lien was sold on parcel %(parcel)s on %(day)s; its taxes cannot be paid online. "
    "Pay the redemption amount to the tax collector at the counter."
)


def closing_liens(session: Session, invoice_ids: Iterable[int]) -> dict[int, Lien]:
    """The one check: of these invoices, those under a lien that closes online payment, each
    with its (oldest) lien. A redeemed or cancelled lien closes nothing."""
    ids = list(invoice_ids)
    if not ids:
        return {}
    rows = session.execute(
        sa.select(LienInvoice.invoice_id, Lien)
        .join(Lien, LienInvoice.lien_id == Lien.id)
        .where(
            LienInvoice.invoice_id.in_(ids),
            Lien.status == LienStatus.UNDER_LIEN,
            Lien.closes_online.is_(True),
        )
        .order_by(Lien.sale_date.desc(), Lien.id.desc())
    )
    return {invoice_id: lien for invoice_id, lien in rows}


def refusal_of(closed: dict[int, Lien]) -> tuple[str, dict[str, str]]:
    """Why a payment of invoices closed by these liens is refused, as a service's lower-case
    reason, and the words LIEN_REFUSAL is filled with (the oldest lien's)."""
    lien = min(closed.values(), key=lambda lien: (lien.sale_date, lien.id))
    params = {"parcel": lien.parcel.parcel_number, "day": lien.sale_date.isoformat()}
    text = LIEN_REFUSAL % params
    return text[:1].lower() + text[1:].rstrip("."), params


def online_payment_refusal(session: Session, invoice_ids: Iterable[int]) -> str | None:
    """Why an online payment of these invoices is refused (a parcel under a lien that closes
    online payment), in words for the payer; None when it may be taken. Built on closing_liens,
    which record_payment and the portal's pay form ask."""
    closed = closing_liens(session, invoice_ids)
    return refusal_of(closed)[0] if closed else None


def redeem_liens(session: Session, actor: Actor, invoice_ids: Sequence[int]) -> list[int]:
    """Mark redeemed, in one statement, each lien on these invoices whose payments since its
    certification add up to its amount; the ids of the liens redeemed (audited)."""
    if not invoice_ids:
        return []
    paid = (
        sa.select(
            sa.func.coalesce(
                sa.func.sum(
                    sa.case(
                        (Settlement.kind == SettlementKind.REVERSAL, -Settlement.amount_cents),
                        else_=Settlement.amount_cents,
                    )
                ),
                0,
            )
        )
        .join(LienInvoice, LienInvoice.invoice_id == Settlement.invoice_id)
        .where(
            LienInvoice.lien_id == Lien.id,
            LienSale.id == Lien.sale_id,
            Settlement.kind.in_((SettlementKind.PAYMENT, SettlementKind.REVERSAL)),
            Settlement.settled_on >= LienSale.certified_on,
        )
        .scalar_subquery()
    )
    last_paid = (
        sa.select(sa.func.max(Settlement.settled_on))
        .join(LienInvoice, LienInvoice.invoice_id == Settlement.invoice_id)
        .where(LienInvoice.lien_id == Lien.id, Settlement.kind == SettlementKind.PAYMENT)
        .scalar_subquery()
    )
    touched = sa.select(LienInvoice.lien_id).where(LienInvoice.invoice_id.in_(list(invoice_ids)))
    redeemed = session.scalars(
        sa.update(Lien)
        .where(
            Lien.status == LienStatus.UNDER_LIEN,
            Lien.id.in_(touched),
            paid >= Lien.amount_cents,
        )
        .values(status=LienStatus.REDEEMED, redeemed_on=last_paid)
        .returning(Lien.id)
        .execution_options(synchronize_session=False)
    ).all()
    if redeemed:
        record_many(session, actor, "lien.redeem", "Lien", {i: {} for i in redeemed})
    return list(redeemed)


#: The longest reason a cancellation keeps.
REASON_MAX = 500


def cancel_lien(session: Session, actor: Actor, lien: Lien, reason: str, *, today: date) -> Lien:
    """Take a lien back (sold in error, a bankruptcy stay, an abatement): refused (LienError,
    nothing written) without a reason or when the lien is no longer under lien. A cancelled lien
    closes no online payment. Audited (`lien.cancel`); flushes."""
    words = " ".join((reason or "").split())
    if not words:
        raise LienError("reason: say why the lien is cancelled (e.g. sold in error)")
    if len(words) > REASON_MAX:
        raise LienError(f"reason: at most {REASON_MAX} characters")
    if lien.status != LienStatus.UNDER_LIEN:
        raise LienError(
            f"lien: the lien on parcel {lien.parcel.parcel_number} is "
            f"{lien.status.value.replace('_', ' ')}, not under lien"
        )
    lien.status = LienStatus.CANCELLED
    lien.cancelled_on, lien.cancelled_by, lien.cancel_reason = today, actor.label, words
    session.flush()
    record(
        session,
        actor,
        "lien.cancel",
        lien,
        parcel=lien.parcel.parcel_number,
        sale_date=lien.sale_date.isoformat(),
        amount_cents=lien.amount_cents,
        reason=words,
    )
    return lien


def find_lien(session: Session, list_id: str, parcel_number: str) -> Lien | None:
    """A sale list's lien on a parcel, or None."""
    return session.scalar(
        sa.select(Lien)
        .join(LienSale, LienSale.id == Lien.sale_id)
        .join(Parcel, Parcel.id == Lien.parcel_id)
        .where(LienSale.list_id == list_id, Parcel.parcel_number == parcel_number)
    )

"""What each notice says, read from the database into a NoticeDocument (notices.document).

The account summary of a bill comes from the ledger, so that it adds up to the
cent with what the account owes: the previous balance is what the account
owed on the previous bill of the same kind, then the payments and credits,
the penalties and the other charges posted since, and the total due is what
it owes on the issue date.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account, MeterReading, Parcel, ServicePoint
from accounts.services import derive_access_code
from billing.models import Invoice, InvoiceDiscount, InvoiceKind, InvoiceStatus
from billing.position import (
    TAX,
    UTILITY,
    Position,
    account_position,
    group_of,
    group_of_kind,
    positions,
)
from core.money import format_cents
from notices.bill_recipients import address_of, bill_recipient
from notices.delinquent_roll import lien_lines
from notices.document import (
    ActivityRow,
    AlsoOwed,
    Letterhead,
    MeterRead,
    NoticeDocument,
    NoticeKind,
    Recipient,
    Stub,
    Summary,
    UsageMonth,
)
from notices.lines import invoice_lines, read_in
from notices.plan_letters import plan_bill_lines
from notices.receipt_words import card_reference, paid_at, paid_by
from notices.scanline import scan_line
from notices.tax_estimates import second_installment_messages, year_dues
from notices.texts import TEXTS
from payments.convenience_fees import collected_fee_cents
from payments.discount_reversals import taken_back_by
from payments.models import Payment, Receipt, Refund

#: Months of use the bill's chart shows.
USAGE_MONTHS = 24
BILL_KINDS = {InvoiceKind.UTILITY: NoticeKind.UTILITY_BILL, InvoiceKind.TAX: NoticeKind.TAX_BILL}


def letterhead(config: Mapping) -> Letterhead:
    """The municipality, from settings."""
    address = config["MUNICIPALITY_ADDRESS"]
    street, _, rest = address.partition(", ")
    return Letterhead(
        name=config["MUNICIPALITY_NAME"],
        address_lines=(street, rest) if rest else (address,),
        phone=config["MUNICIPALITY_PHONE"],
        website=config["MUNICIPALITY_WEBSITE"],
        logo_path=config.get("MUNICIPALITY_LOGO") or None,
    )


def recipient(account: Account) -> Recipient:
    """The account holder's mailing address, for the envelope window."""
    return address_of(account)


def pay_url(config: Mapping, account: Account) -> str:
    """The quick-pay page of the account (the QR code on every stub)."""
    return f"{config['PUBLIC_BASE_URL']}/pay?account={account.number}"


def access_code(config: Mapping, account: Account) -> str:
    """The quick-pay access code printed beside the account number."""
    return derive_access_code(
        config["ACCESS_CODE_KEY"], account.number, account.access_code_version
    )


class BillFacts:
    """What the bills of a list of invoices need beyond the invoices, read with a few queries.

    A print batch reads a chunk of bills at once; a single notice reads one. Either way
    the same code decides what each bill says, from the account position (billing.position)
    as of the day the bills are made and as of each account's previous bill of the kind.
    """

    def __init__(self, session: Session, invoices: Sequence[Invoice], as_of: date):
        self.session = session
        self.as_of = as_of
        accounts = {i.account_id for i in invoices}
        self.positions = positions(session, accounts, as_of)
        issued: dict[tuple[int, tuple], list[date]] = defaultdict(list)
        for account_id, kind, start, day in session.execute(
            sa.select(
                Invoice.account_id, Invoice.kind, Invoice.period_start, Invoice.issue_date
            ).where(Invoice.account_id.in_(accounts), Invoice.status != InvoiceStatus.VOID)
        ):
            issued[(account_id, group_of_kind(kind, start))].append(day)
        self.previous: dict[int, date | None] = {
            i.id: max(
                (day for day in issued[(i.account_id, group_of(i))] if day < i.issue_date),
                default=None,
            )
            for i in invoices
        }
        by_day: dict[date, set[int]] = defaultdict(set)
        for invoice in invoices:
            if self.previous[invoice.id] is not None:
                by_day[self.previous[invoice.id]].add(invoice.account_id)
        self.earlier = {day: positions(session, ids, day) for day, ids in by_day.items()}
        point_ids = {
            line.service_point_id for i in invoices for line in i.lines if line.service_point_id
        }
        self.points = {
            p.id: p
            for p in session.scalars(sa.select(ServicePoint).where(ServicePoint.id.in_(point_ids)))
        }
        self.reads = self._reads(invoices)
        parcel_ids = {i.parcel_id for i in invoices if i.parcel_id is not None}
        self.parcels = {
            p.id: p for p in session.scalars(sa.select(Parcel).where(Parcel.id.in_(parcel_ids)))
        }

    def _reads(self, invoices: Sequence[Invoice]) -> dict[int, list[tuple[date, int]]]:
        """The reads of the bills' meters up to the last bill's period end."""
        metered = [p.id for p in self.points.values() if p.meter_id]
        last_period = max((i.period_end for i in invoices), default=date.min)
        reads: dict[int, list[tuple[date, int]]] = defaultdict(list)
        if metered:
            for point_id, day, reading in self.session.execute(
                sa.select(MeterReading.service_point_id, MeterReading.read_on, MeterReading.reading)
                .where(
                    MeterReading.service_point_id.in_(metered),
                    MeterReading.read_on <= last_period,
                )
                .order_by(MeterReading.service_point_id, MeterReading.read_on)
            ):
                reads[point_id].append((day, reading))
        return reads

    def position(self, invoice: Invoice) -> Position:
        """The account's position on the day the bills are made."""
        return self.positions[invoice.account_id]

    def summary(self, invoice: Invoice) -> Summary:
        """The bill's account summary for its own group (the utilities, or the tax year): what
        was owed at the previous bill, then what came since, to what is owed on the day."""
        group, year = group_of(invoice)
        now = self.position(invoice)
        day = self.previous[invoice.id]
        then = self.earlier[day][invoice.account_id] if day is not None else None

        def change(measure) -> int:
            return measure(now) - (measure(then) if then is not None else 0)

        return Summary(
            previous_balance_cents=then.owed_cents(group, year) if then is not None else 0,
            payments_and_credits_cents=change(lambda p: p.settled_cents(group, year)),
            penalties_cents=change(lambda p: p.billed_cents(group, year, charges=True)),
            current_charges_cents=change(lambda p: p.billed_cents(group, year)),
            total_due_cents=now.owed_cents(group, year),
        )

    def also_owed(self, invoice: Invoice) -> tuple[AlsoOwed, ...]:
        """What the account owes outside the bill's group, each on its own line."""
        group, year = group_of(invoice)
        now = self.position(invoice)
        owed: dict[tuple[str, int], int] = defaultdict(int)
        for c in now.classes:
            r = c.receivable
            if (r.group, r.tax_year if r.group == TAX else None) != (group, year):
                owed[(r.group, r.tax_year)] += c.owed_cents
        return tuple(AlsoOwed(g, y, cents) for (g, y), cents in sorted(owed.items()) if cents > 0)

    def reads_and_usage(
        self, invoice: Invoice
    ) -> tuple[tuple[MeterRead, ...], tuple[UsageMonth, ...]]:
        """The meter reads of the bill's period and up to 24 months of use (the first meter's)."""
        reads: list[MeterRead] = []
        usage: tuple[UsageMonth, ...] = ()
        ids = sorted({line.service_point_id for line in invoice.lines if line.service_point_id})
        for point in (self.points[i] for i in ids if self.points[i].meter_id):
            history = [r for r in self.reads[point.id] if r[0] <= invoice.period_end][
                -(USAGE_MONTHS + 1) :
            ]
            if len(history) < 2:
                continue
            (read_from, previous), (read_to, current) = history[-2], history[-1]
            reads.append(
                MeterRead(
                    meter_id=point.meter_id,
                    service=point.service_kind,
                    read_from=read_from,
                    read_to=read_to,
                    previous=Decimal(previous),
                    current=Decimal(current),
                    consumption=Decimal(_difference(previous, current, point.dial_digits)),
                    unit=point.meter_unit or "",
                )
            )
            if not usage:
                usage = tuple(
                    UsageMonth(
                        f"{later[0]:%Y-%m}",
                        Decimal(_difference(earlier[1], later[1], point.dial_digits)),
                    )
                    for earlier, later in zip(history, history[1:], strict=False)
                )
        return tuple(reads), usage

    def location(self, invoice: Invoice) -> str:
        """The service address or the parcel the bill is about."""
        if invoice.parcel_id is not None:
            parcel = self.parcels[invoice.parcel_id]
            return f"{parcel.parcel_number} — {parcel.situs_street}, {parcel.situs_city}"
        ids = sorted({line.service_point_id for line in invoice.lines if line.service_point_id})
        if not ids:
            return ""
        point = self.points[ids[0]]
        return f"{point.service_street}, {point.service_city}"


def _difference(before: int, after: int, dial_digits: int | None) -> int:
    """What a register advanced, rolling over past its dials."""
    used = after - before
    if used < 0 and dial_digits:
        used += 10**dial_digits
    return max(used, 0)


def pay_by(config: Mapping, due: date, day: date) -> date:
    """The date a notice made on `day` asks payment by: the due date while it is ahead, else
    REMINDER_PAY_DAYS after the notice (never a date before the notice is made)."""
    return due if due >= day else day + timedelta(days=config["REMINDER_PAY_DAYS"])


def stub(config: Mapping, account: Account, cents: int, due: date, label: str | None = None):
    """One remittance stub: the amount, the date, the scan line that encodes both."""
    return Stub(
        account_number=account.number,
        amount_due_cents=cents,
        due_date=due,
        scan_line=scan_line(account.number, cents, due),
        pay_url=pay_url(config, account),
        label=label,
    )


def _bill_stubs(
    config: Mapping,
    account: Account,
    invoice: Invoice,
    position: Position,
    day: date,
    year_dues: Mapping[int, date],
) -> tuple[Stub, ...]:
    """A utility bill's one stub for what its services owe; a tax bill's one stub per installment
    still owing (its penalties with it); together they are the bill's total due."""
    group, year = group_of(invoice)
    if group == UTILITY:
        owed = position.owed_cents(UTILITY)
        return (
            (stub(config, account, owed, pay_by(config, invoice.due_date, day)),)
            if owed > 0
            else ()
        )
    owed: dict[int, int] = defaultdict(int)
    for c in position.of(TAX, year):
        owed[c.receivable.installment] += c.owed_cents
    dues = {part.number: part.due_date for part in invoice.installments} or {0: invoice.due_date}
    # NOTE: an estimated first installment and the year's bill are two invoices of one year:
    # what either still owes is on the other's stubs too (billing/estimates.py).
    for number, due in year_dues.items():
        dues.setdefault(number, due)
    numbers = sorted(dues)
    # NOTE: charges on the bill as a whole (installment 0) go on the first stub still owing.
    whole = owed.pop(0, 0) if 0 not in dues else 0
    if whole:
        owed[next((n for n in numbers if owed[n] > 0), numbers[0])] += whole
    count = len(invoice.installments) and max(len(invoice.installments), *numbers)
    if invoice.estimated:
        count = max(count, 2)
    return tuple(
        stub(
            config,
            account,
            owed[n],
            pay_by(config, dues[n], day),
            f"{n}/{count}" if count else None,
        )
        for n in numbers
        if owed[n] > 0
    )


def bill(
    session: Session,
    config: Mapping,
    invoice: Invoice,
    kind: NoticeKind | None = None,
    *,
    on: date | None = None,
    facts: BillFacts | None = None,
) -> NoticeDocument:
    """A bill (utility or tax), or a reminder, past-due or final notice about it.

    Every amount is the account position (billing.position) as of `on`, the day the notice is
    made (the issue date unless told), for the bill's own group: a utility document covers the
    utility services and their penalties, a tax document that tax year; what else is owed is
    listed apart. `facts` are read for this invoice alone unless a batch passes them in.
    """
    day = on or invoice.issue_date
    facts = facts or BillFacts(session, [invoice], day)
    kind = kind or BILL_KINDS[invoice.kind]
    account = invoice.account
    group, year = group_of(invoice)
    position = facts.position(invoice)
    totals = facts.summary(invoice)
    reads, usage = (
        facts.reads_and_usage(invoice) if invoice.kind == InvoiceKind.UTILITY else ((), ())
    )
    messages: tuple[str, ...] = ()
    action_date = None
    if kind == NoticeKind.FINAL:
        action_date = day + timedelta(days=config["FINAL_NOTICE_DAYS"])
        wording = (
            config["FINAL_NOTICE_TAX"]
            if invoice.kind == InvoiceKind.TAX
            else config["FINAL_NOTICE_UTILITY"]
        )
        messages = (wording[account.language.value],)
    messages += plan_bill_lines(session, account, day)
    if invoice.kind == InvoiceKind.TAX:
        messages += lien_lines(session, invoice)
    if kind == NoticeKind.TAX_BILL:
        messages += second_installment_messages(session, invoice)
        messages += discount_offers(session, invoice, position, day)
    if kind in BILL_KINDS.values():
        stubs = _bill_stubs(config, account, invoice, position, day, year_dues(session, invoice))
    elif totals.total_due_cents > 0:
        due = action_date or pay_by(config, invoice.due_date, day)
        stubs = (stub(config, account, totals.total_due_cents, due),)
    else:
        stubs = ()
    return NoticeDocument(
        kind=kind,
        language=account.language.value,
        letterhead=letterhead(config),
        recipient=bill_recipient(session, invoice, recipient(account)),
        account_number=account.number,
        access_code=access_code(config, account),
        issue_date=day if kind not in BILL_KINDS.values() else invoice.issue_date,
        reference=invoice.number,
        service_location=facts.location(invoice),
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        due_date=invoice.due_date,
        lines=invoice_lines(invoice, account.language.value),
        reads=tuple(read_in(read, account.language.value) for read in reads),
        usage=usage,
        summary=totals,
        stubs=stubs,
        messages=messages,
        penalty_cents=position.billed_cents(group, year, charges=True),
        action_date=action_date,
        amount_cents=totals.total_due_cents,
        as_of=day if day != invoice.issue_date else None,
        also_owed=facts.also_owed(invoice),
    )


def receipt(session: Session, config: Mapping, row: Receipt) -> NoticeDocument:
    """A payment's receipt: what it paid, on which bills, and what is still owed."""
    payment = session.get(Payment, row.payment_id)
    account = session.get(Account, row.account_id)
    texts = TEXTS[account.language.value]
    day = row.paid_on
    # NOTE: the charges a payment settled are one line per bill, installment and kind, not one
    # per month of interest.
    paid: dict[tuple[str, int, str], int] = defaultdict(int)
    for part in row.paid:
        paid[(part["invoice"], part.get("installment") or 0, part["category"])] += part["cents"]
    activity = [
        ActivityRow(day=day, description=_paid_on(texts, *key), amount_cents=-cents)
        for key, cents in paid.items()
    ]
    if row.credit_cents:
        activity.append(
            ActivityRow(day=day, description=texts["paid.credit"], amount_cents=-row.credit_cents)
        )
    return NoticeDocument(
        kind=NoticeKind.RECEIPT,
        language=account.language.value,
        letterhead=letterhead(config),
        recipient=recipient(account),
        account_number=account.number,
        access_code=None,
        issue_date=day,
        reference=row.number,
        activity=tuple(activity),
        amount_cents=row.amount_cents,
        tender=paid_by(texts, payment),
        balance_after_cents=row.balance_after_cents,
        paid_at=paid_at(config, row),
        card_reference=card_reference(payment),
        convenience_fee_cents=collected_fee_cents(session, payment),
    )


def _paid_on(texts: Mapping, invoice: str, installment: int, category: str) -> str:
    """What part of a payment went to, in words for residents."""
    what = texts.get(f"paid.{category}", texts["paid.principal"])
    where = texts["paid.installment"].format(n=installment) if installment else ""
    return what.format(ref=invoice) + where


def refund_notice(session: Session, config: Mapping, refund: Refund) -> NoticeDocument:
    """A refund notice: how much goes back and on which payment (its date, method, receipt and
    amount), in words for residents; the staff's reason stays on the staff's pages."""
    payment = session.get(Payment, refund.payment_id)
    account = session.get(Account, payment.account_id)
    texts = TEXTS[account.language.value]
    receipt = session.scalar(sa.select(Receipt).where(Receipt.payment_id == payment.id))
    paid_on = receipt.paid_on if receipt is not None else refund.refunded_on
    how = paid_by(texts, payment)
    description = texts["refund.of_payment"].format(
        tender=how,
        amount=format_cents(payment.amount_cents),
        date=numeric_date(paid_on, account.language.value),
        receipt=receipt.number if receipt is not None else payment.id,
    )
    day = refund.refunded_on
    # NOTE: a bill re-opened that was paid in time owes its discount again (discount_reversals).
    taken = taken_back_by(session, f"refund:{refund.id}")
    again = texts["activity.discount_reversed"]
    activity = [ActivityRow(day, description, refund.amount_cents)]
    activity += [ActivityRow(day, again.format(ref=number), cents) for number, cents in taken]
    return NoticeDocument(
        kind=NoticeKind.REFUND,
        language=account.language.value,
        letterhead=letterhead(config),
        recipient=recipient(account),
        account_number=account.number,
        access_code=None,
        issue_date=day,
        reference=f"RF-{refund.id:06d}",
        activity=tuple(activity),
        amount_cents=refund.amount_cents,
        tender=how,
        messages=(refund.resident_text,) if refund.resident_text else (),
        balance_after_cents=account_position(session, account.id, day).owed_cents(),
    )


def numeric_date(day: date, language: str) -> str:
    """A date in figures as the language writes them: 12/05/2026 or 05/12/2026."""
    if language == "es":
        return f"{day.day:02d}/{day.month:02d}/{day.year}"
    return f"{day.month:02d}/{day.day:02d}/{day.year}"


def discount_offers(
    session: Session, invoice: Invoice, position: Position, day: date
) -> tuple[str, ...]:
    """A tax bill's early-payment discounts still open on the day, in the resident's words:
    what the bill (or the installment) still owes in the account position less the discount,
    and by when; a payment of that much by then settles it (payments.discounts)."""
    language = invoice.account.language.value
    texts = TEXTS[language]
    offers = session.scalars(
        sa.select(InvoiceDiscount)
        .where(InvoiceDiscount.invoice_id == invoice.id, InvoiceDiscount.pay_by >= day)
        .order_by(InvoiceDiscount.pay_by)
    ).all()
    messages = []
    for offer in offers:
        number = offer.installment_number
        owed = (
            position.by_installment.get((invoice.id, number), 0)
            if number
            else position.by_invoice.get(invoice.id, 0)
        )
        if 0 < offer.discount_cents < owed:
            key = "discount.offer_installment" if number else "discount.offer"
            messages.append(
                str(texts[key]).format(
                    amount=format_cents(owed - offer.discount_cents),
                    date=numeric_date(offer.pay_by, language),
                    percent=format(offer.percent.normalize(), "f"),
                    discount=format_cents(offer.discount_cents),
                    n=number,
                )
            )
    return tuple(messages)

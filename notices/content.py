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

from billing import chart
from billing.accounts import derive_access_code
from billing.ledger import accounts_receivable
from billing.models import (
    Account,
    GLAccount,
    GLCategory,
    Invoice,
    InvoiceCharge,
    InvoiceKind,
    InvoiceStatus,
    JournalEntry,
    JournalLine,
    MeterReading,
    Parcel,
    ServicePoint,
)
from notices.document import (
    ActivityRow,
    Letterhead,
    Line,
    MeterRead,
    NoticeDocument,
    NoticeKind,
    Recipient,
    Stub,
    Summary,
    UsageMonth,
)
from notices.scanline import scan_line
from payments.models import Payment, Receipt, Refund

#: Months of use the bill's chart shows.
USAGE_MONTHS = 13
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
    lines = [account.mail_street]
    if account.mail_street2:
        lines.append(account.mail_street2)
    lines.append(f"{account.mail_city} {account.mail_state} {account.mail_zip}")
    return Recipient(
        name=account.holder_name,
        lines=tuple(lines),
        zip_code=recipient_zip(account.mail_zip),
    )


def recipient_zip(mail_zip: str) -> str:
    """The ZIP code the mail house presorts by: the digits of the mailing ZIP."""
    return "".join(ch for ch in mail_zip if ch.isdigit())


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

    A print batch reads a chunk of bills at once; a single notice reads one.
    Either way the same code decides what each bill says.
    """

    def __init__(self, session: Session, invoices: Sequence[Invoice]):
        self.session = session
        ids = [i.id for i in invoices]
        accounts = {i.account_id for i in invoices}
        last_day = max((i.issue_date for i in invoices), default=date.min)
        self.issue_dates: dict[tuple[int, InvoiceKind], list[date]] = defaultdict(list)
        for account_id, kind, day in session.execute(
            sa.select(Invoice.account_id, Invoice.kind, Invoice.issue_date).where(
                Invoice.account_id.in_(accounts)
            )
        ):
            self.issue_dates[(account_id, kind)].append(day)
        self.ledger: dict[int, list[tuple[date, str, int, int]]] = defaultdict(list)
        for account_id, day, code, debit, credit in session.execute(
            sa.select(
                JournalLine.account_id,
                JournalEntry.entry_date,
                GLAccount.code,
                JournalLine.debit_cents,
                JournalLine.credit_cents,
            )
            .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
            .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
            .where(
                JournalLine.account_id.in_(accounts),
                GLAccount.category == GLCategory.RECEIVABLE,
                JournalEntry.entry_date <= last_day,
            )
        ):
            self.ledger[account_id].append((day, code, debit, credit))
        self.charges: dict[int, tuple[int, int]] = {
            invoice_id: (int(amount), int(balance))
            for invoice_id, amount, balance in session.execute(
                sa.select(
                    InvoiceCharge.invoice_id,
                    sa.func.sum(InvoiceCharge.amount_cents),
                    sa.func.sum(InvoiceCharge.balance_cents),
                )
                .where(InvoiceCharge.invoice_id.in_(ids), InvoiceCharge.waived_at.is_(None))
                .group_by(InvoiceCharge.invoice_id)
            )
        }
        point_ids = {
            line.service_point_id for i in invoices for line in i.lines if line.service_point_id
        }
        self.points = {
            p.id: p
            for p in session.scalars(sa.select(ServicePoint).where(ServicePoint.id.in_(point_ids)))
        }
        metered = [p.id for p in self.points.values() if p.meter_id]
        last_period = max((i.period_end for i in invoices), default=date.min)
        self.reads: dict[int, list[tuple[date, int]]] = defaultdict(list)
        if metered:
            for point_id, day, reading in session.execute(
                sa.select(MeterReading.service_point_id, MeterReading.read_on, MeterReading.reading)
                .where(
                    MeterReading.service_point_id.in_(metered),
                    MeterReading.read_on <= last_period,
                )
                .order_by(MeterReading.service_point_id, MeterReading.read_on)
            ):
                self.reads[point_id].append((day, reading))
        parcel_ids = {i.parcel_id for i in invoices if i.parcel_id is not None}
        self.parcels = {
            p.id: p for p in session.scalars(sa.select(Parcel).where(Parcel.id.in_(parcel_ids)))
        }

    def summary(self, invoice: Invoice) -> Summary:
        """The bill's account summary, from the ledger (adds up to the cent)."""
        earlier = [
            day
            for day in self.issue_dates[(invoice.account_id, invoice.kind)]
            if day < invoice.issue_date
        ]
        previous = max(earlier, default=None)
        before = credits = penalties = charges = 0
        for day, code, debit, credit in self.ledger[invoice.account_id]:
            if day > invoice.issue_date:
                continue
            if previous is not None and day <= previous:
                before += debit - credit
            elif code == chart.PENALTY_RECEIVABLE:
                penalties += debit
                credits += credit
            else:
                charges += debit
                credits += credit
        return Summary(
            previous_balance_cents=before,
            payments_and_credits_cents=credits,
            penalties_cents=penalties,
            current_charges_cents=charges,
            total_due_cents=before - credits + penalties + charges,
        )

    def charges_of(self, invoice: Invoice) -> tuple[int, int]:
        """(penalties and interest assessed, what of them is still owed) on the invoice."""
        return self.charges.get(invoice.id, (0, 0))

    def reads_and_usage(
        self, invoice: Invoice
    ) -> tuple[tuple[MeterRead, ...], tuple[UsageMonth, ...]]:
        """The meter reads of the bill's period and up to 13 months of use (the first meter's)."""
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


def _lines(invoice: Invoice) -> tuple[Line, ...]:
    """The invoice's lines with their arithmetic."""
    return tuple(
        Line(
            description=line.description,
            amount_cents=line.amount_cents,
            quantity=line.quantity,
            unit=line.unit,
            rate=line.unit_rate,
        )
        for line in invoice.lines
    )


def _difference(before: int, after: int, dial_digits: int | None) -> int:
    """What a register advanced, rolling over past its dials."""
    used = after - before
    if used < 0 and dial_digits:
        used += 10**dial_digits
    return max(used, 0)


def _stubs(config: Mapping, account: Account, invoice: Invoice, total_due: int) -> tuple[Stub, ...]:
    """One stub for a utility bill (the total due), one per unpaid installment of a tax bill."""
    url = pay_url(config, account)
    if invoice.installments:
        count = len(invoice.installments)
        return tuple(
            Stub(
                account_number=account.number,
                amount_due_cents=part.balance_cents,
                due_date=part.due_date,
                scan_line=scan_line(account.number, part.balance_cents, part.due_date),
                pay_url=url,
                label=f"{part.number}/{count}",
            )
            for part in invoice.installments
            if part.balance_cents > 0
        )
    due = max(total_due, 0)
    return (
        Stub(
            account_number=account.number,
            amount_due_cents=due,
            due_date=invoice.due_date,
            scan_line=scan_line(account.number, due, invoice.due_date),
            pay_url=url,
        ),
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

    `facts` are read for this invoice alone unless a batch passes them in.
    """
    facts = facts or BillFacts(session, [invoice])
    kind = kind or BILL_KINDS[invoice.kind]
    account = invoice.account
    totals = facts.summary(invoice)
    reads, usage = (
        facts.reads_and_usage(invoice) if invoice.kind == InvoiceKind.UTILITY else ((), ())
    )
    penalty, charges_owed = facts.charges_of(invoice)
    messages: tuple[str, ...] = ()
    action_date = None
    if kind == NoticeKind.FINAL:
        action_date = (on or invoice.due_date) + timedelta(days=config["FINAL_NOTICE_DAYS"])
        wording = (
            config["FINAL_NOTICE_TAX"]
            if invoice.kind == InvoiceKind.TAX
            else config["FINAL_NOTICE_UTILITY"]
        )
        messages = (wording[account.language.value],)
    owed_now = invoice.balance_cents + charges_owed
    due_stubs: tuple[Stub, ...] = ()
    if kind not in (NoticeKind.REMINDER, NoticeKind.PAST_DUE, NoticeKind.FINAL):
        due_stubs = _stubs(config, account, invoice, totals.total_due_cents)
    elif owed_now > 0:
        pay_by = action_date or invoice.due_date
        due_stubs = (
            Stub(
                account_number=account.number,
                amount_due_cents=owed_now,
                due_date=pay_by,
                scan_line=scan_line(account.number, owed_now, pay_by),
                pay_url=pay_url(config, account),
            ),
        )
    return NoticeDocument(
        kind=kind,
        language=account.language.value,
        letterhead=letterhead(config),
        recipient=recipient(account),
        account_number=account.number,
        access_code=access_code(config, account),
        issue_date=on or invoice.issue_date,
        reference=invoice.number,
        service_location=facts.location(invoice),
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        due_date=invoice.due_date,
        lines=_lines(invoice),
        reads=reads,
        usage=usage,
        summary=totals,
        stubs=due_stubs,
        messages=messages,
        penalty_cents=penalty,
        action_date=action_date,
        amount_cents=owed_now,
    )


def receipt(session: Session, config: Mapping, row: Receipt) -> NoticeDocument:
    """A payment's receipt: what it paid, on which bills, and what is still owed."""
    payment = session.get(Payment, row.payment_id)
    account = session.get(Account, row.account_id)
    day = row.issued_at.date()
    activity = [
        ActivityRow(
            day=day,
            description=f"{paid['invoice']}"
            + (f" #{paid['installment']}" if paid.get("installment") else "")
            + ("" if paid["category"] == "principal" else f" ({paid['category']})"),
            amount_cents=-paid["cents"],
        )
        for paid in row.paid
    ]
    if row.credit_cents:
        activity.append(ActivityRow(day=day, description="credit", amount_cents=-row.credit_cents))
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
        tender=payment.tender.value,
        balance_after_cents=row.balance_after_cents,
    )


def refund_notice(session: Session, config: Mapping, refund: Refund) -> NoticeDocument:
    """A refund notice: how much goes back, on which payment, and why."""
    payment = session.get(Payment, refund.payment_id)
    account = session.get(Account, payment.account_id)
    day = refund.created_at.date()
    return NoticeDocument(
        kind=NoticeKind.REFUND,
        language=account.language.value,
        letterhead=letterhead(config),
        recipient=recipient(account),
        account_number=account.number,
        access_code=None,
        issue_date=day,
        reference=f"RF-{refund.id:06d}",
        activity=(
            ActivityRow(
                day=day,
                description=f"{refund.reason}",
                amount_cents=refund.amount_cents,
            ),
        ),
        amount_cents=refund.amount_cents,
        tender=payment.tender.value,
        messages=(refund.reason,),
        balance_after_cents=accounts_receivable(session, [account.id])[account.id],
    )


def statement(
    session: Session, config: Mapping, account: Account, start: date, end: date
) -> NoticeDocument:
    """An account statement: the opening balance, every bill, payment and credit, the closing balance."""
    rows = session.execute(
        sa.select(
            JournalEntry.entry_date,
            JournalEntry.memo,
            sa.func.sum(JournalLine.debit_cents - JournalLine.credit_cents),
        )
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
        .where(
            JournalLine.account_id == account.id,
            GLAccount.category == GLCategory.RECEIVABLE,
            JournalEntry.entry_date <= end,
        )
        .group_by(JournalEntry.id, JournalEntry.entry_date, JournalEntry.memo, JournalEntry.seq)
        .order_by(JournalEntry.seq)
    ).all()
    opening = sum(int(cents) for day, _, cents in rows if day < start)
    balance, activity = opening, []
    for day, memo, cents in rows:
        if day < start or not cents:
            continue
        balance += int(cents)
        activity.append(ActivityRow(day, memo, int(cents), balance))
    open_invoices = session.scalars(
        sa.select(Invoice)
        .where(
            Invoice.account_id == account.id,
            Invoice.status.in_((InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)),
        )
        .order_by(Invoice.due_date)
    ).all()
    due = open_invoices[0].due_date if open_invoices else None
    stubs = (
        (
            Stub(
                account_number=account.number,
                amount_due_cents=balance,
                due_date=due,
                scan_line=scan_line(account.number, balance, due),
                pay_url=pay_url(config, account),
            ),
        )
        if balance > 0 and due is not None
        else ()
    )
    return NoticeDocument(
        kind=NoticeKind.STATEMENT,
        language=account.language.value,
        letterhead=letterhead(config),
        recipient=recipient(account),
        account_number=account.number,
        access_code=access_code(config, account),
        issue_date=end,
        reference=f"{start:%Y-%m-%d} – {end:%Y-%m-%d}",
        period_start=start,
        period_end=end,
        due_date=due,
        activity=tuple(activity),
        summary=Summary(
            previous_balance_cents=opening,
            payments_and_credits_cents=-sum(r.amount_cents for r in activity if r.amount_cents < 0),
            penalties_cents=0,
            current_charges_cents=sum(r.amount_cents for r in activity if r.amount_cents > 0),
            total_due_cents=balance,
        ),
        stubs=stubs,
        balance_after_cents=balance,
    )

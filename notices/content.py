"""What each notice says, read from the database into a NoticeDocument (notices.document).

The account summary of a bill comes from the ledger, so that it adds up to the
cent with what the account owes: the previous balance is what the account
owed on the previous bill of the same kind, then the payments and credits,
the penalties and the other charges posted since, and the total due is what
it owes on the issue date.
"""

from __future__ import annotations

from collections.abc import Mapping
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
        zip_code="".join(ch for ch in account.mail_zip if ch.isdigit()),
    )


def pay_url(config: Mapping, account: Account) -> str:
    """The quick-pay page of the account (the QR code on every stub)."""
    return f"{config['PUBLIC_BASE_URL']}/pay?account={account.number}"


def access_code(config: Mapping, account: Account) -> str:
    """The quick-pay access code printed beside the account number."""
    return derive_access_code(
        config["ACCESS_CODE_KEY"], account.number, account.access_code_version
    )


def _receivable_movements(
    session: Session, account_id: int, after: date | None, upto: date
) -> tuple[int, int, int, int]:
    """(owed on `after`, credits since, penalties since, other charges since) from the ledger."""
    lines = (
        sa.select(
            JournalEntry.entry_date,
            GLAccount.code,
            JournalLine.debit_cents,
            JournalLine.credit_cents,
        )
        .join(JournalEntry, JournalEntry.id == JournalLine.entry_id)
        .join(GLAccount, GLAccount.id == JournalLine.gl_account_id)
        .where(
            JournalLine.account_id == account_id,
            GLAccount.category == GLCategory.RECEIVABLE,
            JournalEntry.entry_date <= upto,
        )
    )
    before = credits = penalties = charges = 0
    for day, code, debit, credit in session.execute(lines):
        if after is not None and day <= after:
            before += debit - credit
        elif code == chart.PENALTY_RECEIVABLE:
            penalties += debit
            credits += credit
        else:
            charges += debit
            credits += credit
    return before, credits, penalties, charges


def summary(session: Session, invoice: Invoice) -> Summary:
    """The bill's account summary, from the ledger (adds up to the cent)."""
    previous = session.scalar(
        sa.select(sa.func.max(Invoice.issue_date)).where(
            Invoice.account_id == invoice.account_id,
            Invoice.kind == invoice.kind,
            Invoice.issue_date < invoice.issue_date,
        )
    )
    before, credits, penalties, charges = _receivable_movements(
        session, invoice.account_id, previous, invoice.issue_date
    )
    return Summary(
        previous_balance_cents=before,
        payments_and_credits_cents=credits,
        penalties_cents=penalties,
        current_charges_cents=charges,
        total_due_cents=before - credits + penalties + charges,
    )


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


def _metered_points(session: Session, invoice: Invoice) -> list[ServicePoint]:
    """The service points with a meter that the invoice bills."""
    ids = {line.service_point_id for line in invoice.lines if line.service_point_id}
    if not ids:
        return []
    return list(
        session.scalars(
            sa.select(ServicePoint)
            .where(ServicePoint.id.in_(ids), ServicePoint.meter_id.is_not(None))
            .order_by(ServicePoint.id)
        )
    )


def _difference(before: int, after: int, dial_digits: int | None) -> int:
    """What a register advanced, rolling over past its dials."""
    used = after - before
    if used < 0 and dial_digits:
        used += 10**dial_digits
    return max(used, 0)


def _reads_and_usage(
    session: Session, invoice: Invoice
) -> tuple[tuple[MeterRead, ...], tuple[UsageMonth, ...]]:
    """The meter reads of the bill's period and up to 13 months of use (the first meter's)."""
    reads: list[MeterRead] = []
    usage: tuple[UsageMonth, ...] = ()
    for point in _metered_points(session, invoice):
        history = session.execute(
            sa.select(MeterReading.read_on, MeterReading.reading)
            .where(
                MeterReading.service_point_id == point.id,
                MeterReading.read_on <= invoice.period_end,
            )
            .order_by(MeterReading.read_on.desc())
            .limit(USAGE_MONTHS + 1)
        ).all()[::-1]
        if len(history) < 2:
            continue
        (read_from, previous), (read_to, current) = history[-2], history[-1]
        used = _difference(previous, current, point.dial_digits)
        reads.append(
            MeterRead(
                meter_id=point.meter_id,
                service=point.service_kind,
                read_from=read_from,
                read_to=read_to,
                previous=Decimal(previous),
                current=Decimal(current),
                consumption=Decimal(used),
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


def _location(session: Session, invoice: Invoice) -> str:
    """The service address or the parcel the bill is about."""
    if invoice.parcel_id is not None:
        parcel = session.get(Parcel, invoice.parcel_id)
        return f"{parcel.parcel_number} — {parcel.situs_street}, {parcel.situs_city}"
    point = session.scalar(
        sa.select(ServicePoint)
        .where(
            ServicePoint.id.in_(
                [line.service_point_id for line in invoice.lines if line.service_point_id]
            )
        )
        .order_by(ServicePoint.id)
        .limit(1)
    )
    return f"{point.service_street}, {point.service_city}" if point is not None else ""


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
) -> NoticeDocument:
    """A bill (utility or tax), or a reminder, past-due or final notice about it."""
    kind = kind or BILL_KINDS[invoice.kind]
    account = invoice.account
    totals = summary(session, invoice)
    reads, usage = (
        _reads_and_usage(session, invoice) if invoice.kind == InvoiceKind.UTILITY else ((), ())
    )
    penalty = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(InvoiceCharge.amount_cents), 0)).where(
            InvoiceCharge.invoice_id == invoice.id, InvoiceCharge.waived_at.is_(None)
        )
    )
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
    charges_owed = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(InvoiceCharge.balance_cents), 0)).where(
            InvoiceCharge.invoice_id == invoice.id, InvoiceCharge.waived_at.is_(None)
        )
    )
    owed_now = invoice.balance_cents + int(charges_owed or 0)
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
        service_location=_location(session, invoice),
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        due_date=invoice.due_date,
        lines=_lines(invoice),
        reads=reads,
        usage=usage,
        summary=totals,
        stubs=due_stubs,
        messages=messages,
        penalty_cents=int(penalty or 0),
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

"""Reminders: a notice at each stage of an unpaid invoice, one consolidated notice per account.

The stages come from REMINDER_STAGES ("name:days:kind,..."): a stage is due
for an invoice once the day is at least its due date plus the stage's days.
A tax bill in installments goes through the stages once per installment, each
counted from that installment's due date: the second installment is reminded
when it falls overdue, whatever the first one reached. Each run sends, for each
invoice (or installment) that still owes, only the latest due stage not sent
yet, and never an earlier stage after a later one: after a month without runs a
resident gets the final notice once, not four notices at once.

An account gets one notice per run listing every invoice reminded that day,
of the most severe kind among their stages (final, past due, reminder):
e-mailed to a working address, else printed in the run's print batch. One
Reminder row per invoice, installment (0 for a bill without installments) and
stage is inserted before anything goes out; the unique (invoice, installment,
stage) key makes a second run at the same moment fail for that account instead
of sending twice. A temporary e-mail failure keeps
nothing for the account, so the next run sends it again.

Invoices paused by a clerk (ReminderPause on the invoice or its account, not
resumed) are skipped, and so are the accounts with an open card dispute and the invoices a
current payment plan includes when its rule pauses reminders (billing.arrangements): once the
plan defaults or is cancelled, the stages due are sent again from the next run.

(The module is a little over 500 lines: the stages, the plan and the sending of one run read
best together.)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from accounts.models import Account
from billing.arrangements import paused_windows, within
from billing.models import Invoice, InvoiceCharge, InvoiceKind, InvoiceStatus
from billing.position import Position, account_position, group_of
from core.audit import Actor, record
from notices import content
from notices.document import ActivityRow, AlsoOwed, NoticeDocument, NoticeKind, Stub
from notices.issuing import email_notice, issue, render_notice
from notices.mail_delivery import Mailer
from notices.models import Delivery, Notice, NoticeBatch, Reminder, ReminderPause
from notices.print_batches import Printed, _merge
from notices.scanline import scan_line
from payments.bank_payments import debits_in_flight
from payments.models import Dispute, DisputeStatus, Payment

#: The notice kinds a stage may send, least severe first.
SEVERITY = (NoticeKind.REMINDER, NoticeKind.PAST_DUE, NoticeKind.FINAL)
#: Invoices that still owe.
OWING = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)
#: The longest stage name the reminder table holds.
NAME_LENGTH = 16
#: "(due 11/23/2026)" after the invoice number, in the notice's language.
DUE_WORD = {"en": "due", "es": "vence"}


@dataclass(frozen=True)
class Stage:
    """One reminder stage: its name, days from the due date (negative: before it), notice kind."""

    name: str
    days: int
    kind: NoticeKind


def parse_stages(text: str) -> tuple[Stage, ...]:
    """REMINDER_STAGES as stages in the order they fall due; ValueError naming the bad part."""
    stages: list[Stage] = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        pieces = [p.strip() for p in part.split(":")]
        if len(pieces) != 3:
            raise ValueError(
                f"REMINDER_STAGES: {part!r} is not name:days:kind (e.g. past_due:10:past_due)"
            )
        name, days, kind = pieces
        if not name or len(name) > NAME_LENGTH:
            raise ValueError(
                f"REMINDER_STAGES: {part!r} needs a stage name of 1 to {NAME_LENGTH} characters"
            )
        try:
            offset = int(days)
        except ValueError:
            raise ValueError(
                f"REMINDER_STAGES: {part!r} has days {days!r}, not a whole number"
            ) from None
        if kind not in {k.value for k in SEVERITY}:
            raise ValueError(
                f"REMINDER_STAGES: {part!r} has kind {kind!r}; "
                f"the kinds are {', '.join(k.value for k in SEVERITY)}"
            )
        if any(s.name == name for s in stages):
            raise ValueError(f"REMINDER_STAGES: the stage name {name!r} appears twice")
        if any(s.days == offset for s in stages):
            raise ValueError(f"REMINDER_STAGES: two stages fall on day {offset} ({part!r})")
        stages.append(Stage(name, offset, NoticeKind(kind)))
    if not stages:
        raise ValueError("REMINDER_STAGES: no stages given")
    return tuple(sorted(stages, key=lambda s: s.days))


def base_due_date(invoice: Invoice) -> date:
    """The due date the stages count from: the earliest unpaid installment's, else the invoice's."""
    unpaid = [part.due_date for part in invoice.installments if part.balance_cents > 0]
    return min(unpaid, default=invoice.due_date)


def stage_to_send(
    stages: tuple[Stage, ...], due: date, as_of: date, sent: set[str]
) -> Stage | None:
    """The latest stage due by as_of, unless it or a later stage was already sent."""
    due_now = [i for i, stage in enumerate(stages) if as_of >= due + timedelta(days=stage.days)]
    if not due_now:
        return None
    latest = due_now[-1]
    if any(stage.name in sent for stage in stages[latest:]):
        return None
    return stages[latest]


@dataclass
class Planned:
    """The reminders of one account this run: (invoice id, stage) pairs, the most severe stage
    of each invoice; and the stages claimed, (invoice id, installment number, stage)."""

    account_id: int
    items: list[tuple[int, Stage]] = field(default_factory=list)
    stages: list[tuple[int, int, Stage]] = field(default_factory=list)


def subjects(invoice: Invoice) -> list[tuple[int, date]]:
    """What the stages count from: (installment number, due date) of each unpaid installment;
    the first installment once every one is paid (charges still owed); (0, the invoice's due
    date) for a bill without installments."""
    if not invoice.installments:
        return [(0, invoice.due_date)]
    unpaid = [(n.number, n.due_date) for n in invoice.installments if n.balance_cents > 0]
    first = invoice.installments[0]
    return unpaid or [(first.number, first.due_date)]


def _invoice_stages(
    invoice: Invoice, stages: tuple[Stage, ...], as_of: date, sent: Mapping
) -> list[tuple[int, int, Stage]]:
    """The stages due for an invoice's installments (or the invoice) as of the day."""
    due = []
    for number, due_date in subjects(invoice):
        stage = stage_to_send(stages, due_date, as_of, sent.get((invoice.id, number), set()))
        if stage is not None:
            due.append((invoice.id, number, stage))
    return due


@dataclass
class Outcome:
    """What one run did (or, dry, would do)."""

    accounts: int = 0
    invoices: int = 0
    emailed: int = 0
    printed: int = 0
    skipped_paused: int = 0
    skipped_disputed: int = 0
    skipped_under_plan: int = 0
    #: Invoices of accounts with a bank debit in flight (processing): reminded once it settles
    #: or fails, never while the resident's payment is on its way.
    skipped_in_flight: int = 0
    failed: int = 0
    already_sent: int = 0
    batch_id: int | None = None

    def counts(self) -> dict:
        return {
            "accounts": self.accounts,
            "invoices": self.invoices,
            "emailed": self.emailed,
            "printed": self.printed,
            "skipped_paused": self.skipped_paused,
            "skipped_disputed": self.skipped_disputed,
            "skipped_under_plan": self.skipped_under_plan,
            "skipped_in_flight": self.skipped_in_flight,
            "failed": self.failed,
            "already_sent": self.already_sent,
        }


def plan(session: Session, config: Mapping, as_of: date, outcome: Outcome) -> list[Planned]:
    """The reminders due as of the day, by account; counts the paused and disputed skipped."""
    stages = parse_stages(config["REMINDER_STAGES"])
    # An installment's due date is never before its invoice's, so this bound holds for both.
    latest_due = as_of - timedelta(days=stages[0].days)
    invoices = session.scalars(
        sa.select(Invoice)
        .where(Invoice.status.in_(OWING), Invoice.due_date <= latest_due)
        .options(selectinload(Invoice.installments))
        .order_by(Invoice.account_id, Invoice.id)
    ).all()
    if not invoices:
        return []
    ids = [i.id for i in invoices]
    accounts = {i.account_id for i in invoices}
    sent: dict[tuple[int, int], set[str]] = defaultdict(set)
    for invoice_id, number, stage in session.execute(
        sa.select(Reminder.invoice_id, Reminder.installment_number, Reminder.stage).where(
            Reminder.invoice_id.in_(ids)
        )
    ):
        sent[(invoice_id, number)].add(stage)
    paused_invoices, paused_accounts = set(), set()
    for account_id, invoice_id in session.execute(
        sa.select(ReminderPause.account_id, ReminderPause.invoice_id).where(
            ReminderPause.resumed_at.is_(None),
            sa.or_(ReminderPause.invoice_id.in_(ids), ReminderPause.account_id.in_(accounts)),
        )
    ):
        if invoice_id is not None:
            paused_invoices.add(invoice_id)
        elif account_id is not None:
            paused_accounts.add(account_id)
    disputed = set(
        session.scalars(
            sa.select(Payment.account_id)
            .join(Dispute, Dispute.payment_id == Payment.id)
            .where(
                Payment.account_id.in_(accounts),
                Dispute.status.not_in((DisputeStatus.WON, DisputeStatus.LOST)),
            )
        )
    )
    under_plan = paused_windows(session, ids, "reminders")
    in_flight = debits_in_flight(session, accounts)
    planned: dict[int, Planned] = {}
    for invoice in invoices:
        due = _invoice_stages(invoice, stages, as_of, sent)
        if not due:
            continue
        if within(under_plan.get(invoice.id, ()), as_of):
            outcome.skipped_under_plan += 1
            continue
        if invoice.id in paused_invoices or invoice.account_id in paused_accounts:
            outcome.skipped_paused += 1
            continue
        if invoice.account_id in disputed:
            outcome.skipped_disputed += 1
            continue
        if invoice.account_id in in_flight:
            outcome.skipped_in_flight += 1
            continue
        account_plan = planned.setdefault(invoice.account_id, Planned(invoice.account_id))
        account_plan.stages += due
        worst = max((stage for _i, _n, stage in due), key=lambda stage: stage.days)
        account_plan.items.append((invoice.id, worst))
    return list(planned.values())


def has_working_email(account: Account) -> bool:
    """An address that has not bounced (reminders go by e-mail whether or not paperless)."""
    return bool(account.email and account.email_bounced_at is None)


def reminder_notice(
    session: Session,
    config: Mapping,
    account: Account,
    items: list[tuple[Invoice, Stage]],
    as_of: date,
) -> NoticeDocument:
    """The consolidated notice of an account: its invoices reminded today and what each still
    owes as of the day (billing.position); what else the account owes is listed apart."""
    kind = max((stage.kind for _, stage in items), key=SEVERITY.index)
    language = account.language.value
    position = account_position(session, account.id, as_of)
    ids = [invoice.id for invoice, _ in items]
    assessed = dict(
        session.execute(
            sa.select(InvoiceCharge.invoice_id, sa.func.sum(InvoiceCharge.amount_cents))
            .where(
                InvoiceCharge.invoice_id.in_(ids),
                InvoiceCharge.waived_at.is_(None),
                InvoiceCharge.booked_on <= as_of,
            )
            .group_by(InvoiceCharge.invoice_id)
        ).all()
    )
    rows: list[ActivityRow] = []
    listed: dict[tuple[str, int | None], int] = defaultdict(int)
    for invoice, _stage in sorted(items, key=lambda item: (base_due_date(item[0]), item[0].number)):
        due = base_due_date(invoice)
        owed = position.by_invoice.get(invoice.id, 0)
        listed[group_of(invoice)] += owed
        rows.append(
            ActivityRow(
                day=due,
                description=f"{invoice.number} ({DUE_WORD.get(language, 'due')} "
                f"{content.numeric_date(due, language)})",
                amount_cents=owed,
                balance_cents=None,
            )
        )
    total = sum(row.amount_cents for row in rows)
    due_date = min(row.day for row in rows)
    action_date = None
    messages: tuple[str, ...] = ()
    if kind is NoticeKind.FINAL:
        action_date = as_of + timedelta(days=config["FINAL_NOTICE_DAYS"])
        kinds = {invoice.kind for invoice, _ in items}
        wording = []
        if InvoiceKind.UTILITY in kinds:
            wording.append(config["FINAL_NOTICE_UTILITY"][language])
        if InvoiceKind.TAX in kinds:
            wording.append(config["FINAL_NOTICE_TAX"][language])
        messages = tuple(wording)
    # A final notice asks for payment by its deadline; the others by the due date while it is
    # ahead, else REMINDER_PAY_DAYS from today: never a date already gone.
    pay_by = action_date or content.pay_by(config, due_date, as_of)
    stub = Stub(
        account_number=account.number,
        amount_due_cents=total,
        due_date=pay_by,
        scan_line=scan_line(account.number, total, pay_by),
        pay_url=content.pay_url(config, account),
    )
    return NoticeDocument(
        kind=kind,
        language=language,
        letterhead=content.letterhead(config),
        recipient=content.recipient(account),
        account_number=account.number,
        access_code=content.access_code(config, account),
        issue_date=as_of,
        reference=f"R-{as_of:%Y%m%d}-{account.number}",
        due_date=due_date,
        stubs=(stub,) if total > 0 else (),
        activity=tuple(rows),
        messages=messages,
        penalty_cents=sum(int(cents) for cents in assessed.values()),
        action_date=action_date,
        amount_cents=total,
        also_owed=_also_owed(position, listed),
    )


def _also_owed(
    position: Position, listed: dict[tuple[str, int | None], int]
) -> tuple[AlsoOwed, ...]:
    """What the account owes beyond the invoices a notice lists, by group."""
    owed: dict[tuple[str, int], int] = defaultdict(int)
    for c in position.classes:
        r = c.receivable
        owed[(r.group, r.tax_year)] += c.owed_cents
    for (group, year), cents in listed.items():
        owed[(group, year or 0)] -= cents
    return tuple(AlsoOwed(g, y, cents) for (g, y), cents in sorted(owed.items()) if cents > 0)


def send_reminders(
    session: Session,
    config: Mapping,
    actor: Actor,
    *,
    as_of: date,
    dry_run: bool = False,
    mailer: Mailer | None = None,
) -> Outcome:
    """Send the reminders due as of the day, account by account (each committed); see the module.

    dry_run counts what would be sent and changes nothing: no files, no mail, no rows.
    """
    outcome = Outcome()
    planned = plan(session, config, as_of, outcome)
    if dry_run:
        for account_plan in planned:
            account = session.get(Account, account_plan.account_id)
            outcome.accounts += 1
            outcome.invoices += len(account_plan.items)
            if has_working_email(account):
                outcome.emailed += 1
            else:
                outcome.printed += 1
        session.rollback()
        return outcome
    session.commit()  # end the planning transaction; each account gets its own
    for account_plan in planned:
        if mailer is None and has_working_email(session.get(Account, account_plan.account_id)):
            mailer = Mailer.from_config(config)
        _send_account(session, config, actor, mailer, account_plan, as_of, outcome)
    _print_batch(session, config, actor, as_of, outcome)
    return outcome


def _send_account(
    session: Session,
    config: Mapping,
    actor: Actor,
    mailer: Mailer | None,
    account_plan: Planned,
    as_of: date,
    outcome: Outcome,
) -> None:
    """One account's notice: claim its stages, issue, e-mail or leave to print; commit or roll back."""
    account = session.get(Account, account_plan.account_id)
    invoices = {
        i.id: i
        for i in session.scalars(
            sa.select(Invoice)
            .where(Invoice.id.in_([invoice_id for invoice_id, _ in account_plan.items]))
            .options(selectinload(Invoice.installments))
        )
    }
    items = [(invoices[invoice_id], stage) for invoice_id, stage in account_plan.items]
    # Claim the stages first: a run doing the same at the same moment fails here, not after mailing.
    reminders = [
        Reminder(
            invoice_id=invoice_id,
            installment_number=number,
            account_id=account.id,
            stage=stage.name,
            sent_on=as_of,
        )
        for invoice_id, number, stage in account_plan.stages
    ]
    session.add_all(reminders)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        outcome.already_sent += 1
        return
    rendered = render_notice(reminder_notice(session, config, account, items, as_of))
    email = has_working_email(account)
    notice = issue(
        session,
        config,
        actor,
        rendered.document,
        account=account,
        delivery=Delivery.EMAIL if email else Delivery.PRINT,
        invoice_id=items[0][0].id if len(items) == 1 else None,
        rendered=rendered,
    )
    if email:
        assert mailer is not None
        if not email_notice(session, config, actor, mailer, notice, rendered, account):
            if notice.email_status != "bounced":
                # A temporary failure (or a refusal that is not the address's): nothing is kept,
                # so the next run sends it again. The stored PDF may stay; it is kept by hash.
                session.rollback()
                outcome.failed += 1
                return
            notice.delivery = Delivery.PRINT  # the address is bad now: the mail house sends it
            email = False
    for reminder in reminders:
        reminder.notice_id = notice.id
    record(
        session,
        actor,
        "reminder.send",
        notice,
        account=account.number,
        delivery=notice.delivery.value,
        stages={
            (f"{invoices[i].number} installment {n}" if n else invoices[i].number): stage.name
            for i, n, stage in account_plan.stages
        },
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        outcome.already_sent += 1
        return
    outcome.accounts += 1
    outcome.invoices += len(items)
    if email:
        outcome.emailed += 1
    else:
        outcome.printed += 1


def _print_batch(
    session: Session, config: Mapping, actor: Actor, as_of: date, outcome: Outcome
) -> None:
    """Merge the printed reminder notices not in a batch yet (this run's, and any a stopped run left)."""
    notices = session.execute(
        sa.select(Notice, Account)
        .join(Account, Account.id == Notice.account_id)
        .where(
            Notice.kind.in_(SEVERITY),
            Notice.delivery == Delivery.PRINT,
            Notice.batch_id.is_(None),
            Notice.id.in_(sa.select(Reminder.notice_id).where(Reminder.notice_id.is_not(None))),
        )
        .order_by(Notice.id)
    ).all()
    if not notices:
        return
    # The batch's cycle is the run's day ("rem-2026-11-23": notice_batch.cycle holds 16 characters).
    batch = NoticeBatch(
        kind=NoticeKind.REMINDER, cycle=f"rem-{as_of:%Y-%m-%d}", created_by=actor.label
    )
    session.add(batch)
    session.flush()
    printed = []
    for notice, account in notices:
        notice.batch_id = batch.id
        printed.append(
            Printed(
                content.recipient(account).zip_code,
                account.number,
                notice.id,
                notice.pages,
                notice.sha256,
                notice.path,
            )
        )
    printed.sort(key=lambda item: (item.zip_code, item.account_number))
    _merge(config, batch, printed)
    batch.printed = len(printed)
    batch.emailed = outcome.emailed
    record(
        session,
        actor,
        "notice_batch.create",
        batch,
        cycle=batch.cycle,
        printed=batch.printed,
        emailed=batch.emailed,
    )
    session.commit()
    outcome.batch_id = batch.id

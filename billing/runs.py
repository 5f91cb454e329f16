"""Billing runs: open a cycle, preview it, post it in batches, rerun it safely.

A run is identified by its kind and cycle. Previewing writes only the run's
report. Posting commits batch by batch; a run killed halfway leaves every
posted invoice complete and balanced, and running it again posts only the
accounts (or parcels) that have no invoice for the period yet.
"""

from __future__ import annotations

import calendar
import queue
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account, AccountStatus, Parcel
from billing import billed_periods
from billing.cycle_calendar import CalendarError
from billing.cycles import cycle_months, cycle_or_default, month_period, run_label
from billing.deposit_billing import (
    add_owed_deposits,
    claim_owed_deposits,
    register_billed_deposits,
)
from billing.drafts import DraftBatch, tax_batch, tax_context, utility_batch, utility_context
from billing.estimates import (
    ESTIMATE_SUFFIX,
    EstimateContext,
    EstimateError,
    check_estimate_run,
    check_year_run,
    estimate_batch,
    is_estimate_cycle,
    settle_excess,
)
from billing.models import (
    BillingRun,
    CyclePeriod,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    RunStatus,
)
from billing.rules import levy_spec
from billing.writer import write_batch
from core.audit import Actor, record
from core.db import utcnow
from ledger import chart
from ledger.models import GLAccount

#: Exceptions kept in a run's report; the count is always complete.
REPORT_EXCEPTION_LIMIT = 2000


class RunError(ValueError):
    """A billing run that cannot start or continue; nothing was posted."""


@dataclass(frozen=True)
class RunOptions:
    """The municipality's settings a run needs."""

    rounding: str = "half_up"
    spike_multiple: Decimal = Decimal(3)
    batch_size: int = 1000

    @classmethod
    def from_config(cls, config) -> RunOptions:
        """The options from the app's settings (ROUNDING_RULE, USAGE_SPIKE_MULTIPLE, BILLING_BATCH_SIZE)."""
        return cls(
            rounding=config["ROUNDING_RULE"],
            spike_multiple=config["USAGE_SPIKE_MULTIPLE"],
            batch_size=config["BILLING_BATCH_SIZE"],
        )


def cycle_period(kind: InvoiceKind, cycle: str) -> tuple[date, date]:
    """The billing period of a cycle: "2026-10" is October 2026; a tax cycle "2026" is the year."""
    try:
        if kind == InvoiceKind.TAX:
            year = int(cycle.removesuffix(ESTIMATE_SUFFIX))
            return date(year, 1, 1), date(year, 12, 31)
        year, month = (int(part) for part in cycle.split("-"))
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    except ValueError:
        shape = "YYYY (or YYYY-estimate)" if kind == InvoiceKind.TAX else "YYYY-MM"
        raise RunError(f"cycle: {cycle!r} is not a {kind.value} cycle like {shape}") from None


def period_not_ended(run: BillingRun, today: date) -> bool:
    """Whether the run's period ends after today, so reads and changes may still come in it."""
    return run.period_end > today


def open_run(
    session: Session,
    actor: Actor,
    *,
    kind: InvoiceKind,
    cycle: str,
    issue_date: date,
    due_date: date,
    period: CyclePeriod | None = None,
) -> BillingRun:
    """The run of this kind and cycle, created if new; its dates cannot change once posting began.

    A utility run bills one billing cycle's period: `period`, or for a month named by `cycle`
    ("2026-10") the default cycle's period for that month (billing.cycles.month_period).
    """
    if due_date < issue_date:
        raise RunError("due_date: the due date is before the issue date")
    if kind == InvoiceKind.UTILITY:
        period = period or _month_period(session, cycle, (due_date - issue_date).days)
        cycle = run_label(period)
        start, end = period.period_start, period.period_end
    else:
        start, end = cycle_period(kind, cycle)
        if is_estimate_cycle(cycle):
            issue_date, due_date = _estimate_dates(session, start.year)
    run = session.scalar(
        sa.select(BillingRun).where(BillingRun.kind == kind, BillingRun.cycle == cycle)
    )
    if run is None:
        run = BillingRun(
            kind=kind,
            cycle=cycle,
            period_start=start,
            period_end=end,
            issue_date=issue_date,
            due_date=due_date,
            started_by=actor.label,
            report={},
        )
        session.add(run)
        session.flush()
        record(session, actor, "billing_run.open", run, after={"kind": kind, "cycle": cycle})
    elif run.status in (RunStatus.POSTING, RunStatus.POSTED):
        if (run.issue_date, run.due_date) != (
            issue_date,
            due_date,
        ) and run.status == RunStatus.POSTING:
            raise RunError(
                f"the {cycle} run was posted with issue date {run.issue_date} and due date "
                f"{run.due_date}; rerun it with those dates"
            )
    else:
        run.issue_date, run.due_date = issue_date, due_date
    if period is not None and run.cycle_period_id is None:
        # NOTE: a run opened before cycles existed is its month's run of the default cycle.
        run.billing_cycle_id, run.cycle_period_id = period.cycle_id, period.id
    return run


def _estimate_dates(session: Session, tax_year: int) -> tuple[date, date]:
    """An estimate run's issue and due dates: the levy document's (billing/estimates.py)."""
    spec = levy_spec(session, tax_year)
    if spec is None or spec.estimated_first is None:
        what = (
            "no levy is loaded" if spec is None else "the levy has no estimated first installment"
        )
        raise RunError(f"cycle: {what} for tax year {tax_year}")
    return spec.estimated_first.issue_date, spec.estimated_first.due_date


def _month_period(session: Session, month: str, due_days: int) -> CyclePeriod:
    """The default cycle's period of a month, or a RunError naming the cycle."""
    cycle_period(InvoiceKind.UTILITY, month)
    try:
        return month_period(session, month, due_days)
    except CalendarError as error:
        raise RunError(str(error)) from None


def _accounts(session: Session, batch_size: int, run: Cycle) -> Iterator[list]:
    """Active accounts (id and number) of the run's billing cycle in batches, by id."""
    on_cycle = Account.billing_cycle_id == run.billing_cycle_id
    if run.default_cycle:
        on_cycle = sa.or_(on_cycle, Account.billing_cycle_id.is_(None))
    last = 0
    while True:
        batch = session.execute(
            sa.select(Account.id, Account.number)
            .where(Account.id > last, Account.status == AccountStatus.ACTIVE, on_cycle)
            .order_by(Account.id)
            .limit(batch_size)
        ).all()
        if not batch:
            return
        yield list(batch)
        last = batch[-1].id


def _parcels(session: Session, batch_size: int) -> Iterator[list[Parcel]]:
    """Parcels in batches, by id."""
    last = 0
    while True:
        batch = session.scalars(
            sa.select(Parcel).where(Parcel.id > last).order_by(Parcel.id).limit(batch_size)
        ).all()
        if not batch:
            return
        yield list(batch)
        last = batch[-1].id


@dataclass(frozen=True)
class Cycle:
    """The plain facts of a run that the background reader needs (never the ORM row itself)."""

    kind: InvoiceKind
    period_start: date
    period_end: date
    billing_cycle_id: int | None = None
    default_cycle: bool = False
    #: The regular period's length in months (billing.computed.BilledPeriod).
    months: int = 1
    #: A tax year's estimate run (billing/estimates.py).
    estimated: bool = False


def _cycle(session: Session, run: BillingRun) -> Cycle:
    """A run's kind, period and billing cycle as plain values."""
    if run.kind == InvoiceKind.TAX:
        return Cycle(
            run.kind, run.period_start, run.period_end, estimated=is_estimate_cycle(run.cycle)
        )
    billing_cycle = cycle_or_default(session, run.billing_cycle_id)
    months = cycle_months(billing_cycle, run.period_start, run.period_end)
    return Cycle(
        run.kind,
        run.period_start,
        run.period_end,
        billing_cycle.id,
        billing_cycle.is_default,
        months,
    )


def _prefetch(make_iterator: Callable[[], Iterator]) -> Iterator:
    """Run an iterator one item ahead in a background thread, so computing overlaps writing."""
    items: queue.Queue = queue.Queue(maxsize=1)
    finished, stop = object(), threading.Event()

    def produce() -> None:
        try:
            for item in make_iterator():
                while not stop.is_set():
                    try:
                        items.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put(finished)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            items.put(error)

    thread = threading.Thread(target=produce, name="billing-run-reader", daemon=True)
    thread.start()
    try:
        while (item := items.get()) is not finished:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=60)


def _already_billed(session: Session, run: Cycle, ids: list[int]) -> set[int]:
    """Accounts (utility) or parcels (tax) of the batch with a live invoice for the period."""
    column = Invoice.parcel_id if run.kind == InvoiceKind.TAX else Invoice.account_id
    return set(
        session.scalars(
            sa.select(column).where(
                column.in_(ids),
                Invoice.kind == run.kind,
                Invoice.period_start == run.period_start,
                Invoice.period_end == run.period_end,
                Invoice.status != InvoiceStatus.VOID,
                Invoice.estimated.is_(run.estimated),
            )
        )
    )


def _batches(
    session: Session, run: Cycle, options: RunOptions
) -> Iterator[tuple[DraftBatch, int, int]]:
    """Yield (drafts of not-yet-billed items, items in the batch, items already billed) per batch."""
    if run.kind == InvoiceKind.TAX:
        yield from _tax_batches(session, run, options)
        return
    ctx = utility_context(
        session,
        period_start=run.period_start,
        period_end=run.period_end,
        rounding=options.rounding,
        spike_multiple=options.spike_multiple,
    )
    for accounts in _accounts(session, options.batch_size, run):
        yield _utility_batch(session, run, ctx, accounts), len(accounts), 0


def _tax_batches(
    session: Session, run: Cycle, options: RunOptions
) -> Iterator[tuple[DraftBatch, int, int]]:
    """The batches of a tax run: the year's bills, or its estimated first installments."""
    year = run.period_start.year
    spec = levy_spec(session, year)
    try:
        if run.estimated:
            check_estimate_run(session, year, spec)
            ctx = EstimateContext(year, spec, options.rounding)
            make = estimate_batch
        elif spec is None:
            raise RunError(f"no levy is loaded for tax year {year}")
        else:
            check_year_run(session, year, spec)
            ctx = tax_context(session, spec, options.rounding, chart.TAX_RECEIVABLE)
            make = tax_batch
    except EstimateError as error:
        raise RunError(str(error)) from None
    for parcels in _parcels(session, options.batch_size):
        done = _already_billed(session, run, [p.id for p in parcels])
        yield make(session, [p for p in parcels if p.id not in done], ctx), len(parcels), len(done)


def _utility_batch(session: Session, run: Cycle, ctx, accounts: list) -> DraftBatch:
    """The drafts of a batch of a cycle's accounts, each billed from the day after its last bill."""
    last = billed_periods.last_billed(session, [a.id for a in accounts])
    periods, notes = {}, []
    for account in accounts:
        decision = billed_periods.decide(
            last.get(account.id), run.period_start, run.period_end, run.months
        )
        if decision.period is not None:
            periods[account.id] = decision.period
        if decision.note and decision.note != "already_billed":
            held = decision.period is None
            notes.append(_note(account.number, decision.note, decision.text, held))
    batch = utility_batch(session, [a for a in accounts if a.id in periods], ctx, periods)
    # NOTE: a deposit owed under `collect: first_bill` is a line of the next regular bill.
    add_owed_deposits(session, batch.drafts)
    batch.already += sum(1 for a in accounts if a.id not in periods) - sum(
        1 for n in notes if n["held"]
    )
    batch.held += sum(1 for n in notes if n["held"])
    batch.exceptions[:0] = notes
    return batch


def _note(number: str, code: str, text: str, held: bool) -> dict:
    """An exception of the run about an account's billed days."""
    return {
        "account": number,
        "service_point": None,
        "meter": None,
        "code": code,
        "note": text,
        "held": held,
    }


class _Report:
    """Totals per service or jurisdiction, counts and exceptions of a run."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = defaultdict(int)
        self.exceptions: list[dict] = []
        self.codes: Counter[str] = Counter()
        self.invoices = self.held = self.already = self.items = 0
        #: Invoices billing fewer (or, catching up, more) days than the cycle's period.
        self.partial = 0

    def add(self, batch: DraftBatch, items: int, already: int) -> None:
        """Fold one batch in."""
        self.items += items
        self.already += already + batch.already
        self.partial += sum(1 for draft in batch.drafts if draft.period is not None)
        self.held += batch.held
        self.invoices += len(batch.drafts)
        for draft in batch.drafts:
            for line in draft.lines:
                self.totals[line.gl_code] += line.amount_cents
        for exception in batch.exceptions:
            self.codes[exception["code"]] += 1
            if len(self.exceptions) < REPORT_EXCEPTION_LIMIT:
                self.exceptions.append(exception)

    def as_dict(self, session: Session, preview: bool) -> dict:
        """The JSON stored on the run; totals are named by their GL account (a service or a jurisdiction)."""
        names = dict(session.execute(sa.select(GLAccount.code, GLAccount.name)).all())
        return {
            "preview": preview,
            "items": self.items,
            "invoices": self.invoices,
            "held": self.held,
            "already_billed": self.already,
            "partial_periods": self.partial,
            "total_cents": sum(self.totals.values()),
            "totals": [
                {"gl_code": code, "name": names.get(code, code), "cents": cents}
                for code, cents in sorted(self.totals.items())
            ],
            "exception_counts": dict(sorted(self.codes.items())),
            "exceptions": self.exceptions,
        }


def preview_run(session: Session, run: BillingRun, options: RunOptions) -> dict:
    """Compute the whole run without posting; store and return its report (a posted run keeps its own)."""
    if run.status == RunStatus.POSTED:
        return run.report
    report = _Report()
    for batch, items, already in _batches(session, _cycle(session, run), options):
        report.add(batch, items, already)
    run.report = report.as_dict(session, preview=True)
    if run.status == RunStatus.FAILED:
        run.status = RunStatus.PREVIEWED
    session.flush()
    return run.report


def _claim(session: Session, batch: DraftBatch, run: Cycle) -> None:
    """Lock the batch's accounts and drop the drafts a run posted meanwhile made overlap.

    The batch was computed on another connection; between computing and writing, another
    run (of another cycle, after an account moved) may have billed some of these days.
    """
    periods = {d.account_id: d.period or (run.period_start, run.period_end) for d in batch.drafts}
    taken = billed_periods.claim(session, periods)
    if taken:
        batch.drafts = [d for d in batch.drafts if d.account_id not in taken]
        batch.already += len(taken)


def post_run(
    session: Session,
    run: BillingRun,
    actor: Actor,
    options: RunOptions,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Post the run batch by batch; returns the report.

    Unlike other services this one commits, once per batch: that is what
    makes a killed run resumable with every posted invoice complete.
    """
    if run.status == RunStatus.POSTED:
        return run.report
    run.status = RunStatus.POSTING
    record(session, actor, "billing_run.post_started", run)
    session.commit()
    report = _Report()
    period = (run.period_start, run.period_end)
    cycle, engine = _cycle(session, run), session.get_bind()
    year = run.period_start.year

    def batches() -> Iterator[tuple[DraftBatch, int, int]]:
        """The run's batches, read and computed on a connection of their own."""
        with Session(engine) as reader:
            yield from _batches(reader, cycle, options)

    # NOTE: on PostgreSQL the next batch is computed while the database writes this one;
    # SQLite writes in this process, so a second thread would only compete for the CPU.
    source = _prefetch(batches) if engine.dialect.name == "postgresql" else batches()
    for batch, items, already in source:
        if run.kind == InvoiceKind.UTILITY:
            _claim(session, batch, cycle)
            claim_owed_deposits(session, batch.drafts)
        written = write_batch(
            session,
            batch.drafts,
            kind=run.kind,
            period=period,
            issue_date=run.issue_date,
            due_date=run.due_date,
            run_id=run.id,
            actor=actor,
        )
        if run.kind == InvoiceKind.UTILITY:
            register_billed_deposits(session, actor, run.id, batch.drafts)
        for draft in batch.drafts:
            if draft.estimate_excess is not None:
                settle_excess(session, actor, *draft.estimate_excess, run.issue_date, year)
        report.add(batch, items, already)
        run.invoices_posted += written
        run.total_posted_cents += sum(line.amount_cents for d in batch.drafts for line in d.lines)
        session.commit()
        if progress:
            progress(items, written)
    run.status = RunStatus.POSTED
    run.posted_at = utcnow()
    run.report = report.as_dict(session, preview=False)
    record(
        session,
        actor,
        "billing_run.posted",
        run,
        after={"invoices": run.invoices_posted, "total_cents": run.total_posted_cents},
    )
    session.commit()
    return run.report

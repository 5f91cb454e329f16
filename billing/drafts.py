"""Computing the bills of a batch of accounts or parcels, without writing anything.

Both a billing run's preview and its posting call these, so what the clerk
previews is exactly what is posted.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from functools import partial

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from accounts.models import (
    Account,
    MeterReading,
    Parcel,
    ParcelValuation,
    ReadingKind,
    ServicePoint,
)
from accounts.responsibility import responsibility_windows
from billing.computed import BilledPeriod, ComputedLine, RuleError
from billing.estimate_drafts import second_installment_of, year_estimates
from billing.invoices import LineDraft
from billing.levy_spec import TaxYearSpec
from billing.models import LineCategory, RatePlan
from billing.periods import clip_period, regular_months
from billing.rate_plan_format import RatePlanSpec
from billing.rating import rate_bill, version_in_force
from billing.rules import rate_plan_spec
from billing.tax import compute_parcel_tax
from billing.usage import Read, UsageResult, period_usage
from billing.winter import WinterRow, stored_averages, winter_period
from billing.words import DEFAULT_LANGUAGE, words
from ledger.models import GLAccount, ServiceKind, TaxingJurisdiction

#: Reads older than this before the period start are not needed for averages.
HISTORY_DAYS = 200
#: The exception code of an account (or parcel) whose bill failed to compute: held, never posted.
BILL_ERROR = "bill_error"

log = logging.getLogger(__name__)


@dataclass
class BillDraft:
    """What one invoice will be: its lines, and what posting it also records."""

    account_id: int
    account_number: str
    lines: list[LineDraft]
    parcel_id: int | None = None
    #: (number, due date, cents) for tax installments.
    installments: list[tuple[int, date, int]] = field(default_factory=list)
    #: Estimated reads to store: (service point id, installed on, read on, reading).
    estimated_reads: list[tuple[int, date, date, int]] = field(default_factory=list)
    #: Winter usage to store when the draft is posted (billing.winter).
    winter_usages: list[WinterRow] = field(default_factory=list)
    #: The first and last day this invoice bills, when not the run's whole period.
    period: tuple[date, date] | None = None
    #: Early-payment discounts of a tax bill: (pay by, percent, discount cents, amount due cents,
    #: installment number or 0 for the whole bill).
    discounts: list[tuple[date, Decimal, int, int, int]] = field(default_factory=list)
    #: The GL account code an honoured discount is debited to.
    discount_gl_code: str | None = None
    #: An estimated first installment of a tax year (billing/estimates.py).
    estimated: bool = False
    #: The year's bill of a parcel whose estimate billed more than its tax: (the estimate's
    #: invoice id, the excess cents) to take off it when this draft is posted.
    estimate_excess: tuple[int, int] | None = None


@dataclass
class DraftBatch:
    """The drafts of a batch, the exceptions found, and the accounts held back."""

    drafts: list[BillDraft] = field(default_factory=list)
    exceptions: list[dict] = field(default_factory=list)
    held: int = 0
    #: Accounts of the batch skipped because they are billed through the period already.
    already: int = 0


@dataclass(frozen=True)
class UtilityContext:
    """What every batch of a utility run shares."""

    period_start: date
    period_end: date
    rounding: str
    spike_multiple: Decimal
    plans: dict[int, tuple[str, RatePlanSpec]]
    #: service kind -> (revenue GL code, receivable GL code, name)
    services: dict[str, tuple[str, str, str]]
    #: service point id -> the days its account is responsible for it, when fewer than the
    #: period's (a start or a final bill inside it; accounts/responsibility.py)
    windows: dict[int, tuple[date, date]] = field(default_factory=dict)
    #: The days billed within the billing cycle's period (one account's; billing.billed_periods).
    period: BilledPeriod | None = None


def utility_context(
    session: Session,
    *,
    period_start: date,
    period_end: date,
    rounding: str,
    spike_multiple: Decimal,
) -> UtilityContext:
    """Load every rate plan and the GL accounts of every service once per run."""
    plans = {
        plan.id: (plan.code, rate_plan_spec(plan)) for plan in session.scalars(sa.select(RatePlan))
    }
    revenue, receivable = aliased(GLAccount), aliased(GLAccount)
    rows = session.execute(
        sa.select(ServiceKind.code, revenue.code, receivable.code, ServiceKind.name)
        .join(revenue, revenue.id == ServiceKind.revenue_gl_id)
        .join(receivable, receivable.id == ServiceKind.receivable_gl_id)
    ).all()
    return UtilityContext(
        period_start,
        period_end,
        rounding,
        spike_multiple,
        plans,
        {code: (rev, rec, name) for code, rev, rec, name in rows},
        responsibility_windows(session, period_start, period_end),
    )


def _reads_by_point(
    session: Session, point_ids: list[int], ctx: UtilityContext
) -> dict[int, list[Read]]:
    """The recent reads of the batch's meters, oldest first."""
    reads: dict[int, list[Read]] = defaultdict(list)
    if not point_ids:
        return reads
    rows = session.execute(
        sa.select(
            MeterReading.service_point_id,
            MeterReading.read_on,
            MeterReading.reading,
            MeterReading.kind,
        )
        .where(
            MeterReading.service_point_id.in_(point_ids),
            MeterReading.read_on >= ctx.period_start - timedelta(days=HISTORY_DAYS),
            MeterReading.read_on <= ctx.period_end,
        )
        .order_by(MeterReading.service_point_id, MeterReading.read_on)
    ).all()
    for point_id, read_on, reading, kind in rows:
        reads[point_id].append(Read(read_on, reading, kind == ReadingKind.ESTIMATED))
    return reads


def _exception(number: str, point: ServicePoint | None, code: str, note: str, held: bool) -> dict:
    """One line of the exceptions list a clerk reviews."""
    return {
        "account": number,
        "service_point": point.id if point else None,
        "meter": point.meter_id if point else None,
        "code": code,
        "note": note,
        "held": held,
    }


def _line(
    computed: ComputedLine, point: ServicePoint, ctx: UtilityContext, source: str, estimated: bool
) -> LineDraft:
    """An invoice line from a rated line."""
    revenue, receivable, _name = ctx.services[point.service_kind]
    descriptions = dict(computed.descriptions) or {DEFAULT_LANGUAGE: computed.description}
    if estimated and computed.quantity is not None:
        descriptions = {
            language: words(language)["line.estimated"].format(text=text)
            for language, text in descriptions.items()
        }
    return LineDraft(
        descriptions[DEFAULT_LANGUAGE],
        computed.amount_cents,
        revenue,
        receivable,
        category=LineCategory(computed.category),
        quantity=computed.quantity,
        unit=computed.unit,
        unit_rate=computed.unit_rate,
        service_point_id=point.id,
        source=f"{source}:{computed.source}"[:120],
        descriptions=descriptions,
        units=computed.units,
    )


def _usage_of(
    point: ServicePoint, reads: dict[int, list[Read]], ctx: UtilityContext
) -> UsageResult:
    """The usage of a metered point for the run's period (or its window of responsibility)."""
    start, end = ctx.period_start, ctx.period_end
    if window := ctx.windows.get(point.id):
        # NOTE: usage starts at the reading of the changeover, the day before the window.
        start, end = window[0] - timedelta(days=1), min(end, window[1])
    return period_usage(
        reads.get(point.id, []),
        period_start=start,
        period_end=end,
        dial_digits=point.dial_digits,
        spike_multiple=ctx.spike_multiple,
    )


def _bill_account(
    account: Account,
    points: list[ServicePoint],
    reads,
    ctx: UtilityContext,
    facts: AccountFacts | None = None,
) -> tuple[BillDraft | None, list[dict]]:
    """Rate every service point of one account: (its draft, or None when it is held; its exceptions)."""
    usages: dict[int, UsageResult] = {p.id: _usage_of(p, reads, ctx) for p in points if p.meter_id}
    units = {p.id: p.meter_unit for p in points}
    draft = BillDraft(account.id, account.number, [])
    billed = ctx.period
    if billed is not None and (billed.start, billed.end) != (
        billed.regular_start,
        billed.regular_end,
    ):
        draft.period = (billed.start, billed.end)
    exceptions: list[dict] = []
    problems = []
    facts = facts or AccountFacts()
    for point in points:
        billed_period = _billed_period(point, ctx)
        if billed_period is None:
            continue
        usage = usages.get(point.usage_from_id or point.id)
        if usage is not None and point.meter_id:
            for finding in usage.findings:
                held = usage.usage is None
                exceptions.append(
                    _exception(account.number, point, finding.code, finding.note, held)
                )
                if held:
                    problems.append(finding.code)
        if point.rate_plan_id is None or point.rate_plan_id not in ctx.plans:
            exceptions.append(
                _exception(
                    account.number,
                    point,
                    "no_rate_plan",
                    f"no rate plan for {point.service_kind}",
                    True,
                )
            )
            problems.append("no_rate_plan")
            continue
        if usage is not None and usage.usage is None:
            problems.append("no_usage")
            continue
        code, spec = ctx.plans[point.rate_plan_id]
        try:
            version = version_in_force(spec, ctx.period_end)
            used = None if usage is None else Decimal(usage.usage)
            used_unit = None if usage is None else units[point.usage_from_id or point.id]
            rated = rate_bill(
                spec,
                period_end=ctx.period_end,
                usage=used,
                usage_unit=used_unit,
                meter_size=point.meter_size,
                dwelling_units=point.dwelling_units,
                rounding=ctx.rounding,
                period=billed_period,
                attributes=point_attributes(point),
                flags=facts.flags,
                winter_average=facts.winter_averages.get(point.id),
            )
            if winter := winter_period(spec, ctx.period_end, used, used_unit):
                season, winter_usage = winter
                draft.winter_usages.append(
                    (point.id, season, ctx.period_end, winter_usage, spec.unit)
                )
        except RuleError as error:
            exceptions.append(_exception(account.number, point, "rating_error", str(error), True))
            problems.append("rating_error")
            continue
        source = f"plan:{code}@{version.effective_from.isoformat()}"
        estimated = usage is not None and usage.estimated
        draft.lines.extend(_line(line, point, ctx, source, estimated) for line in rated)
        if point.meter_id and usage.estimated:
            draft.estimated_reads.append(
                (point.id, point.installed_on, usage.current.read_on, usage.current.reading)
            )
    return (None if problems else draft), exceptions


def _add(
    batch: DraftBatch,
    number: str,
    bill: Callable[[], tuple[BillDraft | None, list[dict]]],
    parcel: str | None = None,
) -> None:
    """Fold one account's (or parcel's) bill into the batch; if computing it fails, hold just it."""
    try:
        draft, exceptions = bill()
    except Exception as error:  # noqa: BLE001 - one account's problem never stops a run
        what = f"parcel {parcel}" if parcel else f"account {number}"
        log.exception("billing: the bill of %s could not be computed", what)
        reason = f"the bill could not be computed ({type(error).__name__}: {error})"[:500]
        note = f"parcel {parcel}: {reason}" if parcel else reason
        draft, exceptions = None, [_exception(number, None, BILL_ERROR, note, True)]
    batch.exceptions.extend(exceptions)
    if draft is None:
        batch.held += 1
    elif draft.lines:
        batch.drafts.append(draft)


@dataclass(frozen=True)
class AccountFacts:
    """What rating reads of an account beyond its service points: flags and winter averages."""

    flags: frozenset[str] = frozenset()
    #: service point id -> its stored winter average, in its plan's unit
    winter_averages: dict[int, Decimal] = field(default_factory=dict)


def _billed_period(point: ServicePoint, ctx: UtilityContext) -> BilledPeriod | None:
    """The account's billed days, clipped to the days the point was in service (None: none).

    A catch-up bill (an account behind its cycle, billed from the day after its last bill)
    starts before its cycle's period: its days are then a regular period of their own.
    """
    billed = ctx.period
    if billed is None:
        months = regular_months(ctx.period_start, ctx.period_end)
        billed = BilledPeriod(
            ctx.period_start, ctx.period_end, ctx.period_start, ctx.period_end, months
        )
    elif billed.start < billed.regular_start:
        end = max(billed.end, billed.regular_end)
        months = regular_months(billed.start, end)
        billed = replace(billed, regular_start=billed.start, regular_end=end, months=months)
    clipped = clip_period(billed, point.installed_on, point.removed_on)
    if clipped is not None and (window := ctx.windows.get(point.id)):
        return clip_period(clipped, *window)
    return clipped


def point_attributes(point: ServicePoint) -> dict[str, Decimal]:
    """A service point's attributes as Decimals (an unreadable one is a RuleError naming it)."""
    values = {}
    for name, value in (point.attributes or {}).items():
        try:
            values[name] = Decimal(str(value))
        except ArithmeticError:
            raise RuleError(f"service point attribute {name}: {value!r} is not a number") from None
    return values


def _account_facts(
    session: Session, ids: list[int], points: list, ctx: UtilityContext
) -> dict[int, AccountFacts]:
    """The flags of a batch's accounts and the winter averages of their service points."""
    flags = dict(
        session.execute(sa.select(Account.id, Account.flags).where(Account.id.in_(ids))).all()
    )
    averages = stored_averages(session, [p.id for p in points], up_to=ctx.period_end.year + 1)
    by_account: dict[int, dict[int, Decimal]] = defaultdict(dict)
    for point in points:
        if point.id in averages:
            by_account[point.account_id][point.id] = averages[point.id]
    return {
        account_id: AccountFacts(frozenset(flags.get(account_id) or ()), by_account[account_id])
        for account_id in ids
    }


def utility_batch(
    session: Session,
    accounts: list,
    ctx: UtilityContext,
    periods: dict[int, BilledPeriod] | None = None,
) -> DraftBatch:
    """Compute the drafts of a batch of accounts (anything with .id and .number).

    `periods` gives each account's billed days (billing.billed_periods); without it every
    account is billed the context's whole period.
    """
    own = {
        a.id: replace(ctx, period_start=p.start, period=p)
        for a, p in _periods_of(accounts, periods)
    }
    if own:
        ctx = replace(ctx, period_start=min(c.period_start for c in own.values()))
    ids = [a.id for a in accounts]
    points_by_account: dict[int, list] = defaultdict(list)
    # Plain rows, not ORM objects: a run reads every service point of the town.
    points = session.execute(
        sa.select(ServicePoint.__table__)
        .where(
            ServicePoint.account_id.in_(ids),
            ServicePoint.installed_on <= ctx.period_end,
            sa.or_(ServicePoint.removed_on.is_(None), ServicePoint.removed_on >= ctx.period_start),
        )
        .order_by(ServicePoint.account_id, ServicePoint.id)
    ).all()
    # NOTE: lines follow the chart's order of services (water, sewer, trash, ...), then the point.
    for point in sorted(points, key=lambda p: (ctx.services.get(p.service_kind, ("~",))[0], p.id)):
        points_by_account[point.account_id].append(point)
    reads = _reads_by_point(session, [p.id for p in points if p.meter_id], ctx)
    facts = _account_facts(session, ids, points, ctx)
    batch = DraftBatch()
    for account in accounts:
        if points := points_by_account[account.id]:
            own_ctx = own.get(account.id, ctx)
            bill = partial(_bill_account, account, points, reads, own_ctx, facts[account.id])
            _add(batch, account.number, bill)
    return batch


def _periods_of(accounts: list, periods: dict[int, BilledPeriod] | None) -> list:
    """(account, its billed days) for the accounts that have them."""
    if not periods:
        return []
    return [(a, periods[a.id]) for a in accounts if a.id in periods]


@dataclass(frozen=True)
class TaxContext:
    """What every batch of a tax run shares."""

    tax_year: int
    spec: TaxYearSpec
    rounding: str
    #: jurisdiction code -> liability GL code
    liabilities: dict[str, str]
    receivable: str

    def gl_code(self, source: str) -> str:
        """The account a tax bill's line credits (or, for a credit, debits), by its source:
        a levy's or a ceiling's jurisdiction liability, a charge's or an assessment's revenue
        account, a credit's receivable account (billing.tax names the sources)."""
        kind, _, code = source.partition(":")
        if kind == "ceiling":
            return self.liabilities[code]
        named = {f"charge:{c.code}": c.gl_account for c in self.spec.charges}
        named |= {f"assessment:{a.code}": a.gl_account for a in self.spec.special_assessments}
        named |= {f"credit:{c.code}": c.receivable_account for c in self.spec.credits}
        return named[source] if source in named else self.liabilities[source]


def tax_context(session: Session, spec: TaxYearSpec, rounding: str, receivable: str) -> TaxContext:
    """Load the jurisdictions' liability accounts once per run."""
    rows = session.execute(
        sa.select(TaxingJurisdiction.code, GLAccount.code).join(
            GLAccount, GLAccount.id == TaxingJurisdiction.liability_gl_id
        )
    ).all()
    return TaxContext(spec.tax_year, spec, rounding, dict(rows), receivable)


def tax_batch(session: Session, parcels: list[Parcel], ctx: TaxContext) -> DraftBatch:
    """Compute the tax drafts of a batch of parcels."""
    values = {
        v.parcel_id: v
        for v in session.scalars(
            sa.select(ParcelValuation).where(
                ParcelValuation.parcel_id.in_([p.id for p in parcels]),
                ParcelValuation.tax_year == ctx.tax_year,
            )
        )
    }
    numbers = dict(
        session.execute(
            sa.select(Account.id, Account.number).where(
                Account.id.in_({p.owner_account_id for p in parcels})
            )
        ).all()
    )
    estimates = year_estimates(session, parcels, ctx) if ctx.spec.estimated_first else None
    batch = DraftBatch()
    for parcel in parcels:
        number = numbers[parcel.owner_account_id]
        estimate = None if estimates is None else estimates.get(parcel.id, (0, 0, None))
        bill = partial(_bill_parcel, parcel, number, values.get(parcel.id), ctx, estimate)
        _add(batch, number, bill, parcel.parcel_number)
    return batch


def _bill_parcel(
    parcel: Parcel,
    number: str,
    value: ParcelValuation | None,
    ctx: TaxContext,
    estimate: tuple[int, int, date | None] | None = None,
) -> tuple[BillDraft | None, list[dict]]:
    """One parcel's tax bill: (its draft, or None when it is held; its exceptions)."""
    if value is None:
        note = f"parcel {parcel.parcel_number} has no {ctx.tax_year} value"
        return None, [_exception(number, None, "no_valuation", note, True)]
    try:
        bill = compute_parcel_tax(
            ctx.spec,
            market_value_cents=value.market_value_cents,
            assessed_value_cents=value.assessed_value_cents,
            property_class=parcel.property_class,
            exemption_flags=parcel.exemption_flags or [],
            rounding=ctx.rounding,
            parcel_number=parcel.parcel_number,
            tax_ceilings=parcel.tax_ceilings,
        )
    except RuleError as error:
        note = f"parcel {parcel.parcel_number}: {error}"
        return None, [_exception(number, None, "tax_error", note, True)]
    if bill.total_cents == 0 and not (estimate and estimate[1]):
        note = f"parcel {parcel.parcel_number} owes no tax (taxable value 0)"
        return None, [_exception(number, None, "zero_value", note, True)]
    lines = [
        LineDraft(
            line.description,
            line.amount_cents,
            ctx.gl_code(line.source),
            ctx.receivable,
            category=LineCategory(line.category),
            quantity=line.quantity,
            unit=line.unit,
            unit_rate=line.unit_rate,
            parcel_id=parcel.id,
            source=f"levy:{ctx.tax_year}:{line.source}",
            descriptions=line.descriptions,
            units=line.units,
        )
        for line in bill.lines
    ]
    installments = [(i.number, i.due_date, i.amount_cents) for i in bill.installments]
    draft = BillDraft(parcel.owner_account_id, number, lines, parcel.id, installments)
    if estimate is not None:
        second_installment_of(draft, ctx, estimate)
    if ctx.spec.discount_account is not None:
        draft.discount_gl_code = ctx.spec.discount_account
        draft.discounts = [
            (d.pay_by, d.percent, d.discount_cents, d.amount_due_cents, d.installment)
            for d in bill.discounts
        ]
    return draft, []

"""Computing the bills of a batch of accounts or parcels, without writing anything.

Both a billing run's preview and its posting call these, so what the clerk
previews is exactly what is posted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from billing.computed import ComputedLine, RuleError
from billing.invoices import LineDraft
from billing.levy_format import TaxYearSpec
from billing.models import (
    Account,
    GLAccount,
    LineCategory,
    MeterReading,
    Parcel,
    ParcelValuation,
    RatePlan,
    ReadingKind,
    ServiceKind,
    ServicePoint,
    TaxingJurisdiction,
)
from billing.rate_plan_format import RatePlanSpec
from billing.rating import rate_bill, version_in_force
from billing.rules import rate_plan_spec
from billing.tax import compute_parcel_tax
from billing.usage import Read, UsageResult, period_usage

#: Reads older than this before the period start are not needed for averages.
HISTORY_DAYS = 200


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


@dataclass
class DraftBatch:
    """The drafts of a batch, the exceptions found, and the accounts held back."""

    drafts: list[BillDraft] = field(default_factory=list)
    exceptions: list[dict] = field(default_factory=list)
    held: int = 0


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
    description = computed.description + (
        " (estimated read)" if estimated and computed.quantity is not None else ""
    )
    return LineDraft(
        description,
        computed.amount_cents,
        revenue,
        receivable,
        category=LineCategory(computed.category),
        quantity=computed.quantity,
        unit=computed.unit,
        unit_rate=computed.unit_rate,
        service_point_id=point.id,
        source=f"{source}:{computed.source}"[:120],
    )


def _usage_of(
    point: ServicePoint, reads: dict[int, list[Read]], ctx: UtilityContext
) -> UsageResult:
    """The usage of a metered point for the run's period."""
    return period_usage(
        reads.get(point.id, []),
        period_start=ctx.period_start,
        period_end=ctx.period_end,
        dial_digits=point.dial_digits,
        spike_multiple=ctx.spike_multiple,
    )


def _bill_account(
    account: Account, points: list[ServicePoint], reads, ctx: UtilityContext, batch: DraftBatch
) -> None:
    """Rate every service point of one account; hold the whole account on any blocking exception."""
    usages: dict[int, UsageResult] = {p.id: _usage_of(p, reads, ctx) for p in points if p.meter_id}
    units = {p.id: p.meter_unit for p in points}
    draft = BillDraft(account.id, account.number, [])
    problems = []
    for point in points:
        usage = usages.get(point.usage_from_id or point.id)
        if usage is not None and point.meter_id:
            for code, note in zip(usage.exceptions, usage.notes, strict=True):
                held = usage.usage is None
                batch.exceptions.append(_exception(account.number, point, code, note, held))
                if held:
                    problems.append(code)
        if point.rate_plan_id is None or point.rate_plan_id not in ctx.plans:
            batch.exceptions.append(
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
            rated = rate_bill(
                spec,
                period_end=ctx.period_end,
                usage=None if usage is None else Decimal(usage.usage),
                usage_unit=None if usage is None else units[point.usage_from_id or point.id],
                meter_size=point.meter_size,
                dwelling_units=point.dwelling_units,
                rounding=ctx.rounding,
            )
        except RuleError as error:
            batch.exceptions.append(
                _exception(account.number, point, "rating_error", str(error), True)
            )
            problems.append("rating_error")
            continue
        source = f"plan:{code}@{version.effective_from.isoformat()}"
        estimated = usage is not None and usage.estimated
        draft.lines.extend(_line(line, point, ctx, source, estimated) for line in rated)
        if point.meter_id and usage.estimated:
            draft.estimated_reads.append(
                (point.id, point.installed_on, usage.current.read_on, usage.current.reading)
            )
    if problems:
        batch.held += 1
    elif draft.lines:
        batch.drafts.append(draft)


def utility_batch(session: Session, accounts: list, ctx: UtilityContext) -> DraftBatch:
    """Compute the drafts of a batch of accounts (anything with .id and .number)."""
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
    batch = DraftBatch()
    for account in accounts:
        if points_by_account[account.id]:
            _bill_account(account, points_by_account[account.id], reads, ctx, batch)
    return batch


@dataclass(frozen=True)
class TaxContext:
    """What every batch of a tax run shares."""

    tax_year: int
    spec: TaxYearSpec
    rounding: str
    #: jurisdiction code -> liability GL code
    liabilities: dict[str, str]
    receivable: str


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
    batch = DraftBatch()
    for parcel in parcels:
        number = numbers[parcel.owner_account_id]
        value = values.get(parcel.id)
        if value is None:
            batch.exceptions.append(
                _exception(
                    number,
                    None,
                    "no_valuation",
                    f"parcel {parcel.parcel_number} has no {ctx.tax_year} value",
                    True,
                )
            )
            batch.held += 1
            continue
        try:
            bill = compute_parcel_tax(
                ctx.spec,
                market_value_cents=value.market_value_cents,
                assessed_value_cents=value.assessed_value_cents,
                property_class=parcel.property_class,
                exemption_flags=parcel.exemption_flags or [],
                rounding=ctx.rounding,
            )
        except RuleError as error:
            batch.exceptions.append(
                _exception(
                    number, None, "tax_error", f"parcel {parcel.parcel_number}: {error}", True
                )
            )
            batch.held += 1
            continue
        if bill.total_cents == 0:
            batch.exceptions.append(
                _exception(
                    number,
                    None,
                    "zero_value",
                    f"parcel {parcel.parcel_number} owes no tax (taxable value 0)",
                    True,
                )
            )
            batch.held += 1
            continue
        lines = [
            LineDraft(
                line.description,
                line.amount_cents,
                ctx.liabilities[line.source],
                ctx.receivable,
                category=LineCategory.TAX,
                quantity=line.quantity,
                unit=line.unit,
                unit_rate=line.unit_rate,
                parcel_id=parcel.id,
                source=f"levy:{ctx.tax_year}:{line.source}",
            )
            for line in bill.lines
        ]
        installments = [(i.number, i.due_date, i.amount_cents) for i in bill.installments]
        batch.drafts.append(
            BillDraft(parcel.owner_account_id, number, lines, parcel.id, installments)
        )
    return batch

"""Posting a checked conversion: accounts, parcels, service points, converted invoices
with one opening entry per account, deposits held and the meters' reads, all in the
caller's transaction; the clearing account must then net to zero against the expected
control totals, or the caller rolls everything back (docs/conversion.md).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from accounts.models import Account, MeterReading, Parcel, ServicePoint
from accounts.responsibility import ensure_location
from accounts.services import create_account
from billing.conversion import Conversion, check
from billing.conversion_files import CREDIT, PENALTIES, PROPERTY_TAX, Loaded
from billing.conversion_report import CONTROL_FILE, ControlLine, compare, control_totals
from billing.deposits import hold_deposit
from billing.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus, LineCategory, RatePlan
from billing.words import DEFAULT_LANGUAGE
from core.audit import Actor, record
from core.numbering import next_number
from ledger.balances import gl_balance
from ledger.chart import CONVERSION_CLEARING, UNAPPLIED_CREDITS, gl_codes
from ledger.models import ServiceKind
from ledger.posting import EntrySpec, Posting, post_entries

SOURCE = "conversion"


class ConversionRefused(ValueError):
    """The conversion was not posted; the caller rolls back whatever was written."""


@dataclass
class Posted:
    """What a conversion wrote."""

    accounts: dict[str, str] = field(default_factory=dict)  # former number -> new number
    invoices: int = 0
    entries: int = 0
    deposits: int = 0
    reads: int = 0
    codes: dict[str, str] = field(default_factory=dict)  # former number -> access code


def _accounts(
    session: Session, actor: Actor, conv: Conversion, as_of: date, key: bytes, posted: Posted
) -> dict[str, Account]:
    """Open every account of accounts.csv with a new number, keeping the former one."""
    opened = {}
    for row in conv.files["accounts.csv"]:
        data = dict(row.data)
        former = data.pop("former_number")
        account, code = create_account(session, actor, data, code_key=key)
        account.former_number, account.converted_on = former, as_of
        opened[former] = account
        posted.accounts[former], posted.codes[former] = account.number, code
    session.flush()
    return opened


def _parcels(session: Session, conv: Conversion, opened: dict[str, Account]) -> None:
    """The parcels of parcels.csv, each owned by its converted account."""
    for row in conv.files["parcels.csv"]:
        data = dict(row.data)
        owner = opened[data.pop("owner_former_number")]
        data["exemption_flags"] = data.pop("exemptions")
        session.add(Parcel(owner_account=owner, **data))
    session.flush()


def _service_points(
    session: Session, conv: Conversion, opened: dict[str, Account]
) -> dict[str, ServicePoint]:
    """The service points of service_points.csv; returns the metered ones by meter id."""
    plans = dict(session.execute(sa.select(RatePlan.code, RatePlan.id)).all())
    meters: dict[str, ServicePoint] = {}
    points = []
    for row in conv.files["service_points.csv"]:
        data = dict(row.data)
        account = opened[data.pop("former_number")]
        plan = data.pop("rate_plan", None)
        source = data.pop("usage_from_meter", None)
        point = ServicePoint(
            account=account,
            rate_plan_id=plans[plan] if plan else None,
            usage_from=meters[source] if source else None,
            **data,
        )
        session.add(point)
        points.append(point)
        if point.meter_id:
            meters[point.meter_id] = point
    session.flush()
    for point in points:
        # NOTE: its premises, as the service points import gives them: owned by the account,
        # which answers for it from the installation (a clerk names a landlord later).
        ensure_location(session, point)
    return meters


#: The words of a converted line, by language; {what} is the class, {ref} the old bill.
LINE_WORDS = {
    "en": "Balance carried over from the former system: {what}{ref}",
    "es": "Saldo traspasado del sistema anterior: {what}{ref}",
}
CLASS_WORDS = {
    PROPERTY_TAX: {"en": "property tax", "es": "impuesto predial"},
    PENALTIES: {"en": "penalties and interest", "es": "recargos e intereses"},
    # The base chart's services (ledger/chart.py); another service is named as defined.
    "water": {"en": "water", "es": "agua"},
    "sewer": {"en": "sewer", "es": "alcantarillado"},
    "trash": {"en": "trash", "es": "basura"},
    "stormwater": {"en": "stormwater", "es": "aguas pluviales"},
}


#: The category of a converted line, which decides the order a payment settles it in.
LINE_CATEGORY = {PROPERTY_TAX: LineCategory.TAX, PENALTIES: LineCategory.PENALTY}


def _line_words(cls: str, service_names: dict[str, str], reference: str | None) -> dict[str, str]:
    """The converted line's description in every language."""
    names = CLASS_WORDS.get(
        cls, {"en": service_names.get(cls, cls), "es": service_names.get(cls, cls)}
    )
    texts = {}
    for language, text in LINE_WORDS.items():
        ref = f" ({'bill' if language == 'en' else 'factura'} {reference})" if reference else ""
        texts[language] = text.format(what=names[language], ref=ref)
    return texts


def _bills(rows: list[Loaded]) -> dict[tuple, list[Loaded]]:
    """The rows owed, grouped into converted bills: account, kind, parcel, period and dates."""
    bills: dict[tuple, list[Loaded]] = defaultdict(list)
    for row in rows:
        data = row.data
        if data["receivable_class"] == CREDIT:
            continue
        start = data.get("period_start") or data["bill_date"]
        end = data.get("period_end") or data["bill_date"]
        kind = InvoiceKind.TAX if data["receivable_class"] == PROPERTY_TAX else InvoiceKind.UTILITY
        key = (
            data["former_number"],
            kind,
            data.get("parcel_number"),
            start,
            end,
            data["bill_date"],
            data["due_date"],
        )
        bills[key].append(row)
    return bills


def _invoice(session: Session, key: tuple, rows: list[Loaded], ctx: dict) -> Invoice:
    """One converted invoice with a line per class; its lines credit the clearing account."""
    former, kind, parcel_number, start, end, bill_date, due_date = key
    total = sum(row.data["amount"] for row in rows)
    invoice = Invoice(
        number=f"{bill_date.year}-{next_number(session, 'invoice', bill_date.year):06d}",
        account=ctx["opened"][former],
        kind=kind,
        period_start=start,
        period_end=end,
        issue_date=bill_date,
        due_date=due_date,
        status=InvoiceStatus.OPEN,
        total_cents=total,
        balance_cents=total,
        parcel_id=ctx["parcels"].get(parcel_number),
        converted=True,
    )
    for position, row in enumerate(rows, start=1):
        cls = row.data["receivable_class"]
        words = _line_words(cls, ctx["service_names"], row.data.get("reference"))
        invoice.lines.append(
            InvoiceLine(
                position=position,
                description=words[DEFAULT_LANGUAGE],
                descriptions=words,
                category=LINE_CATEGORY.get(cls, LineCategory.CHARGE),
                amount_cents=row.data["amount"],
                gl_account_id=ctx["gl_ids"][CONVERSION_CLEARING],
                receivable_gl_id=ctx["gl_ids"][ctx["receivables"][cls]],
                parcel_id=invoice.parcel_id,
                source=f"{SOURCE}:{row.file}:{row.row}",
            )
        )
    session.add(invoice)
    return invoice


def _opening_entry(
    account: Account, rows: list[Loaded], receivables: dict[str, str], as_of: date
) -> EntrySpec | None:
    """Dr each class's receivable, Cr the account's credit, the difference to clearing."""
    net: dict[str, int] = defaultdict(int)
    for row in rows:
        cls = row.data["receivable_class"]
        net[UNAPPLIED_CREDITS if cls == CREDIT else receivables[cls]] += row.data["amount"]
    if not net:
        return None
    credit_cents = net.pop(UNAPPLIED_CREDITS, 0)
    postings = [
        Posting(code, debit_cents=cents, account_id=account.id)
        for code, cents in sorted(net.items())
    ]
    if credit_cents:
        postings.append(
            Posting(UNAPPLIED_CREDITS, credit_cents=credit_cents, account_id=account.id)
        )
    clearing = sum(net.values()) - credit_cents
    if clearing > 0:
        postings.append(Posting(CONVERSION_CLEARING, credit_cents=clearing))
    elif clearing < 0:
        postings.append(Posting(CONVERSION_CLEARING, debit_cents=-clearing))
    return EntrySpec(
        postings=postings,
        entry_date=as_of,
        source_type="conversion",
        source_id=account.number,
        memo=f"Opening balance of account {account.number} (former {account.former_number})",
    )


def _balances(
    session: Session,
    actor: Actor,
    conv: Conversion,
    opened: dict[str, Account],
    as_of: date,
    posted: Posted,
) -> None:
    """Converted invoices with their original dates, and one opening entry per account."""
    rows = conv.files["balances.csv"]
    parcel_numbers = {r.data["parcel_number"] for r in rows if r.data.get("parcel_number")}
    ctx = {
        "opened": opened,
        "receivables": conv.receivables,
        "gl_ids": {code: gl_id for gl_id, code in gl_codes(session).items()},
        "parcels": dict(
            session.execute(
                sa.select(Parcel.parcel_number, Parcel.id).where(
                    Parcel.parcel_number.in_(parcel_numbers)
                )
            ).all()
        ),
        "service_names": dict(session.execute(sa.select(ServiceKind.code, ServiceKind.name)).all()),
    }
    for key, bill_rows in _bills(rows).items():
        _invoice(session, key, bill_rows, ctx)
        posted.invoices += 1
    session.flush()
    by_account: dict[str, list[Loaded]] = defaultdict(list)
    for row in rows:
        by_account[row.data["former_number"]].append(row)
    specs = [
        spec
        for former, account in opened.items()
        if (spec := _opening_entry(account, by_account.get(former, []), conv.receivables, as_of))
    ]
    if specs:
        post_entries(session, specs, actor=actor)
    posted.entries = len(specs)


def _deposits(
    session: Session,
    actor: Actor,
    conv: Conversion,
    opened: dict[str, Account],
    as_of: date,
    posted: Posted,
) -> None:
    """Each deposit held, Dr clearing / Cr deposits held, through the deposit register.

    Booked on the conversion day with its own held-since date; the amount is what the old
    system held, interest included, so interest here runs from the conversion day.
    """
    for row in conv.files["deposits.csv"]:
        hold_deposit(
            session,
            actor,
            account_id=opened[row.data["former_number"]].id,
            amount_cents=row.data["amount"],
            held_since=row.data["held_since"],
            offset_gl_code=CONVERSION_CLEARING,
            source=SOURCE,
            reference=row.data.get("reference"),
            on=as_of,
            interest_through=as_of,
        )
        posted.deposits += 1


def _reads(
    session: Session, conv: Conversion, meters: dict[str, ServicePoint], posted: Posted
) -> None:
    """The last reading of each meter and the reads its consumption history stands for."""
    for meter, reads in conv.reads.items():
        point = meters[meter]
        for read_on, reading in reads:
            session.add(
                MeterReading(
                    service_point_id=point.id,
                    meter_installed_on=point.installed_on,
                    read_on=read_on,
                    reading=reading,
                    recorded_by=SOURCE,
                    note="converted from the former system",
                )
            )
            posted.reads += 1
    session.flush()


def post(
    session: Session,
    actor: Actor,
    conv: Conversion,
    expected: list[ControlLine],
    *,
    as_of: date,
    code_key: bytes,
) -> Posted:
    """Write a checked conversion; ConversionRefused when the clearing account does not net
    to zero against the expected totals (the caller then rolls everything back)."""
    posted = Posted()
    before = gl_balance(session, CONVERSION_CLEARING)
    opened = _accounts(session, actor, conv, as_of, code_key, posted)
    _parcels(session, conv, opened)
    meters = _service_points(session, conv, opened)
    _balances(session, actor, conv, opened, as_of, posted)
    _deposits(session, actor, conv, opened, as_of, posted)
    _reads(session, conv, meters, posted)
    session.flush()
    moved = gl_balance(session, CONVERSION_CLEARING) - before
    (clearing,) = [line for line in expected if line.item == "clearing"]
    if moved != clearing.amount:
        raise ConversionRefused(
            f"the conversion-clearing account {CONVERSION_CLEARING} moved by {moved} cents, "
            f"the control totals by {clearing.amount} cents; nothing was posted"
        )
    record(
        session,
        actor,
        "conversion.post",
        object_type="Conversion",
        accounts=len(opened),
        invoices=posted.invoices,
        entries=posted.entries,
        deposits=posted.deposits,
        reads=posted.reads,
        clearing_cents=moved,
    )
    return posted


class ConversionFailed(ValueError):
    """The conversion was refused; `problems` names every file, row and column at fault."""

    def __init__(self, problems: list[str]):
        super().__init__(f"{len(problems)} problem(s); nothing was posted")
        self.problems = problems


@dataclass
class Outcome:
    """The report of a conversion and, when it was posted (or tried), what it wrote."""

    lines: list[ControlLine]
    posted: Posted | None = None
    dry_run: bool = False


def report(session: Session, directory: Path) -> Outcome:
    """Check every file and report counts and control totals; ConversionFailed on any problem."""
    conv, problems = check(session, directory)
    if problems:
        raise ConversionFailed(problems.messages)
    return Outcome(_lines(conv))


def _lines(conv: Conversion) -> list[ControlLine]:
    """The control totals of a checked conversion."""
    units = {meter: row.data.get("meter_unit") or "?" for meter, row in conv.meters.items()}
    return control_totals(conv.files, units)


def convert(
    session: Session,
    actor: Actor,
    directory: Path,
    *,
    expected: tuple[str, str] | None,
    as_of: date,
    code_key: bytes,
    dry_run: bool = False,
) -> Outcome:
    """Check, compare with the expected control totals (source name, CSV text) and post in
    one savepoint; all or nothing. A dry run without expected totals compares with its own."""
    conv, problems = check(session, directory)
    lines = _lines(conv) if not problems else []
    if expected is None and not dry_run:
        problems.add(CONTROL_FILE, None, None, "posting needs the expected control totals")
    elif expected is not None and not problems:
        compare(lines, expected[1], expected[0], problems)
    if problems:
        raise ConversionFailed(problems.messages)
    savepoint = session.begin_nested()
    try:
        posted = post(session, actor, conv, lines, as_of=as_of, code_key=code_key)
    except ConversionRefused as refused:
        savepoint.rollback()
        raise ConversionFailed([str(refused)]) from None
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()
    return Outcome(lines, posted, dry_run)

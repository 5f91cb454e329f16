"""Importing a bank's lockbox or bill-pay file: every item settled once, or queued with its reason.

The whole file is read and checked first (payments.lockbox_layouts: trailer,
counts, batch totals); a file whose SHA-256 was imported before is refused.
Then each item is decided: its account found (our number from the stub's scan
line or the bill-pay reference, or a former number while it is accepted), the
stub's amount compared; a good item becomes a settled payment posted Dr 1040
Lockbox clearing / Cr receivables (all of the file's together, by the set:
payments.settle_new), any other goes to the clerks' exception queue, its money
held on 2040 until a clerk applies or returns it (payments.lockbox_queue). The
file's deposit, when the import makes it, moves the whole file on to 1050
(payments.bank_deposits).

NOTE: one file is one transaction. The file's row (unique by SHA-256) is
written first, so a second import of the same file, even at the same moment,
waits and is refused; a crash anywhere leaves nothing, and the file can be
imported again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.services import FormerNumbers
from core.audit import Actor, record
from core.db import among, bulk_insert
from core.money import format_cents
from ledger import chart
from ledger.posting import credit, debit, post_entry
from payments.bank_deposits import deposit_file
from payments.lockbox_layouts import Item, Layout, Remittance, read_file
from payments.models import (
    Channel,
    RemittanceFile,
    RemittanceItem,
    RemittanceKind,
    RemittanceStatus,
    Tender,
)
from payments.payoff_lockbox import REASONS as QUOTE_REASONS
from payments.payoff_lockbox import (
    TO_APPLY,
    QuoteMatch,
    QuoteTerms,
    apply_at_import,
    match_quotes,
    quote_number,
)
from payments.remittance_accounts import AccountFinder, Found, Missing, digits_of
from payments.scanline import LENGTH, ScanLineError, parse
from payments.settle_new import NewPayment, new_payment_ids, settle_new_payments

#: Why an item waits in the exception queue, in the clerks' words.
REASONS = {
    "unreadable": "the stub's scan line cannot be read",
    "bad_check_digit": "the check digit does not match",
    "unknown_account": "no account has this number",
    "former_number_expired": "a former number no longer accepted",
    "amount_differs": "the check is not for the stub's amount",
    "account_closed": "the account is closed",
    "duplicate": "this check was already taken",
    **QUOTE_REASONS,
}
#: How many check numbers are looked up by one query.
LOOKUP_CHUNK = 5000


def accepted_former_numbers(config: Mapping, today: date) -> FormerNumbers:
    """How long former numbers are accepted, as of today (CONVERSION_FORMER_NUMBER_DAYS)."""
    return FormerNumbers(today=today, days=config["CONVERSION_FORMER_NUMBER_DAYS"])


class ImportRefused(ValueError):
    """A file refused before any item was looked at (already imported, wrong kind, dated ahead)."""


@dataclass
class Decision:
    """What becomes of one item."""

    item: Item
    account_id: int | None = None
    stub_cents: int | None = None
    reason: str | None = None
    detail: str | None = None
    #: The payoff quote the item names (payments.payoff_lockbox), if any.
    quote: str | None = None


@dataclass
class ImportReport:
    """What an import did (or, dry, would do)."""

    filename: str
    layout: str
    kind: str
    deposit_date: date
    items: int
    total_cents: int
    settled: int
    settled_cents: int
    exceptions: list[dict] = field(default_factory=list)
    file_id: int | None = None
    dry_run: bool = False
    #: The bank deposit the import made of the file (LOCKBOX_DEPOSIT_ON_IMPORT), if any.
    bank_deposit: str | None = None
    #: The items applied (dry: to be applied) to the payoff quotes they name; in `settled`.
    quotes: list[dict] = field(default_factory=list)

    @property
    def exception_cents(self) -> int:
        """What the queued items come to."""
        return sum(e["amount_cents"] for e in self.exceptions)


def _stub(item: Item, finder: AccountFinder) -> Decision:
    """A lockbox item: the account and amount its stub's scan line says."""
    text = (item.scan_line or "").strip()
    if not text and item.account:
        return _reference(item, finder)
    try:
        stub = parse(text)
    except ScanLineError as error:
        former = finder.former(text) if text else None
        if former is not None:
            return _found(item, former, None)
        if item.account:
            return _reference(item, finder)
        return Decision(item, reason=error.reason, detail=f"{text or 'blank'}: {error}")
    found = finder.number(stub.account_number)
    return _found(item, found, stub.amount_cents)


def _reference(item: Item, finder: AccountFinder) -> Decision:
    """A bill-pay item (or a stub without our scan line): the account its reference names."""
    if not (item.account or "").strip():
        return Decision(item, reason="unreadable", detail="the item names no account")
    return _found(item, finder.reference(item.account), None)


def _found(item: Item, found: Found | Missing, stub_cents: int | None) -> Decision:
    """The decision once the account is known (or known missing)."""
    if isinstance(found, Missing):
        return Decision(item, stub_cents=stub_cents, reason=found.reason, detail=found.detail)
    decision = Decision(item, account_id=found.id, stub_cents=stub_cents)
    if found.closed:
        decision.reason, decision.detail = "account_closed", f"account {found.number} is closed"
    elif stub_cents is not None and stub_cents != item.amount_cents:
        decision.reason = "amount_differs"
        decision.detail = (
            f"the check is for {format_cents(item.amount_cents)}, "
            f"the stub of account {found.number} for {format_cents(stub_cents)}"
        )
    return decision


def _finder(session: Session, remittance: Remittance, accepted: FormerNumbers) -> AccountFinder:
    """The accounts every item of the file may name, read at once."""
    numbers, former = [], []
    for item in remittance.items:
        text = (item.scan_line or "").strip()
        digits = "".join(text.split())
        if len(digits) == LENGTH and digits.isdigit():
            numbers.append(digits[:8])
        elif text:
            former.append(text)
        if item.account:
            former.append(item.account)
            numbers.append(digits_of(item.account))
    return AccountFinder(session, numbers=numbers, former=former, accepted=accepted)


def _already_taken(session: Session, decisions: list[Decision]) -> None:
    """Queue an item whose check (number, account, amount) was taken before, here or in this file."""
    keys = {
        (d.item.check_number, d.account_id, d.item.amount_cents)
        for d in decisions
        if d.reason is None and d.item.check_number
    }
    refs = sorted({k[0] for k in keys})
    taken: dict[tuple, str] = {}
    for start in range(0, len(refs), LOOKUP_CHUNK):
        rows = session.execute(
            sa.select(
                RemittanceItem.reference,
                RemittanceItem.account_id,
                RemittanceItem.amount_cents,
                RemittanceItem.file_id,
            ).where(
                among(session, RemittanceItem.reference, refs[start : start + LOOKUP_CHUNK]),
                RemittanceItem.status.in_((RemittanceStatus.SETTLED, RemittanceStatus.APPLIED)),
            )
        ).all()
        taken.update(
            {(r.reference, r.account_id, r.amount_cents): f"file {r.file_id}" for r in rows}
        )
    for d in decisions:
        key = (d.item.check_number, d.account_id, d.item.amount_cents)
        if d.reason is not None or not d.item.check_number:
            continue
        if key in taken:
            d.reason = "duplicate"
            d.detail = f"check {d.item.check_number} for this account and amount: see {taken[key]}"
        else:
            taken[key] = f"item {d.item.sequence} of this file"


def _quoted(item: Item, match: QuoteMatch) -> Decision:
    """An item whose reference is a payoff quote's number: applied to it, or waiting."""
    return Decision(
        item,
        account_id=match.account_id,
        reason=match.reason,
        detail=match.detail,
        quote=match.number,
    )


def decide(session: Session, remittance: Remittance, accepted: FormerNumbers) -> list[Decision]:
    """What becomes of each item of a checked file (reads only)."""
    finder = _finder(session, remittance, accepted)
    by_stub = remittance.layout.kind == RemittanceKind.LOCKBOX.value
    named = {i.sequence: quote_number(i.scan_line, i.account) for i in remittance.items}
    quotes = match_quotes(session, filter(None, named.values()), remittance.deposit_date)
    decisions = [
        _quoted(item, quotes[named[item.sequence]])
        if named[item.sequence]
        else _stub(item, finder)
        if by_stub
        else _reference(item, finder)
        for item in remittance.items
    ]
    _already_taken(session, decisions)
    return decisions


def read(
    session: Session, data: bytes, layout: Layout, *, today: date, kind: str | None = None
) -> tuple[str, Remittance]:
    """The file's SHA-256 and its checked contents; ImportRefused or FileRefused, naming why."""
    if kind is not None and layout.kind != kind:
        raise ImportRefused(f"layout {layout.name} reads {layout.kind} files, not {kind}")
    digest = hashlib.sha256(data).hexdigest()
    _refuse_if_imported(session, digest)
    remittance = read_file(layout, data)
    if remittance.deposit_date > today:
        raise ImportRefused(f"the deposit date {remittance.deposit_date} is after today")
    return digest, remittance


def _refuse_if_imported(session: Session, digest: str) -> None:
    """ImportRefused when a file with these bytes was imported before."""
    before = session.execute(
        sa.select(RemittanceFile.id, RemittanceFile.filename, RemittanceFile.imported_at).where(
            RemittanceFile.sha256 == digest
        )
    ).first()
    if before is not None:
        raise ImportRefused(
            f"this file was already imported as file {before.id} ({before.filename}) on "
            f"{before.imported_at:%Y-%m-%d}; nothing was taken again"
        )


def import_file(
    session: Session,
    actor: Actor,
    data: bytes,
    *,
    layout: Layout,
    filename: str,
    today: date,
    accepted: FormerNumbers,
    dry_run: bool = False,
    kind: str | None = None,
    deposit: bool = False,
    quotes: QuoteTerms | None = None,
) -> ImportReport:
    """Check the whole file, then settle each good item and queue the rest; flushes.

    ImportRefused or lockbox_layouts.FileRefused, with nothing written, when the
    file cannot be taken. A dry run reads and decides, and writes nothing. With `deposit`
    the file's bank deposit is made too (payments.bank_deposits.deposit_file): the bank
    deposited its checks itself on the file's deposit date. With `quotes` an item naming a
    payoff quote that stands is applied to it (payments.payoff_lockbox); without, it waits.
    """
    digest, remittance = read(session, data, layout, today=today, kind=kind)
    decisions = decide(session, remittance, accepted)
    good = [d for d in decisions if d.reason is None]
    to_quote = [d for d in decisions if d.reason == TO_APPLY] if quotes is not None else []
    waits = [d for d in decisions if d.reason is not None and d not in to_quote]
    report = ImportReport(
        filename=filename,
        layout=layout.name,
        kind=layout.kind,
        deposit_date=remittance.deposit_date,
        items=len(decisions),
        total_cents=remittance.total_cents,
        settled=len(good) + len(to_quote),
        settled_cents=sum(d.item.amount_cents for d in good + to_quote),
        exceptions=[_queued(d) for d in waits],
        dry_run=dry_run,
        quotes=[_queued(d) for d in to_quote],
    )
    if dry_run:
        return report
    upload = _file_row(session, actor, digest, remittance, report)
    payments = _payments(session, layout, good)
    settle_new_payments(
        session,
        actor,
        [payments[s] for s in sorted(payments)],
        on=remittance.deposit_date,
        cash_gl=chart.LOCKBOX_CLEARING,
        channel=Channel.MAIL,
    )
    _item_rows(session, upload, decisions, payments)
    _hold(session, actor, upload, report)
    if to_quote:
        assert quotes is not None
        numbers = {d.item.sequence: d.quote for d in to_quote}
        paid = apply_at_import(
            session, actor, upload.id, numbers, quotes, on=remittance.deposit_date
        )
        for row, done in zip(report.quotes, paid, strict=True):
            row.update(outcome=done.outcome.value, refund_cents=done.refund_cents)
    report.file_id = upload.id
    if deposit and upload.total_cents > 0:
        report.bank_deposit = deposit_file(session, actor, upload).number
    return report


def _queued(d: Decision) -> dict:
    """An exception as the report shows it."""
    return {
        "sequence": d.item.sequence,
        "line": d.item.line,
        "batch": d.item.batch,
        "amount_cents": d.item.amount_cents,
        "reason": d.reason,
        "detail": d.detail,
        "quote": d.quote,
    }


def _file_row(
    session: Session, actor: Actor, digest: str, remittance: Remittance, report: ImportReport
) -> RemittanceFile:
    """The file's row, written first: a second import of the same bytes is refused here."""
    upload = RemittanceFile(
        kind=RemittanceKind(report.kind),
        layout=report.layout,
        filename=report.filename[:255],
        sha256=digest,
        deposit_date=remittance.deposit_date,
        item_count=report.items,
        total_cents=report.total_cents,
        settled_count=report.settled,
        settled_cents=report.settled_cents,
        exception_count=len(report.exceptions),
        exception_cents=report.exception_cents,
        imported_by=actor.label,
    )
    session.add(upload)
    try:
        session.flush()
    except IntegrityError:
        # NOTE: the same bytes imported at this moment by someone else, who committed first;
        # the caller rolls back (the transaction cannot go on after the failed insert).
        raise ImportRefused(
            "this file was imported by someone else at the same moment; nothing was taken again"
        ) from None
    record(
        session,
        actor,
        "remittance.import",
        upload,
        layout=report.layout,
        sha256=digest,
        items=report.items,
        total_cents=report.total_cents,
        settled=report.settled,
        exceptions=len(report.exceptions),
    )
    return upload


def _payments(session: Session, layout: Layout, good: list[Decision]) -> dict[int, NewPayment]:
    """A payment for each good item, by the item's sequence, numbered in the file's order."""
    tender = Tender.CHECK if layout.kind == RemittanceKind.LOCKBOX.value else Tender.BILL_PAY
    ids = new_payment_ids(session, len(good))
    return {
        d.item.sequence: NewPayment(
            id=payment_id,
            account_id=d.account_id,
            amount_cents=d.item.amount_cents,
            tender=tender,
            tender_reference=(d.item.check_number or "")[:64] or None,
        )
        for payment_id, d in zip(ids, sorted(good, key=lambda d: d.item.sequence), strict=True)
    }


def _item_rows(
    session: Session,
    upload: RemittanceFile,
    decisions: list[Decision],
    payments: dict[int, NewPayment],
) -> None:
    """Every item of the file, once (unique per file and sequence)."""
    rows = []
    for d in decisions:
        item, payment = d.item, payments.get(d.item.sequence)
        rows.append(
            {
                "file_id": upload.id,
                "sequence": item.sequence,
                "batch": item.batch[:16],
                "item": (item.item or "")[:16] or None,
                "amount_cents": item.amount_cents,
                "reference": (item.check_number or "")[:64] or None,
                "scan_line": (item.scan_line or "")[:64] or None,
                "account_text": (item.account or "")[:64] or None,
                "stub_cents": d.stub_cents,
                "payer_name": (item.payer_name or "")[:100] or None,
                "account_id": d.account_id,
                "payment_id": payment.id if payment is not None else None,
                "status": RemittanceStatus.SETTLED
                if d.reason is None
                else RemittanceStatus.EXCEPTION,
                "reason": d.reason,
                "detail": (d.detail or "")[:300] or None,
            }
        )
    bulk_insert(session, RemittanceItem.__table__, rows)


def _hold(session: Session, actor: Actor, upload: RemittanceFile, report: ImportReport) -> None:
    """The queued items' money, deposited with the rest: Dr 1040 / Cr 2040 until resolved."""
    held = report.exceptions + report.quotes
    if not held:
        return
    cents, count = sum(e["amount_cents"] for e in held), len(held)
    post_entry(
        session,
        [debit(chart.LOCKBOX_CLEARING, cents), credit(chart.REMITTANCES_HELD, cents)],
        entry_date=upload.deposit_date,
        source_type="remittance_file",
        source_id=upload.id,
        actor=actor,
        memo=f"{count} item{'' if count == 1 else 's'} of {report.kind.replace('_', '-')} file "
        f"{upload.id} held for the clerks",
    )

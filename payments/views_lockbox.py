"""The clerks' lockbox pages: import a bank's lockbox or bill-pay file, see what it settled,
and work the exception queue (apply an item to an account by hand, or return it)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required

from accounts.services import find_account
from billing.payoff import find_quote
from core.auth import request_actor, requires
from core.calendar import town_today
from core.db import get_by_id
from core.extensions import db
from core.money import parse_dollars
from payments.lockbox import REASONS, ImportRefused, accepted_former_numbers, import_file
from payments.lockbox_layouts import FileRefused, LayoutError, available, load_layout
from payments.lockbox_queue import QueueRefused, apply_item, return_item, waiting
from payments.models import Payment, Receipt, RemittanceFile, RemittanceItem, RemittanceStatus
from payments.payoff_lockbox import QuoteTerms, quote_number
from payments.payoff_payments import apply_item_to_quote
from payments.services import PaymentRefused

bp = Blueprint("lockbox", __name__, url_prefix="/staff/lockbox", template_folder="templates")
#: The largest file the page takes (the CLI takes any).
MAX_UPLOAD = 20 * 1024 * 1024
FILES_SHOWN = 30
#: What applying an item to a payoff quote did, in the clerks' words.
OUTCOMES = {
    "settled": "the parcel's tax is paid by it",
    "refunded": "the parcel was already paid; the whole check is a refund to send to its payer",
    "late": "paid after the good-through date; some tax is still owed",
}


def _page(errors: dict | None = None, status: int = 200, report=None):
    """The import form, the latest files and the waiting items."""
    files = db.session.scalars(
        sa.select(RemittanceFile).order_by(RemittanceFile.id.desc()).limit(FILES_SHOWN)
    ).all()
    page = render_template(
        "payments/lockbox.html",
        layouts=[load_layout(name) for name in available()],
        files=files,
        queue=waiting(db.session),
        reasons=REASONS,
        errors=errors or {},
        report=report,
        form=request.form,
    )
    return page, status


@bp.get("/")
@login_required
@requires("read")
def index():
    """Import a file; the files so far; the exception queue."""
    return _page()


@bp.post("/import")
@login_required
@requires("write")
def upload():
    """Import the chosen file with the chosen layout (or check it, dry)."""
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        return _page({"file": ["Choose the bank's file."]}, 422)
    data = upload_file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        return _page({"file": ["The file is larger than 20 MB; import it with the CLI."]}, 413)
    dry_run = request.form.get("dry_run") == "1"
    today = town_today(current_app.config)
    try:
        report = import_file(
            db.session,
            request_actor(),
            data,
            layout=load_layout(request.form.get("layout", "")),
            filename=upload_file.filename,
            today=today,
            accepted=accepted_former_numbers(current_app.config, today),
            dry_run=dry_run,
            deposit=current_app.config["LOCKBOX_DEPOSIT_ON_IMPORT"],
            quotes=QuoteTerms.from_config(current_app.config),
        )
    except LayoutError as error:
        db.session.rollback()
        return _page({"layout": [str(error)]}, 422)
    except (FileRefused, ImportRefused) as error:
        db.session.rollback()
        return _page({"file": [f"Refused, nothing was taken: {error}"]}, 422)
    if dry_run:
        db.session.rollback()
        return _page(report=report)
    db.session.commit()
    flash(
        f"File {report.file_id} imported: {report.settled} settled"
        + (f" ({len(report.quotes)} to payoff quotes)" if report.quotes else "")
        + ", "
        f"{len(report.exceptions)} in the exception queue"
        + (f"; deposited by the bank as {report.bank_deposit}." if report.bank_deposit else ".")
    )
    return redirect(url_for(".index"), 303)


def _item_or_404(item_id: int) -> RemittanceItem:
    item = get_by_id(db.session, RemittanceItem, item_id)
    if item is None:
        abort(404)
    return item


def _item_page(item: RemittanceItem, error: dict | None = None, status: int = 200):
    receipt = None
    if item.payment_id:
        receipt = db.session.scalar(sa.select(Receipt).where(Receipt.payment_id == item.payment_id))
    page = render_template(
        "payments/lockbox_item.html",
        item=item,
        payment=db.session.get(Payment, item.payment_id) if item.payment_id else None,
        receipt=receipt,
        reasons=REASONS,
        waiting=item.status == RemittanceStatus.EXCEPTION,
        quote=quote_number(item.scan_line, item.account_text) or "",
        errors=error or {},
        form=request.form,
    )
    return page, status


@bp.get("/items/<int:item_id>")
@login_required
@requires("read")
def item(item_id: int):
    """One item: what the bank sent, why it waits, and how it was resolved."""
    return _item_page(_item_or_404(item_id))


@bp.post("/items/<int:item_id>/apply")
@login_required
@requires("write")
def apply(item_id: int):
    """Apply the item's whole amount to the account the clerk names."""
    found = _item_or_404(item_id)
    form = request.form
    try:
        amount = parse_dollars(form.get("amount", ""))
    except ValueError:
        return _item_page(found, {"amount_cents": ["Enter the amount, such as 107.84."]}, 422)
    try:
        receipt = apply_item(
            db.session,
            request_actor(),
            found,
            account=find_account(db.session, form.get("account", "")),
            amount_cents=amount,
            note=form.get("note", ""),
            on=town_today(current_app.config),
        )
    except QueueRefused as refused:
        db.session.rollback()
        status = 409 if refused.field == "item" else 422
        return _item_page(_item_or_404(item_id), {refused.field: [refused.message]}, status)
    db.session.commit()
    flash(f"Item {item_id} applied: receipt {receipt.number}.")
    return redirect(url_for(".index"), 303)


@bp.post("/items/<int:item_id>/quote")
@login_required
@requires("write")
def apply_to_quote(item_id: int):
    """Apply the item's whole amount to the payoff quote the clerk names."""
    found = _item_or_404(item_id)
    config = current_app.config
    terms = QuoteTerms.from_config(config)
    try:
        paid = apply_item_to_quote(
            db.session,
            request_actor(),
            found,
            find_quote(db.session, request.form.get("quote", "")),
            note=request.form.get("note", ""),
            on=town_today(config),
            rounding=terms.rounding,
            town_state=terms.town_state,
        )
    except (QueueRefused, PaymentRefused) as refused:
        db.session.rollback()
        status = 409 if refused.field == "item" else 422
        return _item_page(_item_or_404(item_id), {refused.field: [refused.message]}, status)
    number = paid.quote.number
    db.session.commit()
    flash(f"Item {item_id} applied to payoff quote {number}: {OUTCOMES[paid.outcome.value]}.")
    return redirect(url_for(".index"), 303)


@bp.post("/items/<int:item_id>/return")
@login_required
@requires("write")
def return_(item_id: int):
    """Return the item to its payer."""
    found = _item_or_404(item_id)
    try:
        return_item(
            db.session,
            request_actor(),
            found,
            note=request.form.get("note", ""),
            on=town_today(current_app.config),
        )
    except QueueRefused as refused:
        db.session.rollback()
        status = 409 if refused.field == "item" else 422
        return _item_page(_item_or_404(item_id), {refused.field: [refused.message]}, status)
    db.session.commit()
    flash(f"Item {item_id} returned: the payer is owed it back (refunds payable).")
    return redirect(url_for(".index"), 303)


def init_app(app) -> None:
    """Register the lockbox pages."""
    app.register_blueprint(bp)

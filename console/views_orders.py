"""The clerks' service-orders page: residents' requests to confirm or refuse, and the forms to
start, stop or transfer service and to move a final bill's unpaid balance (thin: read the form,
call billing.service_orders or billing.balance_transfers, commit once).

The start/stop/transfer and balance forms carry one-time tokens (core.submissions): sent
twice, they act once. Confirming or refusing a decided request is refused by itself.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required

from accounts.locations import OrderKind, OrderStatus, ServiceLocation, ServiceOrder
from accounts.responsibility import current
from accounts.services import find_account
from billing.balance_transfers import TransferError, transfer_final_balance
from billing.deposit_owed import owed_by_order, owed_for_order
from billing.models import Invoice, OwedDeposit, OwedStatus
from billing.service_orders import OrderError, confirm, new_order, refuse, settings_from
from core import submissions
from core.auth import request_actor, requires
from core.calendar import town_today, town_zone
from core.db import get_by_id
from core.extensions import db
from core.money import format_cents
from core.text import only_digits

bp = Blueprint("orders", __name__, url_prefix="/staff/service-orders", template_folder="templates")
ORDER_FORM, BALANCE_FORM = "orders.enter", "orders.balance"
FORWARD = ("street", "city", "state", "zip")


def _page(errors: dict | None = None, shown: dict | None = None, status: int = 200):
    """The page: the queue, the forms (with what was typed and what was wrong), the latest."""
    waiting = db.session.scalars(
        sa.select(ServiceOrder)
        .where(ServiceOrder.status == OrderStatus.REQUESTED)
        .order_by(ServiceOrder.effective_on, ServiceOrder.id)
    ).all()
    latest = db.session.scalars(
        sa.select(ServiceOrder)
        .where(ServiceOrder.status != OrderStatus.REQUESTED)
        .order_by(ServiceOrder.id.desc())
        .limit(20)
    ).all()
    text = request.args.get("q", "").strip()
    found = []
    if text:
        found = db.session.scalars(
            sa.select(ServiceLocation)
            .where(ServiceLocation.street.icontains(text, autoescape=True))
            .order_by(ServiceLocation.street)
            .limit(20)
        ).all()
    finals = {
        o.final_invoice_id: db.session.get(Invoice, o.final_invoice_id)
        for o in [*waiting, *latest]
        if o.final_invoice_id
    }
    page = render_template(
        "console/service_orders.html",
        waiting=waiting,
        latest=latest,
        found=[(loc, current(db.session, loc.id)) for loc in found],
        q=text,
        finals=finals,
        deposits=owed_by_order(db.session, [o.id for o in latest]),
        owed_words=owed_words,
        errors=errors or {},
        shown=shown or {},
        kinds=list(OrderKind),
        zone=town_zone(current_app.config),
        today=town_today(current_app.config),
    )
    return page, status


@bp.get("/")
@login_required
@requires("read")
def page():
    """Residents' requests waiting, the forms, and the latest orders."""
    return _page()


def _field_error(error: ValueError) -> dict:
    """The message under its field (or the form's own line)."""
    field, sep, message = str(error).partition(": ")
    if not sep or " " in field:
        return {"_form": str(error)}
    return {field: message}


def _claimed(form: str):
    """The earlier answer when this form's token was used already (None: go on)."""
    token = request.form.get(submissions.FIELD, "")
    if not submissions.well_formed(token):
        return None
    earlier = submissions.claim(db.session, request_actor(), form, token)
    if earlier is None:
        return None
    db.session.rollback()
    if submissions.same_sender(earlier, request_actor(), form):
        flash(f"This form was sent twice; it acted once. {earlier.message}")
        return redirect(earlier.location, 303)
    flash("This form is out of date: check it and send it again.")
    return redirect(url_for(".page"), 303)


def _answered(message: str):
    """Keep the answer for a second sending of the form, commit, and show it."""
    token = request.form.get(submissions.FIELD, "")
    if submissions.well_formed(token):
        submissions.answered(db.session, token, location=url_for(".page"), message=message)
    db.session.commit()
    flash(message)
    return redirect(url_for(".page"), 303)


def _order_fields(form) -> dict:
    """The order's columns from the form; a ValueError names the field that is wrong."""
    try:
        kind = OrderKind(form.get("kind", ""))
    except ValueError:
        raise OrderError("kind: choose start, stop or transfer") from None
    fields: dict = {"kind": kind}
    for name in ("location", "new_location"):
        raw = form.get(name, "").strip()
        if raw and (not only_digits(raw) or db.session.get(ServiceLocation, int(raw)) is None):
            raise OrderError(f"{name}: no service location {raw}")
        fields[f"{name}_id"] = int(raw) if raw else None
    if fields["location_id"] is None:
        raise OrderError("location: enter the location's number (find it by its street below)")
    for name in ("account", "new_account"):
        raw = form.get(name, "").strip()
        account = find_account(db.session, raw) if raw else None
        if raw and account is None:
            raise OrderError(f"{name}: no account {raw}")
        fields[f"{name}_id"] = account.id if account else None
    try:
        fields["effective_on"] = date.fromisoformat(form.get("effective_on", ""))
    except ValueError:
        raise OrderError("effective_on: enter the date as YYYY-MM-DD") from None
    reading = form.get("reading", "").strip()
    if reading and not only_digits(reading):
        raise OrderError("reading: enter the register's whole number, or leave it blank")
    fields["reading"] = int(reading) if reading else None
    fields["holder_name"] = form.get("holder_name", "").strip()[:200] or None
    fields["email"] = form.get("email", "").strip()[:254] or None
    for name in FORWARD:
        fields[f"forward_{name}"] = form.get(f"forward_{name}", "").strip() or None
    if fields["forward_state"] and len(fields["forward_state"]) != 2:
        raise OrderError("forward_state: two letters, such as WI")
    return fields


@bp.post("/")
@login_required
@requires("write")
def enter():
    """A clerk's start, stop or transfer: carried out now (a stop's final bill is posted)."""
    if (earlier := _claimed(ORDER_FORM)) is not None:
        return earlier
    try:
        fields = _order_fields(request.form)
        order = new_order(db.session, request_actor(), status=OrderStatus.CONFIRMED, **fields)
        settings = settings_from(current_app.config)
        confirm(db.session, request_actor(), order, settings, town_today(current_app.config))
    except OrderError as error:
        db.session.rollback()
        return _page(_field_error(error), request.form, 422)
    return _answered(_done(order))


def owed_words(owed: OwedDeposit) -> str:
    """A deposit the rules asked for, in the clerk's words."""
    amount, why = format_cents(owed.amount_cents), owed.reasons.replace(",", ", ").replace("_", " ")
    if owed.status == OwedStatus.OWED and owed.collect == "before_service":
        return f"Deposit owed {amount} ({why}): take it at the counter"
    if owed.status == OwedStatus.OWED:
        return f"Deposit owed {amount} ({why}): billed on the first regular bill"
    if owed.status == OwedStatus.BILLED:
        bill = db.session.get(Invoice, owed.invoice_id)
        return f"Deposit {amount} billed on {bill.number}"
    if owed.status == OwedStatus.TAKEN:
        return f"Deposit {amount} taken on {owed.closed_on.isoformat()}"
    return f"Deposit {amount} dropped (service stopped on {owed.closed_on.isoformat()})"


def _done(order: ServiceOrder) -> str:
    """What a carried-out order did, in a line."""
    text = f"Order {order.id}: {order.kind.value} on {order.effective_on.isoformat()} carried out."
    if order.final_invoice_id:
        final = db.session.get(Invoice, order.final_invoice_id)
        text += f" Final bill {final.number} posted ({format_cents(final.total_cents)})."
    if order.new_account_id:
        text += f" Service starts on account {order.new_account.number}."
    if (owed := owed_for_order(db.session, order.id)) is not None:
        text += f" {owed_words(owed)}."
    return text


def _order_or_404(order_id: int) -> ServiceOrder:
    order = get_by_id(db.session, ServiceOrder, order_id)
    if order is None:
        abort(404)
    return order


@bp.post("/<int:order_id>/confirm")
@login_required
@requires("write")
def confirm_request(order_id: int):
    """Confirm a resident's request, with the reading when one was taken."""
    order = _order_or_404(order_id)
    reading = request.form.get("reading", "").strip()
    try:
        if reading:
            if not only_digits(reading):
                raise OrderError("reading: enter the register's whole number, or leave it blank")
            order.reading = int(reading)
        settings = settings_from(current_app.config)
        confirm(db.session, request_actor(), order, settings, town_today(current_app.config))
    except OrderError as error:
        db.session.rollback()
        return _page({"_queue": f"Request {order_id} not confirmed: {error}"}, status=422)
    db.session.commit()
    flash(_done(order))
    return redirect(url_for(".page"), 303)


@bp.post("/<int:order_id>/refuse")
@login_required
@requires("write")
def refuse_request(order_id: int):
    """Refuse a resident's request with the reason (staff words)."""
    order = _order_or_404(order_id)
    try:
        refuse(db.session, request_actor(), order, request.form.get("reason", ""))
    except OrderError as error:
        db.session.rollback()
        return _page({"_queue": f"Request {order_id} not refused: {error}"}, status=422)
    db.session.commit()
    flash(f"Request {order_id} refused.")
    return redirect(url_for(".page"), 303)


@bp.post("/balance")
@login_required
@requires("write")
def move_balance():
    """Move a final bill's unpaid balance to the person's new account, with the reason."""
    if (earlier := _claimed(BALANCE_FORM)) is not None:
        return earlier
    number = request.form.get("invoice", "").strip()
    invoice = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
    to_account = find_account(db.session, request.form.get("to_account", "").strip())
    try:
        if invoice is None:
            raise TransferError(f"invoice: no invoice {number or '(blank)'}")
        if to_account is None:
            raise TransferError("to_account: no such account")
        transfer = transfer_final_balance(
            db.session,
            request_actor(),
            invoice,
            to_account,
            reason=request.form.get("reason", ""),
            on=town_today(current_app.config),
        )
    except TransferError as error:
        db.session.rollback()
        errors = {f"balance_{k}": v for k, v in _field_error(error).items()}
        return _page(errors, request.form, 422)
    return _answered(
        f"{format_cents(transfer.amount_cents)} of final bill {number} moved to account "
        f"{to_account.number}."
    )


def init_app(app) -> None:
    """Register the service-orders page."""
    app.register_blueprint(bp)

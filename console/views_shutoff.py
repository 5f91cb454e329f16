"""The clerks' shutoff page: a day's door hangers (PDF and CSV), its shutoff work orders by route with a result form for each
order still out, issuing the day's orders, the list as PDF and CSV for the crews, and the open
reconnection orders with their completion (thin: read the form, call notices.shutoff_field*,
commit once). docs/shutoff.md, "In the field".
"""

from __future__ import annotations

from datetime import date, datetime, time

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required

from accounts.models import Account
from billing.models import NotDoneReason, OrderState
from billing.reconnection import reconnection_orders
from core.auth import request_actor, requires
from core.calendar import town_today, town_zone
from core.extensions import db
from core.money import MoneyError, parse_dollars
from notices.shutoff_field import FieldError, door_hangers_on, issue_work_orders, orders_on
from notices.shutoff_field_pdf import hangers_csv, hangers_pdf, orders_csv, orders_pdf
from notices.shutoff_field_results import (
    OUTCOMES,
    PAID_AT_DOOR,
    Result,
    enter_result,
    enter_sheet,
    find_order,
    reconnect,
)
from payments.models import CashDrawer, Tender
from payments.services import PaymentRefused

bp = Blueprint("shutoff", __name__, url_prefix="/staff/shutoff", template_folder="templates")
DOOR_TENDERS = (Tender.CASH, Tender.CHECK, Tender.MONEY_ORDER)


def _day() -> date:
    """The day asked for (?on=YYYY-MM-DD), else today in the municipality."""
    try:
        return date.fromisoformat(request.values.get("on", ""))
    except ValueError:
        return town_today(current_app.config)


def _page(day: date, errors: dict | None = None, status: int = 200):
    hangers_of_day = door_hangers_on(db.session, day)
    page = render_template(
        "console/shutoff.html",
        day=day,
        orders=orders_on(db.session, day),
        hangers=hangers_of_day,
        hanger_accounts=dict(
            db.session.execute(
                sa.select(Account.id, Account.number).where(
                    Account.id.in_({h.account_id for h in hangers_of_day})
                )
            ).all()
        ),
        reconnections=reconnection_orders(db.session),
        outcomes=OUTCOMES,
        reasons=list(NotDoneReason),
        tenders=DOOR_TENDERS,
        issued=OrderState.ISSUED,
        zone=town_zone(current_app.config),
        errors=errors or {},
    )
    return page, status


@bp.get("/")
@login_required
@requires("read")
def page():
    """The day's shutoff orders, their results, and the reconnection orders."""
    return _page(_day())


@bp.get("/orders.<kind>")
@login_required
@requires("read")
def download(kind: str):
    """The day's work-order list for the crews, as PDF or CSV."""
    day = _day()
    orders = orders_on(db.session, day)
    if kind == "pdf":
        body, mime = orders_pdf(db.session, day, orders), "application/pdf"
    elif kind == "csv":
        body, mime = orders_csv(db.session, orders), "text/csv"
    else:
        return _page(day, {"_form": f"no list as {kind}"}, 404)
    name = f"shutoff-orders-{day.isoformat()}.{kind}"
    return Response(
        body, mimetype=mime, headers={"Content-Disposition": f"attachment; filename={name}"}
    )


@bp.get("/hangers.<kind>")
@login_required
@requires("read")
def hangers(kind: str):
    """The day's door hangers (the 48-hour notices) for the crews: the hangers as PDF, one a
    page in each account's language, or the list as CSV."""
    day = _day()
    found = door_hangers_on(db.session, day)
    if kind == "pdf":
        body, mime = hangers_pdf(db.session, current_app.config, found), "application/pdf"
    elif kind == "csv":
        body, mime = hangers_csv(db.session, found), "text/csv"
    else:
        return _page(day, {"_form": f"no door hangers as {kind}"}, 404)
    name = f"door-hangers-{day.isoformat()}.{kind}"
    return Response(
        body, mimetype=mime, headers={"Content-Disposition": f"attachment; filename={name}"}
    )


@bp.post("/issue")
@login_required
@requires("write")
def issue():
    """Issue the day's orders (each account asked again); a day with no shutoffs is refused."""
    day = _day()
    try:
        outcome = issue_work_orders(db.session, current_app.config, request_actor(), as_of=day)
    except FieldError as error:
        db.session.rollback()
        return _page(day, {"_form": str(error)}, 422)
    db.session.commit()
    flash(
        f"{outcome.done} orders issued, {outcome.excluded} accounts not eligible, "
        f"{outcome.cancelled} cancelled."
    )
    return redirect(url_for(".page", on=day.isoformat()), 303)


def _moment(day: date, text: str) -> datetime:
    """The crew's time (HH:MM) on the day, on the town's clock."""
    try:
        clock = time.fromisoformat(text.strip())
    except ValueError:
        raise FieldError(f"time: enter the time as HH:MM, not {text!r}") from None
    return datetime.combine(day, clock, tzinfo=town_zone(current_app.config))


def _result(day: date, form) -> Result:
    """A crew's result from the form; FieldError naming the field."""
    reading, reason, amount = (
        form.get(n, "").strip() for n in ("meter_reading", "reason", "amount")
    )
    try:
        return Result(
            outcome=form.get("result", ""),
            at=_moment(day, form.get("time", "")),
            meter_reading=int(reading) if reading else None,
            reason=NotDoneReason(reason) if reason else None,
            note=form.get("note"),
            amount_cents=parse_dollars(amount) if amount else None,
            tender=Tender(form["tender"]) if form.get("tender") else None,
            reference=form.get("reference") or None,
        )
    except (ValueError, MoneyError) as error:
        raise FieldError(f"result: {error}") from None


def _my_drawer() -> CashDrawer | None:
    return db.session.scalar(
        sa.select(CashDrawer).where(
            CashDrawer.opened_by == request_actor().label, CashDrawer.closed_at.is_(None)
        )
    )


@bp.post("/orders/<number>/result")
@login_required
@requires("write")
def result(number: str):
    """Enter a crew's result for an order (paid at the door: into the clerk's open drawer)."""
    day = _day()
    try:
        order = find_order(db.session, number)
        entered = _result(order.work_on, request.form)
        drawer = _my_drawer() if entered.outcome == PAID_AT_DOOR else None
        enter_result(db.session, current_app.config, request_actor(), order, entered, drawer=drawer)
    except (FieldError, PaymentRefused) as error:
        db.session.rollback()
        return _page(day, {"_form": str(error)}, 422)
    db.session.commit()
    flash(f"Order {order.number}: {order.state.value.replace('_', ' ')}.")
    return redirect(url_for(".page", on=day.isoformat()), 303)


@bp.post("/sheet")
@login_required
@requires("write")
def sheet():
    """Enter a crew's sheet (CSV) whole or not at all; payments at the door into the clerk's
    open drawer."""
    day = _day()
    upload = request.files.get("sheet")
    try:
        if upload is None or not upload.filename:
            raise FieldError("sheet: choose the crew's CSV file")
        text = upload.read().decode("utf-8-sig")
        done = enter_sheet(
            db.session, current_app.config, request_actor(), text, drawer=_my_drawer()
        )
    except UnicodeDecodeError:
        db.session.rollback()
        return _page(day, {"_form": "sheet: the file is not UTF-8 text"}, 422)
    except FieldError as error:
        db.session.rollback()
        return _page(day, {"_form": str(error)}, 422)
    db.session.commit()
    flash(f"{len(done)} results entered from the crew's sheet.")
    return redirect(url_for(".page", on=day.isoformat()), 303)


@bp.post("/reconnections/<number>")
@login_required
@requires("write")
def reconnected(number: str):
    """Enter that the crew turned the service back on."""
    day = _day()
    reading = request.form.get("meter_reading", "").strip()
    try:
        if reading and not reading.isdigit():
            raise FieldError("meter_reading: enter the reading as a whole number")
        done = reconnect(
            db.session,
            request_actor(),
            number,
            at=_moment(day, request.form.get("time", "")),
            meter_reading=int(reading) if reading else None,
        )
    except FieldError as error:
        db.session.rollback()
        return _page(day, {"_form": str(error)}, 422)
    db.session.commit()
    flash(f"Reconnection order {done.number}: service back on.")
    return redirect(url_for(".page", on=day.isoformat()), 303)


def init_app(app) -> None:
    """Register the shutoff page."""
    app.register_blueprint(bp)

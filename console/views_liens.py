"""Delinquent tax and liens for the staff: the delinquent roll as of a day (paged, with its CSV
and PDF), the lien sale list for a sale date, its certification and the liens (docs/liens.md).

Thin: read the query or form, call billing.tax_delinquency and billing.liens, commit once,
redirect. A refused step is shown with its reason and changes nothing.
"""

from __future__ import annotations

import io
from datetime import date

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import login_required

from billing.lien_file import entries_of_sale, sale_file
from billing.liens import cancel_lien, certify_sale, sale_list
from billing.models import Lien, LienSale
from billing.tax_delinquency import LienError, delinquent_roll, roll_csv
from core.auth import request_actor, requires
from core.calendar import town_today
from core.extensions import db
from notices.delinquent_roll import render_roll

bp = Blueprint("liens", __name__, url_prefix="/staff/tax", template_folder="templates")
#: Roll lines per page.
PER_PAGE = 50


def _day(name: str) -> date | None:
    raw = (request.values.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        abort(400, description=f"{name}: enter a date as YYYY-MM-DD, for example 2026-11-26.")


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1


@bp.get("/delinquent-roll")
@login_required
@requires("read")
def roll():
    """The delinquent roll as of a day (today unless given), a page of lines at a time."""
    today = town_today(current_app.config)
    as_of = _day("as_of") or today
    try:
        found = delinquent_roll(db.session, as_of, today=today)
    except LienError as error:
        return render_template("console/delinquent_roll.html", roll=None, error=error), 422
    page = _page_number()
    pages = max(1, -(-len(found.lines) // PER_PAGE))
    lines = found.lines[(page - 1) * PER_PAGE : page * PER_PAGE]
    return render_template(
        "console/delinquent_roll.html", roll=found, lines=lines, page=page, pages=pages
    )


@bp.get("/delinquent-roll.<kind>")
@login_required
@requires("read")
def roll_file(kind: str):
    """The roll as CSV or PDF."""
    as_of = _day("as_of")
    if kind not in ("csv", "pdf") or as_of is None:
        abort(404)
    try:
        found = delinquent_roll(db.session, as_of, today=town_today(current_app.config))
    except LienError as error:
        abort(422, description=str(error))
    name = f"delinquent-roll-{as_of.isoformat()}.{kind}"
    if kind == "csv":
        return Response(
            roll_csv(found),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    pdf = render_roll(found, current_app.config["MUNICIPALITY_NAME"])
    return send_file(io.BytesIO(pdf), mimetype="application/pdf", download_name=name)


def _liens_page(found=None, error: str | None = None, status: int = 200):
    sales = db.session.scalars(sa.select(LienSale).order_by(LienSale.sale_date.desc())).all()
    liens = db.session.scalars(
        sa.select(Lien).order_by(Lien.sale_date.desc(), Lien.id).limit(500)
    ).all()
    page = render_template("console/liens.html", sales=sales, liens=liens, found=found, error=error)
    return page, status


@bp.get("/liens")
@login_required
@requires("read")
def liens():
    """The certified sales and their liens; with sale_date, the list that date would certify."""
    sale_date = _day("sale_date")
    if sale_date is None:
        return _liens_page()
    try:
        found = sale_list(db.session, sale_date, today=town_today(current_app.config))
    except LienError as error:
        return _liens_page(error=str(error), status=422)
    return _liens_page(found)


@bp.post("/liens")
@login_required
@requires("write")
def certify():
    """Certify the sale list for the sale date given."""
    sale_date = _day("sale_date")
    if sale_date is None:
        return _liens_page(error="sale_date: enter the sale date", status=422)
    try:
        sale = certify_sale(
            db.session, request_actor(), sale_date, today=town_today(current_app.config)
        )
    except LienError as error:
        db.session.rollback()
        return _liens_page(error=str(error), status=422)
    db.session.commit()
    flash(f"Sale list {sale.list_id} certified: {sale.parcel_count} parcels.")
    return redirect(url_for(".liens"), 303)


@bp.post("/liens/<int:lien_id>/cancel")
@login_required
@requires("approve")
def cancel(lien_id: int):
    """A supervisor cancels a lien with the reason (sold in error, a bankruptcy stay)."""
    lien = db.session.get(Lien, lien_id)
    if lien is None:
        abort(404)
    try:
        cancel_lien(
            db.session,
            request_actor(),
            lien,
            request.form.get("reason", ""),
            today=town_today(current_app.config),
        )
    except LienError as error:
        db.session.rollback()
        return _liens_page(error=str(error), status=422)
    db.session.commit()
    flash(f"The lien on parcel {lien.parcel.parcel_number} ({lien.sale.list_id}) is cancelled.")
    return redirect(url_for(".liens"), 303)


@bp.get("/liens/<list_id>.csv")
@login_required
@requires("read")
def sale_csv(list_id: str):
    """A certified sale's file (docs/liens.md, "The sale file")."""
    sale = db.session.scalar(sa.select(LienSale).where(LienSale.list_id == list_id))
    if sale is None:
        abort(404)
    text = sale_file(
        sale.list_id, sale.sale_date, sale.certified_on, entries_of_sale(sale), certified=True
    )
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{sale.list_id}.csv"'},
    )


def init_app(app) -> None:
    """Register the delinquent tax and liens pages."""
    app.register_blueprint(bp)

"""Tax payoff quotes for the staff: the quote form, the quotes issued, their letters, and the
quote payments made after their good-through date that left tax owed (docs/payoff-quotes.md).

Thin: read the form, call billing.payoff, commit once, redirect.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required

from billing.models import PayoffQuote
from billing.payoff import PayoffRefused, Requested, expire_quotes, find_quote, issue
from core.auth import request_actor, requires
from core.calendar import town_today
from core.extensions import db
from notices.payoff_letter import payoff_letter_pdf
from payments.payoff_payments import late_payments

bp = Blueprint("payoff", __name__, url_prefix="/staff/payoff-quotes", template_folder="templates")


def _page(error: str | None = None, status: int = 200):
    """The form, the latest quotes and the late quote payments."""
    today = town_today(current_app.config)
    if expire_quotes(db.session, today):
        db.session.commit()
    quotes = db.session.scalars(sa.select(PayoffQuote).order_by(PayoffQuote.id.desc()).limit(100))
    page = render_template(
        "console/payoff.html",
        quotes=list(quotes),
        late=late_payments(db.session),
        today=today,
        error=error,
        form=request.form,
    )
    return page, status


@bp.get("/")
@login_required
@requires("read")
def quotes():
    """The payoff quotes page."""
    return _page()


@bp.post("/")
@login_required
@requires("write")
def make():
    """Issue a quote from the form."""
    form = request.form
    try:
        through = date.fromisoformat(form.get("good_through", ""))
    except ValueError:
        return _page("Good through: enter a date as YYYY-MM-DD.", 422)
    requester = form.get("requester", "owner")
    requested = None
    if requester != "owner" or form.get("requester_name", "").strip():
        requested = Requested(
            requester, form.get("requester_name", ""), form.get("requester_address", "")
        )
    try:
        row = issue(
            db.session,
            request_actor(),
            current_app.config,
            form.get("parcel", ""),
            through,
            requested,
            today=town_today(current_app.config),
        )
    except PayoffRefused as refused:
        db.session.rollback()
        return _page(f"{refused.field.replace('_', ' ').capitalize()}: {refused.message}.", 422)
    db.session.commit()
    flash(f"Payoff quote {row.number} issued. Print its letter.")
    return redirect(url_for(".quotes"), 303)


@bp.get("/<number>/letter")
@login_required
@requires("read")
def letter(number: str):
    """A quote's letter as a PDF."""
    row = find_quote(db.session, number)
    if row is None:
        abort(404)
    response = make_response(payoff_letter_pdf(current_app.config, row))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{number}.pdf"'
    return response


def init_app(app) -> None:
    """Register the payoff quotes pages."""
    app.register_blueprint(bp)

"""A registered resident asks to stop service, or to move it to another address in town; the
request waits for a clerk on the service-orders page (billing.service_orders), who confirms
or refuses it. Thin: validate, store the request, commit once.
"""

from __future__ import annotations

import functools
import re
from datetime import date

import sqlalchemy as sa
from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from accounts.locations import OrderKind, OrderStatus, ServiceLocation, ServiceOrder
from accounts.responsibility import open_locations
from billing.service_orders import OrderError, new_order
from core.extensions import db
from portal import web

bp = Blueprint("portal_service", __name__, template_folder="templates")
ZIP = re.compile(r"^\d{5}(-\d{4})?$")
FIELDS = ("kind", "location", "effective_on", "new_street", "street", "city", "state", "zip")


def registered_resident(view):
    """The view needs a registered resident's session showing one of their accounts."""

    @web.resident_required
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.portal_session.resident_id is None:
            flash(_("Sign in to your online account to see this page."))
            return redirect(url_for("portal_account.sign_in"))
        return view(*args, **kwargs)

    return wrapped


def _page(errors: dict[str, str] | None = None, shown: dict | None = None, status: int = 200):
    account = web.account()
    ids = open_locations(db.session, account.id)
    locations = db.session.scalars(
        sa.select(ServiceLocation).where(ServiceLocation.id.in_(ids)).order_by(ServiceLocation.id)
    ).all()
    requests = db.session.scalars(
        sa.select(ServiceOrder)
        .where(ServiceOrder.account_id == account.id)
        .order_by(ServiceOrder.id.desc())
        .limit(10)
    ).all()
    page = render_template(
        "portal/service.html",
        account=account,
        locations=locations,
        requests=requests,
        errors=errors or {},
        shown=shown or {},
    )
    return page, status


@bp.route("/my/service")
@registered_resident
def service():
    """The request form, and the account's requests so far."""
    return _page()


def _read(form) -> tuple[dict, dict[str, str]]:
    """The order's fields from the form, and a message per field that is wrong."""
    errors: dict[str, str] = {}
    kind = {"stop": OrderKind.STOP, "move": OrderKind.TRANSFER}.get(form.get("kind", ""))
    if kind is None:
        errors["kind"] = _("Choose whether you are leaving town or moving within it.")
    ids = open_locations(db.session, web.account().id)
    raw = form.get("location", "")
    location_id = int(raw) if raw.isdigit() and int(raw) in ids else None
    if location_id is None:
        errors["location"] = _("Choose the address where service stops.")
    try:
        effective_on = date.fromisoformat(form.get("effective_on", ""))
    except ValueError:
        effective_on = None
        errors["effective_on"] = _("Enter your last day at this address.")
    new_location = None
    if kind == OrderKind.TRANSFER:
        street = " ".join(form.get("new_street", "").split())
        new_location = db.session.scalar(
            sa.select(ServiceLocation).where(
                sa.func.lower(ServiceLocation.street) == street.lower()
            )
        )
        if new_location is None or new_location.id == location_id:
            errors["new_street"] = _(
                "We do not find this address in town. Check it, or call the utility office."
            )
    forward = {name: " ".join(form.get(name, "").split()) for name in ("street", "city")}
    forward["state"] = form.get("state", "").strip().upper()
    forward["zip"] = form.get("zip", "").strip()
    if not forward["street"] or not forward["city"]:
        errors["street"] = _("Enter the address where we mail your last bill.")
    if not re.fullmatch(r"[A-Z]{2}", forward["state"]):
        errors["state"] = _("Enter the state as two letters.")
    if not ZIP.match(forward["zip"]):
        errors["zip"] = _("Enter a ZIP code of five digits.")
    fields = {
        "kind": kind,
        "location_id": location_id,
        "effective_on": effective_on,
        "account_id": web.account().id,
        "new_location_id": new_location.id if new_location else None,
        "holder_name": web.account().holder_name,
        **{f"forward_{name}": value[:200] for name, value in forward.items()},
    }
    return fields, errors


@bp.route("/my/service", methods=["POST"])
@registered_resident
def ask():
    """Send the request to the utility office; it is carried out when a clerk confirms it."""
    fields, errors = _read(request.form)
    if errors:
        return _page(errors, request.form, 422)
    try:
        new_order(db.session, web.actor(), status=OrderStatus.REQUESTED, **fields)
    except OrderError:
        db.session.rollback()
        return _page(
            {"form": _("We could not take this request. Call the utility office.")},
            request.form,
            422,
        )
    db.session.commit()
    flash(_("Your request is sent. The utility office confirms it and mails your last bill."))
    return redirect(url_for(".service"), 303)


def init_app(app) -> None:
    """Register the request form."""
    app.register_blueprint(bp)

"""The portal's request plumbing: the resident's session, the account it shows, and the
one check every page and download makes before showing an object.

Every object a portal URL names (an invoice, a payment, a notice) is looked up and then
compared with the session's account; anything else is a 404 that says nothing about the
other account.
"""

from __future__ import annotations

import functools
from datetime import timedelta

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from accounts.models import Account
from billing.models import Invoice
from core.audit import Actor
from core.db import get_by_id, utcnow
from core.extensions import db
from portal.access import (
    current_session,
    end_session,
    ended_because_code_changed,
    may_view,
)
from portal.access_changes import untold_endings
from portal.models import LinkEndReason, PortalSession

#: Where the browser keeps its portal token (inside the signed session cookie).
TOKEN_KEY = "portal"  # noqa: S105 - a session key, not a secret


def idle_limit() -> timedelta:
    """How long a session lives without a request."""
    return timedelta(minutes=current_app.config["PORTAL_IDLE_MINUTES"])


def load_portal_session() -> PortalSession | None:
    """The live session of this browser (cached on g), and the account it shows."""
    if "portal_session" in g:
        return g.portal_session
    row = current_session(db.session, session.get(TOKEN_KEY), now=utcnow(), idle=idle_limit())
    if db.session.dirty:
        db.session.commit()  # the last-seen time, or the end of an idle session, for good
    if row is None and session.get(TOKEN_KEY):
        g.portal_code_changed = ended_because_code_changed(db.session, session.get(TOKEN_KEY))
        session.pop(TOKEN_KEY, None)
        g.portal_expired = not g.portal_code_changed
    if row is not None and row.resident_id is not None:
        _tell_ended_links(row.resident_id)
    g.portal_session = row
    g.portal_account = row.account if row is not None else None
    return row


def _tell_ended_links(resident_id: int) -> None:
    """Say once, on this page, which linked accounts staff took away and why."""
    ended = untold_endings(db.session, resident_id, utcnow())
    for row in ended:
        number = row.account.number
        if row.reason == LinkEndReason.CODE_CHANGED:
            flash(
                _(
                    "Account %(number)s is no longer linked to your online account: its access "
                    "code was changed. Enter the new code from your latest bill to link it again.",
                    number=number,
                )
            )
        else:
            flash(
                _(
                    "Account %(number)s is no longer linked to your online account. If you "
                    "have questions, please contact the billing office.",
                    number=number,
                )
            )
    if ended:
        db.session.commit()


def code_changed_message() -> str:
    """What a quick-pay visitor reads after staff reissued the account's access code."""
    return _("This account's access code was changed; enter the new code from your latest bill.")


def remember(token: str) -> None:
    """Keep a new session's token in the browser, replacing any other."""
    session.pop(TOKEN_KEY, None)
    session[TOKEN_KEY] = token
    session.permanent = False


def forget() -> None:
    """Sign out here and everywhere the token is held."""
    row = load_portal_session()
    if row is not None:
        end_session(row, utcnow())
    session.pop(TOKEN_KEY, None)


def resident_required(view):
    """The view needs a live session that shows an account; else back to quick pay."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        row = load_portal_session()
        if row is None:
            if g.get("portal_code_changed"):
                flash(code_changed_message())
            elif g.get("portal_expired"):
                flash(
                    _(
                        "Your session ended after 15 minutes without activity. Look up your bill again."
                    )
                )
            return redirect(url_for("portal.quick_pay"))
        if row.account is None:
            return redirect(url_for("portal_account.accounts"))
        return view(*args, **kwargs)

    return wrapped


def account() -> Account:
    """The account the session shows (resident_required has checked it)."""
    return g.portal_account


def actor() -> Actor:
    """Who acts in this session: the registered resident, or quick pay on the account."""
    row = g.portal_session
    origin = request.remote_addr
    if row.resident_id is not None:
        return Actor("resident", str(row.resident_id), row.resident.email, origin)
    return Actor("resident", None, f"quickpay:{row.account.number}", origin)


def own_invoice_or_404(number: str) -> Invoice:
    """The invoice, only if it is the session account's."""
    invoice = db.session.scalar(select(Invoice).where(Invoice.number == number[:20]))
    if invoice is None or invoice.account_id != account().id:
        abort(404)
    return invoice


def own_or_404(model, object_id: int):
    """A row by id, only if its account_id is the session account's."""
    row = get_by_id(db.session, model, object_id)
    if row is None or row.account_id != account().id:
        abort(404)
    return row


def may_switch_to(account_id: int) -> bool:
    """True when the session's resident linked the account."""
    row = load_portal_session()
    return row is not None and may_view(db.session, row, account_id)


def required_fields(form, names: dict[str, str]) -> bool:
    """Put a message under every empty field of a form; True when all are filled."""
    ok = True
    for name, message in names.items():
        if not (form[name].data or "").strip():
            form[name].errors = [*form[name].errors, message]
            ok = False
    return ok


def no_match() -> str:
    """The one answer to details that find no account (it never says which part was wrong)."""
    return _("Those details do not match our records. Check them against your bill and try again.")

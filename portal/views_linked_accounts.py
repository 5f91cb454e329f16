"""The accounts-and-settings page of a registered resident: the linked accounts, the one
being viewed, linking another with its access code, removing one, and paperless.

A URL that names an account the resident has not linked is a 404 that says nothing
about that account. The routes belong to the portal_account blueprint.
"""

from __future__ import annotations

import functools

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import StringField

from core.extensions import db
from payments import payflow
from payments.gateway import PaymentError
from portal import access, autopay_enrollment, limits, residents, web
from portal.models import ResidentAccount
from portal.views_registration import bp


class LinkForm(FlaskForm):
    """Link another account: its number and access code, and an optional nickname."""

    account = StringField()
    code = StringField()
    nickname = StringField()


def signed_in_resident(view):
    """The view needs a registered resident's live session (with or without an account)."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        row = web.load_portal_session()
        if row is None:
            if g.get("portal_code_changed"):
                flash(web.code_changed_message())
            elif g.get("portal_expired"):
                flash(_("Your session ended after a while without activity. Sign in again."))
            return redirect(url_for("portal.quick_pay"))
        if row.resident_id is None:
            flash(_("Sign in to your online account to see this page."))
            return redirect(url_for(".sign_in"))
        return view(*args, **kwargs)

    return wrapped


def _own_link_or_404(number: str) -> ResidentAccount:
    """The signed-in resident's link to the account, or 404 (nothing said about the account)."""
    row = g.portal_session
    link = residents.link_by_number(db.session, row.resident_id, number)
    if link is None or not access.may_view(db.session, row, link.account_id):
        abort(404)
    return link


def _accounts_page(link_form: LinkForm | None = None, status: int = 200):
    row = g.portal_session
    rows = residents.linked_accounts(db.session, row.resident_id)
    page = render_template(
        "portal/account/accounts.html",
        resident=row.resident,
        rows=rows,
        viewing_id=row.account_id,
        offer=request.args.get("offer", "")[:12],
        has_working_email=residents.has_working_email,
        link_form=link_form or LinkForm(),
    )
    return page, status


@bp.route("/my/accounts")
@signed_in_resident
def accounts():
    """The resident's linked accounts, what each owes, paperless, and the sign-in settings."""
    return _accounts_page()


@bp.route("/my/accounts/link", methods=["POST"])
@limits.lookup_limits
@signed_in_resident
def link():
    """Link another account by its number and access code."""
    form = LinkForm()
    form.validate_on_submit()
    filled = web.required_fields(
        form,
        {
            "account": _("Enter the account number from the bill."),
            "code": _("Enter the access code from the bill."),
        },
    )
    if filled:
        try:
            account = access.find_by_code(db.session, form.account.data, form.code.data)
        except access.LookupFailed:
            limits.failed()
            residents.lookup_failed(db.session, web.actor(), "resident.link_failed")
            db.session.commit()
            form.form_errors.append(web.no_match())
        else:
            return _linked(form, account)
    return _accounts_page(form, 422)


def _linked(form: LinkForm, account):
    row = g.portal_session
    nickname = (form.nickname.data or "").strip()[:60]
    try:
        residents.link_account(db.session, web.actor(), row.resident, account, nickname)
    except residents.AlreadyLinked:
        form.account.errors = [_("This account is already linked to your online account.")]
        return _accounts_page(form, 422)
    except residents.CodeChanged:
        db.session.rollback()
        form.form_errors.append(web.no_match())
        return _accounts_page(form, 422)
    if row.account_id is None:
        row.account = account
        g.portal_account = account
    db.session.commit()
    flash(_("Account %(number)s is linked.", number=account.number))
    return redirect(url_for(".accounts"), 303)


@bp.route("/my/accounts/<number>/view", methods=["POST"])
@signed_in_resident
def view(number: str):
    """Look at another linked account: the bill, history and payments are of that one."""
    link = _own_link_or_404(number)
    g.portal_session.account = link.account
    g.portal_account = link.account
    db.session.commit()
    return redirect(url_for("portal.bill"), 303)


def _cancel_autopay(account) -> None:
    """Turn the account's autopay off; the card is detached at Stripe when Stripe answers."""
    try:
        with payflow.gateway() as gateway:
            autopay_enrollment.cancel(db.session, web.actor(), account=account, gateway=gateway)
    except PaymentError:
        autopay_enrollment.cancel(db.session, web.actor(), account=account)


@bp.route("/my/accounts/<number>/unlink", methods=["POST"])
@signed_in_resident
def unlink(number: str):
    """Remove an account from the resident's list (it can be linked again with its code)."""
    link = _own_link_or_404(number)
    account, resident_id = link.account, link.resident_id
    number = account.number
    residents.unlink_account(db.session, web.actor(), link)
    enrolled = autopay_enrollment.active_autopay(db.session, account.id)
    if enrolled is not None and enrolled.resident_id == resident_id:
        # NOTE: whoever no longer sees an account must not keep charging a card for it.
        _cancel_autopay(account)
    g.portal_account = g.portal_session.account
    db.session.commit()
    flash(_("Account %(number)s is no longer linked to your online account.", number=number))
    return redirect(url_for(".accounts"), 303)


@bp.route("/my/accounts/<number>/paperless", methods=["POST"])
@signed_in_resident
def paperless(number: str):
    """Bills by e-mail instead of paper, or back; on needs a working address on the account."""
    link = _own_link_or_404(number)
    account = link.account
    choice = request.form.get("paperless")
    if choice not in ("on", "off"):
        abort(400)
    use_mine = choice == "on" and request.form.get("use_my_email") == "yes"
    try:
        residents.set_paperless(
            db.session,
            web.actor(),
            account,
            choice == "on",
            use_email=g.portal_session.resident.email if use_mine else None,
        )
    except residents.NeedsEmail:
        db.session.rollback()
        anchor = f"#account-{account.number}"
        return redirect(url_for(".accounts", offer=account.number) + anchor, 303)
    db.session.commit()
    if choice == "on":
        flash(_("Bills for account %(number)s now come by e-mail.", number=account.number))
    else:
        flash(_("Bills for account %(number)s now come by mail.", number=account.number))
    return redirect(url_for(".accounts"), 303)

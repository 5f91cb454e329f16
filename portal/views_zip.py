"""The page after a quick-pay lookup by ZIP code and last name: a masked summary of the
bill, and the code (the access code, or one e-mailed to the account's address on file)
that opens it (portal.zip_lookup). The routes belong to the portal blueprint."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import StringField

from accounts.models import Account, AccountStatus
from core.audit import Actor, record
from core.calendar import town_today
from core.db import utcnow
from core.extensions import db
from core.models import AuditEvent
from portal import access, limits, mail, residents, web, zip_lookup
from portal import bill as bill_data
from portal.views import _signed_in, bp


class CodeForm(FlaskForm):
    """The access code from the bill, or the one-time code e-mailed for it."""

    code = StringField()


def _found() -> tuple[zip_lookup.Pending, Account] | None:
    """The account this browser's ZIP-code lookup found, while it is fresh and open."""
    found = zip_lookup.pending(session, utcnow())
    if found is None:
        return None
    account = db.session.scalar(sa.select(Account).where(Account.number == found.number))
    if account is None or account.status == AccountStatus.CLOSED:
        return None
    return found, account


def _start_again():
    zip_lookup.forget(session)
    flash(_("Look up your bill again."))
    return redirect(url_for(".quick_pay"), 303)


def _due_day(bills, balance, today):
    """The day shown as due: the next one coming, or the oldest open bill's when all is past due."""
    coming = bill_data.next_due(bills, balance, today)
    if coming is not None:
        return coming.day
    return min((bill.due_date for bill in bills), default=None)


def _summary(account: Account, form: CodeForm, status: int = 200):
    """The masked summary: the amount due and its due date, the name and street masked."""
    today = town_today(current_app.config)
    bills = bill_data.open_bills(db.session, account, today)
    balance = bill_data.balance(db.session, account, today)
    page = render_template(
        "portal/quick_pay_found.html",
        form=form,
        balance=balance,
        due_day=_due_day(bills, balance, today),
        name=zip_lookup.mask_name(account.holder_name),
        street=zip_lookup.mask_street(account.mail_street),
        email=zip_lookup.mask_email(account.email) if residents.has_working_email(account) else "",
    )
    return page, status


def _code_holder(pending: zip_lookup.Pending) -> Actor:
    """Whoever typed the e-mailed code (named by the code's random value, never the code)."""
    return Actor("anonymous", None, f"quickpay-code:{pending.nonce}", request.remote_addr)


def _used(pending: zip_lookup.Pending) -> bool:
    """True once the e-mailed code has opened the bill: it works once, even from a copy
    of the cookie."""
    used = sa.select(AuditEvent.id).where(
        AuditEvent.action == "portal.quickpay_code_used",
        AuditEvent.actor_label == _code_holder(pending).label,
    )
    return db.session.scalar(used.limit(1)) is not None


@bp.route("/pay/found", methods=["GET", "POST"])
@limits.pending_lookup_limits
def zip_found():
    """The masked summary of the bill found; the right code opens it."""
    found = _found()
    if found is None:
        return _start_again()
    pending, account = found
    form = CodeForm()
    if request.method == "GET":
        return _summary(account, form)
    if not form.validate_on_submit():
        flash(_("This page had expired. Enter your details again."))
        return redirect(url_for(".zip_found"), 303)
    typed = (form.code.data or "").strip()
    if not typed:
        form.code.errors = [_("Enter the access code from your bill, or the code we e-mailed.")]
        return _summary(account, form, 422)
    secret = current_app.config["SECRET_KEY"]
    if zip_lookup.code_matches(secret, pending, typed, utcnow()) and not _used(pending):
        zip_lookup.forget(session)
        record(db.session, _code_holder(pending), "portal.quickpay_code_used", account)
        return _signed_in(account, "zip+e-mailed code")
    try:
        if zip_lookup.looks_like_one_time_code(typed):
            raise access.LookupFailed
        access.find_by_code(db.session, account.number, typed)
    except access.LookupFailed:
        limits.failed()
        access.record_lookup(
            db.session, account=None, origin=request.remote_addr, ok=False, how="zip+code"
        )
        db.session.commit()
        form.form_errors.append(web.no_match())
        return _summary(account, form, 422)
    zip_lookup.forget(session)
    return _signed_in(account, "zip+code")


@bp.route("/pay/found/send", methods=["POST"])
@limits.code_mail_limits
def zip_send_code():
    """E-mail a one-time code to the account's address on file (never to one typed here)."""
    found = _found()
    if found is None:
        return _start_again()
    pending, account = found
    if not CodeForm().validate_on_submit() or not residents.has_working_email(account):
        return redirect(url_for(".zip_found"), 303)
    limits.mail_sent()
    pending = zip_lookup.code_sent(session, pending, utcnow())
    code = zip_lookup.one_time_code(current_app.config["SECRET_KEY"], pending)
    actor = Actor("anonymous", None, "quickpay", request.remote_addr)
    record(db.session, actor, "portal.quickpay_code_sent", account)
    db.session.commit()
    config, to, language = current_app.config, account.email, account.language.value
    number = account.number
    mail.after_the_answer(
        lambda: zip_lookup.send_code(config, to=to, language=language, number=number, code=code)
    )
    flash(
        _(
            "We e-mailed a code to %(address)s. It works for 15 minutes.",
            address=zip_lookup.mask_email(to),
        )
    )
    return redirect(url_for(".zip_found"), 303)

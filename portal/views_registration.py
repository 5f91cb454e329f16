"""Portal pages for registering residents: sign-up, the e-mail check, sign-in and password reset
(the linked-accounts-and-settings page, portal/views_linked_accounts.py, adds its routes to
the same blueprint).

Registration is optional: quick pay needs none. Thin, like every view: validate, call a
service (portal.residents), commit once, render or redirect. A URL that names an account
the resident has not linked is a 404 that says nothing about that account.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField

from core.audit import Actor
from core.db import utcnow
from core.extensions import db, limiter
from portal import access, i18n, limits, mail, residents, web
from portal.residents import BadToken, Refusal, SignInRefused, TokenProblem

bp = Blueprint("portal_account", __name__, template_folder="templates")

SIGN_IN_LIMIT = "20 per minute"
MAX_PASSWORD_LENGTH = 200


class RegisterForm(FlaskForm):
    """Sign-up: an e-mail and password, and the account number and access code to link."""

    email = StringField()
    password = PasswordField()
    confirm = PasswordField()
    account = StringField()
    code = StringField()


class SignInForm(FlaskForm):
    """Sign-in with e-mail and password."""

    email = StringField()
    password = PasswordField()


class EmailForm(FlaskForm):
    """Only an e-mail address: a reset request, or a new confirmation link."""

    email = StringField()


class PasswordForm(FlaskForm):
    """A new password, typed twice."""

    password = PasswordField()
    confirm = PasswordField()


def _token_message(problem: TokenProblem) -> str:
    """What went wrong with a link from an e-mail, in words."""
    return {
        TokenProblem.EXPIRED: _("This link has expired. Ask for a new one below."),
        TokenProblem.USED: _("This link has already been used. Ask for a new one if you need it."),
        TokenProblem.INVALID: _(
            "This link is not valid. Check that you opened the whole link from the e-mail, "
            "or ask for a new one below."
        ),
    }[problem]


def _external(endpoint: str, **values) -> str:
    """A link for an e-mail, on the portal's public address."""
    return current_app.config["PUBLIC_BASE_URL"] + url_for(endpoint, **values)


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _origin() -> str | None:
    return request.remote_addr


def _email_ok(form: FlaskForm) -> bool:
    """The e-mail field holds an address; else a message under it."""
    if residents.looks_like_email(residents.normalize_email(form.email.data)):
        return True
    form.email.errors = [_("Enter your e-mail address, such as name@example.com.")]
    return False


def _password_ok(form: FlaskForm) -> bool:
    """The new password is long enough and typed the same twice; else a message."""
    password = form.password.data or ""
    if len(password) < residents.MIN_PASSWORD_LENGTH:
        form.password.errors = [
            _(
                "Choose a password of at least %(count)s characters.",
                count=residents.MIN_PASSWORD_LENGTH,
            )
        ]
    elif len(password) > MAX_PASSWORD_LENGTH:
        form.password.errors = [
            _("Choose a password of at most %(count)s characters.", count=MAX_PASSWORD_LENGTH)
        ]
    elif password != (form.confirm.data or ""):
        form.confirm.errors = [_("The two passwords are not the same. Type them again.")]
    else:
        return True
    return False


def _language() -> str:
    value = str(get_locale() or "en")
    return value if value in i18n.LANGUAGES else "en"


def _check_email(kind: str, email: str):
    """The same answer whether or not the address is registered."""
    return render_template("portal/account/check_email.html", kind=kind, email=email)


@bp.route("/register", methods=["GET", "POST"])
@limits.lookup_limits
def register():
    """Sign up with an e-mail and password, proving one account's access code."""
    form = RegisterForm()
    if request.method == "GET":
        return render_template("portal/account/register.html", form=form)
    form.validate_on_submit()
    filled = web.required_fields(
        form,
        {
            "account": _("Enter the account number from your bill."),
            "code": _("Enter the access code from your bill."),
        },
    )
    if all([_email_ok(form), _password_ok(form), filled]):
        try:
            account = access.find_by_code(db.session, form.account.data, form.code.data)
        except access.LookupFailed:
            limits.failed()
            anonymous = Actor("anonymous", None, "register", _origin())
            residents.lookup_failed(db.session, anonymous, "resident.register_failed")
            db.session.commit()
            form.form_errors.append(web.no_match())
        else:
            return _registered(form, account)
    return render_template("portal/account/register.html", form=form), 422


def _registered(form: RegisterForm, account):
    """Create the resident and send the confirmation; a known address gets a warning instead."""
    config = current_app.config
    email = residents.normalize_email(form.email.data)
    try:
        resident = residents.register(
            db.session,
            email=email,
            password=form.password.data,
            account=account,
            language=_language(),
            origin=_origin(),
        )
        db.session.commit()
    except residents.AlreadyRegistered as known:
        db.session.commit()
        who, sign_in_link = residents.recipient(known.resident), _external(".sign_in")
        reset_link = _external(".reset_request")
        mail.after_the_answer(
            lambda: residents.send_already_registered(
                config, who, sign_in_link=sign_in_link, reset_link=reset_link
            )
        )
    except sa.exc.IntegrityError:
        db.session.rollback()  # the same address signed up at the same moment
    else:
        _send_verification(resident)
    return _check_email("registered", email)


def _send_verification(resident) -> None:
    """A confirmation link for the resident, e-mailed once the answer is sent."""
    config, who = current_app.config, residents.recipient(resident)
    link = _external(".verify", token=residents.verification_token(_secret(), resident))
    mail.after_the_answer(lambda: residents.send_verification(config, who, link))


@bp.route("/verify/<token>")
def verify(token: str):
    """Confirm the e-mail address from the link in the confirmation e-mail."""
    try:
        resident = residents.verify(db.session, _secret(), token[:1000], now=utcnow())
    except BadToken as bad:
        db.session.rollback()
        page = render_template(
            "portal/account/verify.html", problem=_token_message(bad.problem), form=EmailForm()
        )
        return page, 400
    db.session.commit()
    return render_template("portal/account/verify.html", problem=None, email=resident.email)


@bp.route("/verify/resend", methods=["POST"])
@limiter.limit(SIGN_IN_LIMIT, methods=["POST"])
@limits.address_mail_limits
def resend():
    """Send a new confirmation link (the answer is the same for any address)."""
    form = EmailForm()
    form.validate_on_submit()
    if not _email_ok(form):
        problem = _("Enter the e-mail address you signed up with to get a new link.")
        return render_template("portal/account/verify.html", problem=problem, form=form), 422
    limits.asked_to_mail()
    resident = residents.unverified(db.session, form.email.data)
    if resident is not None:
        _send_verification(resident)
    return _check_email("resent", residents.normalize_email(form.email.data))


@bp.route("/signin", methods=["GET", "POST"])
@limiter.limit(SIGN_IN_LIMIT, methods=["POST"])
def sign_in():
    """Sign in with e-mail and password; five wrong passwords in a row lock for a while."""
    form = SignInForm()
    if request.method == "GET":
        return render_template("portal/account/sign_in.html", form=form, unverified=False)
    form.validate_on_submit()
    unverified = False
    if web.required_fields(
        form,
        {
            "email": _("Enter your e-mail address."),
            "password": _("Enter your password."),
        },
    ):
        config = current_app.config
        try:
            resident = residents.authenticate(
                db.session,
                form.email.data,
                form.password.data,
                origin=_origin(),
                now=utcnow(),
                max_failures=config["LOGIN_MAX_FAILURES"],
                lockout=_lockout(),
            )
        except SignInRefused as refused:
            db.session.commit()  # the failure count and the audit
            unverified = refused.reason == Refusal.UNVERIFIED
            form.form_errors.append(_refusal_message(refused))
        else:
            return _start(resident)
    page = render_template("portal/account/sign_in.html", form=form, unverified=unverified)
    return page, 422


def _lockout() -> timedelta:
    return timedelta(minutes=current_app.config["LOGIN_LOCKOUT_MINUTES"])


def _refusal_message(refused: SignInRefused) -> str:
    if refused.reason == Refusal.LOCKED:
        return _(
            "Too many failed sign-ins. For your security, try again in %(minutes)s minutes, "
            "or choose a new password.",
            minutes=refused.minutes,
        )
    if refused.reason == Refusal.UNVERIFIED:
        return _(
            "Your e-mail address is not confirmed yet. Open the link in the e-mail we sent you, "
            "or ask for a new one below."
        )
    return _("The e-mail address or password is not correct.")


def _start(resident):
    """A fresh session for the resident (any earlier one in this browser ends)."""
    web.forget()
    links = residents.links_of(db.session, resident.id)
    account = links[0].account if links else None
    started = access.start_session(
        db.session, now=utcnow(), origin=_origin(), account=account, resident_id=resident.id
    )
    web.remember(started.token)
    g.portal_session, g.portal_account = started.row, account
    db.session.commit()
    if len(links) == 1:
        return redirect(url_for("portal.bill"), 303)
    return redirect(url_for(".accounts"), 303)


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit(SIGN_IN_LIMIT, methods=["POST"])
@limits.address_mail_limits
def reset_request():
    """Ask for a password-reset link (the answer is the same for any address)."""
    form = EmailForm()
    if request.method == "GET":
        row = web.load_portal_session()
        if row is not None and row.resident is not None:
            form.email.data = row.resident.email
        return render_template("portal/account/reset_request.html", form=form)
    form.validate_on_submit()
    if not _email_ok(form):
        return render_template("portal/account/reset_request.html", form=form), 422
    limits.asked_to_mail()
    resident = residents.resident_by_email(db.session, form.email.data)
    if resident is None:
        residents.reset_asked_for_unknown(db.session, form.email.data, origin=_origin())
    else:
        residents.reset_requested(db.session, resident, origin=_origin())
        config, who = current_app.config, residents.recipient(resident)
        link = _external(".reset", token=residents.reset_token(_secret(), resident))
        mail.after_the_answer(lambda: residents.send_reset(config, who, link))
    db.session.commit()
    return _check_email("reset", residents.normalize_email(form.email.data))


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit(SIGN_IN_LIMIT, methods=["POST"])
def reset(token: str):
    """Choose a new password from a reset link; it works once, and signs out everywhere."""
    try:
        resident = residents.resident_of_reset(db.session, _secret(), token[:1000], now=utcnow())
    except BadToken as bad:
        page = render_template(
            "portal/account/reset.html", problem=_token_message(bad.problem), form=None
        )
        return page, 400
    form = PasswordForm()
    if request.method == "GET":
        return render_template("portal/account/reset.html", problem=None, form=form)
    form.validate_on_submit()
    if not _password_ok(form):
        return render_template("portal/account/reset.html", problem=None, form=form), 422
    residents.change_password(
        db.session, resident, form.password.data, now=utcnow(), origin=_origin()
    )
    web.forget()
    db.session.commit()
    flash(_("Your new password is saved. Sign in with it."))
    return redirect(url_for(".sign_in"), 303)


def init_app(app) -> None:
    """Register the pages (portal.blueprints imports views_linked_accounts first, so its
    routes are on the blueprint by then)."""
    app.register_blueprint(bp)

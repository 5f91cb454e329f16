"""Staff sign-in, sign-out, the password change and the staff home page.

Each sign-in opens a server-side staff session (core.staff_sessions) whose token the
browser keeps in the signed cookie; Flask-Login's loader checks that session on every
request, so a cookie copied before sign-out, or kept past a limit, signs no one in.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from core import staff_sessions
from core.audit import record
from core.auth import (
    AuthError,
    any_role,
    authenticate,
    current_principal,
    request_actor,
    requires,
)
from core.calendar import town_zone
from core.db import utcnow
from core.extensions import db, limiter
from core.models import JobRun, JobStatus, StaffSession, StaffUser
from core.money import format_cents

auth = Blueprint("auth", __name__)
staff = Blueprint("staff", __name__, url_prefix="/staff")
#: Where the browser keeps its staff session token (inside the signed session cookie).
STAFF_TOKEN_KEY = "staff"  # noqa: S105 - a session key, not a secret
#: What Flask-Login keeps in the cookie; dropped with the token when the session has ended.
_LOGIN_KEYS = ("_user_id", "_fresh", "_id", STAFF_TOKEN_KEY)


def session_limits() -> staff_sessions.Limits:
    """The staff session limits of the settings."""
    config = current_app.config
    return staff_sessions.Limits(
        idle=timedelta(minutes=config["STAFF_IDLE_MINUTES"]),
        absolute=timedelta(hours=config["STAFF_SESSION_HOURS"]),
    )


def current_staff_session() -> StaffSession | None:
    """This browser's live staff session (looked up once per request, cached on g)."""
    if "staff_session" not in g:
        row = staff_sessions.current(
            db.session, session.get(STAFF_TOKEN_KEY), now=utcnow(), limits=session_limits()
        )
        if db.session.dirty:
            db.session.commit()  # the last-seen time, or why the session ended, for good
        g.staff_session = row
    return g.staff_session


def load_signed_in_user(user_id: str) -> StaffUser | None:
    """Flask-Login's loader: the user of this browser's live staff session, else no one."""
    row = current_staff_session()
    if row is None or str(row.user_id) != user_id:
        if session.get(STAFF_TOKEN_KEY):
            flash("Your session has ended. Sign in again.")
        for key in _LOGIN_KEYS:
            session.pop(key, None)
        return None
    return row.user


class LoginForm(FlaskForm):
    """The staff sign-in form."""

    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=512)])


def _safe_next(target: str | None) -> str:
    """Only follow a ?next= that stays on this site."""
    if (
        target
        and not urlsplit(target).netloc
        and target.startswith("/")
        and not target.startswith("//")
    ):
        return target
    return url_for("staff.home")


@auth.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
@any_role
def login():
    """Sign in with e-mail and password; repeated failures lock the user out."""
    form = LoginForm()
    if form.validate_on_submit():
        config = current_app.config
        try:
            user = authenticate(
                db.session,
                form.email.data,
                form.password.data,
                origin=request.remote_addr,
                now=utcnow(),
                max_failures=config["LOGIN_MAX_FAILURES"],
                lockout=timedelta(minutes=config["LOGIN_LOCKOUT_MINUTES"]),
            )
        except AuthError as error:
            db.session.commit()  # keep the failure count and the audit event
            form.password.errors.append(str(error))
            return render_template("auth/login.html", form=form), 401
        session.clear()  # a fresh session at sign-in: nothing from before survives
        login_user(user)
        session.permanent = True
        session[STAFF_TOKEN_KEY] = staff_sessions.start(
            db.session, user, now=utcnow(), origin=request.remote_addr
        )
        db.session.commit()
        return redirect(_safe_next(request.args.get("next")))
    status = 400 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@auth.route("/logout", methods=["POST"])
@any_role
def logout():
    """Sign out (POST only, with the CSRF token): the session ends on the server too."""
    if current_user.is_authenticated:
        record(db.session, request_actor(), "user.logout", current_user._get_current_object())
        staff_sessions.sign_out(current_staff_session(), utcnow())
        db.session.commit()
    logout_user()
    session.clear()
    flash("You have signed out.")
    return redirect(url_for("auth.login"))


class PasswordForm(FlaskForm):
    """A signed-in staff user's own password change."""

    current = PasswordField("Current password", validators=[DataRequired(), Length(max=512)])
    new = PasswordField("New password", validators=[DataRequired(), Length(max=512)])
    again = PasswordField(
        "New password again",
        validators=[DataRequired(), EqualTo("new", message="The two new passwords differ.")],
    )


@staff.route("/password", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
@login_required
@requires("read")
@any_role
def password():
    """Change one's own password; every other session of the user ends, this one stays."""
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            ended = staff_sessions.change_own_password(
                db.session,
                request_actor(),
                current_staff_session(),
                current_password=form.current.data,
                new_password=form.new.data,
                now=utcnow(),
            )
        except AuthError as error:
            wrong = isinstance(error, staff_sessions.WrongPassword)
            if wrong:
                db.session.commit()  # keep the refusal in the audit log
            else:
                db.session.rollback()
            field = form.current if wrong else form.new
            field.errors.append(str(error))
            return render_template("staff/password.html", form=form), 422
        db.session.commit()
        flash(f"Your password has changed. Sessions signed out elsewhere: {ended}.")
        return redirect(url_for("staff.home"))
    status = 400 if form.errors else 200
    return render_template("staff/password.html", form=form), status


@staff.route("/")
@login_required
def home():
    """The staff home page."""
    return render_template("staff/home.html", principal=current_principal())


#: How many job runs the staff page lists.
JOB_RUNS_SHOWN = 200


@staff.route("/jobs")
@login_required
@requires("read")
def job_runs():
    """The scheduler's runs, newest first: what each did, or why it failed."""
    job = request.args.get("job", "").strip()[:64]
    failed_only = request.args.get("status") == "failed"
    query = sa.select(JobRun).order_by(JobRun.id.desc()).limit(JOB_RUNS_SHOWN)
    if job:
        query = query.where(JobRun.job == job)
    if failed_only:
        query = query.where(JobRun.status == JobStatus.FAILED)
    zone = town_zone(current_app.config)
    return render_template(
        "staff/jobs.html",
        runs=db.session.scalars(query).all(),
        jobs=db.session.scalars(sa.select(JobRun.job).distinct().order_by(JobRun.job)).all(),
        job=job,
        failed_only=failed_only,
        zone=zone,
    )


def init_app(app) -> None:
    """Register the sign-in and staff blueprints."""
    app.register_blueprint(auth)
    app.register_blueprint(staff)
    app.add_template_filter(format_cents, "cents")

    @app.route("/")
    def index():
        """The front page is the residents' bill lookup (staff sign in from its footer)."""
        return redirect(url_for("portal.quick_pay"))

    @app.context_processor
    def inject_globals():
        """Values every template may use."""
        return {
            "municipality_name": current_app.config["MUNICIPALITY_NAME"],
            "principal": current_principal(),
        }

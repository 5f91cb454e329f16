"""Staff sign-in, sign-out and the staff home page."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from core.audit import record
from core.auth import (
    AuthError,
    any_role,
    authenticate,
    current_principal,
    request_actor,
    requires,
)
from core.db import utcnow
from core.extensions import db, limiter
from core.models import JobRun, JobStatus
from core.money import format_cents

auth = Blueprint("auth", __name__)
staff = Blueprint("staff", __name__, url_prefix="/staff")


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
        db.session.commit()
        return redirect(_safe_next(request.args.get("next")))
    status = 400 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@auth.route("/logout", methods=["POST"])
@any_role
def logout():
    """Sign out (POST only, with the CSRF token)."""
    if current_user.is_authenticated:
        record(db.session, request_actor(), "user.logout", current_user._get_current_object())
        db.session.commit()
    logout_user()
    session.clear()
    flash("You have signed out.")
    return redirect(url_for("auth.login"))


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
    zone = ZoneInfo(current_app.config["MUNICIPALITY_TIMEZONE"])
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

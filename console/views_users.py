"""The staff users page (admin): who may sign in, how many sessions each has open, and the
buttons that sign a user out everywhere or deactivate one (every session ends).

Thin: call core.staff_sessions, commit once, say what happened.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from core import staff_sessions
from core.auth import request_actor, requires
from core.db import get_by_id, utcnow
from core.extensions import db
from core.models import StaffSession, StaffUser

bp = Blueprint("users", __name__, url_prefix="/staff/users", template_folder="templates")


def _user_or_404(user_id: int) -> StaffUser:
    """The staff user, or 404."""
    user = get_by_id(db.session, StaffUser, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/")
@login_required
@requires("admin")
def index():
    """Every staff user with their role, state, last sign-in and open sessions."""
    open_counts = dict(
        db.session.execute(
            sa.select(StaffSession.user_id, sa.func.count(StaffSession.id))
            .where(StaffSession.ended_at.is_(None))
            .group_by(StaffSession.user_id)
        ).all()
    )
    users = db.session.scalars(sa.select(StaffUser).order_by(StaffUser.email)).all()
    return render_template("console/users.html", users=users, open_counts=open_counts)


@bp.post("/<int:user_id>/sign-out")
@login_required
@requires("admin")
def sign_out_everywhere(user_id: int):
    """End every session of the user, wherever it is held (audited)."""
    user = _user_or_404(user_id)
    ended = staff_sessions.sign_out_everywhere(db.session, request_actor(), user, now=utcnow())
    db.session.commit()
    flash(f"{user.email} is signed out everywhere ({ended} sessions ended).")
    return redirect(url_for("users.index"))


@bp.post("/<int:user_id>/deactivate")
@login_required
@requires("admin")
def deactivate(user_id: int):
    """Deactivate the user: every session ends and no sign-in is let in (audited)."""
    user = _user_or_404(user_id)
    if user.id == current_user.id:
        flash("You cannot deactivate yourself; ask another admin.")
        return redirect(url_for("users.index"))
    ended = staff_sessions.set_active(db.session, request_actor(), user, False, now=utcnow())
    db.session.commit()
    flash(f"{user.email} is deactivated ({ended} sessions ended).")
    return redirect(url_for("users.index"))


@bp.post("/<int:user_id>/reactivate")
@login_required
@requires("admin")
def reactivate(user_id: int):
    """Let a deactivated user sign in again (audited)."""
    user = _user_or_404(user_id)
    staff_sessions.set_active(db.session, request_actor(), user, True, now=utcnow())
    db.session.commit()
    flash(f"{user.email} may sign in again.")
    return redirect(url_for("users.index"))


def init_app(app) -> None:
    """Register the staff users page."""
    app.register_blueprint(bp)

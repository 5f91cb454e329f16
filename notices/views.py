"""Staff pages: an account's notices, each downloadable again exactly as it was sent."""

from __future__ import annotations

import io

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, render_template, send_file
from flask_login import login_required

from billing.accounts import find_account
from core.auth import requires
from core.extensions import db
from notices.models import Notice
from notices.service import NoticeError, open_pdf

bp = Blueprint("notices", __name__, url_prefix="/staff", template_folder="templates")


@bp.route("/accounts/<number>/notices")
@login_required
@requires("read")
def account_notices(number: str):
    """The notices sent to an account, newest first."""
    account = find_account(db.session, number)
    if account is None:
        abort(404)
    notices = db.session.scalars(
        sa.select(Notice).where(Notice.account_id == account.id).order_by(Notice.id.desc())
    ).all()
    return render_template("notices/list.html", account=account, notices=notices)


@bp.route("/notices/<int:notice_id>.pdf")
@login_required
@requires("read")
def download(notice_id: int):
    """A notice's PDF, checked against its recorded hash."""
    notice = db.session.get(Notice, notice_id)
    if notice is None:
        abort(404)
    try:
        data = open_pdf(current_app.config, notice)
    except (OSError, NoticeError):
        abort(409)
    return send_file(
        io.BytesIO(data),
        mimetype="application/pdf",
        download_name=f"{notice.kind.value}-{notice.reference}.pdf".replace("/", "-"),
    )


def init_app(app) -> None:
    """Register the staff notice pages."""
    app.register_blueprint(bp)

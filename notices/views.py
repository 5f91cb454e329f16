"""Staff pages: an account's notices, each downloadable again exactly as it was sent."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import login_required

from accounts.services import find_account
from core.auth import request_actor, requires
from core.calendar import town_today, town_zone
from core.db import get_by_id
from core.extensions import db
from notices.issuing import NoticeError, open_pdf
from notices.models import Notice, NoticeBatch
from notices.print_batches import mark_mailed, print_batch

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


CYCLE_RE = re.compile(r"^\d{4}(-\d{2})?$")


@bp.route("/notice-batches")
@login_required
@requires("read")
def batches():
    """Print batches, newest first, and the form to make one for a billing cycle."""
    return _batches_page()


def _batches_page(error: str | None = None, status: int = 200, cycle: str = ""):
    rows = db.session.scalars(sa.select(NoticeBatch).order_by(NoticeBatch.id.desc())).all()
    zone = town_zone(current_app.config)
    page = render_template(
        "notices/batches.html", batches=rows, error=error, cycle=cycle, zone=zone
    )
    return page, status


@bp.route("/notice-batches", methods=["POST"])
@login_required
@requires("write")
def make_batch():
    """Make a cycle's print batch: paperless accounts e-mailed, the rest merged for the mail house."""
    cycle = (request.form.get("cycle") or "").strip()
    if not CYCLE_RE.match(cycle):
        return _batches_page(
            "Enter the billing cycle, such as 2026-10 (or 2026 for taxes).", 422, cycle
        )
    try:
        batch = print_batch(
            db.session,
            current_app.config,
            request_actor(),
            cycle=cycle,
            on=town_today(current_app.config),
            reprint=request.form.get("reprint") == "yes",
        )
    except NoticeError as error:
        db.session.rollback()
        return _batches_page(str(error)[:1].upper() + str(error)[1:] + ".", 409, cycle)
    flash(
        f"Batch {batch.id} for {cycle}: {batch.printed} printed ({batch.pages} pages), "
        f"{batch.emailed} e-mailed."
    )
    return redirect(url_for(".batches"), 303)


def _batch_or_404(batch_id: int) -> NoticeBatch:
    batch = get_by_id(db.session, NoticeBatch, batch_id)
    if batch is None:
        abort(404)
    return batch


def _batch_file(relative: str | None, expected: str | None, mimetype: str, name: str):
    """A batch's file from NOTICES_DIR, only if it still has the SHA-256 recorded for it."""
    if not relative:
        abort(404)
    path = Path(current_app.config["NOTICES_DIR"]) / relative
    try:
        data = path.read_bytes()
    except OSError:
        abort(409)
    if expected and hashlib.sha256(data).hexdigest() != expected:
        abort(409)
    return send_file(io.BytesIO(data), mimetype=mimetype, download_name=name)


@bp.route("/notice-batches/<int:batch_id>.pdf")
@login_required
@requires("read")
def batch_pdf(batch_id: int):
    """The merged PDF for the mail house, checked against its recorded hash."""
    batch = _batch_or_404(batch_id)
    return _batch_file(batch.pdf_path, batch.pdf_sha256, "application/pdf", f"batch-{batch.id}.pdf")


@bp.route("/notice-batches/<int:batch_id>.csv")
@login_required
@requires("read")
def batch_manifest(batch_id: int):
    """The batch's CSV manifest, checked against its recorded hash."""
    batch = _batch_or_404(batch_id)
    return _batch_file(
        batch.manifest_path, batch.manifest_sha256, "text/csv", f"batch-{batch.id}.csv"
    )


@bp.route("/notice-batches/<int:batch_id>/mailed", methods=["POST"])
@login_required
@requires("write")
def batch_mailed(batch_id: int):
    """Record that the mail house has the batch (once)."""
    batch = _batch_or_404(batch_id)
    try:
        mark_mailed(db.session, request_actor(), batch)
    except NoticeError as error:
        db.session.rollback()
        return _batches_page(str(error)[:1].upper() + str(error)[1:] + ".", 409)
    db.session.commit()
    flash(f"Batch {batch.id} is marked mailed.")
    return redirect(url_for(".batches"), 303)


def init_app(app) -> None:
    """Register the staff notice pages and Twilio's webhooks."""
    from notices import twilio_webhooks

    app.register_blueprint(bp)
    twilio_webhooks.init_app(app)

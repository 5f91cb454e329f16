"""Portal pages (autopay): filled in by its own change."""

from __future__ import annotations

from flask import Blueprint, abort

bp = Blueprint("portal_autopay", __name__, template_folder="templates")


@bp.route("/my/autopay")
def autopay():
    """Not built yet."""
    abort(404)


def init_app(app) -> None:
    """Register the pages."""
    app.register_blueprint(bp)

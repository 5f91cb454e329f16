"""Portal pages (account): filled in by its own change."""

from __future__ import annotations

from flask import Blueprint, abort

bp = Blueprint("portal_account", __name__, template_folder="templates")


@bp.route("/signin")
def sign_in():
    """Not built yet."""
    abort(404)


@bp.route("/my/accounts")
def accounts():
    """Not built yet."""
    abort(404)


def init_app(app) -> None:
    """Register the pages."""
    app.register_blueprint(bp)

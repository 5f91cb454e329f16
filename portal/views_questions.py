"""Portal pages (questions): filled in by its own change."""

from __future__ import annotations

from flask import Blueprint, abort

bp = Blueprint("portal_questions", __name__, template_folder="templates")


@bp.route("/my/bills/<number>/question")
def ask(number: str):
    """Not built yet."""
    abort(404)


def init_app(app) -> None:
    """Register the pages."""
    app.register_blueprint(bp)

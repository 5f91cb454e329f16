"""Every portal blueprint, registered in one place."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the portal's languages and pages."""
    from portal import i18n, views, views_account, views_autopay, views_questions

    i18n.init_app(app)
    views.init_app(app)
    views_account.init_app(app)
    views_autopay.init_app(app)
    views_questions.init_app(app)

"""Every portal blueprint, registered in one place."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the portal's languages and pages."""
    # NOTE: views_linked_accounts adds its routes to views_registration's blueprint (and
    # views_zip to views') when it is imported, which must happen before that blueprint
    # is registered.
    from portal import (
        i18n,
        views,
        views_autopay,
        views_autopay_bank,  # noqa: F401 - its routes are on views_autopay.bp
        views_bank,  # noqa: F401 - its routes are on views.bp
        views_linked_accounts,  # noqa: F401 - its routes are on views_registration.bp
        views_plans,
        views_questions,
        views_receipts,
        views_registration,
        views_service,
        views_shutoff,
        views_shutoff_report,
        views_texts,  # noqa: F401 - its routes are on views_registration.bp
        views_zip,  # noqa: F401 - its routes are on views.bp
    )

    i18n.init_app(app)
    views.init_app(app)
    views_registration.init_app(app)
    views_autopay.init_app(app)
    views_questions.init_app(app)
    views_receipts.init_app(app)
    views_service.init_app(app)
    views_plans.init_app(app)
    views_shutoff.init_app(app)
    views_shutoff_report.init_app(app)

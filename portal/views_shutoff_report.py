"""The public page of shutoffs and reconnections by month (/reports/shutoffs): the last twelve
months' figures for publication, with no sign-in, in English or Spanish (the page's language),
as one accessible table. Counts only: no names, numbers or addresses (docs/shutoff.md, "The
monthly report")."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from core.calendar import town_today
from core.extensions import db
from notices.shutoff_report import FIGURES, last_twelve, shutoff_report
from portal.i18n import select_locale

bp = Blueprint("portal_reports", __name__, template_folder="templates")

#: The page's own words, in each language.
WORDS = {
    "en": {
        "title": "Water shutoffs and reconnections by month",
        "intro": "How many households were sent shutoff notices, how many had their water shut "
        "off for an unpaid balance, and how soon service came back after payment. Each event "
        "is counted in the month it happened in the town.",
        "caption": "Shutoffs and reconnections, {first} to {last}",
        "figure": "Figure",
        "none": "no reconnection",
    },
    "es": {
        "title": "Cortes y reconexiones de agua por mes",
        "intro": "Cuántos hogares recibieron avisos de corte, a cuántos se les cortó el agua por "
        "un saldo sin pagar y qué tan pronto volvió el servicio después del pago. Cada hecho se "
        "cuenta en el mes en que ocurrió en el municipio.",
        "caption": "Cortes y reconexiones, de {first} a {last}",
        "figure": "Dato",
        "none": "sin reconexiones",
    },
}


@bp.route("/reports/shutoffs")
def shutoff_report_page():
    """The last twelve months' figures (public: published by the town)."""
    language = "es" if select_locale() == "es" else "en"
    today = town_today(current_app.config)
    months = shutoff_report(db.session, current_app.config, last_twelve(today), today)
    rows = [
        (label_es if language == "es" else label_en, [month.shown(name) for month in months])
        for name, label_en, label_es in FIGURES
    ]
    return render_template(
        "portal/shutoff_report.html",
        words=WORDS[language],
        months=months,
        rows=rows,
        language=language,
    )


def init_app(app) -> None:
    """Register the public report page."""
    app.register_blueprint(bp)

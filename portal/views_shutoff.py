"""A resident contests a shutoff from the portal: where a shutoff notice is open the bill page
offers "Contest this shutoff", a form takes the resident's reasons, a confirmation follows, and
the appeal's status (and, once decided, the decision and the reasons written for the resident)
is shown afterwards; never the staff's internal note (docs/shutoff.md, "Appeals").

Thin: validate, call notices.shutoff_appeals, commit once, render. Refusals are worded for the
resident from the reason's code.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import lazy_gettext
from sqlalchemy.exc import IntegrityError

from billing.closed_days import town_working_calendar
from billing.shutoff_rules import shutoff_rule_on
from core.calendar import town_today
from core.db import utcnow
from core.extensions import db
from notices.appeal_letters import send_acknowledgement
from notices.mail_delivery import Mailer
from notices.models import AppealChannel, AppealStatus, ShutoffAppeal
from notices.shutoff_appeals import (
    MAX_WORDS,
    AppealError,
    appeal_window_ends,
    appeals_of,
    denial_earliest,
    file_appeal,
    open_shutoff_notice,
)
from portal import web

bp = Blueprint("portal_shutoff", __name__, template_folder="templates")

#: The resident's words for each reason an appeal is refused.
REFUSALS = {
    "statement": lazy_gettext("Tell us why you contest the shutoff."),
    "statement_long": lazy_gettext("Please write at most %(most)s characters."),
    "already": lazy_gettext("You already have an appeal waiting for a decision."),
    "no_notice": lazy_gettext("There is no shutoff notice on this account to contest."),
    "late": lazy_gettext(
        "The time to contest this shutoff notice ended on %(day)s. Call the town office."
    ),
    "decided": lazy_gettext("Your appeal of this shutoff notice was already decided."),
}


def refusal(error: AppealError) -> str:
    """The resident's words for a refusal."""
    text = REFUSALS.get(error.code, lazy_gettext("We could not record your appeal."))
    return str(text) % {"most": f"{MAX_WORDS:,}", "day": error.params.get("last_day", "")}


def _shutoff_from(appeal: ShutoffAppeal) -> date | None:
    """After a denial: the earliest shutoff it allows."""
    if appeal.status != AppealStatus.DENIED:
        return None
    config = current_app.config
    calendar = town_working_calendar(db.session, config.get("MUNICIPALITY_STATE", ""))
    return denial_earliest(
        calendar, shutoff_rule_on(db.session, appeal.decided_on), appeal.decided_on
    )


def shutoff_line(account_id: int, today: date) -> dict | None:
    """For the bill page: the open shutoff notice, the latest appeal of it, and whether the
    resident may still contest it."""
    notice = open_shutoff_notice(db.session, account_id)
    if notice is None:
        return None
    appeals = [a for a in appeals_of(db.session, account_id) if a.status != AppealStatus.WITHDRAWN]
    latest = appeals[0] if appeals else None
    may = (latest is None or latest.shutoff_notice_id != notice.id) and today <= appeal_window_ends(
        notice, shutoff_rule_on(db.session, today)
    )
    return {"notice": notice, "appeal": latest, "may_contest": may}


def _page(errors: dict[str, str] | None = None, statement: str = "", status: int = 200):
    account = web.account()
    appeals = appeals_of(db.session, account.id)
    latest = appeals[0] if appeals else None
    page = render_template(
        "portal/shutoff_appeal.html",
        account=account,
        line=shutoff_line(account.id, town_today(current_app.config)),
        appeal=latest,
        shutoff_from=_shutoff_from(latest) if latest else None,
        errors=errors or {},
        statement=statement,
        most=MAX_WORDS,
    )
    return page, status


@bp.route("/my/shutoff-appeal")
@web.resident_required
def appeal_page():
    """The open shutoff notice, the form to contest it, or the appeal's status."""
    return _page()


@bp.route("/my/shutoff-appeal", methods=["POST"])
@web.resident_required
def contest():
    """File the resident's appeal; the confirmation follows."""
    statement = request.form.get("statement", "")[: MAX_WORDS + 1]
    config = current_app.config
    try:
        appeal = file_appeal(
            db.session,
            web.actor(),
            web.account(),
            statement=statement,
            channel=AppealChannel.PORTAL,
            at=utcnow(),
            on=town_today(config),
        )
        db.session.commit()
    except AppealError as error:
        db.session.rollback()
        return _page({"statement": refusal(error)}, statement, 422)
    except IntegrityError:
        # A second appeal filed at the same moment: the one pending appeal stands.
        db.session.rollback()
        return _page({"statement": str(REFUSALS["already"])}, statement, 422)
    send_acknowledgement(config, Mailer.from_config(config), appeal, web.account())
    return redirect(url_for(".confirmation", appeal_id=appeal.id), 303)


@bp.route("/my/shutoff-appeal/<int:appeal_id>")
@web.resident_required
def confirmation(appeal_id: int):
    """One of the account's appeals: received, or its decision and the reasons."""
    appeal = web.own_or_404(ShutoffAppeal, appeal_id)
    return render_template(
        "portal/shutoff_appeal_status.html",
        account=web.account(),
        appeal=appeal,
        shutoff_from=_shutoff_from(appeal),
    )


def init_app(app) -> None:
    """Register the appeal pages, and the shutoff line the bill page shows."""
    app.register_blueprint(bp)

    @app.context_processor
    def shutoff_globals():
        if not request.blueprint or not request.blueprint.startswith("portal"):
            return {}
        return {"shutoff_line": lambda account: shutoff_line(account.id, town_today(app.config))}

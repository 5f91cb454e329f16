"""A resident asks for a payment plan within the town's rules, reads the agreement (English or
Spanish PDF), accepts it online, and follows its installments (docs/arrangements.md).

Thin: validate, call billing.arrangements, commit once, render. Refusals are worded for the
resident from the reason's code, never the staff's text.
"""

from __future__ import annotations

import io
from datetime import date

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
from flask_babel import get_locale, lazy_gettext
from flask_babel import gettext as _

from billing.arrangements import (
    PlanRequest,
    accept_plan,
    open_plan,
    past_due_invoices,
    plan_standing,
    propose_plan,
    rule_on,
    terms_of,
)
from billing.arrangements_terms import PlanError, minimum_down
from billing.models import PaymentPlan, PlanStatus
from core.calendar import town_today
from core.db import utcnow
from core.extensions import db
from core.money import MoneyError, format_cents, parse_dollars
from notices.plan_letters import agreement_pdf
from portal import web

bp = Blueprint("portal_plans", __name__, template_folder="templates")

#: The resident's words for each reason a plan is refused.
REFUSALS = {
    "excluded": lazy_gettext("The town's rules do not allow this balance in a payment plan."),
    "nothing_due": lazy_gettext("There is no past-due balance to include in a plan."),
    "over_most": lazy_gettext("A plan may include at most %(most)s; your balance is %(balance)s."),
    "down_too_small": lazy_gettext("The down payment must be at least %(least)s."),
    "down_too_large": lazy_gettext("The down payment is more than the balance."),
    "too_many": lazy_gettext("A plan may have at most %(most)s installments."),
    "no_installments": lazy_gettext("Choose how many monthly installments you want."),
    "not_adding_up": lazy_gettext("The installments do not add up to the balance."),
    "already": lazy_gettext("This account already has a payment plan."),
    "no_rules": lazy_gettext("The town does not offer payment plans online. Call the town office."),
    "counter_only": lazy_gettext("Please call or visit the town office to set up a plan."),
    "not_proposed": lazy_gettext("This plan is not waiting for your acceptance."),
}
GROUP_NAMES = {
    "utility": lazy_gettext("Utility charges"),
    "tax": lazy_gettext("Property tax"),
    "other": lazy_gettext("Other"),
}


def refusal(error: PlanError) -> str:
    """The resident's words for a refusal."""
    text = REFUSALS.get(error.code)
    if text is None:
        return _("We could not set up this plan. Call the town office.")
    return str(text) % error.params if error.params else str(text)


def _offer(today: date) -> dict | None:
    """What the rule offers this account today: the balance it may include and the limits."""
    rule = rule_on(db.session, today)
    if rule is None or not rule.residents_may_request:
        return None
    found = past_due_invoices(db.session, web.account().id, today)
    groups = [g for g in rule.classes if found.get(g)]
    included = sum(cents for g in groups for _i, cents in found[g])
    return {
        "rule": rule,
        "groups": [(g, str(GROUP_NAMES.get(g, g)), sum(c for _i, c in found[g])) for g in groups],
        "included_cents": included,
        "least_down_cents": minimum_down(terms_of(rule), included) if included else 0,
    }


def _page(errors: dict[str, str] | None = None, shown: dict | None = None, status: int = 200):
    today = town_today(current_app.config)
    plan = open_plan(db.session, web.account().id) or _last_plan()
    page = render_template(
        "portal/plan.html",
        account=web.account(),
        plan=plan,
        standing=plan_standing(db.session, plan, today) if plan else None,
        offer=None
        if plan and plan.status in (PlanStatus.PROPOSED, PlanStatus.CURRENT)
        else _offer(today),
        errors=errors or {},
        shown=shown or {},
    )
    return page, status


def _last_plan() -> PaymentPlan | None:
    """The account's latest plan, whatever its status."""
    return db.session.scalar(
        sa.select(PaymentPlan)
        .where(PaymentPlan.account_id == web.account().id)
        .order_by(PaymentPlan.id.desc())
        .limit(1)
    )


@bp.route("/my/plan")
@web.resident_required
def plan():
    """The account's plan, or what the town offers and the form to ask for one."""
    return _page()


@bp.route("/my/plan", methods=["POST"])
@web.resident_required
def ask():
    """Propose a plan from the resident's down payment and number of installments."""
    errors: dict[str, str] = {}
    try:
        down = parse_dollars(request.form.get("down_payment", "")[:20])
    except MoneyError:
        down = None
        errors["down_payment"] = _("Enter the amount in dollars and cents, such as 50.00.")
    raw = request.form.get("installments", "")
    count = int(raw) if raw.isdigit() and len(raw) < 4 else None
    if count is None:
        errors["installments"] = str(REFUSALS["no_installments"])
    groups = tuple(g for g in ("utility", "tax", "other") if request.form.get(f"group_{g}"))
    if not groups:
        errors["classes"] = _("Choose what to include in the plan.")
    if errors:
        return _page(errors, request.form, 422)
    try:
        propose_plan(
            db.session,
            web.actor(),
            web.account(),
            PlanRequest(groups, down, count),
            as_of=town_today(current_app.config),
            via="resident",
        )
    except PlanError as error:
        db.session.rollback()
        return _page({error.field: refusal(error)}, request.form, 422)
    db.session.commit()
    flash(_("Read the agreement below, then accept it to start your plan."))
    return redirect(url_for(".plan"), 303)


@bp.route("/my/plan/accept", methods=["POST"])
@web.resident_required
def accept():
    """Accept the proposed agreement online; the plan becomes current."""
    plan = open_plan(db.session, web.account().id)
    if plan is None:
        abort(404)
    if request.form.get("agree") != "yes":
        return _page({"agree": _("Tick the box to accept the agreement.")}, status=422)
    try:
        accept_plan(
            db.session,
            web.actor(),
            plan,
            how="online",
            on=town_today(current_app.config),
            at=utcnow(),
        )
    except PlanError as error:
        db.session.rollback()
        return _page({"agree": refusal(error)}, status=422)
    db.session.commit()
    flash(_("Your payment plan has started. Thank you."))
    return redirect(url_for(".plan"), 303)


@bp.route("/my/plan/<int:plan_id>/agreement.pdf")
@web.resident_required
def agreement(plan_id: int):
    """The agreement as a PDF, in the page's language (or ?lang=en|es)."""
    plan = web.own_or_404(PaymentPlan, plan_id)
    language = request.args.get("lang") or str(get_locale() or "en")
    language = language if language in ("en", "es") else "en"
    pdf = agreement_pdf(current_app.config, plan, plan.account, language)
    return send_file(
        io.BytesIO(pdf),
        mimetype="application/pdf",
        download_name=f"payment-plan-{plan.account.number}-{language}.pdf",
    )


def plan_line(account_id: int, today: date) -> dict | None:
    """For the bill page: the current plan's amount due now and next installment, if any."""
    plan = open_plan(db.session, account_id)
    if plan is None or plan.status != PlanStatus.CURRENT:
        return None
    now = plan_standing(db.session, plan, today)
    return {
        "due_now": format_cents(now.due_now_cents) if now.due_now_cents else "",
        "next": now.next_unpaid,
        "next_amount": format_cents(now.next_unpaid.amount_cents) if now.next_unpaid else "",
    }


def init_app(app) -> None:
    """Register the plan pages, and the plan line the bill page shows."""
    app.register_blueprint(bp)

    @app.context_processor
    def plan_globals():
        if not request.blueprint or not request.blueprint.startswith("portal"):
            return {}
        return {"plan_line": lambda account: plan_line(account.id, town_today(app.config))}

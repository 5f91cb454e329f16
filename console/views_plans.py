"""Payment plans for the clerks: plans by status, making one for an account within the rule,
recording the resident's signature at the counter, cancelling, the agreement and default
letter PDFs, and the rule in force with the form that adds a version (docs/arrangements.md).

Thin: read the form, call billing.arrangements, commit once, redirect. A refused plan is shown
with its reason and changes nothing.
"""

from __future__ import annotations

import io

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

from accounts.models import Account
from billing.arrangement_lists import plans_by_status, status_counts
from billing.arrangement_rules import load_plan_rule, rule_to_document
from billing.arrangements import (
    PlanRequest,
    accept_plan,
    cancel_plan,
    plan_standing,
    propose_plan,
    rule_on,
)
from billing.arrangements_terms import PlanError
from billing.computed import RuleError
from billing.models import PaymentPlan, PlanStatus
from core.audit import record
from core.auth import request_actor, requires
from core.calendar import town_today
from core.db import get_by_id, utcnow
from core.extensions import db
from core.money import MoneyError, parse_dollars
from notices.plan_letters import agreement_pdf, default_letter_pdf

bp = Blueprint("plans", __name__, url_prefix="/staff/plans", template_folder="templates")


def _page(error: str | None = None, status: int = 200, shown: dict | None = None):
    today = town_today(current_app.config)
    raw = request.args.get("status", "")
    chosen = PlanStatus(raw) if raw in {s.value for s in PlanStatus} else None
    rule = rule_on(db.session, today)
    page = render_template(
        "console/plans.html",
        rows=plans_by_status(db.session, chosen, today),
        counts=status_counts(db.session),
        chosen=chosen,
        rule=rule_to_document(rule) if rule else None,
        error=error,
        shown=shown or {},
    )
    return page, status


def _plan_or_404(plan_id: int) -> PaymentPlan:
    plan = get_by_id(db.session, PaymentPlan, plan_id)
    if plan is None:
        abort(404)
    return plan


@bp.get("/")
@login_required
@requires("read")
def plans():
    """Plans by status, and the rule in force."""
    return _page()


def _request(form) -> PlanRequest:
    """The plan asked on the form; PlanError naming the field when a value cannot be read."""
    groups = tuple(g for g in ("utility", "tax", "other") if form.get(f"group_{g}"))
    try:
        down = parse_dollars(form.get("down_payment", "")[:20])
    except MoneyError as error:
        raise PlanError("down_payment", f"Down payment: {error}") from None
    amounts_text = form.get("amounts", "").strip()
    if amounts_text:
        try:
            amounts = tuple(parse_dollars(a.strip()) for a in amounts_text.split(",")[:121])
        except MoneyError as error:
            raise PlanError("installments", f"Installment amounts: {error}") from None
        return PlanRequest(groups, down, amounts=amounts)
    raw = form.get("installments", "")
    if not raw.isdigit() or len(raw) > 3:
        raise PlanError("installments", "Enter the number of monthly installments.")
    return PlanRequest(groups, down, int(raw))


@bp.post("/")
@login_required
@requires("write")
def make():
    """Make a plan for an account; it waits for the resident's signature or online acceptance."""
    number = request.form.get("account", "").strip()[:12]
    account = db.session.scalar(sa.select(Account).where(Account.number == number))
    if account is None:
        return _page(f"No account {number}.", 422, request.form)
    try:
        plan = propose_plan(
            db.session,
            request_actor(),
            account,
            _request(request.form),
            as_of=town_today(current_app.config),
            via="clerk",
        )
    except PlanError as error:
        db.session.rollback()
        return _page(error.message, 422, request.form)
    db.session.commit()
    flash(f"Plan {plan.id} made for account {number}: print the agreement for signature.")
    return redirect(url_for(".plans", status="proposed"), 303)


@bp.post("/<int:plan_id>/signed")
@login_required
@requires("write")
def signed(plan_id: int):
    """The resident signed the agreement at the counter: the plan becomes current."""
    plan = _plan_or_404(plan_id)
    try:
        accept_plan(
            db.session,
            request_actor(),
            plan,
            how="counter",
            on=town_today(current_app.config),
            at=utcnow(),
        )
    except PlanError as error:
        db.session.rollback()
        return _page(error.message, 422)
    db.session.commit()
    flash(f"Plan {plan_id} is current.")
    return redirect(url_for(".plans", status="current"), 303)


@bp.post("/<int:plan_id>/cancel")
@login_required
@requires("write")
def cancel(plan_id: int):
    """Withdraw a plan with a reason; collection of its balance resumes."""
    plan = _plan_or_404(plan_id)
    try:
        cancel_plan(
            db.session,
            request_actor(),
            plan,
            on=town_today(current_app.config),
            reason=request.form.get("reason", "")[:300],
        )
    except PlanError as error:
        db.session.rollback()
        return _page(error.message, 422)
    db.session.commit()
    flash(f"Plan {plan_id} is cancelled.")
    return redirect(url_for(".plans"), 303)


@bp.get("/<int:plan_id>/agreement.pdf")
@login_required
@requires("read")
def agreement(plan_id: int):
    """The agreement in English or Spanish (?lang=), to sign at the counter or to mail."""
    plan = _plan_or_404(plan_id)
    language = request.args.get("lang", str(plan.account.language))
    language = language if language in ("en", "es") else "en"
    data = agreement_pdf(current_app.config, plan, plan.account, language)
    record(db.session, request_actor(), "plan.agreement_printed", plan, language=language)
    db.session.commit()
    return send_file(
        io.BytesIO(data),
        mimetype="application/pdf",
        download_name=f"payment-plan-{plan.id}-{language}.pdf",
    )


@bp.get("/<int:plan_id>/default-letter.pdf")
@login_required
@requires("read")
def default_letter(plan_id: int):
    """The letter telling the resident the plan defaulted (to mail when no e-mail reached them)."""
    plan = _plan_or_404(plan_id)
    if plan.status != PlanStatus.DEFAULTED:
        abort(404)
    now = plan_standing(db.session, plan, plan.ended_on)
    data = default_letter_pdf(
        current_app.config, plan, plan.account, now, str(plan.account.language)
    )
    return send_file(
        io.BytesIO(data), mimetype="application/pdf", download_name=f"plan-{plan.id}-ended.pdf"
    )


@bp.post("/rule")
@login_required
@requires("write")
def new_rule():
    """Add a version of the plan rules from the form."""
    form = request.form
    document = {
        "effective": form.get("effective", ""),
        "classes": [g for g in ("utility", "tax", "other") if form.get(f"rule_{g}")],
        "min_down": {
            "percent": form.get("min_down_percent", "0") or "0",
            "amount": form.get("min_down_amount", "0") or "0",
        },
        "max_installments": form.get("max_installments", ""),
        "max_included": form.get("max_included", ""),
        "grace_days": form.get("grace_days", ""),
        "pause": {
            "penalties": bool(form.get("pause_penalties")),
            "reminders": bool(form.get("pause_reminders")),
        },
        "residents_may_request": bool(form.get("residents_may_request")),
    }
    try:
        load_plan_rule(db.session, request_actor(), document)
    except RuleError as error:
        db.session.rollback()
        return _page(f"The rule was not saved: {error}", 422)
    db.session.commit()
    flash("The payment-plan rule is saved; it applies from its effective day.")
    return redirect(url_for(".plans"), 303)


def init_app(app) -> None:
    """Register the plans page."""
    app.register_blueprint(bp)

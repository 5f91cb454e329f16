"""Text messages in the portal: a registered resident turns texts about a linked account on
(a US mobile number and the consent words, recorded with their version, the time, the address
and the browser; a welcome text confirms it) or off (docs/texts.md). The routes belong to the
portal_account blueprint.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from core.extensions import db
from notices import text_messages
from notices.models import TextConsent
from notices.text_rules import BadNumber, display_number
from portal import mail, web
from portal.messages import N_
from portal.views_linked_accounts import _own_link_or_404, signed_in_resident
from portal.views_registration import bp

#: Why a number is refused (notices.text_rules.normalize_us_mobile), for the catalog.
BAD_NUMBER_MESSAGES = (
    N_("Enter a mobile phone number."),
    N_("A phone number has only digits (and spaces, dashes or parentheses)."),
    N_("Only US mobile numbers can receive the town's texts."),
    N_("A US phone number has 10 digits, area code first."),
    N_("This is not a valid US phone number (check the area code)."),
    N_("555-01XX numbers are reserved for fiction and cannot receive texts."),
)


def _language() -> str:
    return "es" if str(get_locale() or "en").startswith("es") else "en"


def _page(account, phone: str = "", error: str | None = None, status: int = 200):
    config = current_app.config
    consent = text_messages.active_consent(db.session, account.id)
    page = render_template(
        "portal/account/texts.html",
        account=account,
        consent=consent,
        shown=display_number(consent.phone) if consent else "",
        wording=text_messages.consent_wording(config, account, _language()),
        texts_on=config.get("TEXTS_ENABLED", False),
        phone=phone,
        error=error,
    )
    return page, status


@bp.route("/my/accounts/<number>/texts")
@signed_in_resident
def texts(number: str):
    """Whether texts about the account are on, and the form to turn them on or off."""
    return _page(_own_link_or_404(number).account)


@bp.route("/my/accounts/<number>/texts", methods=["POST"])
@signed_in_resident
def texts_on(number: str):
    """Turn texts on: the number and the ticked consent; a bad number is refused with why."""
    account = _own_link_or_404(number).account
    if not current_app.config.get("TEXTS_ENABLED"):
        return _page(account, status=409)
    phone = request.form.get("phone", "")[:40]
    if request.form.get("agree") != "yes":
        return _page(account, phone, _("Tick the box to agree to texts."), 422)
    try:
        consent = text_messages.give_consent(
            db.session,
            current_app.config,
            web.actor(),
            account,
            phone,
            _language(),
            user_agent=request.headers.get("User-Agent"),
        )
    except BadNumber as error:
        db.session.rollback()
        return _page(account, phone, _(str(error)), 422)
    db.session.commit()
    shown, consent_id = display_number(consent.phone), consent.id
    # NOTE: the welcome text goes once the answer is sent (or at 08:00 in the quiet hours).
    mail.after_the_answer(lambda: _welcome(consent_id))
    flash(_("Texts about account %(number)s go to %(phone)s.", number=number, phone=shown))
    return redirect(url_for(".texts", number=number), 303)


def _welcome(consent_id: int) -> None:
    """The welcome text of a new consent (notices.text_messages; it commits)."""
    consent = db.session.get(TextConsent, consent_id)
    text_messages.send_welcome(db.session, current_app.config, consent)


@bp.route("/my/accounts/<number>/texts/off", methods=["POST"])
@signed_in_resident
def texts_off(number: str):
    """Turn texts about the account off."""
    account = _own_link_or_404(number).account
    text_messages.end_consent(db.session, web.actor(), account, "portal")
    db.session.commit()
    flash(_("No more texts about account %(number)s.", number=number))
    return redirect(url_for(".texts", number=number), 303)

"""E-mailing a receipt from its page: any resident with a session on the payment, quick pay
included, sends its PDF to an address they type, without registering.

Thin, like every view: validate, call portal.documents, commit once, answer. Only the
session's own payment is found (anything else is 404); the address is checked and used
for this one message, never stored on the account; every message sent counts against
the throttles of portal.limits.
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, flash, redirect, url_for
from flask_babel import gettext as _

from core.extensions import db
from payments import payflow
from portal import documents, limits, receipts, web

bp = Blueprint("portal_receipts", __name__, template_folder="templates")

#: One plain address: no display name, no list, nothing a mail header could split.
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def _one_address(text: str | None) -> str | None:
    """The one e-mail address typed (trimmed, lower case), or None if it is not one."""
    address = (text or "").strip().lower()
    if len(address) > 254 or not ADDRESS.fullmatch(address):
        return None
    return address


@bp.route("/my/receipts/<int:payment_id>/email", methods=["POST"])
@web.resident_required
@limits.mail_limits
def email_receipt(payment_id: int):
    """E-mail the session's own receipt to the address typed; the page says it was sent."""
    payment = payflow.payment_or_404(db.session, web.account(), payment_id)
    receipt = payflow.receipt_of(db.session, payment)
    if receipt is None:
        abort(404)
    form = receipts.EmailReceiptForm()  # its CSRF token is checked before any view runs
    address = _one_address(form.email.data)
    if address is None:
        form.email.errors = [_("Enter one e-mail address, such as name@example.com.")]
        return receipts.status_page(payment, form, 422)
    limits.mail_sent()
    outcome = documents.email_receipt(db.session, current_app.config, web.actor(), receipt, address)
    db.session.commit()
    if outcome == "bounced":
        form.email.errors = [_("This address refused the e-mail. Check it and try again.")]
        return receipts.status_page(payment, form, 422)
    if outcome not in ("sent", "written"):
        form.email.errors = [
            _("The e-mail could not be sent just now. Try again later, or download the PDF.")
        ]
        return receipts.status_page(payment, form, 503)
    flash(
        _("We e-mailed receipt %(number)s to %(address)s.", number=receipt.number, address=address)
    )
    return redirect(url_for("portal.receipt", payment_id=payment.id), 303)


def init_app(app) -> None:
    """Register the receipt e-mail form's route."""
    app.register_blueprint(bp)

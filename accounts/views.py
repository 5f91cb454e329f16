"""Staff pages for billing accounts (thin: validate, call a service, commit once)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from marshmallow import ValidationError
from wtforms import BooleanField, EmailField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from accounts import services as account_service
from accounts.models import Account
from accounts.schemas import AccountUpdateSchema
from core.auth import request_actor, requires
from core.extensions import db

bp = Blueprint("accounts", __name__, url_prefix="/staff/accounts")
PAGE_SIZE = 50


class ContactForm(FlaskForm):
    """A clerk's form for an account's contact details."""

    holder_name = StringField("Holder name")
    mail_street = StringField("Street")
    mail_street2 = StringField("Street, second line")
    mail_city = StringField("City")
    mail_state = StringField("State")
    mail_zip = StringField("ZIP or ZIP+4")
    email = EmailField("E-mail")
    phone = StringField("Phone")
    language = SelectField(
        "Language", choices=[SelectChoice("en", "English"), SelectChoice("es", "Español")]
    )
    paperless = BooleanField("Paperless")


def _account_or_404(number: str) -> Account:
    """The account, or 404."""
    account = account_service.find_account(db.session, number)
    if account is None:
        abort(404)
    return account


@bp.route("/")
@login_required
@requires("read")
def index():
    """Find accounts by number, name, e-mail, mailing or service address, or parcel id."""
    q = request.args.get("q", "").strip()[:200]
    accounts = account_service.search_accounts(db.session, q, limit=PAGE_SIZE)
    return render_template("staff/accounts.html", accounts=accounts, q=q)


@bp.route("/<number>/edit", methods=["GET", "POST"])
@login_required
@requires("write")
def edit(number: str):
    """Change an account's contact details; every field error is shown by its field."""
    account = _account_or_404(number)
    form = ContactForm(obj=account)
    if form.validate_on_submit():
        submitted = {
            name: form[name].data for name in account_service.EDITABLE_FIELDS if name in form
        }
        try:
            data = AccountUpdateSchema().load(submitted)
        except ValidationError as error:
            for field, messages in error.messages.items():
                if field in form:
                    form[field].errors = list(form[field].errors) + list(messages)
            return render_template("staff/account_edit.html", account=account, form=form), 422
        account_service.update_account(db.session, request_actor(), account, data)
        db.session.commit()
        flash("The account was updated.")
        return redirect(url_for("console.account", number=account.number))
    return render_template(
        "staff/account_edit.html", account=account, form=form
    ), 400 if form.errors else 200


def init_app(app) -> None:
    """Register the staff account pages."""
    app.register_blueprint(bp)

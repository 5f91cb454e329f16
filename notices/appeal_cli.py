"""`munibill shutoff appeal …` and `munibill shutoff tenant-customer`: a clerk records an
appeal taken by phone, lists the pending ones, a supervisor decides, a resident withdraws; a
tenant becomes a customer (docs/shutoff.md, "Appeals", "Tenants")."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from accounts.services import find_account
from billing.medical_certificates import ShutoffError
from billing.service_orders import settings_from
from core.audit import Actor
from core.calendar import town_today
from core.db import utcnow
from core.extensions import db
from notices.appeal_letters import send_acknowledgement, tell_decision
from notices.mail_delivery import Mailer
from notices.models import AppealChannel, AppealStatus, ShutoffAppeal, TenantNotice
from notices.shutoff_appeals import (
    decide_appeal,
    file_appeal,
    open_shutoff_notice,
    withdraw_appeal,
)
from notices.tenant_protections import issue_tenant_notices, tenant_becomes_customer

appeal = click.Group("appeal", help="Shutoff appeals: record, list, decide, withdraw.")
OPERATOR = Actor.system("munibill shutoff appeal", origin="cli")


def _appeal(appeal_id: int) -> ShutoffAppeal:
    found = db.session.get(ShutoffAppeal, appeal_id)
    if found is None:
        raise click.ClickException(f"no appeal {appeal_id}")
    return found


def _refused(error: ShutoffError):
    db.session.rollback()
    raise click.ClickException(str(error)) from None


@appeal.command("file")
@click.argument("number")
@click.option("--statement", required=True, help="The resident's words.")
@with_appcontext
def appeal_file(number: str, statement: str) -> None:
    """Record an appeal a resident made by phone."""
    account = find_account(db.session, number)
    if account is None:
        raise click.ClickException(f"no account {number}")
    config = current_app.config
    try:
        row = file_appeal(
            db.session,
            OPERATOR,
            account,
            statement=statement,
            channel=AppealChannel.PHONE,
            at=utcnow(),
            on=town_today(config),
        )
    except ShutoffError as error:
        _refused(error)
    db.session.commit()
    sent = send_acknowledgement(config, Mailer.from_config(config), row, account)
    click.echo(f"appeal {row.id} pending for account {number} (acknowledgement: {sent})")


@appeal.command("list")
@with_appcontext
def appeal_list() -> None:
    """The pending appeals, oldest first."""
    rows = db.session.query(ShutoffAppeal).filter_by(status=AppealStatus.PENDING)
    for row in rows.order_by(ShutoffAppeal.filed_at, ShutoffAppeal.id):
        click.echo(f"{row.id}\taccount {row.account_id}\t{row.filed_on}\t{row.channel.value}")


@appeal.command("decide")
@click.argument("appeal_id", type=int)
@click.option("--uphold/--deny", required=True)
@click.option("--reasons", required=True, help="The reasons, written for the resident.")
@click.option("--note", default="", help="An internal note for staff (never shown to residents).")
@with_appcontext
def appeal_decide(appeal_id: int, uphold: bool, reasons: str, note: str) -> None:
    """A supervisor's decision; the letter goes to the resident."""
    config = current_app.config
    try:
        row = decide_appeal(
            db.session,
            OPERATOR,
            _appeal(appeal_id),
            upheld=uphold,
            resident_reasons=reasons,
            internal_note=note,
            at=utcnow(),
            on=town_today(config),
        )
    except ShutoffError as error:
        _refused(error)
    db.session.commit()
    sent = tell_decision(db.session, config, Mailer.from_config(config), row)
    click.echo(f"appeal {row.id} {row.status.value} (letter: {sent})")


@appeal.command("withdraw")
@click.argument("appeal_id", type=int)
@with_appcontext
def appeal_withdraw(appeal_id: int) -> None:
    """The resident withdraws a pending appeal."""
    config = current_app.config
    try:
        row = withdraw_appeal(
            db.session, OPERATOR, _appeal(appeal_id), at=utcnow(), on=town_today(config)
        )
    except ShutoffError as error:
        _refused(error)
    db.session.commit()
    click.echo(f"appeal {row.id} withdrawn")


@click.command("tenant-customer")
@click.argument("tenant_notice_id", type=int)
@click.option("--name", required=True, help="The tenant who becomes the customer.")
@click.option("--email", default=None)
@with_appcontext
def tenant_customer(tenant_notice_id: int, name: str, email: str | None) -> None:
    """A tenant told of a shutoff becomes a customer at the location from today."""
    notice = db.session.get(TenantNotice, tenant_notice_id)
    if notice is None:
        raise click.ClickException(f"no tenant notice {tenant_notice_id}")
    config = current_app.config
    try:
        tenant_becomes_customer(
            db.session,
            OPERATOR,
            notice,
            holder_name=name,
            email=email,
            on=town_today(config),
            settings=settings_from(config),
        )
    except ShutoffError as error:
        _refused(error)
    db.session.commit()
    click.echo(f"service starts for {name} on account {notice.tenant_account_id}")


@click.command("tenant-notices")
@click.argument("number")
@with_appcontext
def tenant_notices(number: str) -> None:
    """Send the tenants' notices missing for the account's open shutoff notice."""
    account = find_account(db.session, number)
    if account is None:
        raise click.ClickException(f"no account {number}")
    notice = open_shutoff_notice(db.session, account.id)
    if notice is None:
        raise click.ClickException(f"account {number} has no open shutoff notice")
    config = current_app.config
    sent = issue_tenant_notices(db.session, config, OPERATOR, notice, town_today(config))
    db.session.commit()
    for row in sent:
        click.echo(f"tenant notice {row.id}: no shutoff there before {row.shutoff_not_before}")
    if not sent:
        click.echo("every protected location was told already")

"""`munibill shutoff …`: loading the shutoff rules, showing the rule in force, recording a
medical certificate, checking an account's eligibility and a clerk's request for a shutoff
notice (docs/shutoff.md)."""

from __future__ import annotations

import json
from datetime import datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from accounts.models import Account
from accounts.services import find_account
from billing.cli import DATE, _load
from billing.medical_certificates import ShutoffError, record_certificate
from billing.shutoff_rules import load_shutoff_rule, rule_to_document, shutoff_rule_on
from core.audit import Actor
from core.calendar import town_today
from core.extensions import db
from core.money import format_cents
from notices.appeal_cli import appeal, tenant_customer, tenant_notices
from notices.shutoff_eligibility import shutoff_eligibility
from notices.shutoff_notices import issue_shutoff_notice, text_shutoff_notice

shutoff = click.Group("shutoff", help="Utility shutoff: rules, medical certificates, notices.")
OPERATOR = Actor.system("munibill shutoff", origin="cli")


def _day(day: datetime | None):
    return day.date() if day else town_today(current_app.config)


def _account(number: str) -> Account:
    account = find_account(db.session, number)
    if account is None:
        raise click.ClickException(f"no account {number}")
    return account


@shutoff.command("rule")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True)
@with_appcontext
def shutoff_rule(path: str, dry_run: bool) -> None:
    """Load a new version of the shutoff rules from a JSON or YAML file."""
    _load(load_shutoff_rule, path, dry_run, "shutoff rule")


@shutoff.command("show-rule")
@click.option("--on", "day", type=DATE, default=None, help="Default: today in the municipality.")
@with_appcontext
def shutoff_show_rule(day: datetime | None) -> None:
    """Print the rule in force on a day as the document that loads it."""
    rule = shutoff_rule_on(db.session, _day(day))
    if rule is None:
        raise click.ClickException("no shutoff rule is in force on that day")
    click.echo(json.dumps(rule_to_document(rule), indent=2))


@shutoff.command("certificate")
@click.argument("number")
@click.option("--starts", type=DATE, required=True)
@click.option("--ends", type=DATE, required=True, help="The last day it holds.")
@click.option("--certified-by", required=True, help="The physician or clinic.")
@with_appcontext
def shutoff_certificate(number: str, starts: datetime, ends: datetime, certified_by: str) -> None:
    """Record a medical certificate on file for an account."""
    try:
        certificate = record_certificate(
            db.session,
            OPERATOR,
            _account(number),
            starts_on=starts.date(),
            ends_on=ends.date(),
            certified_by=certified_by,
        )
    except ShutoffError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"certificate {certificate.id}: no shutoff until {certificate.ends_on}")


@shutoff.command("check")
@click.argument("number")
@click.option("--on", "day", type=DATE, default=None, help="Default: today in the municipality.")
@with_appcontext
def shutoff_check(number: str, day: datetime | None) -> None:
    """Say whether an account may be noticed for shutoff and shut off on a day, and why not."""
    found = shutoff_eligibility(db.session, _account(number), _day(day))
    click.echo(
        f"past due {format_cents(found.past_due_cents)}, {found.days_past_due} days late; "
        f"a notice today sets the earliest shutoff to {found.earliest_shutoff or '-'}"
    )
    for reason in found.reasons:
        click.echo(f"  not eligible: {reason}")
    if found.not_today:
        click.echo(f"  no shutoff on {found.on}: {found.not_today}")
    click.echo("may be noticed" if found.may_notice else "may not be noticed")


@shutoff.command("notice")
@click.argument("number")
@with_appcontext
def shutoff_notice(number: str) -> None:
    """A clerk's request for an account's shutoff notice today (printed in the next batch)."""
    try:
        row = issue_shutoff_notice(
            db.session, current_app.config, OPERATOR, _account(number), _day(None)
        )
    except ShutoffError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    texted = text_shutoff_notice(db.session, current_app.config, row)
    click.echo(
        f"shutoff notice {row.notice_id}: {format_cents(row.amount_cents)} stops it; "
        f"earliest shutoff {row.earliest_shutoff_on}" + ("; texted" if texted else "")
    )


# Appeals and tenants' protections (notices/appeal_cli.py).
shutoff.add_command(appeal)
shutoff.add_command(tenant_customer)
shutoff.add_command(tenant_notices)

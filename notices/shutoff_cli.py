"""`munibill shutoff …`: loading the shutoff rules, showing the rule in force, recording a
medical certificate, checking an account's eligibility, a clerk's request for a shutoff
notice, and the field: door hangers, work orders, their results, reconnections
(docs/shutoff.md)."""

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
from billing.models import NotDoneReason
from billing.reconnection import reconnection_orders
from billing.shutoff_rules import load_shutoff_rule, rule_to_document, shutoff_rule_on
from core.audit import Actor
from core.calendar import town_now, town_today, town_zone
from core.extensions import db
from core.money import format_cents
from notices.appeal_cli import appeal, tenant_customer, tenant_notices
from notices.shutoff_eligibility import shutoff_eligibility
from notices.shutoff_field import (
    FieldError,
    door_hangers_on,
    hang_door_hangers,
    issue_work_orders,
    orders_on,
)
from notices.shutoff_field_pdf import (
    hangers_csv,
    hangers_pdf,
    orders_csv,
    orders_pdf,
    reconnections_csv,
    reconnections_pdf,
)
from notices.shutoff_field_results import (
    OUTCOMES,
    Result,
    enter_result,
    enter_sheet,
    find_order,
    reconnect,
)
from notices.shutoff_notices import issue_shutoff_notice, text_shutoff_notice
from notices.shutoff_report_cli import report

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


def _write(out: str | None, data: bytes | str, what: str) -> None:
    if out is None:
        click.echo(data if isinstance(data, str) else f"{what}: {len(data)} bytes (use --out)")
        return
    mode = "w" if isinstance(data, str) else "wb"
    with open(out, mode) as handle:
        handle.write(data)
    click.echo(f"{what} written to {out}")


@shutoff.command("door-hangers")
@click.option("--on", "day", type=DATE, default=None, help="Default: today in the municipality.")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False), default=None)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None)
@with_appcontext
def shutoff_door_hangers(day: datetime | None, pdf_path: str | None, csv_path: str | None):
    """Record the day's door hangers (48-hour notices) and write their PDF and CSV by route."""
    on = _day(day)
    outcome = hang_door_hangers(db.session, current_app.config, OPERATOR, as_of=on)
    click.echo(
        json.dumps(outcome.counts("hung") | {"texted": outcome.texted, "emailed": outcome.emailed})
    )
    hangers = door_hangers_on(db.session, on)
    if pdf_path:
        _write(pdf_path, hangers_pdf(db.session, current_app.config, hangers), "door hangers")
    _write(csv_path, hangers_csv(db.session, hangers), "door hangers")


@shutoff.command("orders")
@click.option("--on", "day", type=DATE, default=None, help="Default: today in the municipality.")
@click.option("--issue", is_flag=True, help="Issue the day's orders first.")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False), default=None)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None)
@with_appcontext
def shutoff_orders(day: datetime | None, issue: bool, pdf_path: str | None, csv_path: str | None):
    """Issue (with --issue) and list the day's shutoff work orders by route, as PDF and CSV."""
    on = _day(day)
    if issue:
        try:
            outcome = issue_work_orders(db.session, current_app.config, OPERATOR, as_of=on)
        except FieldError as error:
            db.session.rollback()
            raise click.ClickException(str(error)) from None
        click.echo(json.dumps(outcome.counts("issued")))
        for reason in outcome.reasons.values():
            click.echo(f"  {reason}")
    orders = orders_on(db.session, on)
    if pdf_path:
        _write(pdf_path, orders_pdf(db.session, on, orders), "shutoff orders")
    _write(csv_path, orders_csv(db.session, orders), "shutoff orders")


@shutoff.command("result")
@click.argument("order")
@click.argument("outcome", type=click.Choice(OUTCOMES))
@click.option("--at", "at", default=None, help="When (YYYY-MM-DDTHH:MM, town time). Default: now.")
@click.option("--meter-reading", type=int, default=None)
@click.option("--reason", type=click.Choice([r.value for r in NotDoneReason]), default=None)
@click.option("--note", default=None)
@with_appcontext
def shutoff_result(order, outcome, at, meter_reading, reason, note) -> None:
    """Enter a crew's result for a shutoff order (paid at the door: the console or a sheet with
    a drawer)."""
    zone = town_zone(current_app.config)
    try:
        moment = datetime.fromisoformat(at).replace(tzinfo=zone) if at else town_now_of()
        result = Result(
            outcome,
            moment,
            meter_reading,
            NotDoneReason(reason) if reason else None,
            note,
        )
        row = enter_result(
            db.session, current_app.config, OPERATOR, find_order(db.session, order), result
        )
    except (FieldError, ValueError) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"order {row.number}: {row.state.value}")


@shutoff.command("sheet")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def shutoff_sheet(path: str) -> None:
    """Enter a crew's sheet of results (CSV; all rows or none)."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        rows = enter_sheet(db.session, current_app.config, OPERATOR, text)
    except FieldError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"{len(rows)} results entered")


@shutoff.command("reconnections")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False), default=None)
@with_appcontext
def shutoff_reconnections(pdf_path: str | None) -> None:
    """List the open reconnection orders by route (CSV; PDF with --pdf)."""
    orders = reconnection_orders(db.session)
    if pdf_path:
        _write(pdf_path, reconnections_pdf(db.session, current_app.config, orders), "reconnections")
    _write(None, reconnections_csv(db.session, current_app.config, orders), "reconnections")


@shutoff.command("reconnected")
@click.argument("order")
@click.option("--at", "at", default=None, help="When (YYYY-MM-DDTHH:MM, town time). Default: now.")
@click.option("--meter-reading", type=int, default=None)
@with_appcontext
def shutoff_reconnected(order: str, at: str | None, meter_reading: int | None) -> None:
    """Enter that the crew turned the service back on."""
    zone = town_zone(current_app.config)
    try:
        moment = datetime.fromisoformat(at).replace(tzinfo=zone) if at else town_now_of()
        row = reconnect(db.session, OPERATOR, order, at=moment, meter_reading=meter_reading)
    except (FieldError, ValueError) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"reconnection order {row.number}: reconnected")


def town_now_of() -> datetime:
    """Now, on the town's clock."""
    return town_now(current_app.config)


# Appeals and tenants' protections (notices/appeal_cli.py).
shutoff.add_command(appeal)
shutoff.add_command(tenant_customer)
shutoff.add_command(tenant_notices)
shutoff.add_command(report)

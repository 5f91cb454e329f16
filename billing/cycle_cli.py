"""`munibill cycles …` and `munibill service-kinds …`: billing cycles, their calendars and
accounts, and the services the town bills."""

from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from accounts.imports import ImportFailed
from billing.cycle_calendar import FREQUENCIES, CalendarError
from billing.cycle_imports import import_assignments, import_calendars
from billing.cycles import (
    assign_accounts,
    create_cycle,
    cycle_by_code,
    generate_periods,
    periods_to_bill,
)
from billing.models import BillingCycle
from billing.service_kinds import ServiceKindError, add_service_kind, service_kinds
from core.calendar import town_today
from core.cli import OPERATOR
from core.extensions import db

DATE = click.DateTime(formats=["%Y-%m-%d"])
cycles = click.Group("cycles", help="Billing cycles (routes, books) and their calendars.")
service_kinds_group = click.Group("service-kinds", help="The services the town bills.")


def _fail(error: Exception) -> None:
    """Roll back and stop with the message."""
    db.session.rollback()
    raise click.ClickException(str(error))


@cycles.command("list")
@with_appcontext
def cycles_list() -> None:
    """Every cycle with its accounts and the periods due to bill."""
    from accounts.models import Account

    counts = dict(
        db.session.execute(
            sa.select(Account.billing_cycle_id, sa.func.count()).group_by(Account.billing_cycle_id)
        ).all()
    )
    for cycle in db.session.scalars(sa.select(BillingCycle).order_by(BillingCycle.code)):
        accounts = counts.get(cycle.id, 0) + (counts.get(None, 0) if cycle.is_default else 0)
        flags = " (default)" if cycle.is_default else ("" if cycle.active else " (inactive)")
        click.echo(
            f"{cycle.code:<24} {cycle.frequency.value:<12} {accounts:>7} accounts  "
            f"{len(cycle.periods):>3} periods  {cycle.name}{flags}"
        )


@cycles.command("create")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--frequency", type=click.Choice(FREQUENCIES), required=True)
@with_appcontext
def cycles_create(code: str, name: str, frequency: str) -> None:
    """Create a billing cycle (then give it a calendar: `cycles calendar` or `cycles import`)."""
    try:
        cycle = create_cycle(db.session, OPERATOR, code=code, name=name, frequency=frequency)
    except CalendarError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"Billing cycle {cycle.code} ({cycle.frequency.value}) created.")


@cycles.command("calendar")
@click.argument("code")
@click.option("--first-start", type=DATE, required=True, help="The first period's first day.")
@click.option("--until", type=DATE, default=None, help="Last period start; default a year on.")
@click.option("--read-days-after-end", type=int, default=0, show_default=True)
@click.option("--bill-days-after-read", type=click.IntRange(0), default=1, show_default=True)
@click.option("--due-days-after-bill", type=click.IntRange(0), default=21, show_default=True)
@with_appcontext
def cycles_calendar(code: str, first_start, until, **offsets) -> None:
    """Generate a standard cycle's calendar from its first period start and day offsets."""
    try:
        cycle = cycle_by_code(db.session, code)
        periods = generate_periods(
            db.session,
            OPERATOR,
            cycle,
            first_start=first_start.date(),
            until=until.date() if until else None,
            **offsets,
        )
    except CalendarError as error:
        _fail(error)
    db.session.commit()
    for period in periods:
        click.echo(
            f"  {period.period_start} .. {period.period_end}  read {period.read_date}  "
            f"bill {period.bill_date}  due {period.due_date}"
        )
    click.echo(f"{len(periods)} periods added to {cycle.code}.")


@cycles.command("assign")
@click.argument("code")
@click.argument("accounts", nargs=-1, required=True)
@with_appcontext
def cycles_assign(code: str, accounts: tuple[str, ...]) -> None:
    """Put accounts (by number) on a cycle; their next bill starts the day after their last."""
    try:
        moved = assign_accounts(db.session, OPERATOR, cycle_by_code(db.session, code), accounts)
    except CalendarError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"{moved} accounts moved to {code.upper()}; {len(accounts) - moved} were on it.")


@cycles.command("import")
@click.argument("kind", type=click.Choice(["calendars", "accounts"]))
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True)
@with_appcontext
def cycles_import(kind: str, path: str, dry_run: bool) -> None:
    """Import cycles with their calendars, or accounts' cycles, from CSV (docs/imports.md)."""
    loader = import_calendars if kind == "calendars" else import_assignments
    try:
        result = loader(
            db.session, OPERATOR, Path(path).read_text(encoding="utf-8"), dry_run=dry_run
        )
    except ImportFailed as failed:
        db.session.rollback()
        for message in failed.errors:
            click.echo(f"{path}: {message}", err=True)
        raise click.ClickException(f"{path}: {failed}") from None
    db.session.rollback() if dry_run else db.session.commit()
    verb = "would be imported (--dry-run)" if dry_run else "imported"
    click.echo(f"{path}: {result.rows} rows {verb}; {result.created} cycles created.")


@cycles.command("due")
@click.option("--through", type=DATE, default=None, help="Default: today in the municipality.")
@with_appcontext
def cycles_due(through) -> None:
    """The cycles' periods whose bill date has come (or comes by --through) and not yet billed."""
    from flask import current_app

    today = town_today(current_app.config)
    day = through.date() if through else today
    for period in periods_to_bill(db.session, today, through=day):
        click.echo(
            f"{period.cycle.code:<24} {period.period_start} .. {period.period_end}  "
            f"bill {period.bill_date}  due {period.due_date}"
        )


@service_kinds_group.command("list")
@with_appcontext
def service_kinds_list() -> None:
    """Every service the town bills with its GL accounts."""
    for kind, revenue, receivable in service_kinds(db.session):
        metered = "metered" if kind.metered else "unmetered"
        click.echo(
            f"{kind.code:<16} {kind.name:<32} {metered:<10} revenue {revenue}  receivable {receivable}"
        )


@service_kinds_group.command("add")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--metered/--unmetered", default=False)
@click.option("--revenue-gl", default=None, help="An existing revenue account; default: a new one.")
@click.option(
    "--receivable-gl", default=None, help="An existing receivable account; default: a new one."
)
@with_appcontext
def service_kinds_add(code, name, metered, revenue_gl, receivable_gl) -> None:
    """Add a billed service (surface water, irrigation, fire line, …) with its GL accounts."""
    try:
        kind, revenue, receivable = add_service_kind(
            db.session,
            OPERATOR,
            code=code,
            name=name,
            metered=metered,
            revenue_code=revenue_gl,
            receivable_code=receivable_gl,
        )
    except ServiceKindError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"Service {kind.code} added: revenue {revenue}, receivable {receivable}.")


def init_app(app) -> None:
    """Register the commands."""
    app.cli.add_command(cycles)
    app.cli.add_command(service_kinds_group)

"""`munibill plans …`: loading the payment-plan rules, showing the rule in force, listing plans
by status (docs/arrangements.md)."""

from __future__ import annotations

import json
from datetime import datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from billing.arrangement_lists import plans_by_status
from billing.arrangement_rules import load_plan_rule, rule_to_document
from billing.arrangements import rule_on
from billing.cli import DATE, _load
from billing.models import PlanStatus
from core.calendar import town_today
from core.extensions import db
from core.money import format_cents

plans = click.Group("plans", help="Payment arrangements.")


@plans.command("rule")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True)
@with_appcontext
def plans_rule(path: str, dry_run: bool) -> None:
    """Load a new version of the payment-plan rules from a JSON or YAML file."""
    _load(load_plan_rule, path, dry_run, "payment-plan rule")


@plans.command("show-rule")
@click.option("--on", "day", type=DATE, default=None, help="Default: today in the municipality.")
@with_appcontext
def plans_show_rule(day: datetime | None) -> None:
    """Print the rule in force on a day as the document that loads it."""
    rule = rule_on(db.session, day.date() if day else town_today(current_app.config))
    if rule is None:
        raise click.ClickException("no payment-plan rule is in force on that day")
    click.echo(json.dumps(rule_to_document(rule), indent=2))


@plans.command("list")
@click.option("--status", type=click.Choice([s.value for s in PlanStatus]), default=None)
@with_appcontext
def plans_list(status: str | None) -> None:
    """The latest plans (of a status), with what each has left to pay."""
    today = town_today(current_app.config)
    for row in plans_by_status(db.session, PlanStatus(status) if status else None, today):
        plan = row.plan
        click.echo(
            f"{plan.id}\t{plan.account.number}\t{plan.status.value}\t"
            f"{format_cents(plan.included_cents)}\tleft {format_cents(row.now.remaining_cents)}"
        )

"""`munibill payments fee-rules` and `munibill payments fee-rule FILE`: the convenience fee
rules in force, and a new version of one from a JSON file (docs/payments.md)."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from core.audit import Actor
from core.extensions import db
from payments.convenience_fees import rule_row, rules_in_force, set_rule
from payments.fee_terms import FeeRuleError


@click.command("fee-rules")
@with_appcontext
def fee_rules() -> None:
    """Print the convenience fee rules in force, one JSON object a line."""
    for rule in rules_in_force(db.session):
        click.echo(json.dumps(rule_row(rule), sort_keys=True))


@click.command("fee-rule")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--by", "label", required=True, help="who sets the rule (the audit log names it)")
@with_appcontext
def fee_rule(path: str, label: str) -> None:
    """Keep the rule in a JSON file as the new version of its channel and method's rule."""
    try:
        with open(path, encoding="utf-8") as handle:
            row = json.load(handle)
    except (OSError, ValueError) as error:
        raise click.ClickException(f"{path}: not a JSON rule ({error})") from None
    if not label.strip():
        raise click.ClickException("--by names who sets the rule")
    try:
        rule = set_rule(db.session, Actor.system(f"munibill payments ({label.strip()[:200]})"), row)
    except FeeRuleError as error:
        db.session.rollback()
        raise click.ClickException(f"{path}: {error}") from None
    db.session.commit()
    click.echo(f"rule {rule.id} in force for {rule.channel.value} {rule.method.value}")


def init_app(group: click.Group) -> None:
    """Add the fee rule commands to `munibill payments`."""
    group.add_command(fee_rules)
    group.add_command(fee_rule)

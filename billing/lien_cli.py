"""`munibill tax …`: the lien sale rules, the delinquent roll as CSV (notices adds its PDF), the
sale list, its certification and the liens (docs/liens.md)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from billing.cli import DATE, _load
from billing.lien_file import entries_of_sale, sale_file
from billing.lien_rules import lien_rule_on, load_lien_rule, rule_to_document
from billing.liens import cancel_lien, certify_sale, find_lien, sale_list
from billing.models import Lien, LienSale, LienStatus
from billing.tax_delinquency import LienError
from core.audit import Actor
from core.calendar import town_today
from core.extensions import db
from core.money import format_cents

tax = click.Group(
    "tax", help="Delinquent property tax: the roll, lien sale rules, liens and payoff quotes."
)
OPERATOR = Actor.system("munibill tax", origin="cli")


def today():
    """Today in the municipality."""
    return town_today(current_app.config)


@tax.command("lien-rule")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True)
@with_appcontext
def tax_lien_rule(path: str, dry_run: bool) -> None:
    """Load a new version of the lien sale rules from a JSON or YAML file."""
    _load(load_lien_rule, path, dry_run, "lien sale rule")


@tax.command("show-lien-rule")
@click.option("--on", "day", type=DATE, default=None, help="Default: today in the municipality.")
@with_appcontext
def tax_show_lien_rule(day: datetime | None) -> None:
    """Print the lien sale rule in force on a day as the document that loads it."""
    rule = lien_rule_on(db.session, day.date() if day else today())
    if rule is None:
        raise click.ClickException("no lien sale rule is in force on that day")
    click.echo(json.dumps(rule_to_document(rule), indent=2))


@tax.command("sale-list")
@click.option("--sale-date", type=DATE, required=True)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None)
@with_appcontext
def tax_sale_list(sale_date: datetime, csv_path: str | None) -> None:
    """Preview the sale list for a sale date (amounts as of today); writes nothing."""
    try:
        found = sale_list(db.session, sale_date.date(), today=today())
    except LienError as error:
        raise click.ClickException(str(error)) from None
    for entry in found.entries:
        click.echo(f"{entry.parcel_number}  {entry.tax_years}  {format_cents(entry.amount_cents)}")
    for number, why in found.left_off:
        click.echo(f"{number}  left off: {why}")
    click.echo(f"{len(found.entries)} parcels, {format_cents(found.total_cents)}")
    if csv_path:
        text = sale_file("PREVIEW", found.sale_date, found.as_of, found.entries, certified=False)
        Path(csv_path).write_text(text, encoding="utf-8")


@tax.command("certify-sale")
@click.option("--sale-date", type=DATE, required=True)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None)
@with_appcontext
def tax_certify_sale(sale_date: datetime, csv_path: str | None) -> None:
    """Certify the sale list for a sale date: one lien per parcel, frozen."""
    try:
        sale = certify_sale(db.session, OPERATOR, sale_date.date(), today=today())
    except LienError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"{sale.list_id}: {sale.parcel_count} parcels, {format_cents(sale.total_cents)}")
    if csv_path:
        Path(csv_path).write_text(sale_text(sale), encoding="utf-8")


def sale_text(sale: LienSale) -> str:
    """A certified sale's file."""
    return sale_file(
        sale.list_id, sale.sale_date, sale.certified_on, entries_of_sale(sale), certified=True
    )


@tax.command("liens")
@click.option("--status", type=click.Choice([s.value for s in LienStatus]), default=None)
@with_appcontext
def tax_liens(status: str | None) -> None:
    """List the liens (all, or of one status)."""
    query = sa.select(Lien).order_by(Lien.sale_date, Lien.id)
    if status:
        query = query.where(Lien.status == LienStatus(status))
    for lien in db.session.scalars(query):
        click.echo(
            f"{lien.sale.list_id}  {lien.parcel.parcel_number}  {lien.status.value}  "
            f"{format_cents(lien.amount_cents)}"
        )


@tax.command("cancel-lien")
@click.argument("list_id")
@click.argument("parcel_number")
@click.option("--reason", required=True, help="Why, e.g. 'sold in error' or 'bankruptcy stay'.")
@click.option("--by", "label", required=True, help="The supervisor who cancels it (staff e-mail).")
@with_appcontext
def tax_cancel_lien(list_id: str, parcel_number: str, reason: str, label: str) -> None:
    """Cancel a sale list's lien on a parcel (a supervisor's decision, audited); the parcel's
    tax may be paid online again."""
    if not label.strip():
        raise click.ClickException("--by: name the supervisor who cancels it")
    lien = find_lien(db.session, list_id, parcel_number)
    if lien is None:
        raise click.ClickException(f"no lien on parcel {parcel_number} in list {list_id}")
    actor = Actor.system(f"munibill tax ({label.strip()[:200]})", origin="cli")
    try:
        cancel_lien(db.session, actor, lien, reason, today=today())
    except LienError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"{list_id}  {parcel_number}: lien cancelled ({lien.cancel_reason})")

"""`munibill rates|levies|penalties|import|billing …`: loading rules and data, running cycles."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import click
import sqlalchemy as sa
import yaml
from flask import current_app
from flask.cli import with_appcontext

from billing.adjustments import AdjustmentError, issue_credit_memo, void_invoice
from billing.computed import RuleError
from billing.imports import KINDS, ImportFailed, import_csv
from billing.models import Account, Invoice, InvoiceKind, Parcel
from billing.penalty_service import assess_penalties
from billing.rules import load_levy, load_penalty_rules, load_rate_plan
from billing.runs import RunError, RunOptions, open_run, post_run, preview_run
from core.audit import Actor
from core.extensions import db
from core.money import MoneyError, format_cents, parse_dollars
from core.settings import municipal_today

OPERATOR = Actor.system("operator", origin="cli")
DATE = click.DateTime(formats=["%Y-%m-%d"])


def read_document(path: str) -> dict:
    """A JSON or YAML rules file as a dict, or a clear error."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        document = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise click.ClickException(
            f"{path}: not valid {'JSON' if path.endswith('.json') else 'YAML'}: {error}"
        ) from None
    if not isinstance(document, dict):
        raise click.ClickException(f"{path}: the file must hold one mapping (object)")
    return document


def _load(loader, path: str, dry_run: bool, what: str) -> None:
    """Load one rules file through a service; roll back on dry runs and errors."""
    try:
        loader(db.session, OPERATOR, read_document(path))
    except RuleError as error:
        db.session.rollback()
        raise click.ClickException(f"{path}: {error}") from None
    if dry_run:
        db.session.rollback()
        click.echo(f"{path}: valid {what}; nothing was stored (--dry-run).")
        return
    db.session.commit()
    click.echo(f"{path}: {what} loaded.")


rates = click.Group("rates", help="Utility rate plans.")
levies = click.Group("levies", help="Property tax levies.")
penalties = click.Group("penalties", help="Penalty and interest rules.")
billing = click.Group("billing", help="Billing runs and corrections.")


@rates.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True)
@with_appcontext
def rates_import(path: str, dry_run: bool) -> None:
    """Load a rate plan file (JSON or YAML, docs/rates.md)."""
    _load(load_rate_plan, path, dry_run, "rate plan")


@levies.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True)
@with_appcontext
def levies_import(path: str, dry_run: bool) -> None:
    """Load a tax year's levy file (JSON or YAML, docs/tax.md)."""
    _load(load_levy, path, dry_run, "levy")


@penalties.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True)
@with_appcontext
def penalties_import(path: str, dry_run: bool) -> None:
    """Load penalty and interest rules (JSON or YAML, docs/penalties.md)."""
    _load(load_penalty_rules, path, dry_run, "penalty rules")


@penalties.command("assess")
@click.option("--as-of", type=DATE, default=None, help="Default: today in the municipality.")
@click.option("--dry-run", is_flag=True)
@with_appcontext
def penalties_assess(as_of, dry_run: bool) -> None:
    """Assess penalties and interest owed as of a date (each at most once)."""
    day = as_of.date() if as_of else municipal_today(current_app.config)
    result = assess_penalties(
        db.session,
        Actor.job("assess_late_fees"),
        as_of=day,
        rounding=current_app.config["ROUNDING_RULE"],
        dry_run=dry_run,
    )
    db.session.commit()
    for number, description, cents in result.details[:50]:
        click.echo(f"  {number}  {description}  {format_cents(cents)}")
    verb = "would assess" if dry_run else "assessed"
    click.echo(
        f"{result.invoices_checked} past-due invoices checked; {verb} {result.charges} charges, "
        f"{format_cents(result.cents)}."
    )


@click.command("import")
@click.argument("kind", type=click.Choice(sorted(k.replace("_", "-") for k in KINDS)))
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Validate every row; store nothing.")
@with_appcontext
def import_command(kind: str, path: str, dry_run: bool) -> None:
    """Import a CSV file (docs/imports.md); all rows or none."""
    text = Path(path).read_text(encoding="utf-8-sig")
    try:
        result = import_csv(
            db.session,
            OPERATOR,
            kind.replace("-", "_"),
            text,
            code_key=current_app.config["ACCESS_CODE_KEY"],
            dry_run=dry_run,
        )
    except ImportFailed as failure:
        db.session.rollback()
        for error in failure.errors:
            click.echo(error, err=True)
        raise click.ClickException(f"{path}: {failure}") from None
    db.session.commit()
    note = " (dry run: nothing stored)" if dry_run else ""
    click.echo(
        f"{path}: {result.rows} rows, {result.created} created, {result.updated} updated{note}."
    )


def _print_report(report: dict) -> None:
    """The totals and exceptions of a run."""
    click.echo(
        f"{report['items']} items: {report['invoices']} invoices, {report['held']} held for review, "
        f"{report['already_billed']} already billed."
    )
    for total in report["totals"]:
        click.echo(
            f"  {total['gl_code']:<6} {total['name']:<45} {format_cents(total['cents']):>16}"
        )
    click.echo(f"  {'':<6} {'total':<45} {format_cents(report['total_cents']):>16}")
    if report["exception_counts"]:
        click.echo(
            "Exceptions: "
            + ", ".join(f"{code} {n}" for code, n in report["exception_counts"].items())
        )
        for item in report["exceptions"][:40]:
            held = "HELD " if item["held"] else ""
            click.echo(
                f"  {held}account {item['account']} meter {item['meter'] or '-'}: {item['note']}"
            )


@billing.command("run")
@click.option("--kind", type=click.Choice(["utility", "tax"]), required=True)
@click.option(
    "--cycle", required=True, help='"2026-10" for a utility month, "2026" for a tax year.'
)
@click.option("--issue-date", type=DATE, default=None, help="Default: today in the municipality.")
@click.option(
    "--due-date", type=DATE, default=None, help="Utility default: issue date + UTILITY_DUE_DAYS."
)
@click.option("--dry-run", is_flag=True, help="Preview totals and exceptions; post nothing.")
@click.option(
    "--throttle",
    type=click.FloatRange(0, 60),
    default=0.0,
    help="Seconds to pause between batches, to spare a busy database.",
)
@with_appcontext
def billing_run(
    kind: str, cycle: str, issue_date, due_date, dry_run: bool, throttle: float
) -> None:
    """Preview or post a billing cycle; rerunning a posted cycle creates nothing new."""
    issue = issue_date.date() if issue_date else municipal_today(current_app.config)
    due = (
        due_date.date()
        if due_date
        else issue + timedelta(days=current_app.config["UTILITY_DUE_DAYS"])
    )
    actor = Actor.job("billing_run")
    try:
        run = open_run(
            db.session, actor, kind=InvoiceKind(kind), cycle=cycle, issue_date=issue, due_date=due
        )
        if dry_run:
            report = preview_run(db.session, run, RunOptions.from_config(current_app.config))
            db.session.commit()
            click.echo(f"Preview of the {kind} run {cycle} (nothing posted):")
            _print_report(report)
            return
        db.session.commit()
        with click.progressbar(length=_item_count(run), label=f"Posting {kind} {cycle}") as bar:
            report = post_run(
                db.session,
                run,
                actor,
                RunOptions.from_config(current_app.config),
                progress=lambda items, _written: (bar.update(items), time.sleep(throttle)),
            )
    except (RunError, RuleError) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    _print_report(report)
    click.echo(
        f"Posted: {run.invoices_posted} invoices in this run, {format_cents(run.total_posted_cents)}."
    )


def _item_count(run) -> int:
    """How many accounts or parcels the run walks (for the progress bar)."""
    model = Parcel if run.kind == InvoiceKind.TAX else Account
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@billing.command("void")
@click.argument("number")
@click.option("--reason", required=True)
@with_appcontext
def billing_void(number: str, reason: str) -> None:
    """Void an invoice (reverses its ledger entries)."""
    invoice = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
    if invoice is None:
        raise click.ClickException(f"No invoice {number}.")
    try:
        void_invoice(
            db.session, OPERATOR, invoice, reason=reason, on=municipal_today(current_app.config)
        )
    except AdjustmentError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Invoice {number} is void.")


@billing.command("credit-memo")
@click.argument("number")
@click.option("--amount", required=True, help="Dollars, e.g. 12.50")
@click.option("--reason", required=True)
@with_appcontext
def billing_credit_memo(number: str, amount: str, reason: str) -> None:
    """Issue a credit memo lowering what an invoice owes."""
    invoice = db.session.scalar(sa.select(Invoice).where(Invoice.number == number))
    if invoice is None:
        raise click.ClickException(f"No invoice {number}.")
    try:
        memo = issue_credit_memo(
            db.session,
            OPERATOR,
            invoice,
            amount_cents=parse_dollars(amount),
            reason=reason,
            on=municipal_today(current_app.config),
        )
    except (AdjustmentError, MoneyError) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(
        f"Credit memo {memo.number}: {format_cents(memo.amount_cents)} off invoice {number}."
    )


def init_app(app) -> None:
    """Register the commands."""
    for command in (rates, levies, penalties, billing, import_command):
        app.cli.add_command(command)

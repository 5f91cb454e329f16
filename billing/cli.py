"""`munibill rates|levies|penalties|billing …`: loading rules, assessing penalties, running cycles
and correcting invoices."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from pathlib import Path

import click
import sqlalchemy as sa
import yaml
from flask import current_app
from flask.cli import with_appcontext

from accounts.models import Account, Parcel
from billing.adjustments import AdjustmentError, issue_credit_memo, void_invoice
from billing.closed_days import closed_day_rows, load_closed_days, town_working_calendar
from billing.computed import RuleError
from billing.conversion_cli import conversion
from billing.cycle_calendar import CalendarError
from billing.cycles import cycle_by_code, on_cycle
from billing.models import BillingCycle, Invoice, InvoiceKind
from billing.penalty_service import AssessError, assess_penalties, check_as_of
from billing.penalty_sets import parse_penalty_set
from billing.rules import load_levy, load_penalty_rules, load_rate_plan, penalty_set_rows
from billing.runs import RunError, RunOptions, open_run, post_run, preview_run
from billing.source_corrections import correct_credit_memo_sources
from core.audit import Actor
from core.calendar import town_today
from core.cli import OPERATOR
from core.extensions import db
from core.money import MoneyError, format_cents, parse_dollars

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
    warnings: list[str] = []
    try:
        loader(db.session, OPERATOR, read_document(path), warnings)
    except RuleError as error:
        db.session.rollback()
        raise click.ClickException(f"{path}: {error}") from None
    for warning in warnings:
        click.echo(f"{path}: warning: {warning}", err=True)
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


@penalties.command("sets")
@with_appcontext
def penalties_sets() -> None:
    """List the penalty rule sets in force: scope, versions and their rules."""
    rows = penalty_set_rows(db.session)
    if not rows:
        click.echo("No penalty rules are loaded.")
    for row in rows:
        rule_set = parse_penalty_set(row.document)
        click.echo(f"{rule_set.code}: {rule_set.name} (load {row.version}, {row.loaded_by})")
        for key in ("invoice_kinds", "service_kinds", "tax_jurisdictions", "tax_years"):
            values = getattr(rule_set.scope, key)
            click.echo(f"  {key}: {', '.join(map(str, values)) if values else 'all'}")
        for version in rule_set.versions:
            begins = version.effective_from.isoformat() if version.effective_from else "always"
            ids = ", ".join(rule.id for rule in version.rules) or "no rules"
            click.echo(f"  from {begins} ({version.reach}): {ids}")


closed_days = click.Group("closed-days", help="The town's own closed days (working days).")
penalties.add_command(closed_days)


@closed_days.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True)
@with_appcontext
def closed_days_import(path: str, dry_run: bool) -> None:
    """Replace the town's closed days with a holiday file's (YAML or JSON, docs/penalties.md)."""
    state = current_app.config.get("MUNICIPALITY_STATE", "")
    try:
        rows = load_closed_days(db.session, OPERATOR, read_document(path), state)
    except RuleError as error:
        db.session.rollback()
        raise click.ClickException(f"{path}: {error}") from None
    if dry_run:
        db.session.rollback()
        click.echo(f"{path}: {len(rows)} valid closed days; nothing was stored (--dry-run).")
        return
    db.session.commit()
    click.echo(f"{path}: {len(rows)} closed days loaded.")


@closed_days.command("list")
@click.option("--year", type=int, default=None, help="Also list the holidays of this year.")
@with_appcontext
def closed_days_list(year: int | None) -> None:
    """List the town's own closed days (and, with --year, every holiday of that year)."""
    for row in closed_day_rows(db.session):
        click.echo(f"{row.day.isoformat()}  {row.name}")
    if year is not None:
        calendar = town_working_calendar(
            db.session, current_app.config.get("MUNICIPALITY_STATE", "")
        )
        day = date(year, 1, 1)
        while day.year == year:
            why = calendar.closed_because(day)
            if why and day.weekday() < 5:
                click.echo(f"{day.isoformat()}  {why} (closed)")
            day += timedelta(days=1)


@penalties.command("assess")
@click.option("--as-of", type=DATE, default=None, help="Default: today in the municipality.")
@click.option("--dry-run", is_flag=True)
@with_appcontext
def penalties_assess(as_of, dry_run: bool) -> None:
    """Assess penalties and interest owed as of a date (each at most once)."""
    today = town_today(current_app.config)
    day = as_of.date() if as_of else today
    try:
        check_as_of(day, today)
    except AssessError as error:
        raise click.BadParameter(str(error), param_hint="--as-of") from None
    result = assess_penalties(
        db.session,
        Actor.job("assess_late_fees"),
        as_of=day,
        rounding=current_app.config["ROUNDING_RULE"],
        dry_run=dry_run,
        town_state=current_app.config.get("MUNICIPALITY_STATE", ""),
    )
    db.session.commit()
    for number, description, cents in result.details[:50]:
        click.echo(f"  {number}  {description}  {format_cents(cents)}")
    verb = "would assess" if dry_run else "assessed"
    click.echo(
        f"{result.invoices_checked} past-due invoices checked; {verb} {result.charges} charges, "
        f"{format_cents(result.cents)}."
    )
    for number, why in result.skipped:
        click.echo(f"Not assessed, {number}: {why}", err=True)


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
    "--cycle",
    default=None,
    help='"2026-10": a month of the default billing cycle; "2026": a tax year; "2026-estimate": '
    "a tax year's estimated first installments (the levy's dates).",
)
@click.option("--billing-cycle", default=None, help="A billing cycle's code (route, book).")
@click.option(
    "--period-start", type=DATE, default=None, help="With --billing-cycle: its period's first day."
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
    kind: str,
    cycle: str | None,
    billing_cycle: str | None,
    period_start,
    issue_date,
    due_date,
    dry_run: bool,
    throttle: float,
) -> None:
    """Preview or post a billing cycle's period; rerunning a posted one creates nothing new."""
    period = _cycle_period(kind, cycle, billing_cycle, period_start)
    issue = issue_date.date() if issue_date else town_today(current_app.config)
    due = (
        due_date.date()
        if due_date
        else (
            period.due_date
            if period is not None and period.due_date >= issue
            else issue + timedelta(days=current_app.config["UTILITY_DUE_DAYS"])
        )
    )
    actor = Actor.job("billing_run")
    try:
        run = open_run(
            db.session,
            actor,
            kind=InvoiceKind(kind),
            cycle=cycle or "",
            issue_date=issue,
            due_date=due,
            period=period,
        )
        cycle = run.cycle
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


def _cycle_period(kind: str, cycle, billing_cycle, period_start):
    """The billing cycle's period named by --billing-cycle and --period-start, or None."""
    if billing_cycle is None:
        if cycle is None:
            raise click.UsageError("give --cycle, or --billing-cycle with --period-start")
        return None
    if kind != "utility" or cycle is not None or period_start is None:
        raise click.UsageError(
            "--billing-cycle goes with --kind utility and --period-start, without --cycle"
        )
    try:
        found = cycle_by_code(db.session, billing_cycle, "--billing-cycle")
    except CalendarError as error:
        raise click.BadParameter(str(error), param_hint="--billing-cycle") from None
    period = next((p for p in found.periods if p.period_start == period_start.date()), None)
    if period is None:
        raise click.BadParameter(
            f"billing cycle {found.code} has no period starting {period_start.date()}",
            param_hint="--period-start",
        )
    return period


def _item_count(run) -> int:
    """How many accounts (of the run's billing cycle) or parcels the run walks (progress bar)."""
    if run.kind == InvoiceKind.TAX or run.billing_cycle_id is None:
        model = Parcel if run.kind == InvoiceKind.TAX else Account
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))
    cycle = db.session.get(BillingCycle, run.billing_cycle_id)
    return db.session.scalar(sa.select(sa.func.count()).select_from(Account).where(on_cycle(cycle)))


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
            db.session, OPERATOR, invoice, reason=reason, on=town_today(current_app.config)
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
            on=town_today(current_app.config),
        )
    except (AdjustmentError, MoneyError) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(
        f"Credit memo {memo.number}: {format_cents(memo.amount_cents)} off invoice {number}."
    )


@billing.command("correct-sources")
@click.option("--dry-run", is_flag=True, help="List what would be posted; post nothing.")
@with_appcontext
def billing_correct_sources(dry_run: bool) -> None:
    """Reverse and post again, under its own number, each credit memo entry posted as memo 0."""
    found = correct_credit_memo_sources(
        db.session, OPERATOR, on=town_today(current_app.config), dry_run=dry_run
    )
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    for correction in found:
        click.echo(f"  {correction.describe(dry_run)}")
    corrected = sum(1 for c in found if c.memo_number is not None)
    click.echo(
        f"{len(found)} misnamed credit memo entries found; "
        f"{'would correct' if dry_run else 'corrected'} {corrected}."
    )
    if corrected < len(found):
        raise SystemExit(1)


def init_app(app) -> None:
    """Register the commands."""
    from billing import cycle_cli
    from billing.arrangement_cli import plans
    from billing.deposit_cli import deposits
    from billing.lien_cli import tax

    for command in (rates, levies, penalties, billing, deposits, plans, tax):
        app.cli.add_command(command)
    cycle_cli.init_app(app)
    app.cli.add_command(conversion)

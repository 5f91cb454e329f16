"""`munibill notices`: print batches for the mail house, marking them mailed, statements."""

from __future__ import annotations

from datetime import date

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from accounts.services import find_account
from core.audit import Actor, record
from core.calendar import town_today
from core.extensions import db
from notices import statements
from notices.bank_reconciliation import render_reconciliation
from notices.deposit_slip import deposit_slip, render_slip
from notices.issuing import NoticeError, issue
from notices.models import Delivery, NoticeBatch
from notices.print_batches import mark_mailed, print_batch
from notices.shutoff_cli import shutoff
from payments.bank_reconciliation import NoStatement, reconcile
from payments.models import BankDeposit

notices_cli = click.Group("notices", help="Notices: print batches, statements.")
OPERATOR = Actor.system("munibill notices")


@notices_cli.command("batch")
@click.option("--kind", type=click.Choice(["bill"]), default="bill", show_default=True)
@click.option("--cycle", required=True, help="The billing cycle, e.g. 2026-11 (or a tax year).")
@click.option("--reprint", is_flag=True, help="Make another batch for a cycle that has one.")
@with_appcontext
def batch(kind: str, cycle: str, reprint: bool) -> None:
    """The bills of a cycle: paperless accounts e-mailed, the rest merged into one PDF."""
    try:
        made = print_batch(
            db.session,
            current_app.config,
            OPERATOR,
            cycle=cycle,
            on=town_today(current_app.config),
            reprint=reprint,
        )
    except NoticeError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    folder = current_app.config["NOTICES_DIR"]
    click.echo(
        f"batch {made.id}: {made.printed} printed ({made.pages} pages), {made.emailed} e-mailed"
    )
    if made.pdf_path:
        click.echo(f"  {folder}/{made.pdf_path}  sha256 {made.pdf_sha256}")
        click.echo(f"  {folder}/{made.manifest_path}  sha256 {made.manifest_sha256}")


@notices_cli.command("mark-mailed")
@click.argument("batch_id", type=int)
@with_appcontext
def mailed(batch_id: int) -> None:
    """Record that the mail house has a batch."""
    found = db.session.get(NoticeBatch, batch_id)
    if found is None:
        raise click.ClickException(f"no print batch {batch_id}")
    try:
        mark_mailed(db.session, OPERATOR, found)
    except NoticeError as error:
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"batch {batch_id} marked mailed")


@notices_cli.command("statement")
@click.option("--account", "number", required=True)
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]))
@with_appcontext
def statement(number: str, start, end) -> None:
    """Issue an account statement for a date range; prints where its PDF is."""
    account = find_account(db.session, number)
    if account is None:
        raise click.ClickException(f"no account {number}")
    first, last = date.fromordinal(start.toordinal()), date.fromordinal(end.toordinal())
    if last < first:
        raise click.ClickException("--to is before --from")
    document = statements.statement(db.session, current_app.config, account, first, last)
    try:
        notice = issue(
            db.session,
            current_app.config,
            OPERATOR,
            document,
            account=account,
            delivery=Delivery.DOWNLOAD,
        )
    except NoticeError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"notice {notice.id}: {current_app.config['NOTICES_DIR']}/{notice.path}")


@notices_cli.command("deposit-slip")
@click.argument("number")
@click.option("--out", "path", required=True, type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def slip(number: str, path: str) -> None:
    """Write the deposit slip of bank deposit NUMBER (BD-YYYY-NNNNNN) as a PDF file."""
    deposit = db.session.scalar(sa.select(BankDeposit).where(BankDeposit.number == number))
    if deposit is None:
        raise click.ClickException(f"no bank deposit {number}")
    data = render_slip(deposit_slip(db.session, current_app.config, deposit))
    with open(path, "wb") as out:
        out.write(data)
    record(db.session, OPERATOR, "bank_deposit.slip", deposit, number=number)
    db.session.commit()
    click.echo(f"deposit slip {number}: {path}")


@notices_cli.command("bank-reconciliation")
@click.option("--date", "day", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--out", "path", required=True, type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def bank_reconciliation(day, path: str) -> None:
    """Write the bank reconciliation as of --date as a PDF file for the auditor."""
    try:
        rec = reconcile(db.session, day.date())
    except NoStatement as missing:
        raise click.ClickException(str(missing)) from None
    with open(path, "wb") as out:
        out.write(render_reconciliation(rec, current_app.config["MUNICIPALITY_NAME"]))
    record(
        db.session,
        OPERATOR,
        "bank_reconciliation.pdf",
        object_type="BankStatement",
        object_id=rec.statement_id,
        as_of=day.date(),
        difference_cents=rec.difference_cents,
    )
    db.session.commit()
    click.echo(f"bank reconciliation as of {day.date()}: {path}")


def init_app(app) -> None:
    """Add the `munibill notices` and `munibill shutoff` groups and the roll and payoff quotes to `munibill tax`."""
    from billing.lien_cli import tax
    from notices.delinquent_roll import delinquent_roll_command
    from notices.payoff_cli import payoff_command

    app.cli.add_command(notices_cli)
    app.cli.add_command(shutoff)
    tax.add_command(delinquent_roll_command)
    tax.add_command(payoff_command)

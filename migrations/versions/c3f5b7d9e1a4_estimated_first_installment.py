"""an estimated first installment of property tax (Cook County, 35 ILCS 200/21-30)

Revision ID: c3f5b7d9e1a4
Revises: a1d3f5b7c9e2
Create Date: 2026-12-06 11:30:00.000000

- invoice.estimated: the estimated first installment of a tax year, a percent of the parcel's
  prior-year tax, billed beside the year's own bill (the second installment);
- uq_invoice_tax_parcel_period: one live tax invoice per parcel and year, and one live
  estimated first installment beside it;
- one account in the chart: 2030 "Property tax estimated installments billed", the liability
  an estimate credits until the year's levies are known; the year's bill moves it to the
  taxing jurisdictions (docs/tax.md).
"""

import sqlalchemy as sa
from alembic import op

revision = "c3f5b7d9e1a4"
down_revision = "a1d3f5b7c9e2"
branch_labels = None
depends_on = None

LIVE_TAX = sa.text("kind = 'tax' AND status <> 'void'")
ACCOUNTS = (("2030", "Property tax estimated installments billed", "liability", "tax_collected"),)
GL = sa.table(
    "gl_account",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("type", sa.String),
    sa.column("category", sa.String),
    sa.column("active", sa.Boolean),
)


def _tax_index(columns: list[str]) -> None:
    """(Re)create the unique index of live tax invoices over these columns."""
    op.create_index(
        "uq_invoice_tax_parcel_period",
        "invoice",
        columns,
        unique=True,
        sqlite_where=LIVE_TAX,
        postgresql_where=LIVE_TAX,
    )


def upgrade():
    # NOTE: plain ADD COLUMN on both databases, not a batch copy: invoice is referenced by
    # many tables, whose foreign keys refuse the copy's DROP TABLE.
    op.add_column(
        "invoice", sa.Column("estimated", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.drop_index("uq_invoice_tax_parcel_period", table_name="invoice")
    _tax_index(["parcel_id", "period_start", "period_end", "estimated"])
    op.bulk_insert(
        GL,
        [
            {"code": code, "name": name, "type": kind, "category": category, "active": True}
            for code, name, kind, category in ACCOUNTS
        ],
    )


def downgrade():
    op.execute(GL.delete().where(GL.c.code.in_([code for code, *_rest in ACCOUNTS])))
    op.drop_index("uq_invoice_tax_parcel_period", table_name="invoice")
    _tax_index(["parcel_id", "period_start", "period_end"])
    op.execute("ALTER TABLE invoice DROP COLUMN estimated")

"""conversion from the old system: former account numbers, converted invoices and the
conversion-clearing GL account (deposits go to the register and GL 2020 of f6c8e0a2b4d7)

Revision ID: f7d9f1b3c5e8
Revises: f6c8e0a2b4d7
Create Date: 2026-12-06 08:40:00.000000

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "f7d9f1b3c5e8"
down_revision = "f6c8e0a2b4d7"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: The accounts a conversion posts to (docs/ledger.md, docs/conversion.md).
NEW_CHART = [
    ("3900", "Conversion clearing", "equity", "fund_balance"),
]

gl = sa.table(
    "gl_account",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("type", sa.String),
    sa.column("category", sa.String),
    sa.column("active", sa.Boolean),
)


def upgrade():
    # NOTE: plain ADD COLUMN on both databases, not a batch copy (see downgrade()).
    op.add_column("account", sa.Column("former_number", sa.String(length=40), nullable=True))
    op.add_column("account", sa.Column("converted_on", sa.Date(), nullable=True))
    op.create_index(op.f("ix_account_former_number"), "account", ["former_number"], unique=True)
    op.add_column(
        "invoice", sa.Column("converted", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.bulk_insert(
        gl,
        [
            {"code": code, "name": name, "type": kind, "category": category, "active": True}
            for code, name, kind, category in NEW_CHART
        ],
    )


def downgrade():
    op.execute(gl.delete().where(gl.c.code.in_([code for code, *_rest in NEW_CHART])))
    op.drop_index(op.f("ix_account_former_number"), table_name="account")
    # NOTE: a plain DROP COLUMN (SQLite 3.35+), not a batch copy: invoice and account are
    # referenced by many tables, whose foreign keys refuse the copy's DROP TABLE.
    for table, column in (
        ("invoice", "converted"),
        ("account", "converted_on"),
        ("account", "former_number"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")

"""invoice lines and charges keep their texts in every language, and lines the places their rate
was written with

Revision ID: d8f0a2c4e6b9
Revises: d1f3b5a7c9e2
Create Date: 2026-12-06 03:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d8f0a2c4e6b9"
down_revision = "d1f3b5a7c9e2"
branch_labels = None
depends_on = None

#: The language of every text written before this revision.
DEFAULT_LANGUAGE = "en"


def _backfill(table: str, columns: tuple[str, ...]) -> None:
    """Each existing row's texts become its texts in the default language."""
    build = "json_object" if op.get_bind().dialect.name == "sqlite" else "json_build_object"
    assignments = ", ".join(
        f"{column}s = CASE WHEN {column} IS NULL THEN NULL"
        f" ELSE {build}('{DEFAULT_LANGUAGE}', {column}) END"
        for column in columns
    )
    op.execute(f"UPDATE {table} SET {assignments}")


def upgrade():
    with op.batch_alter_table("invoice_line", schema=None) as batch_op:
        batch_op.add_column(sa.Column("descriptions", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("units", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("rate_places", sa.SmallInteger(), nullable=True))
    with op.batch_alter_table("invoice_charge", schema=None) as batch_op:
        batch_op.add_column(sa.Column("descriptions", sa.JSON(), nullable=True))
    # NOTE: the places a rate was written with were not kept before; those lines print their
    # rate without trailing zeros (billing.figures).
    _backfill("invoice_line", ("description", "unit"))
    _backfill("invoice_charge", ("description",))


def downgrade():
    with op.batch_alter_table("invoice_charge", schema=None) as batch_op:
        batch_op.drop_column("descriptions")
    with op.batch_alter_table("invoice_line", schema=None) as batch_op:
        batch_op.drop_column("rate_places")
        batch_op.drop_column("units")
        batch_op.drop_column("descriptions")

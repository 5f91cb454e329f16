"""penalty rule sets side by side (a code per set) and the town's own closed days

Revision ID: f3e5a7c9b1d6
Revises: f2d4e6a8c0b3
Create Date: 2026-12-06 08:00:00.000000

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "f3e5a7c9b1d6"
down_revision = "f2d4e6a8c0b3"
branch_labels = None
depends_on = None


def upgrade():
    # NOTE: every load so far is the town's one set of rules: it becomes the set "town", one
    # version in force from the beginning covering every invoice, so towns assess as before.
    with op.batch_alter_table("penalty_rule_set") as batch:
        batch.add_column(
            sa.Column("code", sa.String(length=40), server_default="town", nullable=False)
        )
        batch.create_index(batch.f("ix_penalty_rule_set_code"), ["code"], unique=False)
    op.create_table(
        "town_closed_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_town_closed_day")),
    )


def downgrade():
    op.drop_table("town_closed_day")
    with op.batch_alter_table("penalty_rule_set") as batch:
        batch.drop_index(batch.f("ix_penalty_rule_set_code"))
        batch.drop_column("code")

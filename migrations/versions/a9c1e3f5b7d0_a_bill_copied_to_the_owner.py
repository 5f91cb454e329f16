"""a bill copied to a location's owner: the copy's notice names the notice it copies

Revision ID: a9c1e3f5b7d0
Revises: f5b7d9e1a3c6
Create Date: 2026-12-06 11:20:00.000000
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "a9c1e3f5b7d0"
down_revision = "f5b7d9e1a3c6"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    # NOTE: a plain ADD COLUMN, not a batch copy: notice is referenced by other tables, whose
    # foreign keys refuse the copy's DROP TABLE on SQLite (which takes the REFERENCES clause
    # of a nullable column in its ADD COLUMN, but not through Alembic's add_column).
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE notice ADD COLUMN copy_of_id INTEGER REFERENCES notice (id)")
    else:
        op.add_column(
            "notice",
            sa.Column(
                "copy_of_id",
                ID,
                sa.ForeignKey("notice.id", name="fk_notice_copy_of_id_notice"),
                nullable=True,
            ),
        )
    op.create_index(op.f("ix_notice_copy_of_id"), "notice", ["copy_of_id"])


def downgrade():
    op.drop_index(op.f("ix_notice_copy_of_id"), table_name="notice")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_notice_copy_of_id_notice", "notice", type_="foreignkey")
    op.execute("ALTER TABLE notice DROP COLUMN copy_of_id")

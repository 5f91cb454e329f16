"""a reissued access code ends the quick-pay sessions and residents' links made with an
earlier one; residents are told once why a link ended

Revision ID: e4d6f8b0c2e5
Revises: e1a3c5e7f9b2
Create Date: 2026-12-06 05:10:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e4d6f8b0c2e5"
down_revision = "e1a3c5e7f9b2"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("portal_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("access_code_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("end_reason", sa.String(length=16), nullable=True))
    op.create_table(
        "ended_link",
        sa.Column("id", _ID, nullable=False),
        sa.Column("resident_id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "code_changed",
                "unlinked",
                name="link_end_reason",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("told_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_ended_link_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["resident.id"], name=op.f("fk_ended_link_resident_id_resident")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ended_link")),
    )
    with op.batch_alter_table("ended_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ended_link_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ended_link_resident_id"), ["resident_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("ended_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ended_link_resident_id"))
        batch_op.drop_index(batch_op.f("ix_ended_link_account_id"))
    op.drop_table("ended_link")
    with op.batch_alter_table("portal_session", schema=None) as batch_op:
        batch_op.drop_column("end_reason")
        batch_op.drop_column("access_code_version")

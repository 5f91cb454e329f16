"""ledger checkpoints: each successful verify of the hash chain, through which entry and with
which hash, signed into the chain by a journal entry without lines

Revision ID: 90691ed2574e
Revises: 952b2c56e474
Create Date: 2026-12-06 20:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "90691ed2574e"
down_revision = "952b2c56e474"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "ledger_checkpoint",
        sa.Column("id", ID, nullable=False),
        sa.Column("entry_id", ID, nullable=False),
        sa.Column("verified_seq", sa.BigInteger(), nullable=False),
        sa.Column("verified_hash", sa.String(length=64), nullable=False),
        sa.Column("from_seq", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_label", sa.String(length=254), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("mode IN ('full', 'incremental')", name=op.f("ck_ledger_checkpoint_mode")),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entry.id"],
            name=op.f("fk_ledger_checkpoint_entry_id_journal_entry"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_checkpoint")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_ledger_checkpoint_entry_id")),
        sa.UniqueConstraint("hash", name=op.f("uq_ledger_checkpoint_hash")),
    )


def downgrade():
    # NOTE: the checkpoints' journal entries stay: they are links of the chain, and removing
    # them would break it. Without the table they verify by their memo alone.
    op.drop_table("ledger_checkpoint")

"""rating as towns bill: account flags for credits, service point attributes for per-unit
charges, and the winter usage and averages the engine stores

Revision ID: f2d4e6a8c0b3
Revises: e2b4d6f8a0c3
Create Date: 2026-12-06 08:05:00.000000

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "f2d4e6a8c0b3"
down_revision = "e2b4d6f8a0c3"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("account") as batch:
        batch.add_column(sa.Column("flags", sa.JSON(), server_default="[]", nullable=False))
    with op.batch_alter_table("service_point") as batch:
        batch.add_column(sa.Column("attributes", sa.JSON(), server_default="{}", nullable=False))
    op.create_table(
        "winter_usage",
        sa.Column("id", ID, nullable=False),
        sa.Column("service_point_id", ID, nullable=False),
        sa.Column("winter", sa.Integer(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("usage", sa.Numeric(18, 4), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.CheckConstraint("usage >= 0", name=op.f("ck_winter_usage_usage_not_negative")),
        sa.ForeignKeyConstraint(
            ["service_point_id"],
            ["service_point.id"],
            name=op.f("fk_winter_usage_service_point_id_service_point"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_winter_usage")),
        sa.UniqueConstraint(
            "service_point_id", "period_end", name=op.f("uq_winter_usage_service_point_id_period_end")
        ),
    )
    op.create_index(
        op.f("ix_winter_usage_service_point_id"), "winter_usage", ["service_point_id"]
    )
    op.create_table(
        "winter_average",
        sa.Column("id", ID, nullable=False),
        sa.Column("service_point_id", ID, nullable=False),
        sa.Column("winter", sa.Integer(), nullable=False),
        sa.Column("periods", sa.Integer(), nullable=False),
        sa.Column("average", sa.Numeric(18, 4), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("periods >= 1", name=op.f("ck_winter_average_periods_positive")),
        sa.CheckConstraint("average >= 0", name=op.f("ck_winter_average_average_not_negative")),
        sa.ForeignKeyConstraint(
            ["service_point_id"],
            ["service_point.id"],
            name=op.f("fk_winter_average_service_point_id_service_point"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_winter_average")),
        sa.UniqueConstraint(
            "service_point_id", "winter", name=op.f("uq_winter_average_service_point_id_winter")
        ),
    )
    op.create_index(
        op.f("ix_winter_average_service_point_id"), "winter_average", ["service_point_id"]
    )


def downgrade():
    op.drop_index(op.f("ix_winter_average_service_point_id"), table_name="winter_average")
    op.drop_table("winter_average")
    op.drop_index(op.f("ix_winter_usage_service_point_id"), table_name="winter_usage")
    op.drop_table("winter_usage")
    # NOTE: SQLite (3.35 and later) drops a column in place; a batch copy of these tables
    # would fail on the rows that refer to them.
    op.drop_column("service_point", "attributes")
    op.drop_column("account", "flags")

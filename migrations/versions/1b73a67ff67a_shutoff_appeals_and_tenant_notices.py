"""shutoff appeals and tenants' protections: the appeal and tenant-notice columns of the
shutoff rules, shutoff appeals and tenant notices

Revision ID: 1b73a67ff67a
Revises: f1a5cda8a4c2
Create Date: 2026-12-06 17:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "1b73a67ff67a"
down_revision = "f1a5cda8a4c2"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: The shutoff rule's new columns and their defaults for the versions already loaded.
RULE_COLUMNS = (
    ("appeal_days", "15"),
    ("appeal_denial_lead_days", "5"),
    ("tenant_notice_days_multi_unit", "10"),
    ("tenant_notice_days_detached", "15"),
)
PENDING = sa.text("status = 'pending'")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=24)


def upgrade():
    with op.batch_alter_table("shutoff_rule", schema=None) as batch_op:
        for column, default in RULE_COLUMNS:
            batch_op.add_column(
                sa.Column(column, sa.Integer(), nullable=False, server_default=default)
            )
    op.create_table(
        "shutoff_appeal",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("shutoff_notice_id", ID, nullable=True),
        sa.Column("invoice_id", ID, nullable=True),
        sa.Column("channel", _enum("shutoff_appeal_channel", "portal", "phone"), nullable=False),
        sa.Column("statement", sa.String(length=2000), nullable=False),
        sa.Column("filed_by", sa.String(length=16), nullable=False),
        sa.Column("recorded_by", sa.String(length=254), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filed_on", sa.Date(), nullable=False),
        sa.Column(
            "status",
            _enum("shutoff_appeal_status", "pending", "upheld", "denied", "withdrawn"),
            nullable=False,
        ),
        sa.Column("decided_by", sa.String(length=254), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("resident_reasons", sa.String(length=2000), nullable=True),
        sa.Column("internal_note", sa.String(length=2000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "filed_by IN ('resident', 'clerk')", name=op.f("ck_shutoff_appeal_filed_by_known")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_shutoff_appeal_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["shutoff_notice_id"],
            ["shutoff_notice.id"],
            name=op.f("fk_shutoff_appeal_shutoff_notice_id_shutoff_notice"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_shutoff_appeal_invoice_id_invoice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shutoff_appeal")),
    )
    for column in ("account_id", "shutoff_notice_id", "invoice_id", "status"):
        op.create_index(op.f(f"ix_shutoff_appeal_{column}"), "shutoff_appeal", [column])
    op.create_index(
        "uq_shutoff_appeal_pending",
        "shutoff_appeal",
        ["account_id"],
        unique=True,
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )
    op.create_table(
        "tenant_notice",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("shutoff_notice_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("location_id", ID, nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("multi_unit", sa.Boolean(), nullable=False),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.Column("shutoff_not_before", sa.Date(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("tenant_account_id", ID, nullable=True),
        sa.Column("service_order_id", ID, nullable=True),
        sa.Column("became_customer_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shutoff_notice_id"],
            ["shutoff_notice.id"],
            name=op.f("fk_tenant_notice_shutoff_notice_id_shutoff_notice"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_tenant_notice_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["service_location.id"],
            name=op.f("fk_tenant_notice_location_id_service_location"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_account_id"],
            ["account.id"],
            name=op.f("fk_tenant_notice_tenant_account_id_account"),
        ),
        sa.ForeignKeyConstraint(
            ["service_order_id"],
            ["service_order.id"],
            name=op.f("fk_tenant_notice_service_order_id_service_order"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_notice")),
        sa.UniqueConstraint(
            "shutoff_notice_id", "location_id", name=op.f("uq_tenant_notice_location")
        ),
    )
    for column in ("shutoff_notice_id", "account_id", "location_id"):
        op.create_index(op.f(f"ix_tenant_notice_{column}"), "tenant_notice", [column])


def downgrade():
    for column in ("shutoff_notice_id", "account_id", "location_id"):
        op.drop_index(op.f(f"ix_tenant_notice_{column}"), table_name="tenant_notice")
    op.drop_table("tenant_notice")
    op.drop_index(
        "uq_shutoff_appeal_pending",
        table_name="shutoff_appeal",
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )
    for column in ("account_id", "shutoff_notice_id", "invoice_id", "status"):
        op.drop_index(op.f(f"ix_shutoff_appeal_{column}"), table_name="shutoff_appeal")
    op.drop_table("shutoff_appeal")
    with op.batch_alter_table("shutoff_rule", schema=None) as batch_op:
        for column, _default in reversed(RULE_COLUMNS):
            batch_op.drop_column(column)

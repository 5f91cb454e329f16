"""utility shutoff in the field: the rule's final-notice hours and reconnection fee, door
hangers, shutoff work orders and reconnection orders

Revision ID: c39762873e07
Revises: 1b73a67ff67a
Create Date: 2026-12-06 17:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "c39762873e07"
down_revision = "1b73a67ff67a"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _enum(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=24)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    other = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f"fk_{table}_{column}_{other}"))


GL = sa.table(
    "gl_account",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("type", sa.String),
    sa.column("category", sa.String),
    sa.column("active", sa.Boolean),
)


def upgrade():
    op.bulk_insert(
        GL,
        [
            {
                "code": "4540",
                "name": "Reconnection fees",
                "type": "revenue",
                "category": "revenue",
                "active": True,
            }
        ],
    )
    with op.batch_alter_table("shutoff_rule") as batch:
        batch.add_column(
            sa.Column("final_notice_hours", sa.Integer(), server_default="48", nullable=False)
        )
        batch.add_column(
            sa.Column("reconnection_fee_cents", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch.create_check_constraint(
            op.f("ck_shutoff_rule_final_hours_not_negative"), "final_notice_hours >= 0"
        )
        batch.create_check_constraint(
            op.f("ck_shutoff_rule_fee_not_negative"), "reconnection_fee_cents >= 0"
        )
    op.create_table(
        "door_hanger",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("invoice_id", ID, nullable=False),
        sa.Column("hung_on", sa.Date(), nullable=False),
        sa.Column("shutoff_on", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("route", sa.String(length=24), nullable=False),
        sa.Column("service_address", sa.String(length=300), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk("door_hanger", "account_id", "account.id"),
        _fk("door_hanger", "invoice_id", "invoice.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_door_hanger")),
        sa.UniqueConstraint("account_id", "invoice_id", name=op.f("uq_door_hanger_delinquency")),
    )
    for column in ("account_id", "invoice_id"):
        op.create_index(op.f(f"ix_door_hanger_{column}"), "door_hanger", [column])
    op.create_table(
        "shutoff_order",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("invoice_id", ID, nullable=False),
        sa.Column("work_on", sa.Date(), nullable=False),
        sa.Column("route", sa.String(length=24), nullable=False),
        sa.Column("service_address", sa.String(length=300), nullable=False),
        sa.Column("meter_id", sa.String(length=40), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column(
            "state",
            _enum("shutoff_order_state", "issued", "shut_off", "not_shut_off", "cancelled"),
            nullable=False,
        ),
        sa.Column("issued_by", sa.String(length=254), nullable=False),
        sa.Column("result_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_by", sa.String(length=254), nullable=True),
        sa.Column("meter_reading", sa.BigInteger(), nullable=True),
        sa.Column(
            "not_done_reason",
            _enum(
                "shutoff_not_done_reason",
                "no_access",
                "dog",
                "paid_at_door",
                "medical_emergency",
                "out_of_time",
                "other",
            ),
            nullable=True,
        ),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("door_payment_id", sa.Integer(), nullable=True),
        sa.Column("fee_charge_id", ID, nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk("shutoff_order", "account_id", "account.id"),
        _fk("shutoff_order", "invoice_id", "invoice.id"),
        _fk("shutoff_order", "fee_charge_id", "invoice_charge.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shutoff_order")),
        sa.UniqueConstraint("number", name=op.f("uq_shutoff_order_number")),
        sa.UniqueConstraint("account_id", "invoice_id", name=op.f("uq_shutoff_order_delinquency")),
    )
    for column in ("account_id", "invoice_id"):
        op.create_index(op.f(f"ix_shutoff_order_{column}"), "shutoff_order", [column])
    op.create_table(
        "reconnection_order",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("shutoff_order_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reconnected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reconnected_by", sa.String(length=254), nullable=True),
        sa.Column("meter_reading", sa.BigInteger(), nullable=True),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk("reconnection_order", "shutoff_order_id", "shutoff_order.id"),
        _fk("reconnection_order", "account_id", "account.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconnection_order")),
        sa.UniqueConstraint("number", name=op.f("uq_reconnection_order_number")),
        sa.UniqueConstraint(
            "shutoff_order_id", name=op.f("uq_reconnection_order_shutoff_order_id")
        ),
    )
    op.create_index(op.f("ix_reconnection_order_account_id"), "reconnection_order", ["account_id"])


def downgrade():
    op.drop_index(op.f("ix_reconnection_order_account_id"), table_name="reconnection_order")
    op.drop_table("reconnection_order")
    for column in ("account_id", "invoice_id"):
        op.drop_index(op.f(f"ix_shutoff_order_{column}"), table_name="shutoff_order")
    op.drop_table("shutoff_order")
    for column in ("account_id", "invoice_id"):
        op.drop_index(op.f(f"ix_door_hanger_{column}"), table_name="door_hanger")
    op.drop_table("door_hanger")
    with op.batch_alter_table("shutoff_rule") as batch:
        batch.drop_constraint(op.f("ck_shutoff_rule_fee_not_negative"), type_="check")
        batch.drop_constraint(op.f("ck_shutoff_rule_final_hours_not_negative"), type_="check")
        batch.drop_column("reconnection_fee_cents")
        batch.drop_column("final_notice_hours")
    op.execute(GL.delete().where(GL.c.code == "4540"))

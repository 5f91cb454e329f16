"""payment arrangements: the plan rules, plans, their installments and included invoices

Revision ID: a5e7c9d1f3b6
Revises: e3c5a7b9d1f4
Create Date: 2026-12-06 14:20:00.000000

- plan_rule: versions of the town's rules for payment plans (docs/arrangements.md);
- payment_plan, plan_installment, plan_invoice: each account's plans, their schedule and the
  invoices whose balance they include. Nothing here posts to the ledger.
"""

import sqlalchemy as sa
from alembic import op

revision = "a5e7c9d1f3b6"
down_revision = "e3c5a7b9d1f4"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STATUSES = ("proposed", "current", "completed", "defaulted", "cancelled")


def upgrade():
    op.create_table(
        "plan_rule",
        sa.Column("id", ID, nullable=False),
        sa.Column("effective", sa.Date(), nullable=False),
        sa.Column("classes", sa.JSON(), nullable=False),
        sa.Column("min_down_percent", sa.Numeric(5, 2), nullable=False),
        sa.Column("min_down_cents", sa.BigInteger(), nullable=False),
        sa.Column("max_installments", sa.Integer(), nullable=False),
        sa.Column("max_included_cents", sa.BigInteger(), nullable=True),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("pause_penalties", sa.Boolean(), nullable=False),
        sa.Column("pause_reminders", sa.Boolean(), nullable=False),
        sa.Column("residents_may_request", sa.Boolean(), nullable=False),
        sa.Column("recorded_by", sa.String(254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("max_installments >= 1", name=op.f("ck_plan_rule_some_installments")),
        sa.CheckConstraint("grace_days >= 0", name=op.f("ck_plan_rule_grace_not_negative")),
        sa.CheckConstraint("min_down_cents >= 0", name=op.f("ck_plan_rule_down_not_negative")),
        sa.CheckConstraint(
            "min_down_percent >= 0 AND min_down_percent <= 100",
            name=op.f("ck_plan_rule_percent_in_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_rule")),
    )
    op.create_table(
        "payment_plan",
        sa.Column("id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("rule_id", ID, nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                *STATUSES, name="plan_status", native_enum=False, create_constraint=True, length=24
            ),
            nullable=False,
        ),
        sa.Column("classes", sa.JSON(), nullable=False),
        sa.Column("included_cents", sa.BigInteger(), nullable=False),
        sa.Column("down_payment_cents", sa.BigInteger(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("requested_via", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(254), nullable=False),
        sa.Column("accepted_on", sa.Date(), nullable=True),
        sa.Column("accepted_how", sa.String(16), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("missed_installment", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("included_cents > 0", name=op.f("ck_payment_plan_included_positive")),
        sa.CheckConstraint(
            "down_payment_cents >= 0 AND down_payment_cents <= included_cents",
            name=op.f("ck_payment_plan_down_within_included"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_payment_plan_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["plan_rule.id"], name=op.f("fk_payment_plan_rule_id_plan_rule")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_plan")),
    )
    op.create_index(op.f("ix_payment_plan_account_id"), "payment_plan", ["account_id"])
    op.create_index(op.f("ix_payment_plan_status"), "payment_plan", ["status"])
    op.create_index(
        "uq_payment_plan_open",
        "payment_plan",
        ["account_id"],
        unique=True,
        sqlite_where=sa.text("status IN ('proposed', 'current')"),
        postgresql_where=sa.text("status IN ('proposed', 'current')"),
    )
    op.create_table(
        "plan_installment",
        sa.Column("id", ID, nullable=False),
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "amount_cents >= 0", name=op.f("ck_plan_installment_amount_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["payment_plan.id"], name=op.f("fk_plan_installment_plan_id_payment_plan")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_installment")),
        sa.UniqueConstraint("plan_id", "number", name=op.f("uq_plan_installment_plan_id_number")),
    )
    op.create_index(op.f("ix_plan_installment_plan_id"), "plan_installment", ["plan_id"])
    op.create_table(
        "plan_invoice",
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("invoice_id", ID, nullable=False),
        sa.Column("owed_cents", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("owed_cents > 0", name=op.f("ck_plan_invoice_owed_positive")),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["payment_plan.id"], name=op.f("fk_plan_invoice_plan_id_payment_plan")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_plan_invoice_invoice_id_invoice")
        ),
        sa.PrimaryKeyConstraint("plan_id", "invoice_id", name=op.f("pk_plan_invoice")),
    )


def downgrade():
    op.drop_table("plan_invoice")
    op.drop_index(op.f("ix_plan_installment_plan_id"), table_name="plan_installment")
    op.drop_table("plan_installment")
    op.drop_index("uq_payment_plan_open", table_name="payment_plan")
    op.drop_index(op.f("ix_payment_plan_status"), table_name="payment_plan")
    op.drop_index(op.f("ix_payment_plan_account_id"), table_name="payment_plan")
    op.drop_table("payment_plan")
    op.drop_table("plan_rule")

"""tax bills as towns bill them: credit lines, honoured early-payment discounts, frozen tax
ceilings on parcels, reminder stages per installment

Revision ID: f4a6c8e0b2d7
Revises: f1c3e5a7b9d1
Create Date: 2026-12-06 08:10:00.000000

- invoice_line.category and invoice_charge.category may be "credit" (a state credit's line);
- settlement.kind may be "discount" (an early-payment discount honoured);
- invoice_discount: the early-payment discounts of a tax invoice, as posted;
- parcel.tax_ceilings: frozen tax ceilings by jurisdiction (cents);
- two accounts in the chart: 1200 "Receivable - state tax credits" (what the state owes for
  the credits on tax bills) and 4900 "Property tax early-payment discounts" (contra-revenue);
- reminder.installment_number: the installment a stage counts from (0 for an invoice without
  installments). Existing rows of an invoice with installments become installment 1: they
  counted from the earliest unpaid installment, the first one of a bill not paid at all, so
  its first installment is not reminded twice; the others are 0.
"""

import sqlalchemy as sa
from alembic import op

revision = "f4a6c8e0b2d7"
down_revision = "f1c3e5a7b9d1"
branch_labels = None
depends_on = None

OLD_CATEGORIES = ("charge", "fee", "tax", "penalty", "interest")
NEW_CATEGORIES = (*OLD_CATEGORIES, "credit")
OLD_KINDS = ("credit_applied", "credit_memo", "payment", "write_off", "reversal")
NEW_KINDS = (*OLD_KINDS, "discount")
ACCOUNTS = (
    ("1200", "Receivable - state tax credits", "asset", "receivable"),
    ("4900", "Property tax early-payment discounts", "revenue", "revenue"),
)
GL = sa.table(
    "gl_account",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("type", sa.String),
    sa.column("category", sa.String),
    sa.column("active", sa.Boolean),
)


def _allow(table: str, name: str, column: str, values: tuple[str, ...]) -> None:
    """Replace the CHECK constraint of an enum column."""
    with op.batch_alter_table(table) as batch_op:
        batch_op.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
        batch_op.create_check_constraint(name, sa.column(column).in_(values))


def upgrade():
    _allow("invoice_line", "line_category", "category", NEW_CATEGORIES)
    _allow("invoice_charge", "charge_category", "category", NEW_CATEGORIES)
    _allow("settlement", "settlement_kind", "kind", NEW_KINDS)
    op.bulk_insert(
        GL,
        [
            {"code": code, "name": name, "type": kind, "category": category, "active": True}
            for code, name, kind, category in ACCOUNTS
        ],
    )
    op.create_table(
        "invoice_discount",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "invoice_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("installment_number", sa.Integer(), nullable=False),
        sa.Column("pay_by", sa.Date(), nullable=False),
        sa.Column("percent", sa.Numeric(7, 4), nullable=False),
        sa.Column("discount_cents", sa.BigInteger(), nullable=False),
        sa.Column("amount_due_cents", sa.BigInteger(), nullable=False),
        sa.Column(
            "gl_account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.CheckConstraint(
            "discount_cents >= 0", name=op.f("ck_invoice_discount_discount_not_negative")
        ),
        sa.CheckConstraint(
            "amount_due_cents >= 0", name=op.f("ck_invoice_discount_amount_due_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_invoice_discount_invoice_id_invoice")
        ),
        sa.ForeignKeyConstraint(
            ["gl_account_id"],
            ["gl_account.id"],
            name=op.f("fk_invoice_discount_gl_account_id_gl_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_discount")),
        sa.UniqueConstraint(
            "invoice_id",
            "installment_number",
            "pay_by",
            name=op.f("uq_invoice_discount_invoice_id_installment_number_pay_by"),
        ),
    )
    with op.batch_alter_table("invoice_discount") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invoice_discount_invoice_id"), ["invoice_id"], unique=False
        )
    with op.batch_alter_table("parcel") as batch_op:
        batch_op.add_column(sa.Column("tax_ceilings", sa.JSON(), nullable=True))
    with op.batch_alter_table("reminder") as batch_op:
        batch_op.add_column(
            sa.Column("installment_number", sa.Integer(), server_default="0", nullable=False)
        )
    op.execute(
        sa.text(
            "UPDATE reminder SET installment_number = 1 "
            "WHERE invoice_id IN (SELECT invoice_id FROM invoice_installment)"
        )
    )
    with op.batch_alter_table("reminder") as batch_op:
        batch_op.drop_constraint("uq_reminder_stage", type_="unique")
        batch_op.create_unique_constraint(
            "uq_reminder_installment_stage", ["invoice_id", "installment_number", "stage"]
        )


def downgrade():
    op.execute(sa.text("DELETE FROM reminder WHERE installment_number > 1"))
    with op.batch_alter_table("reminder") as batch_op:
        batch_op.drop_constraint("uq_reminder_installment_stage", type_="unique")
        batch_op.create_unique_constraint("uq_reminder_stage", ["invoice_id", "stage"])
        batch_op.drop_column("installment_number")
    with op.batch_alter_table("parcel") as batch_op:
        batch_op.drop_column("tax_ceilings")
    with op.batch_alter_table("invoice_discount") as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_discount_invoice_id"))
    op.drop_table("invoice_discount")
    op.execute(sa.text("DELETE FROM settlement WHERE kind = 'discount'"))
    op.execute(GL.delete().where(GL.c.code.in_([code for code, *_ in ACCOUNTS])))
    _allow("settlement", "settlement_kind", "kind", OLD_KINDS)
    _allow("invoice_charge", "charge_category", "category", OLD_CATEGORIES)
    _allow("invoice_line", "line_category", "category", OLD_CATEGORIES)

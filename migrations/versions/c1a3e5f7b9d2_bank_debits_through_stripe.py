"""bank debits through Stripe (ACH): mandates, returns, the return rule, blocked bank accounts,
the bank-debit tender, the returned status, GL 4520 Returned payment fees, autopay's method

Revision ID: c1a3e5f7b9d2
Revises: f4d6b8c0e2a5
Create Date: 2026-12-06 14:20:00

"""

from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "c1a3e5f7b9d2"
down_revision = "f4d6b8c0e2a5"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OLD_TENDERS = ("card", "cash", "check", "money_order", "bill_pay")
NEW_TENDERS = (*OLD_TENDERS, "bank_debit")
OLD_STATUSES = ("pending", "processing", "unknown", "succeeded", "failed", "canceled", "voided")
NEW_STATUSES = (*OLD_STATUSES, "returned")
OLD_KINDS = (
    "amount_mismatch",
    "failed_here",
    "unknown_to_stripe",
    "unknown_here",
    "refund_not_recorded",
    "payout_mismatch",
    "event_failed",
    # Added by e3c5a7b9d1f4 (bank statements) before this revision.
    "bank_credit_unmatched",
    "bank_debit_unmatched",
)
NEW_KINDS = (*OLD_KINDS, "ach_out_of_order", "return_not_ours")
#: (table, column, constraint) whose allowed values change, with the old and new values.
CHECKS = [
    ("payment", "tender", "ck_payment_payment_tender", OLD_TENDERS, NEW_TENDERS),
    ("receipt", "tender", "ck_receipt_receipt_tender", OLD_TENDERS, NEW_TENDERS),
    ("payment", "status", "ck_payment_payment_status", OLD_STATUSES, NEW_STATUSES),
    (
        "reconciliation_item",
        "kind",
        "ck_reconciliation_item_reconciliation_kind",
        OLD_KINDS,
        NEW_KINDS,
    ),
]
GL = sa.table(
    "gl_account",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("type", sa.String),
    sa.column("category", sa.String),
    sa.column("active", sa.Boolean),
)
RULE = sa.table(
    "ach_return_rule",
    sa.column("effective_from", sa.Date),
    sa.column("fee_cents", sa.BigInteger),
    sa.column("fee_gl_code", sa.String),
    sa.column("block_after_returns", sa.Integer),
    sa.column("within_months", sa.Integer),
)


def _allow(table: str, column: str, name: str, old: tuple, new: tuple) -> None:
    """Let a column's CHECK take the new values instead of the old."""
    if op.get_bind().dialect.name == "sqlite":
        # NOTE: SQLite cannot alter a CHECK constraint, and these tables are referenced by
        # journal lines, settlements and receipts: the CHECK is edited in the schema text, as
        # SQLite documents for this case (and as the lockbox migration did).
        def text(values: tuple) -> str:
            return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"

        _edit_sqlite_schema(table, text(old), text(new))
        return
    op.drop_constraint(op.f(name), table, type_="check")
    op.create_check_constraint(op.f(name), table, sa.column(column).in_(new))


def _edit_sqlite_schema(table: str, old: str, new: str) -> None:
    """Replace `old` by `new` in a table's stored CREATE statement (SQLite only)."""
    bind = op.get_bind()
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": table},
    ).scalar_one()
    if old not in sql:
        raise RuntimeError(f"{table}: the constraint to change was not found in {sql!r}")
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :name"),
        {"sql": sql.replace(old, new), "name": table},
    )
    bind.execute(sa.text(f"PRAGMA schema_version = {version + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))


def _tables() -> None:
    op.create_table(
        "bank_mandate",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("payment_id", ID, nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("text_version", sa.String(length=16), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip_address", sa.String(length=45), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=False),
        sa.Column("stripe_payment_method_id", sa.String(length=255), nullable=False),
        sa.Column("stripe_mandate_id", sa.String(length=255), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("bank_name", sa.String(length=100), nullable=True),
        sa.Column("last4", sa.String(length=4), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_bank_mandate_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_bank_mandate_payment_id_payment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_mandate")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_bank_mandate_payment_id")),
        sa.UniqueConstraint("stripe_mandate_id", name=op.f("uq_bank_mandate_stripe_mandate_id")),
    )
    op.create_index(op.f("ix_bank_mandate_account_id"), "bank_mandate", ["account_id"])
    op.create_index(op.f("ix_bank_mandate_fingerprint"), "bank_mandate", ["fingerprint"])
    op.create_table(
        "ach_return",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("payment_id", ID, nullable=False),
        sa.Column("return_code", sa.String(length=4), nullable=False),
        sa.Column("stripe_failure_code", sa.String(length=64), nullable=True),
        sa.Column("after_settlement", sa.Boolean(), nullable=False),
        sa.Column("returned_on", sa.Date(), nullable=False),
        sa.Column("stripe_event_id", sa.String(length=255), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("fee_charge_id", ID, nullable=True),
        sa.Column("told_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("told_by", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fee_charge_id"],
            ["invoice_charge.id"],
            name=op.f("fk_ach_return_fee_charge_id_invoice_charge"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_ach_return_payment_id_payment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ach_return")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_ach_return_payment_id")),
    )
    op.create_index(op.f("ix_ach_return_fingerprint"), "ach_return", ["fingerprint"])
    op.create_table(
        "ach_return_rule",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("fee_cents", sa.BigInteger(), nullable=False),
        sa.Column("fee_gl_code", sa.String(length=8), nullable=False),
        sa.Column("block_after_returns", sa.Integer(), nullable=False),
        sa.Column("within_months", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "block_after_returns > 0", name=op.f("ck_ach_return_rule_block_after_positive")
        ),
        sa.CheckConstraint("fee_cents >= 0", name=op.f("ck_ach_return_rule_fee_not_negative")),
        sa.CheckConstraint(
            "within_months > 0", name=op.f("ck_ach_return_rule_within_months_positive")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ach_return_rule")),
        sa.UniqueConstraint("effective_from", name=op.f("uq_ach_return_rule_effective_from")),
    )
    op.create_table(
        "blocked_bank_account",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("account_id", ID, nullable=True),
        sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("returns", sa.Integer(), nullable=False),
        sa.Column("unblocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unblocked_by", sa.String(length=254), nullable=True),
        sa.Column("unblock_reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_blocked_bank_account_account_id_account")
        ),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_blocked_bank_account")),
    )
    op.create_index(
        op.f("ix_blocked_bank_account_account_id"), "blocked_bank_account", ["account_id"]
    )


def upgrade():
    for table, column, name, old, new in CHECKS:
        _allow(table, column, name, old, new)
    op.bulk_insert(
        GL,
        [
            {
                "code": "4520",
                "name": "Returned payment fees",
                "type": "revenue",
                "category": "revenue",
                "active": True,
            }
        ],
    )
    _tables()
    with op.batch_alter_table("autopay") as batch_op:
        batch_op.add_column(
            sa.Column("method", sa.String(length=16), server_default="card", nullable=False)
        )
    # NOTE: the town's returned-payment rule as shipped: a $25 fee, and a bank account blocked
    # for online payment at its second return within twelve months; clerks add later rules.
    op.bulk_insert(
        RULE,
        [
            {
                "effective_from": date(2000, 1, 1),
                "fee_cents": 2500,
                "fee_gl_code": "4520",
                "block_after_returns": 2,
                "within_months": 12,
            }
        ],
    )


def downgrade():
    # NOTE: a bank debit cannot be called another tender: the downgrade refuses while any
    # exists rather than lose what it was. A returned payment goes back to failed.
    debits = op.get_bind().execute(
        sa.text("SELECT count(*) FROM payment WHERE tender = 'bank_debit'")
    ).scalar_one()
    if debits:
        raise RuntimeError(f"{debits} bank debit payments exist; they cannot be downgraded")
    with op.batch_alter_table("autopay") as batch_op:
        batch_op.drop_column("method")
    op.drop_index(op.f("ix_blocked_bank_account_account_id"), table_name="blocked_bank_account")
    op.drop_table("blocked_bank_account")
    op.drop_table("ach_return_rule")
    op.drop_index(op.f("ix_ach_return_fingerprint"), table_name="ach_return")
    op.drop_table("ach_return")
    op.drop_index(op.f("ix_bank_mandate_fingerprint"), table_name="bank_mandate")
    op.drop_index(op.f("ix_bank_mandate_account_id"), table_name="bank_mandate")
    op.drop_table("bank_mandate")
    op.execute(sa.text("DELETE FROM gl_account WHERE code = '4520'"))
    op.execute(sa.text("UPDATE payment SET status = 'failed' WHERE status = 'returned'"))
    for table, column, name, old, new in reversed(CHECKS):
        _allow(table, column, name, new, old)

"""lockbox and bill-pay files: remittance files and items, the lockbox clearing and
remittances-held GL accounts, the bill-pay tender

Revision ID: d4a6c8e0f2b5
Revises: c3f5b7d9e1a4
Create Date: 2026-12-06 11:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "d4a6c8e0f2b5"
down_revision = "c3f5b7d9e1a4"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OLD_CATEGORIES = (
    "bank",
    "cash_drawer",
    "stripe_clearing",
    "receivable",
    "unapplied_credit",
    "refunds_payable",
    "tax_collected",
    "revenue",
    "penalty_revenue",
    "interest_revenue",
    "processor_fees",
    "write_off",
    "fund_balance",
    "disputed_funds",
    "deposits_held",
    "interest_expense",
)
NEW_CATEGORIES = (*OLD_CATEGORIES, "lockbox_clearing", "remittances_held")
OLD_TENDERS = ("card", "cash", "check", "money_order")
NEW_TENDERS = (*OLD_TENDERS, "bill_pay")
NEW_ACCOUNTS = [
    # code, name, type, category
    ("1040", "Lockbox clearing", "asset", "lockbox_clearing"),
    ("2040", "Remittances held for identification", "liability", "remittances_held"),
]
GL = sa.table(
    "gl_account",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("type", sa.String),
    sa.column("category", sa.String),
    sa.column("active", sa.Boolean),
)
#: (table, column, constraint) whose allowed values change, with the old and new values.
CHECKS = [
    ("gl_account", "category", "ck_gl_account_gl_category", OLD_CATEGORIES, NEW_CATEGORIES),
    ("payment", "tender", "ck_payment_payment_tender", OLD_TENDERS, NEW_TENDERS),
    ("receipt", "tender", "ck_receipt_receipt_tender", OLD_TENDERS, NEW_TENDERS),
]


def _enum(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=24)


def _allow(table: str, column: str, name: str, old: tuple, new: tuple) -> None:
    """Let a column's CHECK take the new values instead of the old."""
    if op.get_bind().dialect.name == "sqlite":
        # NOTE: SQLite cannot alter a CHECK constraint, and rebuilding these tables (which
        # journal lines, settlements and receipts reference) is not worth the risk: the CHECK
        # is edited in the schema text, as SQLite documents for this case.
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


def upgrade():
    for table, column, name, old, new in CHECKS:
        _allow(table, column, name, old, new)
    op.bulk_insert(
        GL,
        [
            {"code": code, "name": name, "type": kind, "category": category, "active": True}
            for code, name, kind, category in NEW_ACCOUNTS
        ],
    )
    op.create_table(
        "remittance_file",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("kind", _enum("remittance_kind", "lockbox", "bill_pay"), nullable=False),
        sa.Column("layout", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("deposit_date", sa.Date(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("settled_count", sa.Integer(), nullable=False),
        sa.Column("settled_cents", sa.BigInteger(), nullable=False),
        sa.Column("exception_count", sa.Integer(), nullable=False),
        sa.Column("exception_cents", sa.BigInteger(), nullable=False),
        sa.Column("imported_by", sa.String(length=254), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remittance_file")),
        sa.UniqueConstraint("sha256", name=op.f("uq_remittance_file_sha256")),
    )
    op.create_table(
        "remittance_item",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("file_id", ID, nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("batch", sa.String(length=16), nullable=False),
        sa.Column("item", sa.String(length=16), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("scan_line", sa.String(length=64), nullable=True),
        sa.Column("account_text", sa.String(length=64), nullable=True),
        sa.Column("stub_cents", sa.BigInteger(), nullable=True),
        sa.Column("payer_name", sa.String(length=100), nullable=True),
        sa.Column("account_id", ID, nullable=True),
        sa.Column("payment_id", ID, nullable=True),
        sa.Column(
            "status",
            _enum("remittance_status", "settled", "exception", "applied", "returned"),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("resolved_by", sa.String(length=254), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=500), nullable=True),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_remittance_item_amount_positive")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_remittance_item_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["remittance_file.id"],
            name=op.f("fk_remittance_item_file_id_remittance_file"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_remittance_item_payment_id_payment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remittance_item")),
        sa.UniqueConstraint("file_id", "sequence", name="uq_remittance_item_sequence"),
        sa.UniqueConstraint("payment_id", name=op.f("uq_remittance_item_payment_id")),
    )
    op.create_index(op.f("ix_remittance_item_account_id"), "remittance_item", ["account_id"])
    op.create_index(op.f("ix_remittance_item_status"), "remittance_item", ["status"])


def downgrade():
    op.drop_index(op.f("ix_remittance_item_status"), table_name="remittance_item")
    op.drop_index(op.f("ix_remittance_item_account_id"), table_name="remittance_item")
    op.drop_table("remittance_item")
    op.drop_table("remittance_file")
    op.execute(sa.text("DELETE FROM gl_account WHERE code IN ('1040', '2040')"))
    for table, column, name, old, new in reversed(CHECKS):
        _allow(table, column, name, new, old)

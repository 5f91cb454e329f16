"""deposits: the register, its movements, the deposit rules and the deposits-held GL accounts

Revision ID: f6c8e0a2b4d7
Revises: f4a6c8e0b2d7
Create Date: 2026-12-06 08:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "f6c8e0a2b4d7"
down_revision = "f4a6c8e0b2d7"
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
)
NEW_CATEGORIES = (*OLD_CATEGORIES, "deposits_held", "interest_expense")
NEW_ACCOUNTS = [
    # code, name, type, category
    ("2020", "Deposits held", "liability", "deposits_held"),
    ("5200", "Interest on deposits", "expense", "interest_expense"),
]
GL = sa.table(
    "gl_account",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("type", sa.String),
    sa.column("category", sa.String),
    sa.column("active", sa.Boolean),
)


def _allow(categories: tuple[str, ...]) -> None:
    """Let the chart's category column take these values."""
    if op.get_bind().dialect.name == "sqlite":
        # NOTE: SQLite cannot alter a CHECK constraint, and rebuilding gl_account (which
        # every journal line references) is not worth the risk: the column's CHECK is
        # edited in the schema text, as SQLite documents for this case.
        texts = {
            chosen: "category IN (" + ", ".join(f"'{c}'" for c in chosen) + ")"
            for chosen in (OLD_CATEGORIES, NEW_CATEGORIES)
        }
        other = NEW_CATEGORIES if categories == OLD_CATEGORIES else OLD_CATEGORIES
        _edit_sqlite_schema("gl_account", texts[other], texts[categories])
        return
    op.drop_constraint(op.f("ck_gl_account_gl_category"), "gl_account", type_="check")
    op.create_check_constraint(
        op.f("ck_gl_account_gl_category"), "gl_account", sa.column("category").in_(categories)
    )


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
    _allow(NEW_CATEGORIES)
    op.bulk_insert(
        GL,
        [
            {"code": code, "name": name, "type": kind, "category": category, "active": True}
            for code, name, kind, category in NEW_ACCOUNTS
        ],
    )
    op.create_table(
        "deposit_rule_set",
        sa.Column("version", ID, autoincrement=True, nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(length=254), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_deposit_rule_set")),
    )
    op.create_table(
        "deposit",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("held_since", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("offset_gl_code", sa.String(length=32), nullable=False),
        sa.Column("payment_id", ID, nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "held",
                "applied",
                "refunded",
                name="deposit_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("held_cents", sa.BigInteger(), nullable=False),
        sa.Column("interest_cents", sa.BigInteger(), nullable=False),
        sa.Column("interest_through", sa.Date(), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_deposit_amount_positive")),
        sa.CheckConstraint("held_cents >= 0", name=op.f("ck_deposit_held_not_negative")),
        sa.CheckConstraint("interest_cents >= 0", name=op.f("ck_deposit_interest_not_negative")),
        sa.CheckConstraint(
            "status <> 'held' OR closed_on IS NULL", name=op.f("ck_deposit_held_is_open")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_deposit_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_deposit_payment_id_payment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposit")),
    )
    with op.batch_alter_table("deposit") as batch_op:
        batch_op.create_index(batch_op.f("ix_deposit_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deposit_status"), ["status"], unique=False)
    op.create_table(
        "deposit_movement",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("deposit_id", ID, nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "held",
                "interest",
                "applied",
                "refunded",
                name="deposit_movement_kind",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("moved_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("journal_entry_id", ID, nullable=False),
        sa.Column("recorded_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_deposit_movement_amount_positive")),
        sa.ForeignKeyConstraint(
            ["deposit_id"], ["deposit.id"], name=op.f("fk_deposit_movement_deposit_id_deposit")
        ),
        sa.ForeignKeyConstraint(
            ["journal_entry_id"],
            ["journal_entry.id"],
            name=op.f("fk_deposit_movement_journal_entry_id_journal_entry"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposit_movement")),
    )
    with op.batch_alter_table("deposit_movement") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deposit_movement_deposit_id"), ["deposit_id"], unique=False
        )
        batch_op.create_index(
            "uq_deposit_movement_interest_year",
            ["deposit_id", "reference"],
            unique=True,
            sqlite_where=sa.text("kind = 'interest'"),
            postgresql_where=sa.text("kind = 'interest'"),
        )


def downgrade():
    with op.batch_alter_table("deposit_movement") as batch_op:
        batch_op.drop_index(
            "uq_deposit_movement_interest_year",
            sqlite_where=sa.text("kind = 'interest'"),
            postgresql_where=sa.text("kind = 'interest'"),
        )
        batch_op.drop_index(batch_op.f("ix_deposit_movement_deposit_id"))
    op.drop_table("deposit_movement")
    with op.batch_alter_table("deposit") as batch_op:
        batch_op.drop_index(batch_op.f("ix_deposit_status"))
        batch_op.drop_index(batch_op.f("ix_deposit_account_id"))
    op.drop_table("deposit")
    op.drop_table("deposit_rule_set")
    op.execute(sa.text("DELETE FROM gl_account WHERE code IN ('2020', '5200')"))
    _allow(OLD_CATEGORIES)

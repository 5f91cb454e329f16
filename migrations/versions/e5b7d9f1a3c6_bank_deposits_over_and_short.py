"""bank deposits: GL 1050 Deposits in transit and 5300 Cash over and short, the bank deposit,
and what a drawer's close-out posted and sends to the bank

Revision ID: e5b7d9f1a3c6
Revises: d4a6c8e0f2b5
Create Date: 2026-12-06 11:20:00.000000

Drawers closed before this revision keep no over/short nor deposit amount: they are not
offered for a deposit (docs/bank-deposits.md, "Drawers closed before").
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "e5b7d9f1a3c6"
down_revision = "d4a6c8e0f2b5"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NEW_CATEGORIES = ("deposits_in_transit", "cash_over_short")
NEW_ACCOUNTS = [
    # code, name, type, category
    ("1050", "Deposits in transit", "asset", "deposits_in_transit"),
    ("5300", "Cash over and short", "expense", "cash_over_short"),
]
GL = sa.table(
    "gl_account",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("type", sa.String),
    sa.column("category", sa.String),
    sa.column("active", sa.Boolean),
)
CATEGORY_CHECK = re.compile(r"category IN \(([^)]*)\)")


def _categories_now() -> tuple[str, tuple[str, ...]]:
    """The category CHECK as the database holds it: its text and the values it allows.

    Read rather than written out, so that a revision adding other categories before or after
    this one (another clearing account) keeps them.
    """
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        sql = bind.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'gl_account'")
        ).scalar_one()
    else:
        sql = bind.execute(
            sa.text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conname = 'ck_gl_account_gl_category'"
            )
        ).scalar_one()
    if bind.dialect.name != "sqlite":
        return sql, tuple(re.findall(r"'([a-z_]+)'", sql))
    found = CATEGORY_CHECK.search(sql)
    if found is None:
        raise RuntimeError(f"gl_account: the category CHECK was not found in {sql!r}")
    return found.group(0), tuple(re.findall(r"'([a-z_]+)'", found.group(1)))


def _allow(categories: tuple[str, ...]) -> None:
    """Let the chart's category column take exactly these values."""
    if op.get_bind().dialect.name == "sqlite":
        # NOTE: SQLite cannot alter a CHECK constraint and gl_account is referenced by every
        # journal line: the CHECK is edited in the stored schema, as SQLite documents.
        old, _values = _categories_now()
        _edit_sqlite_schema(
            "gl_account", old, "category IN (" + ", ".join(f"'{c}'" for c in categories) + ")"
        )
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
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :name"),
        {"sql": sql.replace(old, new), "name": table},
    )
    bind.execute(sa.text(f"PRAGMA schema_version = {version + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))


def _chart_up() -> None:
    _sql, values = _categories_now()
    _allow((*values, *(c for c in NEW_CATEGORIES if c not in values)))
    op.bulk_insert(
        GL,
        [
            {"code": code, "name": name, "type": kind, "category": category, "active": True}
            for code, name, kind, category in NEW_ACCOUNTS
        ],
    )


def _chart_down() -> None:
    op.execute(GL.delete().where(GL.c.code.in_([code for code, *_ in NEW_ACCOUNTS])))
    _sql, values = _categories_now()
    _allow(tuple(c for c in values if c not in NEW_CATEGORIES))


def _bank_deposit() -> None:
    op.create_table(
        "bank_deposit",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=24), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "in_transit",
                "at_bank",
                name="bank_deposit_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=False),
        sa.Column("made_by", sa.String(length=254), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("made_on", sa.Date(), nullable=False),
        sa.Column("reached_bank_on", sa.Date(), nullable=True),
        sa.Column("confirmed_by", sa.String(length=254), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_bank_deposit_amount_positive")),
        sa.CheckConstraint(
            "status <> 'at_bank' OR reached_bank_on IS NOT NULL",
            name=op.f("ck_bank_deposit_at_bank_has_a_date"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_deposit")),
        sa.UniqueConstraint("number", name=op.f("uq_bank_deposit_number")),
    )
    op.create_index(op.f("ix_bank_deposit_status"), "bank_deposit", ["status"])


def _drawer_columns() -> None:
    op.add_column("cash_drawer", sa.Column("over_short_cents", sa.BigInteger(), nullable=True))
    op.add_column(
        "cash_drawer",
        sa.Column("awaiting_approval", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "cash_drawer", sa.Column("over_short_approved_by", sa.String(length=254), nullable=True)
    )
    if op.get_bind().dialect.name == "sqlite":
        # NOTE: SQLite adds a column with its CHECK or foreign key in place; a batch copy of
        # cash_drawer would fail on the payments that refer to it.
        op.execute(
            "ALTER TABLE cash_drawer ADD COLUMN deposit_cents BIGINT "
            "CONSTRAINT ck_cash_drawer_deposit_not_negative "
            "CHECK (deposit_cents IS NULL OR deposit_cents >= 0)"
        )
        op.execute(
            "ALTER TABLE cash_drawer ADD COLUMN bank_deposit_id INTEGER "
            "CONSTRAINT fk_cash_drawer_bank_deposit_id_bank_deposit "
            "REFERENCES bank_deposit (id)"
        )
    else:
        op.add_column("cash_drawer", sa.Column("deposit_cents", sa.BigInteger(), nullable=True))
        op.create_check_constraint(
            op.f("ck_cash_drawer_deposit_not_negative"),
            "cash_drawer",
            "deposit_cents IS NULL OR deposit_cents >= 0",
        )
        op.add_column("cash_drawer", sa.Column("bank_deposit_id", ID, nullable=True))
        op.create_foreign_key(
            op.f("fk_cash_drawer_bank_deposit_id_bank_deposit"),
            "cash_drawer",
            "bank_deposit",
            ["bank_deposit_id"],
            ["id"],
        )
    op.create_index(op.f("ix_cash_drawer_bank_deposit_id"), "cash_drawer", ["bank_deposit_id"])


def upgrade():
    _chart_up()
    _bank_deposit()
    _drawer_columns()


def downgrade():
    op.drop_index(op.f("ix_cash_drawer_bank_deposit_id"), table_name="cash_drawer")
    if op.get_bind().dialect.name == "sqlite":
        # NOTE: SQLite (3.35 and later) drops a plain column in place; one with a CHECK or a
        # foreign key needs the batch copy, with the payments' foreign key set aside.
        op.execute("PRAGMA foreign_keys = OFF")
        with op.batch_alter_table("cash_drawer") as batch:
            batch.drop_constraint(op.f("ck_cash_drawer_deposit_not_negative"), type_="check")
            batch.drop_column("bank_deposit_id")
            batch.drop_column("deposit_cents")
        op.execute("PRAGMA foreign_keys = ON")
    else:
        op.drop_constraint(
            op.f("fk_cash_drawer_bank_deposit_id_bank_deposit"), "cash_drawer", type_="foreignkey"
        )
        op.drop_column("cash_drawer", "bank_deposit_id")
        op.drop_column("cash_drawer", "deposit_cents")
    op.drop_column("cash_drawer", "over_short_approved_by")
    op.drop_column("cash_drawer", "awaiting_approval")
    op.drop_column("cash_drawer", "over_short_cents")
    op.drop_index(op.f("ix_bank_deposit_status"), table_name="bank_deposit")
    op.drop_table("bank_deposit")
    _chart_down()

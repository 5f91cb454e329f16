"""bank statements: GL 5400 Bank service charges, the statement and its lines, and
reconciliation items for statement lines nothing matched

Revision ID: e3c5a7b9d1f4
Revises: d2b4f6a8c0e3
Create Date: 2026-12-06 14:20:00.000000
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "e3c5a7b9d1f4"
down_revision = "d2b4f6a8c0e3"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NEW_CATEGORIES = ("bank_fees",)
NEW_ACCOUNTS = [("5400", "Bank service charges", "expense", "bank_fees")]
NEW_KINDS = ("bank_credit_unmatched", "bank_debit_unmatched")
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


def _kinds_now() -> tuple[str, ...]:
    """The reconciliation kinds the CHECK allows now (other revisions may have added some)."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        sql = bind.execute(
            sa.text(
                "SELECT sql FROM sqlite_master WHERE type = 'table' "
                "AND name = 'reconciliation_item'"
            )
        ).scalar_one()
        found = re.search(r"kind IN \(([^)]*)\)", sql)
        return tuple(re.findall(r"'([a-z_]+)'", found.group(1)))
    sql = bind.execute(
        sa.text(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conname = 'ck_reconciliation_item_reconciliation_kind'"
        )
    ).scalar_one()
    return tuple(re.findall(r"'([a-z_]+)'", sql))


def _allow_kinds(kinds: tuple[str, ...]) -> None:
    with op.batch_alter_table("reconciliation_item") as batch_op:
        batch_op.drop_constraint(op.f("ck_reconciliation_item_reconciliation_kind"), type_="check")
        batch_op.create_check_constraint("reconciliation_kind", sa.column("kind").in_(kinds))


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=24)


def _tables() -> None:
    op.create_table(
        "bank_statement",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("bank_account", sa.String(length=64), nullable=False),
        sa.Column("statement_date", sa.Date(), nullable=False),
        sa.Column("sequence", sa.String(length=32), nullable=False),
        sa.Column("format", _enum("statement_format", "bai2", "csv"), nullable=False),
        sa.Column("layout", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("opening_ledger_cents", sa.BigInteger(), nullable=False),
        sa.Column("closing_ledger_cents", sa.BigInteger(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("credit_cents", sa.BigInteger(), nullable=False),
        sa.Column("debit_cents", sa.BigInteger(), nullable=False),
        sa.Column("matched_count", sa.Integer(), nullable=False),
        sa.Column("fee_count", sa.Integer(), nullable=False),
        sa.Column("queued_count", sa.Integer(), nullable=False),
        sa.Column("imported_by", sa.String(length=254), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_statement")),
        sa.UniqueConstraint("sha256", name=op.f("uq_bank_statement_sha256")),
        sa.UniqueConstraint(
            "bank_account", "statement_date", "sequence", name="uq_bank_statement_day"
        ),
    )
    op.create_index(
        op.f("ix_bank_statement_statement_date"), "bank_statement", ["statement_date"]
    )
    op.create_table(
        "bank_statement_line",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("statement_id", ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("type_code", sa.String(length=3), nullable=False),
        sa.Column("bank_reference", sa.String(length=64), nullable=False),
        sa.Column("customer_reference", sa.String(length=64), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column(
            "status",
            _enum("statement_line_status", "matched", "fee_posted", "queued"),
            nullable=False,
        ),
        sa.Column(
            "matched_kind",
            _enum("statement_match_kind", "bank_deposit", "payout", "bank_fee"),
            nullable=True,
        ),
        sa.Column("matched_ref", sa.String(length=64), nullable=True),
        sa.Column("rule", sa.String(length=24), nullable=True),
        sa.CheckConstraint("amount_cents <> 0", name=op.f("ck_bank_statement_line_amount_not_zero")),
        sa.CheckConstraint(
            "(status = 'queued') = (matched_ref IS NULL)",
            name=op.f("ck_bank_statement_line_matched_names_its_item"),
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["bank_statement.id"],
            name=op.f("fk_bank_statement_line_statement_id_bank_statement"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_statement_line")),
        sa.UniqueConstraint("statement_id", "number", name="uq_bank_statement_line_number"),
        sa.UniqueConstraint("matched_kind", "matched_ref", name="uq_bank_statement_line_match"),
    )
    op.create_index(
        op.f("ix_bank_statement_line_statement_id"), "bank_statement_line", ["statement_id"]
    )


def upgrade():
    _chart_up()
    kinds = _kinds_now()
    _allow_kinds((*kinds, *(k for k in NEW_KINDS if k not in kinds)))
    _tables()


def downgrade():
    op.drop_index(op.f("ix_bank_statement_line_statement_id"), table_name="bank_statement_line")
    op.drop_table("bank_statement_line")
    op.drop_index(op.f("ix_bank_statement_statement_date"), table_name="bank_statement")
    op.drop_table("bank_statement")
    op.execute(
        sa.text(
            "DELETE FROM reconciliation_item "
            "WHERE kind IN ('bank_credit_unmatched', 'bank_debit_unmatched')"
        )
    )
    _allow_kinds(tuple(k for k in _kinds_now() if k not in NEW_KINDS))
    _chart_down()

"""convenience fees: GL 4530 Convenience fee revenue and 2050 Convenience fees payable, the
versioned fee rules, the fee quoted on each payment and the fee's share each refund gave back

Revision ID: d2b4f6a8c0e3
Revises: b2e4a6c8d0f3
Create Date: 2026-12-06 14:20:00.000000

"""

import re

import sqlalchemy as sa
from alembic import op

revision = "d2b4f6a8c0e3"
down_revision = "b2e4a6c8d0f3"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NEW_CATEGORIES = ("convenience_fee_revenue", "convenience_fees_payable")
NEW_ACCOUNTS = [
    # code, name, type, category
    ("4530", "Convenience fee revenue", "revenue", "convenience_fee_revenue"),
    ("2050", "Convenience fees payable", "liability", "convenience_fees_payable"),
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


def _enum(name: str, *values: str) -> sa.Enum:
    """A portable enum column type as core.db.enum_column makes it."""
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=24)


def _choices() -> list[sa.Column]:
    """The channel, method and the rule's choices a quote copies."""
    return [
        sa.Column("channel", _enum("fee_channel", "online", "counter"), nullable=False),
        sa.Column("method", _enum("fee_method", "card", "bank_account"), nullable=False),
    ]


def _rule_choices() -> list[sa.Column]:
    """How a fee is charged, posted and refunded."""
    return [
        sa.Column(
            "charge_as", _enum("fee_charge", "own_line", "separate_charge"), nullable=False
        ),
        sa.Column("account", _enum("fee_account", "revenue", "processor"), nullable=False),
        sa.Column(
            "refund",
            _enum("fee_refund", "with_full_refund", "pro_rata", "never"),
            nullable=False,
        ),
    ]


def _rules() -> None:
    op.create_table(
        "convenience_fee_rule",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        *_choices(),
        sa.Column(
            "kind", _enum("fee_kind", "none", "flat", "percentage", "tiered"), nullable=False
        ),
        sa.Column("flat_cents", sa.BigInteger(), nullable=False),
        sa.Column("percent", sa.Numeric(precision=6, scale=3), nullable=False),
        sa.Column("tiers", sa.JSON(), nullable=False),
        sa.Column("minimum_cents", sa.BigInteger(), nullable=False),
        sa.Column("cap_cents", sa.BigInteger(), nullable=True),
        sa.Column("bearer", _enum("fee_bearer", "payer", "town"), nullable=False),
        *_rule_choices(),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "flat_cents >= 0", name=op.f("ck_convenience_fee_rule_flat_not_negative")
        ),
        sa.CheckConstraint(
            "percent >= 0", name=op.f("ck_convenience_fee_rule_percent_not_negative")
        ),
        sa.CheckConstraint(
            "minimum_cents >= 0", name=op.f("ck_convenience_fee_rule_minimum_not_negative")
        ),
        sa.CheckConstraint(
            "cap_cents IS NULL OR cap_cents >= minimum_cents",
            name=op.f("ck_convenience_fee_rule_cap_not_below_minimum"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_convenience_fee_rule")),
    )
    op.create_index(
        "ix_convenience_fee_rule_channel_method", "convenience_fee_rule", ["channel", "method"]
    )


def _fees() -> None:
    op.create_table(
        "convenience_fee",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("payment_id", ID, nullable=False),
        sa.Column("rule_id", ID, nullable=True),
        *_choices(),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("quoted_at", sa.DateTime(timezone=True), nullable=False),
        *_rule_choices(),
        sa.Column("stripe_payment_intent_id", sa.String(length=255), nullable=True),
        sa.Column("posted_on", sa.Date(), nullable=True),
        sa.Column("refunded_cents", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "amount_cents >= 0", name=op.f("ck_convenience_fee_amount_not_negative")
        ),
        sa.CheckConstraint(
            "refunded_cents >= 0 AND refunded_cents <= amount_cents",
            name=op.f("ck_convenience_fee_refund_within_fee"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_convenience_fee_payment_id_payment")
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["convenience_fee_rule.id"],
            name=op.f("fk_convenience_fee_rule_id_convenience_fee_rule"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_convenience_fee")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_convenience_fee_payment_id")),
        sa.UniqueConstraint(
            "stripe_payment_intent_id", name=op.f("uq_convenience_fee_stripe_payment_intent_id")
        ),
    )


def _fee_refunds() -> None:
    op.create_table(
        "convenience_fee_refund",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("fee_id", ID, nullable=False),
        sa.Column("refund_id", ID, nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("stripe_refund_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "amount_cents > 0", name=op.f("ck_convenience_fee_refund_amount_positive")
        ),
        sa.ForeignKeyConstraint(
            ["fee_id"],
            ["convenience_fee.id"],
            name=op.f("fk_convenience_fee_refund_fee_id_convenience_fee"),
        ),
        sa.ForeignKeyConstraint(
            ["refund_id"], ["refund.id"], name=op.f("fk_convenience_fee_refund_refund_id_refund")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_convenience_fee_refund")),
        sa.UniqueConstraint("refund_id", name=op.f("uq_convenience_fee_refund_refund_id")),
        sa.UniqueConstraint(
            "stripe_refund_id", name=op.f("uq_convenience_fee_refund_stripe_refund_id")
        ),
    )
    op.create_index(
        op.f("ix_convenience_fee_refund_fee_id"), "convenience_fee_refund", ["fee_id"]
    )


def upgrade():
    _chart_up()
    _rules()
    _fees()
    _fee_refunds()


def downgrade():
    op.drop_index(op.f("ix_convenience_fee_refund_fee_id"), table_name="convenience_fee_refund")
    op.drop_table("convenience_fee_refund")
    op.drop_table("convenience_fee")
    op.drop_index("ix_convenience_fee_rule_channel_method", table_name="convenience_fee_rule")
    op.drop_table("convenience_fee_rule")
    _chart_down()

"""utility shutoff: the shutoff rules, medical certificates, the shutoff notices and the
shutoff notice kind

Revision ID: d9f1b3c5e7a0
Revises: c1a3e5f7b9d2
Create Date: 2026-12-06 15:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "d9f1b3c5e7a0"
down_revision = "c1a3e5f7b9d2"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OLD_KINDS = (
    "utility_bill",
    "tax_bill",
    "reminder",
    "past_due",
    "final",
    "receipt",
    "refund",
    "statement",
)
NEW_KINDS = (*OLD_KINDS, "shutoff")
#: (table, column, constraint) whose allowed values change.
CHECKS = [
    ("notice", "kind", "ck_notice_notice_kind"),
    ("notice_batch", "kind", "ck_notice_batch_notice_batch_kind"),
]


def _allow(table: str, column: str, name: str, old: tuple, new: tuple) -> None:
    """Let a column's CHECK take the new values instead of the old."""
    if op.get_bind().dialect.name == "sqlite":
        # NOTE: SQLite cannot alter a CHECK constraint, and notice is referenced by other
        # tables: the CHECK is edited in the schema text, as the bank-debit migration did.
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
    for table, column, name in CHECKS:
        _allow(table, column, name, OLD_KINDS, NEW_KINDS)
    op.create_table(
        "shutoff_rule",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("effective", sa.Date(), nullable=False),
        sa.Column("min_past_due_cents", sa.BigInteger(), nullable=False),
        sa.Column("min_days_past_due", sa.Integer(), nullable=False),
        sa.Column("notice_lead_days", sa.Integer(), nullable=False),
        sa.Column("moratoria", sa.JSON(), nullable=False),
        sa.Column("recorded_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "min_past_due_cents >= 0", name=op.f("ck_shutoff_rule_amount_not_negative")
        ),
        sa.CheckConstraint("min_days_past_due >= 0", name=op.f("ck_shutoff_rule_age_not_negative")),
        sa.CheckConstraint("notice_lead_days >= 0", name=op.f("ck_shutoff_rule_lead_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shutoff_rule")),
    )
    op.create_table(
        "medical_certificate",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("certified_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "ends_on >= starts_on", name=op.f("ck_medical_certificate_ends_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_medical_certificate_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medical_certificate")),
    )
    op.create_index(
        op.f("ix_medical_certificate_account_id"), "medical_certificate", ["account_id"]
    )
    op.create_table(
        "shutoff_notice",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("invoice_id", ID, nullable=False),
        sa.Column("notice_id", ID, nullable=False),
        sa.Column("occupant_notice_id", ID, nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("earliest_shutoff_on", sa.Date(), nullable=False),
        sa.Column("requested_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_shutoff_notice_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_shutoff_notice_invoice_id_invoice")
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_shutoff_notice_notice_id_notice")
        ),
        sa.ForeignKeyConstraint(
            ["occupant_notice_id"],
            ["notice.id"],
            name=op.f("fk_shutoff_notice_occupant_notice_id_notice"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shutoff_notice")),
        sa.UniqueConstraint(
            "account_id", "invoice_id", name=op.f("uq_shutoff_notice_delinquency")
        ),
    )
    for column in ("account_id", "invoice_id", "notice_id", "occupant_notice_id"):
        op.create_index(op.f(f"ix_shutoff_notice_{column}"), "shutoff_notice", [column])


def downgrade():
    for column in ("account_id", "invoice_id", "notice_id", "occupant_notice_id"):
        op.drop_index(op.f(f"ix_shutoff_notice_{column}"), table_name="shutoff_notice")
    op.drop_table("shutoff_notice")
    op.drop_index(op.f("ix_medical_certificate_account_id"), table_name="medical_certificate")
    op.drop_table("medical_certificate")
    op.drop_table("shutoff_rule")
    op.execute(sa.text("UPDATE notice SET copy_of_id = NULL WHERE kind = 'shutoff'"))
    op.execute(sa.text("DELETE FROM notice WHERE kind = 'shutoff'"))
    op.execute(sa.text("DELETE FROM notice_batch WHERE kind = 'shutoff'"))
    for table, column, name in reversed(CHECKS):
        _allow(table, column, name, NEW_KINDS, OLD_KINDS)

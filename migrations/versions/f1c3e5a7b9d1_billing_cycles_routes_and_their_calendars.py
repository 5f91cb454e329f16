"""billing cycles (routes, books) and their calendars; accounts and runs belong to a cycle

Every existing account goes on the default cycle MONTHLY (calendar months, as every run
billed before); every existing utility run is a run of that cycle.

Revision ID: f1c3e5a7b9d1
Revises: f3e5a7c9b1d6
Create Date: 2026-12-06 08:10:00.000000

"""

from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f1c3e5a7b9d1"
down_revision = "f3e5a7c9b1d6"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
FREQUENCY = sa.Enum(
    "monthly",
    "bimonthly",
    "quarterly",
    "semi_annual",
    "custom",
    name="cycle_frequency",
    native_enum=False,
    create_constraint=True,
    length=24,
)


@contextmanager
def _sqlite_table_rebuilds():
    """Let SQLite rebuild tables that rows of other tables point at (account, billing_run).

    NOTE: SQLite's documented procedure (sqlite.org/lang_altertable.html): foreign key checks
    can only be switched off outside a transaction, so what came before is committed, the
    checks are switched off, the tables are rebuilt, every reference is checked, the rebuild
    is committed and the checks are switched on again. PostgreSQL alters in place.
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        yield
        return
    raw = bind.connection.dbapi_connection
    if raw.in_transaction:
        raw.commit()
    bind.exec_driver_sql("PRAGMA foreign_keys = OFF")
    try:
        yield
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise RuntimeError(f"references broken by the rebuild: {broken[:5]}")
        if raw.in_transaction:
            raw.commit()
    finally:
        bind.exec_driver_sql("PRAGMA foreign_keys = ON")


def upgrade():
    cycle = op.create_table(
        "billing_cycle",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("frequency", FREQUENCY, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_cycle")),
        sa.UniqueConstraint("code", name=op.f("uq_billing_cycle_code")),
    )
    op.create_index(
        "uq_billing_cycle_one_default",
        "billing_cycle",
        ["is_default"],
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    )
    op.create_table(
        "cycle_period",
        sa.Column("id", ID, nullable=False),
        sa.Column("cycle_id", ID, nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("read_date", sa.Date(), nullable=False),
        sa.Column("bill_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.CheckConstraint("due_date >= bill_date", name=op.f("ck_cycle_period_due_after_bill")),
        sa.CheckConstraint(
            "period_end >= period_start", name=op.f("ck_cycle_period_period_in_order")
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["billing_cycle.id"],
            name=op.f("fk_cycle_period_cycle_id_billing_cycle"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cycle_period")),
        sa.UniqueConstraint(
            "cycle_id", "period_start", name=op.f("uq_cycle_period_cycle_id_period_start")
        ),
    )
    op.create_index(op.f("ix_cycle_period_cycle_id"), "cycle_period", ["cycle_id"])
    op.create_index(op.f("ix_cycle_period_bill_date"), "cycle_period", ["bill_date"])
    op.bulk_insert(
        cycle,
        [
            {
                "id": 1,
                "code": "MONTHLY",
                "name": "Monthly (calendar months)",
                "frequency": "monthly",
                "active": True,
                "is_default": True,
                "created_at": datetime(2026, 12, 6, tzinfo=UTC),
            }
        ],
    )
    with _sqlite_table_rebuilds():
        with op.batch_alter_table("account") as batch:
            batch.add_column(sa.Column("billing_cycle_id", ID, nullable=True))
            batch.create_index(op.f("ix_account_billing_cycle_id"), ["billing_cycle_id"])
            batch.create_foreign_key(
                op.f("fk_account_billing_cycle_id_billing_cycle"),
                "billing_cycle",
                ["billing_cycle_id"],
                ["id"],
            )
        with op.batch_alter_table("billing_run") as batch:
            batch.alter_column(
                "cycle", existing_type=sa.String(length=16), type_=sa.String(length=40)
            )
            batch.add_column(sa.Column("billing_cycle_id", ID, nullable=True))
            batch.add_column(sa.Column("cycle_period_id", ID, nullable=True))
            batch.create_index(op.f("ix_billing_run_billing_cycle_id"), ["billing_cycle_id"])
            batch.create_foreign_key(
                op.f("fk_billing_run_billing_cycle_id_billing_cycle"),
                "billing_cycle",
                ["billing_cycle_id"],
                ["id"],
            )
            batch.create_foreign_key(
                op.f("fk_billing_run_cycle_period_id_cycle_period"),
                "cycle_period",
                ["cycle_period_id"],
                ["id"],
            )
            batch.create_unique_constraint(
                op.f("uq_billing_run_cycle_period_id"), ["cycle_period_id"]
            )
    op.execute("UPDATE account SET billing_cycle_id = 1")
    op.execute("UPDATE billing_run SET billing_cycle_id = 1 WHERE kind = 'utility'")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('billing_cycle', 'id'), "
            "(SELECT max(id) FROM billing_cycle))"
        )


def downgrade():
    with _sqlite_table_rebuilds():
        with op.batch_alter_table("billing_run") as batch:
            batch.drop_constraint(op.f("uq_billing_run_cycle_period_id"), type_="unique")
            batch.drop_constraint(
                op.f("fk_billing_run_cycle_period_id_cycle_period"), type_="foreignkey"
            )
            batch.drop_constraint(
                op.f("fk_billing_run_billing_cycle_id_billing_cycle"), type_="foreignkey"
            )
            batch.drop_index(op.f("ix_billing_run_billing_cycle_id"))
            batch.drop_column("cycle_period_id")
            batch.drop_column("billing_cycle_id")
            batch.alter_column(
                "cycle", existing_type=sa.String(length=40), type_=sa.String(length=16)
            )
        with op.batch_alter_table("account") as batch:
            batch.drop_constraint(
                op.f("fk_account_billing_cycle_id_billing_cycle"), type_="foreignkey"
            )
            batch.drop_index(op.f("ix_account_billing_cycle_id"))
            batch.drop_column("billing_cycle_id")
    op.drop_index(op.f("ix_cycle_period_bill_date"), table_name="cycle_period")
    op.drop_index(op.f("ix_cycle_period_cycle_id"), table_name="cycle_period")
    op.drop_table("cycle_period")
    op.drop_index("uq_billing_cycle_one_default", table_name="billing_cycle")
    op.drop_table("billing_cycle")

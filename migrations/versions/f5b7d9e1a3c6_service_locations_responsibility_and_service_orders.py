"""service locations with owner and occupant, each location's responsible account by day,
service orders (start, stop, transfer), final bills and balance transfers

Revision ID: f5b7d9e1a3c6
Revises: f7d9f1b3c5e8
Create Date: 2026-12-06 08:40:00.000000

Existing data stays valid: one location per distinct service address of an account, owned by
that account, which is responsible for it from its earliest installed_on.
"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "f5b7d9e1a3c6"
down_revision = "f7d9f1b3c5e8"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _enum(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=24)


def _tables():
    op.create_table(
        "service_location",
        sa.Column("id", ID, nullable=False),
        sa.Column("street", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("zip", sa.String(length=10), nullable=False),
        sa.Column("owner_account_id", ID, nullable=False),
        sa.Column("occupant_name", sa.String(length=200), nullable=True),
        sa.Column(
            "bill_to", _enum("location_bill_to", "occupant", "owner", "owner_copied"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_account_id"],
            ["account.id"],
            name=op.f("fk_service_location_owner_account_id_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_location")),
    )
    op.create_index(
        op.f("ix_service_location_owner_account_id"), "service_location", ["owner_account_id"]
    )
    op.create_table(
        "location_responsibility",
        sa.Column("id", ID, nullable=False),
        sa.Column("location_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "ends_on IS NULL OR ends_on >= starts_on",
            name=op.f("ck_location_responsibility_ends_after_start"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["service_location.id"],
            name=op.f("fk_location_responsibility_location_id_service_location"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_location_responsibility_account_id_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location_responsibility")),
        sa.UniqueConstraint(
            "location_id",
            "starts_on",
            name=op.f("uq_location_responsibility_location_id_starts_on"),
        ),
    )
    op.create_index(
        op.f("ix_location_responsibility_location_id"), "location_responsibility", ["location_id"]
    )
    op.create_index(
        op.f("ix_location_responsibility_account_id"), "location_responsibility", ["account_id"]
    )


def _orders():
    op.create_table(
        "service_order",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", _enum("service_order_kind", "start", "stop", "transfer"), nullable=False),
        sa.Column(
            "status",
            _enum("service_order_status", "requested", "confirmed", "refused"),
            nullable=False,
        ),
        sa.Column("location_id", ID, nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("account_id", ID, nullable=True),
        sa.Column("new_location_id", ID, nullable=True),
        sa.Column("new_account_id", ID, nullable=True),
        sa.Column("holder_name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("reading", sa.BigInteger(), nullable=True),
        sa.Column("reading_estimated", sa.Boolean(), nullable=False),
        sa.Column("forward_street", sa.String(length=200), nullable=True),
        sa.Column("forward_city", sa.String(length=100), nullable=True),
        sa.Column("forward_state", sa.String(length=2), nullable=True),
        sa.Column("forward_zip", sa.String(length=10), nullable=True),
        sa.Column("final_invoice_id", ID, nullable=True),
        sa.Column("requested_by", sa.String(length=254), nullable=False),
        sa.Column("decided_by", sa.String(length=254), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refusal_reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reading IS NULL OR reading >= 0", name=op.f("ck_service_order_reading_not_negative")
        ),
        sa.CheckConstraint(
            "kind <> 'transfer' OR new_location_id IS NOT NULL",
            name=op.f("ck_service_order_transfer_has_a_destination"),
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["service_location.id"],
            name=op.f("fk_service_order_location_id_service_location"),
        ),
        sa.ForeignKeyConstraint(
            ["new_location_id"],
            ["service_location.id"],
            name=op.f("fk_service_order_new_location_id_service_location"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_service_order_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["new_account_id"], ["account.id"], name=op.f("fk_service_order_new_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["final_invoice_id"],
            ["invoice.id"],
            name=op.f("fk_service_order_final_invoice_id_invoice"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_order")),
        sa.UniqueConstraint("final_invoice_id", name=op.f("uq_service_order_final_invoice_id")),
    )
    op.create_index(op.f("ix_service_order_status"), "service_order", ["status"])
    op.create_index(op.f("ix_service_order_location_id"), "service_order", ["location_id"])
    op.create_index(op.f("ix_service_order_account_id"), "service_order", ["account_id"])
    op.create_table(
        "balance_transfer",
        sa.Column("id", ID, nullable=False),
        sa.Column("from_account_id", ID, nullable=False),
        sa.Column("to_account_id", ID, nullable=False),
        sa.Column("from_invoice_id", ID, nullable=False),
        sa.Column("to_invoice_id", ID, nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("transferred_on", sa.Date(), nullable=False),
        sa.Column("transferred_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_balance_transfer_amount_positive")),
        sa.CheckConstraint(
            "from_account_id <> to_account_id",
            name=op.f("ck_balance_transfer_between_two_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["from_account_id"],
            ["account.id"],
            name=op.f("fk_balance_transfer_from_account_id_account"),
        ),
        sa.ForeignKeyConstraint(
            ["to_account_id"], ["account.id"], name=op.f("fk_balance_transfer_to_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["from_invoice_id"],
            ["invoice.id"],
            name=op.f("fk_balance_transfer_from_invoice_id_invoice"),
        ),
        sa.ForeignKeyConstraint(
            ["to_invoice_id"], ["invoice.id"], name=op.f("fk_balance_transfer_to_invoice_id_invoice")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_balance_transfer")),
        sa.UniqueConstraint("from_invoice_id", name=op.f("uq_balance_transfer_from_invoice_id")),
        sa.UniqueConstraint("to_invoice_id", name=op.f("uq_balance_transfer_to_invoice_id")),
    )
    op.create_index(
        op.f("ix_balance_transfer_from_account_id"), "balance_transfer", ["from_account_id"]
    )
    op.create_index(op.f("ix_balance_transfer_to_account_id"), "balance_transfer", ["to_account_id"])


def _existing_points():
    """One location per distinct service address of an account, responsible from its earliest
    installation; every point joins its location."""
    connection = op.get_bind()
    point = sa.table(
        "service_point",
        sa.column("id"),
        sa.column("account_id"),
        sa.column("service_street"),
        sa.column("service_city"),
        sa.column("service_zip"),
        sa.column("installed_on"),
        sa.column("location_id"),
    )
    location = sa.table(
        "service_location",
        sa.column("id"),
        sa.column("street"),
        sa.column("city"),
        sa.column("zip"),
        sa.column("owner_account_id"),
        sa.column("bill_to"),
        sa.column("created_at"),
    )
    responsibility = sa.table(
        "location_responsibility",
        sa.column("location_id"),
        sa.column("account_id"),
        sa.column("starts_on"),
    )
    places = connection.execute(
        sa.select(
            point.c.account_id,
            point.c.service_street,
            point.c.service_city,
            point.c.service_zip,
            sa.func.min(point.c.installed_on),
        )
        .group_by(
            point.c.account_id, point.c.service_street, point.c.service_city, point.c.service_zip
        )
        .order_by(point.c.account_id, point.c.service_street)
    ).all()
    for account_id, street, city, zip_code, first in places:
        location_id = connection.execute(
            location.insert()
            .values(
                street=street,
                city=city,
                zip=zip_code,
                owner_account_id=account_id,
                bill_to="occupant",
                created_at=sa.func.current_timestamp(),
            )
            .returning(location.c.id)
        ).scalar_one()
        connection.execute(
            responsibility.insert().values(
                location_id=location_id, account_id=account_id, starts_on=first
            )
        )
        connection.execute(
            point.update()
            .where(
                point.c.account_id == account_id,
                point.c.service_street == street,
                point.c.service_city == city,
                point.c.service_zip == zip_code,
            )
            .values(location_id=location_id)
        )


def upgrade():
    _tables()
    if op.get_bind().dialect.name == "sqlite":
        # NOTE: SQLite adds a column with its foreign key in place; a batch copy of
        # service_point would fail on the readings that refer to it.
        op.execute(
            "ALTER TABLE service_point ADD COLUMN location_id INTEGER "
            "CONSTRAINT fk_service_point_location_id_service_location "
            "REFERENCES service_location (id)"
        )
    else:
        op.add_column("service_point", sa.Column("location_id", ID, nullable=True))
        op.create_foreign_key(
            op.f("fk_service_point_location_id_service_location"),
            "service_point",
            "service_location",
            ["location_id"],
            ["id"],
        )
    op.create_index(op.f("ix_service_point_location_id"), "service_point", ["location_id"])
    _orders()
    op.add_column(
        "invoice", sa.Column("is_final", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    _existing_points()


def downgrade():
    # NOTE: SQLite (3.35 and later) drops a plain column in place.
    op.drop_column("invoice", "is_final")
    op.drop_index(op.f("ix_balance_transfer_to_account_id"), table_name="balance_transfer")
    op.drop_index(op.f("ix_balance_transfer_from_account_id"), table_name="balance_transfer")
    op.drop_table("balance_transfer")
    op.drop_index(op.f("ix_service_order_account_id"), table_name="service_order")
    op.drop_index(op.f("ix_service_order_location_id"), table_name="service_order")
    op.drop_index(op.f("ix_service_order_status"), table_name="service_order")
    op.drop_table("service_order")
    op.drop_index(op.f("ix_service_point_location_id"), table_name="service_point")
    if op.get_bind().dialect.name == "sqlite":
        # A column with a foreign key needs a batch copy of service_point, which the readings'
        # foreign key would refuse; the copy keeps every row and id. (Alembic runs SQLite's
        # DDL outside a transaction, so the pragma takes effect.)
        op.execute("PRAGMA foreign_keys = OFF")
        with op.batch_alter_table("service_point") as batch:
            batch.drop_column("location_id")
        op.execute("PRAGMA foreign_keys = ON")
    else:
        op.drop_constraint(
            op.f("fk_service_point_location_id_service_location"),
            "service_point",
            type_="foreignkey",
        )
        op.drop_column("service_point", "location_id")
    op.drop_index(
        op.f("ix_location_responsibility_account_id"), table_name="location_responsibility"
    )
    op.drop_index(
        op.f("ix_location_responsibility_location_id"), table_name="location_responsibility"
    )
    op.drop_table("location_responsibility")
    op.drop_index(op.f("ix_service_location_owner_account_id"), table_name="service_location")
    op.drop_table("service_location")

"""the clerks' account search at county scale: on PostgreSQL, pg_trgm GIN indexes on the
lower() of every column a word is looked for anywhere in, and pattern b-trees on the
columns a word must begin (nothing on SQLite)

Revision ID: 383bdffc3061
Revises: 90691ed2574e
Create Date: 2026-12-06 20:50:00

"""

from alembic import op

revision = "383bdffc3061"
down_revision = "90691ed2574e"
branch_labels = None
depends_on = None

#: (index, table, expression, operator class): exactly the expressions accounts/search.py
#: writes, so that the planner can match them. gin_trgm_ops serves LIKE '%word%' (a GIN
#: index); varchar_pattern_ops serves LIKE 'word%' whatever the database's collation.
INDEXES = (
    ("ix_account_former_number_trgm", "account", "lower(former_number)", "gin_trgm_ops"),
    ("ix_account_holder_name_trgm", "account", "lower(holder_name)", "gin_trgm_ops"),
    ("ix_account_email_trgm", "account", "lower(email)", "gin_trgm_ops"),
    ("ix_account_mail_street_trgm", "account", "lower(mail_street)", "gin_trgm_ops"),
    ("ix_account_mail_city_trgm", "account", "lower(mail_city)", "gin_trgm_ops"),
    ("ix_account_number_prefix", "account", "number", "varchar_pattern_ops"),
    ("ix_account_mail_zip_prefix", "account", "mail_zip", "varchar_pattern_ops"),
    ("ix_service_point_street_trgm", "service_point", "lower(service_street)", "gin_trgm_ops"),
    ("ix_service_point_zip_prefix", "service_point", "service_zip", "varchar_pattern_ops"),
    ("ix_parcel_parcel_number_trgm", "parcel", "lower(parcel_number)", "gin_trgm_ops"),
)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    # NOTE: the extension stays on a downgrade: other schemas of the database may use it.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, expression, opclass in INDEXES:
        method = "gin" if opclass == "gin_trgm_ops" else "btree"
        op.execute(f"CREATE INDEX {name} ON {table} USING {method} (({expression}) {opclass})")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _table, _expression, _opclass in INDEXES:
        op.execute(f"DROP INDEX {name}")

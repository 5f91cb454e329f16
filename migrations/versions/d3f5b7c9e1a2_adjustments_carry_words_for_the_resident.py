"""adjustments carry words for the resident, apart from the staff's reason: credit memos,
refunds, waivers, voids and the approval requests that make them

Revision ID: d3f5b7c9e1a2
Revises: c2e4a6b8d0f1
Create Date: 2026-12-06 03:20:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "d3f5b7c9e1a2"
down_revision = "c2e4a6b8d0f1"
branch_labels = None
depends_on = None

COLUMNS = [
    ("credit_memo", "resident_text"),
    ("refund", "resident_text"),
    ("approval_request", "resident_text"),
    ("invoice_charge", "waiver_text"),
    ("invoice", "void_text"),
]


def upgrade():
    for table, column in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(column, sa.String(length=200), nullable=True))


def downgrade():
    for table, column in reversed(COLUMNS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(column)

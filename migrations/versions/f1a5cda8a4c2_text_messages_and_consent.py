"""text messages: residents' consent to texts and the texts sent

Revision ID: f1a5cda8a4c2
Revises: 13d7a4ec630b
Create Date: 2026-12-06 17:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "f1a5cda8a4c2"
down_revision = "13d7a4ec630b"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MESSAGE_INDEXED = ("account_id", "notice_id", "consent_id", "send_after")


def upgrade():
    op.create_table(
        "text_consent",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("wording_version", sa.String(length=32), nullable=False),
        sa.Column("wording", sa.Text(), nullable=False),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("given_via", sa.String(length=16), nullable=False),
        sa.Column("given_by", sa.String(length=254), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_via", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_text_consent_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_text_consent")),
    )
    op.create_index(op.f("ix_text_consent_account_id"), "text_consent", ["account_id"])
    op.create_index(op.f("ix_text_consent_phone"), "text_consent", ["phone"])
    op.create_table(
        "text_message",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("notice_id", ID, nullable=True),
        sa.Column("consent_id", ID, nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("to_number", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("provider_sid", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.String(length=255), nullable=True),
        sa.Column("send_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_text_message_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notice.id"], name=op.f("fk_text_message_notice_id_notice")
        ),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["text_consent.id"],
            name=op.f("fk_text_message_consent_id_text_consent"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_text_message")),
        sa.UniqueConstraint("provider_sid", name=op.f("uq_text_message_provider_sid")),
        sa.UniqueConstraint("account_id", "notice_id", name=op.f("uq_text_message_notice")),
    )
    for column in MESSAGE_INDEXED:
        op.create_index(op.f(f"ix_text_message_{column}"), "text_message", [column])


def downgrade():
    for column in MESSAGE_INDEXED:
        op.drop_index(op.f(f"ix_text_message_{column}"), table_name="text_message")
    op.drop_table("text_message")
    op.drop_index(op.f("ix_text_consent_phone"), table_name="text_consent")
    op.drop_index(op.f("ix_text_consent_account_id"), table_name="text_consent")
    op.drop_table("text_consent")

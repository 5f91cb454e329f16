"""The declarative base, its naming convention and shared column types."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: Primary keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
intpk = Annotated[int, mapped_column(ID_TYPE, primary_key=True)]
#: The largest id a row can have (BIGINT); a larger one in a URL is simply not found.
MAX_ID = 2**63 - 1


def get_by_id(session, model, row_id: int):
    """The row with this id, or None; an id no row can have is not sent to the database."""
    return session.get(model, row_id) if 0 < row_id <= MAX_ID else None


def among(session: Session, column, ids) -> sa.ColumnElement[bool]:
    """`column IN ids`, sent as one array parameter on PostgreSQL.

    NOTE: a list of thousands of ids (a lockbox file's accounts) is thousands of
    parameters that the driver rewrites in Python and the server plans one by one;
    `= ANY(array)` is one parameter. SQLite keeps the IN list.
    """
    ids = list(ids)
    if session.get_bind().dialect.name == "postgresql":
        # NOTE: an expression of an untyped function (upper(...)) compares text.
        kind = sa.String() if isinstance(column.type, sa.types.NullType) else column.type
        return column == sa.any_(sa.bindparam(None, ids, type_=postgresql.ARRAY(kind)))
    return column.in_(ids)


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored in UTC and always read back as an aware UTC datetime.

    SQLite keeps no time zone and PostgreSQL returns the session's zone; this
    type gives both the same value, which the ledger's hash chain relies on.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        """Refuse naive datetimes and store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_column(enum_cls, name: str, **kwargs) -> sa.Enum:
    """A portable enum stored as its string values with a named CHECK constraint."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        length=24,
        values_callable=lambda cls: [member.value for member in cls],
        **kwargs,
    )


class Base(DeclarativeBase):
    """Base class of every model: one metadata with the naming convention."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class AppendOnly:
    """Marks a model whose rows are never updated or deleted (ledger, audit log)."""


class AppendOnlyViolation(RuntimeError):
    """Code tried to change or remove an append-only row."""


@sa.event.listens_for(Session, "before_flush")
def _refuse_changes_to_append_only(session: Session, _context, _instances) -> None:
    """Refuse to flush an update or delete of an AppendOnly row."""
    for obj in session.deleted:
        if isinstance(obj, AppendOnly):
            raise AppendOnlyViolation(f"{type(obj).__name__} rows are never deleted")
    for obj in session.dirty:
        if isinstance(obj, AppendOnly) and session.is_modified(obj, include_collections=False):
            raise AppendOnlyViolation(f"{type(obj).__name__} rows are never changed")


class CreatedAtMixin:
    """Adds a created_at timestamp set on insert."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)


def insert_or_nothing(session: Session, model, *, unique: list[str]):
    """An INSERT into model that does nothing where a row with the same unique columns exists.

    On PostgreSQL a second insert of the same key waits for the first transaction and then
    does nothing, where a look-then-insert would fail with a unique violation.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(model).on_conflict_do_nothing(index_elements=unique)


def bulk_insert(session: Session, table: sa.Table, rows: list[dict]) -> None:
    """Insert many rows in the session's transaction: COPY on PostgreSQL, executemany elsewhere.

    Every row must carry the same keys and already hold what the column stores
    (aware datetimes, Decimals); enum members are sent as their values.
    """
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        _executemany(connection, table, rows)
        return
    import psycopg
    from psycopg.types.json import Json

    columns = [column.name for column in table.columns if column.name in rows[0]]
    enums = [i for i, name in enumerate(columns) if isinstance(rows[0][name], enum.Enum)]
    jsons = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, sa.JSON)]
    quoted = ", ".join(f'"{name}"' for name in columns)
    raw = connection.connection.driver_connection
    statement = f'COPY "{table.name}" ({quoted}) FROM STDIN'
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                values = [row[name] for name in columns]
                for i in enums:
                    values[i] = values[i].value
                for i in jsons:
                    values[i] = Json(values[i])
                copy.write_row(values)
    except psycopg.Error as error:
        # The driver raised past SQLAlchemy: drop a connection the server cut (as SQLAlchemy
        # does for its own statements) and raise what SQLAlchemy would have raised, so that
        # a lost database is a 503 and a refused row a 409, like any other statement's.
        if raw.closed:
            connection.invalidate(error)
        raise sa.exc.DBAPIError.instance(statement, None, error, psycopg.Error) from error


def _executemany(connection: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """One driver-level executemany, each value passed through its column type once."""
    dialect = connection.dialect
    if dialect.paramstyle != "qmark":
        connection.execute(table.insert(), rows)
        return
    columns = [column for column in table.columns if column.name in rows[0]]
    names = [column.name for column in columns]
    processors = [
        (i, column.type.dialect_impl(dialect).bind_processor(dialect))
        for i, column in enumerate(columns)
    ]
    processors = [(i, process) for i, process in processors if process is not None]
    placeholders = ", ".join("?" for _ in names)
    quoted = ", ".join(f'"{name}"' for name in names)
    data = []
    for row in rows:
        values = [row[name] for name in names]
        for i, process in processors:
            values[i] = process(values[i])
        data.append(tuple(values))
    connection.exec_driver_sql(
        f'INSERT INTO "{table.name}" ({quoted}) VALUES ({placeholders})',  # noqa: S608 - names from the model
        data,
    )

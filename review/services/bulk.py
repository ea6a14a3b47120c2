"""Bulk insert: many rows into one table in each engine's fastest way, conflicts skipped.

PostgreSQL: a few rows as one bound JSON document, many through COPY (straight into the table
when they are known to be new, else through a temporary staging table and one INSERT ... SELECT
... ON CONFLICT DO NOTHING RETURNING). SQLite: one DBAPI executemany, and the new rows read back
by id range, which is exact only because every write transaction holds SQLite's write lock from
its BEGIN (BEGIN IMMEDIATE, see review._tune_sqlite; pinned by tests/services/test_bulk.py).
Values go through each column's type once, in Python, not through SQLAlchemy's per-row
parameter processing, which cost more than the insert itself.
"""

import itertools
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.base import UTCDateTime


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_JSON = json.JSONEncoder(ensure_ascii=False, check_circular=False, default=_json_default)


def insert_rows(
    session: Session,
    table: sa.Table,
    rows: list[dict[str, Any]],
    conflict: str | None = None,
    returning: Sequence[str] = (),
    expect_new: bool = False,
) -> list[Any]:
    """Insert rows in each engine's fastest way; skip conflicts on a unique column.

    Returns the `returning` columns of the rows stored (not of those skipped). On PostgreSQL
    a few rows (a flag posted as it happens) go in as one JSON document (see
    _insert_few_rows_postgres), many rows through COPY: straight into the table when there
    is no conflict to skip and nothing to return, or the caller has checked they are new (see
    _copy_new_rows_postgres), else through a staging table (see _insert_rows_postgres).
    SQLite gets one executemany (see _insert_rows_sqlite).
    """
    if not rows:
        return []
    if session.get_bind().dialect.name != "postgresql":
        return _insert_rows_sqlite(session, table, rows, conflict, returning)
    if len(rows) < POSTGRES_COPY_ROWS:
        return _insert_few_rows_postgres(session, table, rows, conflict, returning)
    if not conflict and not returning:  # (a new item's predictions)
        _copy_rows_postgres(session.connection(), table, rows, table.name)
        return []
    if expect_new:
        stored = _copy_new_rows_postgres(session, table, rows, returning)
        if stored is not None:
            return stored
    return _insert_rows_postgres(session, table, rows, conflict, returning)


# From this many rows on, COPY through a temporary table beats one JSON document (which costs
# the server a second parse of every value) despite the table's creation: a single-flag batch
# took 5.6 ms that way against 3.0 ms as a document.
POSTGRES_COPY_ROWS = 100


def _insert_few_rows_postgres(
    session: Session,
    table: sa.Table,
    rows: list[dict[str, Any]],
    conflict: str | None,
    returning: Sequence[str],
) -> list[Any]:
    """INSERT ... SELECT FROM json_to_recordset(the rows as one bound JSON document).

    One statement whatever the row count: a multi-row VALUES statement would make psycopg
    re-parse thousands of placeholders and escape array literals in Python.
    """
    dialect = session.get_bind().dialect
    shape = ", ".join(f"{name} {table.c[name].type.compile(dialect=dialect)}" for name in rows[0])
    # The values travel as one bound document.
    source = f"json_to_recordset(CAST(:rows AS json)) AS r({shape})"
    sql = _insert_from(table, list(rows[0]), source, conflict, returning)
    result = session.execute(sa.text(sql), {"rows": _JSON.encode(rows)})
    return [tuple(row) for row in result] if returning else []


def _insert_from(
    table: sa.Table, names: list[str], source: str, conflict: str | None, returning: Sequence[str]
) -> str:
    """Return INSERT INTO table SELECT names FROM source, skipping conflicts in key order."""
    columns = ", ".join(names)
    # Names come from the model, never from input.
    sql = f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {source}"  # noqa: S608
    if conflict:
        # The fixed lock order that keeps overlapping imports from deadlocking.
        sql += f" ORDER BY {conflict} ON CONFLICT ({conflict}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    return sql


_stages = itertools.count()


def _insert_rows_postgres(
    session: Session,
    table: sa.Table,
    rows: list[dict[str, Any]],
    conflict: str | None,
    returning: Sequence[str],
) -> list[Any]:
    """COPY rows into a temporary table dropped at commit, then INSERT ... SELECT them.

    COPY is the cheapest way into PostgreSQL, but it can neither skip conflicts nor return
    ids; the INSERT from the staging table does both. A multi-row VALUES statement or a JSON
    document of rows cost the server several times more.
    """
    columns = ", ".join(rows[0])
    stage = f"flagq_stage_{next(_stages)}"
    connection = session.connection()
    # Names come from the model, never from input.
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS "  # noqa: S608
        f"SELECT {columns} FROM {table.name} WITH NO DATA"
    )
    _copy_rows_postgres(connection, table, rows, stage)
    result = connection.exec_driver_sql(
        _insert_from(table, list(rows[0]), stage, conflict, returning)
    )
    return [tuple(row) for row in result] if returning else []


def _copy_new_rows_postgres(
    session: Session, table: sa.Table, rows: list[dict[str, Any]], returning: Sequence[str]
) -> list[Any] | None:
    """COPY rows straight into table, or return None if one of them exists after all.

    For rows the caller has looked up and found new: half the server's work of the staging
    path. Ids, when asked for, are drawn from the table's sequence beforehand, since COPY
    returns nothing. Another import may store one of the rows between the look-up and the
    COPY; its unique violation rolls back to a savepoint, and the caller takes the path that
    skips conflicts. The rows are in key order, the order every import locks keys in.
    """
    connection = session.connection()
    if "id" in returning:
        ids = connection.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence(%(table)s, 'id')) "
            "FROM generate_series(1, %(count)s)",
            {"table": table.name, "count": len(rows)},
        ).scalars()
        rows = [{"id": item_id, **row} for item_id, row in zip(ids, rows, strict=True)]
    # A savepoint of the connection, not the session: the session's is emitted lazily.
    savepoint = connection.begin_nested()
    try:
        _copy_rows_postgres(connection, table, rows, table.name)
    except psycopg.errors.UniqueViolation:
        savepoint.rollback()
        return None
    savepoint.commit()
    return [tuple(row[name] for name in returning) for row in rows]


def _copy_rows_postgres(
    connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], target: str
) -> None:
    """COPY rows (of table's columns) into target."""
    driver = connection.connection.driver_connection
    assert driver is not None
    # Names come from the model, never from input; the values travel through COPY.
    columns = ", ".join(rows[0])
    with driver.cursor() as cursor, cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
        for values in _encoded(table, rows, connection.dialect):
            copy.write_row(values)


def _encoded(
    table: sa.Table, rows: list[dict[str, Any]], dialect: sa.Dialect
) -> Iterator[tuple[Any, ...]]:
    """Yield each row's values (in its keys' order) as the driver takes them for table."""
    names = list(rows[0])
    encoders = [_encoder(table.c[name], dialect) for name in names]
    for row in rows:
        yield tuple(
            value if encode is None else encode(value)
            for value, encode in zip((row[name] for name in names), encoders, strict=True)
        )


def _encoder(column: sa.Column[Any], dialect: sa.Dialect) -> Any:
    """Return the function that turns a value into what the driver takes for column (or None).

    JSON goes through this module's encoder (no ASCII escapes, no cycle check), and a time is
    converted once however many rows repeat it (a batch's rows share their "now").
    """
    if isinstance(column.type, sa.JSON):
        return _JSON.encode
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if process is None or not isinstance(column.type, UTCDateTime):
        return process
    last: list[Any] = [None, None]  # the last value in, and what it became

    def convert(value: Any) -> Any:
        if value is not last[0]:
            last[:] = [value, process(value)]
        return last[1]

    return convert


def _insert_rows_sqlite(
    session: Session,
    table: sa.Table,
    rows: list[dict[str, Any]],
    conflict: str | None,
    returning: Sequence[str],
) -> list[Any]:
    """Insert rows with one DBAPI executemany, each value put through its column's type once.

    SQLAlchemy's own executemany re-processes every row's parameters in Python, which cost
    more than the insert. SQLite cannot RETURN from an executemany, so with `returning` the
    rows stored are read back as those above the highest id before the insert. That is exact
    because every transaction of the app on SQLite holds the write lock from its BEGIN (BEGIN
    IMMEDIATE, see review._tune_sqlite), so no other writer adds rows in between, and SQLite gives
    a new row the highest id plus one (it picks another only once an id reaches 2**63 - 1).
    """
    names = list(rows[0])
    values = list(_encoded(table, rows, session.get_bind().dialect))
    # Names come from the model, never from input.
    sql = (
        f"INSERT INTO {table.name} ({', '.join(names)}) "  # noqa: S608
        f"VALUES ({', '.join('?' * len(names))})"
    )
    if conflict:
        sql += f" ON CONFLICT ({conflict}) DO NOTHING"
    connection = session.connection()
    if not returning:
        connection.exec_driver_sql(sql, values)
        return []
    highest = connection.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0)))
    connection.exec_driver_sql(sql, values)
    stored = sa.select(*(table.c[name] for name in returning)).where(table.c.id > highest)
    return [tuple(row) for row in connection.execute(stored.order_by(table.c.id))]

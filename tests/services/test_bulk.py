"""Bulk insert: each engine's fastest way, and the SQLite write lock its read-back relies on."""

import sqlite3

import pytest
import sqlalchemy as sa

from models import Flag
from review.extensions import db
from review.services import bulk

from factories import T0, make_item


def _flag_rows(item_id: int, numbers: range) -> list[dict]:
    # A bulk insert applies no column defaults: every value is given.
    return [
        {
            "item_id": item_id,
            "reason": f"r{n}",
            "flagged_at": T0,
            "source": "test",
            "fingerprint": f"fp{n:05d}",
            "created_at": T0,
        }
        for n in numbers
    ]


# A few rows and many: on PostgreSQL one JSON document, then COPY (straight, then staged).
@pytest.mark.parametrize("count", [3, 300])
def test_insert_rows_skips_conflicts_and_returns_only_what_it_stored(session, count) -> None:
    item = make_item(session)
    first = bulk.insert_rows(session, Flag.__table__, _flag_rows(item.id, range(count)))
    assert first == []  # nothing asked back
    again = bulk.insert_rows(
        session,
        Flag.__table__,
        _flag_rows(item.id, range(count // 2, count + 2)),
        "fingerprint",
        ["fingerprint"],
    )
    assert sorted(again) == [(f"fp{count:05d}",), (f"fp{count + 1:05d}",)]
    stored = session.scalars(sa.select(Flag.fingerprint).where(Flag.item_id == item.id))
    assert len(set(stored)) == count + 3  # make_item's flag, and each row once


def test_a_write_transaction_holds_sqlites_write_lock_from_its_start(app, engine_name) -> None:
    # bulk's SQLite read-back takes the rows above the highest id it read before its insert:
    # exact only if no other writer can add rows in between, i.e. if the transaction held the
    # write lock from its first statement, a read (review._tune_sqlite's BEGIN IMMEDIATE).
    if engine_name != "sqlite":
        pytest.skip("SQLite only: PostgreSQL's inserts take row locks, not the database's")
    other = sqlite3.connect(db.engine.url.database, timeout=0, isolation_level=None)
    try:
        db.session.execute(sa.select(sa.func.max(Flag.id)))  # a read, and nothing more yet
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        db.session.rollback()
        other.execute("BEGIN IMMEDIATE")  # free again once the transaction ended
        other.execute("ROLLBACK")
        # A read-only connection (an export's) takes no write lock: writers go on meanwhile.
        with db.engine.connect().execution_options(read_only=True) as reader, reader.begin():
            reader.execute(sa.select(sa.func.count(Flag.id)))
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
    finally:
        other.close()

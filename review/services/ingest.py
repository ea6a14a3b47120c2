"""Ingest: store validated flags as items and flags, idempotently, one batch at a time.

A batch is a handful of statements whatever its size: look up the known ids and
conversations, insert the new items (priority already computed), insert the flags,
then touch only the items that gained a flag (new items arrive predicted). Inserts are
INSERT ... ON CONFLICT DO NOTHING in a fixed key order, so two imports of
overlapping data can run at once without failing or deadlocking on each other.
"""

import itertools
import json
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session, defer

from classifiers import training
from models import (
    Category,
    Decision,
    DecisionKind,
    Flag,
    Item,
    ItemStatus,
    Prediction,
    TaxonomyVersion,
    User,
    utcnow,
)
from models.base import UTCDateTime
from review.errors import Invalid
from review.services import audit, presort
from review.services.flagformat import SLUG, FlagIn
from review.services.lookup import among

ITEMS = Item.__table__
FLAGS = Flag.__table__
DECISIONS = Decision.__table__
PREDICTIONS = Prediction.__table__


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_JSON = json.JSONEncoder(ensure_ascii=False, check_circular=False, default=_json_default)

# Predictions made elsewhere (flagq import's second process): given the active version's id and
# the flags to predict, a prediction for each, or None for each the caller must predict itself.
Predicted = Callable[[int, Sequence[FlagIn]], Sequence[training.Prediction | None]]


@dataclass
class IngestResult:
    """What one batch did: the item id of each flag (in order) and what was already known."""

    ids: list[int] = field(default_factory=list)
    inserted: int = 0  # new flags stored
    new_items: int = 0
    duplicates: list[str] = field(default_factory=list)  # external_ids of flags already stored
    linked: int = 0  # new items whose content matched an existing conversation

    def merge(self, other: "IngestResult") -> None:
        """Add other's figures to these."""
        self.ids += other.ids
        self.inserted += other.inserted
        self.new_items += other.new_items
        self.duplicates += other.duplicates
        self.linked += other.linked


def _insert_rows(
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
    IMMEDIATE, see review.create_app), so no other writer adds rows in between, and SQLite gives
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


def known_labels(session: Session) -> set[str]:
    """Return every category slug a label may name (retired ones included)."""
    return set(session.scalars(sa.select(Category.slug)))


def check_labels(
    session: Session, actor: User | None, flags: Sequence[FlagIn], create_categories: bool
) -> None:
    """Make sure every label names a category; create missing ones if asked, else raise."""
    wanted = {f.label for f in flags if f.label}
    if not wanted:
        return
    known = set(session.scalars(sa.select(Category.slug).where(Category.slug.in_(wanted))))
    missing = sorted(wanted - known)
    if not missing:
        return
    if not create_categories:
        raise Invalid.field("label", f"unknown category {missing[0]!r} (use --create-categories)")
    bad = [slug for slug in missing if not SLUG.fullmatch(slug)]
    if bad:
        raise Invalid.field("label", f"{bad[0]!r} is not a valid category slug (a-z, 0-9, _ and -)")
    position = session.scalar(sa.select(sa.func.max(Category.position))) or 0
    for offset, slug in enumerate(missing, start=1):
        session.add(
            Category(
                slug=slug, name=slug.replace("_", " ").capitalize(), position=position + offset
            )
        )
        audit.record(session, actor, "category.create", "category", slug, {"source": "import"})
    session.flush()


def _load_items(session: Session, ids: Collection[int]) -> dict[int, Item]:
    # Conversations and metadata are never needed here: leave them in the database. The rows
    # are locked, in id order: a flag count read here is written back, and a concurrent batch
    # must not count from the same old value. FOR NO KEY UPDATE, as the UPDATE itself takes:
    # the KEY SHARE locks of the flags' foreign keys, which both batches hold, do not block it.
    if not ids:
        return {}
    query = (
        sa.select(Item)
        .options(defer(Item.messages), defer(Item.meta))
        .where(among(session.get_bind().dialect, Item.id, ids))
        .order_by(Item.id)
        .with_for_update(key_share=True)
    )
    return {item.id: item for item in session.scalars(query)}


def add_flags(
    session: Session,
    actor: User | None,
    flags: Sequence[FlagIn],
    source: str = "api",
    labeled: bool = False,
    create_categories: bool = False,
    predicted: Predicted | None = None,
) -> IngestResult:
    """Store one batch of flags: new items, extra flags on known items, dedup by content.

    The same external_id flagged again adds a flag to its item; the very same
    flag (same time, reason and category) adds nothing; a new id whose content
    matches a stored conversation becomes a linked duplicate, never queued twice.
    With labeled, a new item's label becomes a past first decision.
    `predicted` may hand over predictions made elsewhere (see Predicted).
    Raises Invalid for unknown labels (unless create_categories).
    """
    result = IngestResult()
    if not flags:
        return result
    if labeled:
        check_labels(session, actor, flags, create_categories)
    now = utcnow()
    dialect = session.get_bind().dialect
    fingerprints = [f.fingerprint for f in flags]

    # 1. Which ids are known already, and which conversations are stored under another id.
    first_by_id: dict[str, FlagIn] = {}
    for f in flags:
        first_by_id.setdefault(f.external_id, f)  # the first line of a batch wins the content
    ids: dict[str, int] = {}
    duplicate_of: dict[int, int | None] = {}
    for item_id, external_id, original in session.execute(
        sa.select(Item.id, Item.external_id, Item.duplicate_of_id).where(
            among(dialect, Item.external_id, first_by_id)
        )
    ):
        ids[external_id] = item_id
        duplicate_of[item_id] = original
    candidates = [f for external_id, f in first_by_id.items() if external_id not in ids]
    canonical: dict[str, int] = {}
    if candidates:
        canonical = dict(
            session.execute(
                sa.select(Item.content_hash, sa.func.min(Item.id))
                .where(
                    among(dialect, Item.content_hash, {f.content_hash for f in candidates}),
                    Item.duplicate_of_id.is_(None),
                )
                .group_by(Item.content_hash)
            ).all()
        )

    # 2. New items, inserted with their flag count and priority already known.
    # A flag sent twice in one batch counts once (its fingerprint names its external_id).
    distinct = Counter(f.external_id for f in dict(zip(fingerprints, flags, strict=True)).values())
    active = presort.active_model(session) if candidates else None
    new_ids, inside_batch = _insert_items(
        session, candidates, canonical, distinct, labeled, now, active, predicted
    )
    result.new_items = len(new_ids)
    raced = [f.external_id for f in candidates if f.external_id not in new_ids]
    if raced:
        # Another import stored these between our look-up and our insert: they are known now.
        for item_id, external_id, original in session.execute(
            sa.select(Item.id, Item.external_id, Item.duplicate_of_id).where(
                among(dialect, Item.external_id, raced)
            )
        ):
            ids[external_id] = item_id
            duplicate_of[item_id] = original
    for external_id, item_id in new_ids.items():
        ids[external_id] = item_id
        f = first_by_id[external_id]
        original = canonical.get(f.content_hash)
        if original is None and external_id in inside_batch:
            original = new_ids[inside_batch[external_id]]
        duplicate_of[item_id] = original
        result.linked += original is not None
    linked_in_batch = {
        new_ids[external_id]: new_ids[first] for external_id, first in inside_batch.items()
    }
    if linked_in_batch:
        session.execute(
            sa.update(ITEMS).where(ITEMS.c.id == sa.bindparam("item_id")),
            [{"item_id": i, "duplicate_of_id": o} for i, o in sorted(linked_in_batch.items())],
        )

    # 3. Flags: the fingerprint makes a resent flag a no-op.
    rows = sorted(
        (
            {
                "item_id": ids[f.external_id],
                "reason": f.reason,
                "category": f.category,
                "flagged_at": f.flagged_at or now,
                "message_index": f.message_index,
                "source": source,
                "fingerprint": fp,
                "created_at": now,
            }
            for f, fp in zip(flags, fingerprints, strict=True)
        ),
        key=lambda row: row["fingerprint"],
    )
    unique_rows = list({row["fingerprint"]: row for row in rows}.values())
    created = set(new_ids.values())
    # A flag names its item's external_id in its fingerprint: those of items this batch
    # created cannot be stored yet.
    stored: set[str] = set()
    for new in (True, False):
        part = [row for row in unique_rows if (row["item_id"] in created) == new]
        returned = _insert_rows(session, FLAGS, part, "fingerprint", ["fingerprint"], new)
        stored.update(fp for (fp,) in returned)
    gained: Counter[int] = Counter()
    seen: set[str] = set()
    for f, fp in zip(flags, fingerprints, strict=True):
        item_id = ids[f.external_id]
        result.ids.append(item_id)
        if fp in stored and fp not in seen:
            seen.add(fp)
            if item_id not in created:
                gained[item_id] += 1
            original = duplicate_of.get(item_id)
            if original is not None:
                # Several flags on the same conversation raise the one item that is reviewed.
                gained[original] += 1
        else:
            result.duplicates.append(f.external_id)
    result.inserted = len(seen)

    # 4. Items that gained a flag, and predictions for new queued items.
    touched = _load_items(session, gained.keys())
    for item_id, added in gained.items():
        if item_id in touched:
            touched[item_id].flag_count += added
    if touched:
        presort.refresh_priorities(session, [touched[i] for i in sorted(touched)])

    # 5. Labelled lines become past decisions (bootstrapping from old reviews).
    if labeled:
        _record_labels(session, actor, first_by_id, new_ids, duplicate_of, now)
    session.flush()
    if result.inserted or result.new_items:
        audit.record(
            session,
            actor,
            "flags.ingest",
            "batch",
            "",
            {
                "source": source,
                "flags": result.inserted,
                "new_items": result.new_items,
                "duplicates": len(result.duplicates),
                "linked": result.linked,
            },
        )
        session.flush()
    return result


def _insert_items(
    session: Session,
    candidates: Sequence[FlagIn],
    canonical: dict[str, int],
    flag_counts: Counter[str],
    labeled: bool,
    now: datetime,
    active: presort.ActiveModel | None,
    predicted: Predicted | None,
) -> tuple[dict[str, int], dict[str, str]]:
    """Insert the candidate items; return {external_id: id} of those stored, and in-batch links.

    The second mapping names, for a new item whose content matches an earlier new item of the
    same batch, that earlier item's external_id. With an active model, each item that is not a
    duplicate is predicted first (one batched call) and inserted with its prediction, queue
    category and priority already set, and its Prediction row follows: nothing is read back.
    """
    if not candidates:
        return {}, {}
    first_with_hash: dict[str, str] = {}
    inside_batch: dict[str, str] = {}
    for f in candidates:
        if f.content_hash not in canonical:
            first = first_with_hash.setdefault(f.content_hash, f.external_id)
            if first != f.external_id:
                inside_batch[f.external_id] = first
    predictions = _predict(active, candidates, canonical, inside_batch, predicted)
    # The priority of presort.refresh_priorities, computed from plain values: building ORM
    # objects only to read a formula costs more than the insert.
    weights = presort.weights(session)
    severity = dict(session.execute(sa.select(Category.slug, Category.severity)).all())
    rows = []
    for f in candidates:
        original = canonical.get(f.content_hash)
        duplicate = original is not None or f.external_id in inside_batch
        decided = labeled and f.label is not None and not duplicate
        flagged_at = f.flagged_at or now
        prediction = predictions.get(f.external_id)
        label, confidence = (
            (prediction.label, prediction.confidence) if prediction else (None, None)
        )
        queue_category = label or f.category
        rows.append(
            {
                "external_id": f.external_id,
                "messages": f.messages,
                "metadata": f.metadata,
                "content_hash": f.content_hash,
                "duplicate_of_id": original,
                "status": ItemStatus.DUPLICATE
                if duplicate
                else ItemStatus.DECIDED
                if decided
                else ItemStatus.OPEN,
                "priority": presort.compute_priority(
                    weights,
                    severity.get(queue_category or "", presort.DEFAULT_SEVERITY),
                    presort.uncertainty(prediction is not None, label, confidence),
                    flag_counts[f.external_id],
                    flagged_at,
                ),
                "queue_category": queue_category,
                "flag_count": flag_counts[f.external_id],
                "first_flagged_at": flagged_at,
                "created_at": now,
                "final_label": f.label if decided else None,
                "decided_at": now if decided else None,
                "predicted_label": label,
                "predicted_confidence": confidence,
                "prediction_version_id": active.version_id if prediction and active else None,
            }
        )
    rows.sort(key=lambda row: row["external_id"])
    # Looked up at the start of the batch: only another import can have stored one since.
    stored = _insert_rows(
        session, ITEMS, rows, "external_id", ["external_id", "id"], expect_new=True
    )
    new_ids: dict[str, int] = {external_id: item_id for external_id, item_id in stored}
    if active is not None:
        _insert_rows(
            session,
            PREDICTIONS,
            [
                {
                    **presort.prediction_row(new_ids[external_id], active.version_id, prediction),
                    "created_at": now,  # the bulk insert applies no column defaults
                }
                for external_id, prediction in sorted(predictions.items())
                if external_id in new_ids
            ],
        )
    return new_ids, {k: v for k, v in inside_batch.items() if k in new_ids and v in new_ids}


def _predict(
    active: presort.ActiveModel | None,
    candidates: Sequence[FlagIn],
    canonical: dict[str, int],
    inside_batch: dict[str, str],
    predicted: Predicted | None,
) -> dict[str, training.Prediction]:
    """Return the active model's prediction for each candidate that will be queued (or decided).

    Those `predicted` hands over are taken as they are; the rest are predicted here, in one
    batched call (the model is loaded only if some are left).
    """
    if active is None:
        return {}
    originals = [
        f
        for f in candidates
        if f.content_hash not in canonical and f.external_id not in inside_batch
    ]
    given = predicted(active.version_id, originals) if predicted else [None] * len(originals)
    missing = [f for f, p in zip(originals, given, strict=True) if p is None]
    made = iter(
        training.predict(active.model, [presort.example_of(f) for f in missing]) if missing else []
    )
    return {
        f.external_id: p if p is not None else next(made)
        for f, p in zip(originals, given, strict=True)
    }


def _record_labels(
    session: Session,
    actor: User | None,
    first_by_id: dict[str, FlagIn],
    new_ids: dict[str, int],
    duplicate_of: dict[int, int | None],
    now: datetime,
) -> None:
    labelled = [
        (item_id, first_by_id[external_id])
        for external_id, item_id in new_ids.items()
        if first_by_id[external_id].label and duplicate_of.get(item_id) is None
    ]
    if not labelled:
        return
    version = session.scalar(sa.select(sa.func.max(TaxonomyVersion.id))) or 1
    sensitive = set(session.scalars(sa.select(Category.slug).where(Category.sensitive)))
    _insert_rows(
        session,
        DECISIONS,
        [
            {
                "item_id": item_id,
                "reviewer_id": actor.id if actor else None,
                "label": f.label,
                "note": "imported label",
                "kind": DecisionKind.FIRST,
                "queue_category": f.category,
                "sensitive": f.category in sensitive,
                "taxonomy_version": version,
                "decided_at": now,
            }
            for item_id, f in sorted(labelled)
        ],
    )

"""Which items an export holds, read in batches and assembled into Entry objects.

What is exported: items with status ``decided`` (never ``duplicate`` ones: their original is
exported), in ``external_id`` order. The final label, and each decision's label, are in the
current taxonomy, by the rules of review.services.labels (which decision settles an item; how a
label maps through versions). The corrected response is the one of the decision that set the
final label, else the latest non-empty one.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import Decision, DecisionKind, Escalation, Flag, Item, ItemStatus, User
from review.services.exports.entries import Entry, flagged_turn, split_of
from review.services.exports.filters import ExportFilters
from review.services.exports.redaction import redact_entry
from review.services.labels import TaxonomyHistory, final_label, final_label_sql, settling_index
from review.services.lookup import among

BATCH_SIZE = 1000  # items per database round trip


def _plain_time(column: Any) -> Any:
    # Read without UTCDateTime's per-value Python hook, which dominated export time;
    # _iso() gives the text UTCDateTime's value would have given.
    return sa.type_coerce(column, sa.DateTime(timezone=True))


def _iso(value: datetime | None) -> str | None:
    """Return a timestamp read with _plain_time() as ISO text in UTC (SQLite's are naive UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.isoformat() + "+00:00"
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat()


def _query(filters: ExportFilters, taxonomy: TaxonomyHistory) -> sa.Select[Any]:
    query = (
        sa.select(
            Item.id,
            Item.external_id,
            Item.messages,
            Item.meta,
            Item.final_label,
            _plain_time(Item.decided_at),
            Item.prediction_version_id,
        )
        .where(Item.status == ItemStatus.DECIDED)
        .order_by(Item.external_id)
    )
    if filters.since is not None:
        query = query.where(Item.decided_at >= filters.since)
    if filters.until is not None:
        query = query.where(Item.decided_at <= filters.until)
    if filters.model_version is not None:
        query = query.where(Item.prediction_version_id == filters.model_version)
    if not filters.include_escalated:
        open_escalation = sa.exists().where(
            Escalation.item_id == Item.id, Escalation.resolved_at.is_(None)
        )
        query = query.where(~open_escalation)
    if filters.agreed:
        query = query.where(
            sa.exists().where(
                Decision.item_id == Item.id,
                Decision.kind.in_([DecisionKind.SECOND, DecisionKind.ADJUDICATION]),
            )
        )
    if filters.categories:
        query = query.where(final_label_sql(taxonomy).in_(filters.categories))
    return query


def _read_connection(session: Session) -> sa.Connection:
    engine = session.get_bind()
    assert isinstance(engine, sa.Engine)
    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        # One snapshot for the whole export, so later batches see what earlier ones saw.
        return connection.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
    # A plain BEGIN (see review._tune_sqlite): a long export holds no write lock.
    return connection.execution_options(read_only=True)


def iter_entries(
    session: Session, filters: ExportFilters, taxonomy: TaxonomyHistory | None = None
) -> Iterator[Entry]:
    """Yield the selected items in external_id order, read from the database in batches.

    Reads on a connection of its own (a read snapshot), so the caller's session stays free
    for the audit write; three queries per batch of items, whatever the batch holds.
    """
    taxonomy = taxonomy or TaxonomyHistory.load(session)
    with _read_connection(session) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            # Timestamps then come with the datetime.UTC tzinfo, which _iso() takes as is.
            connection.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
        # Streamed on this statement only (Connection.execution_options() would set it on the
        # connection, so that each small per-batch query opened a server-side cursor too).
        result = connection.execute(
            _query(filters, taxonomy),
            execution_options={"stream_results": True, "yield_per": BATCH_SIZE},
        )
        for batch in result.partitions():
            ids = [row[0] for row in batch]
            decisions = _decisions(connection, ids, taxonomy)
            flags = _flags(connection, ids)
            for row in batch:
                entry = _entry(row, decisions.get(row[0], []), flags.get(row[0], []), taxonomy)
                if entry is None:
                    continue
                if filters.agreed and not _agreed(entry):
                    continue
                if filters.split is not None:
                    entry.split = split_of(entry.external_id, filters.split)
                if filters.redact:
                    redact_entry(entry)
                yield entry


def _decisions(
    connection: sa.Connection, ids: list[int], taxonomy: TaxonomyHistory
) -> dict[int, list[dict[str, Any]]]:
    # Each item's decisions in (decided_at, id) order, which _entry() relies on.
    rows = connection.execute(
        sa.select(
            Decision.item_id,
            Decision.label,
            sa.type_coerce(Decision.kind, sa.String()),
            Decision.note,
            Decision.corrected_response,
            _plain_time(Decision.decided_at),
            Decision.taxonomy_version,
            User.username,
        )
        .outerjoin(User, User.id == Decision.reviewer_id)
        .where(among(connection.dialect, Decision.item_id, ids))
        .order_by(Decision.item_id, Decision.decided_at, Decision.id)
    ).all()
    grouped: dict[int, list[dict[str, Any]]] = {}
    for item_id, label, kind, note, corrected, decided_at, version, reviewer in rows:
        grouped.setdefault(item_id, []).append(
            {
                "label": taxonomy.map(label, version),
                "original_label": label,
                "kind": kind,
                "reviewer": reviewer,
                "decided_at": _iso(decided_at),
                "note": note or "",
                "corrected_response": corrected,
                "taxonomy_version": version,
            }
        )
    return grouped


def _flags(connection: sa.Connection, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    rows = connection.execute(
        sa.select(
            Flag.item_id,
            Flag.reason,
            Flag.category,
            _plain_time(Flag.flagged_at),
            Flag.message_index,
        )
        .where(among(connection.dialect, Flag.item_id, ids))
        .order_by(Flag.item_id, Flag.flagged_at, Flag.id)
    ).all()
    grouped: dict[int, list[dict[str, Any]]] = {}
    for item_id, reason, category, flagged_at, message_index in rows:
        grouped.setdefault(item_id, []).append(
            {
                "reason": reason,
                "category": category,
                "flagged_at": _iso(flagged_at),
                "message_index": message_index,
            }
        )
    return grouped


def _entry(
    row: Any,
    decisions: list[dict[str, Any]],
    flags: list[dict[str, Any]],
    taxonomy: TaxonomyHistory,
) -> Entry | None:
    _id, external_id, messages, meta, stored, decided_at, model_version = row
    # Decisions come in (decided_at, id) order, as the labels rules take them.
    final = final_label(
        taxonomy,
        [(d["kind"], d["original_label"], d["taxonomy_version"]) for d in decisions],
        stored,
    )
    if not final:
        return None
    index = settling_index([d["kind"] for d in decisions])
    corrected = decisions[index]["corrected_response"] if index is not None else None
    if not (corrected and corrected.strip()):
        corrected = next(
            (
                d["corrected_response"]
                for d in reversed(decisions)
                if d["corrected_response"] and d["corrected_response"].strip()
            ),
            None,
        )
    return Entry(
        external_id=external_id,
        messages=messages,
        metadata=meta or {},
        final_label=final,
        decided_at=_iso(decided_at),
        model_version=model_version,
        flags=flags,
        decisions=decisions,
        corrected_response=corrected,
        flagged_turn=flagged_turn(messages, flags[0]["message_index"] if flags else None),
        split=None,
    )


def _agreed(entry: Entry) -> bool:
    # Adjudicated: settled by definition. Otherwise a second review exists and every
    # first and second opinion names the final label.
    kinds = {d["kind"] for d in entry.decisions}
    if DecisionKind.ADJUDICATION.value in kinds:
        return True
    return DecisionKind.SECOND.value in kinds and all(
        d["label"] == entry.final_label for d in entry.decisions
    )

"""Ingest: store validated flags as items and flags, idempotently, one batch at a time.

A batch is a handful of statements whatever its size: look up the known ids and
conversations, insert the new items (priority already computed), insert the flags,
then touch only the items that gained a flag (new items arrive predicted). Inserts are
INSERT ... ON CONFLICT DO NOTHING in a fixed key order (review.services.bulk), so two imports
of overlapping data can run at once without failing or deadlocking on each other.
"""

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

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
from review.errors import Invalid
from review.services import audit, presort
from review.services.bulk import insert_rows
from review.services.flagformat import SLUG, FlagIn
from review.services.lookup import among

ITEMS = Item.__table__
FLAGS = Flag.__table__
DECISIONS = Decision.__table__
PREDICTIONS = Prediction.__table__


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


@dataclass
class _Target:
    """The item a batch's flags on one external_id go to."""

    id: int
    duplicate_of: int | None  # the item reviewed in its place, if its content was stored before
    new: bool = False  # created by this batch


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
    fingerprints = [f.fingerprint for f in flags]
    first_by_id: dict[str, FlagIn] = {}
    for f in flags:
        first_by_id.setdefault(f.external_id, f)  # the first line of a batch wins the content

    # 1. Items stored already; 2. new items, inserted with their flag count and priority.
    targets = _known(session, first_by_id)
    candidates = [f for external_id, f in first_by_id.items() if external_id not in targets]
    if candidates:
        # A flag sent twice in one batch counts once (its fingerprint names its external_id).
        distinct = Counter(
            f.external_id for f in dict(zip(fingerprints, flags, strict=True)).values()
        )
        created = _insert_items(session, candidates, distinct, labeled, now, predicted)
        result.new_items = len(created)
        result.linked = sum(t.duplicate_of is not None for t in created.values())
        # Another import stored the others between our look-up and our insert.
        raced = [f.external_id for f in candidates if f.external_id not in created]
        if raced:
            targets.update(_known(session, raced))
        targets.update(created)

    # 3. Flags: the fingerprint makes a resent flag a no-op.
    stored = _insert_flags(session, flags, fingerprints, targets, source, now)
    gained: Counter[int] = Counter()
    seen: set[str] = set()
    for f, fp in zip(flags, fingerprints, strict=True):
        target = targets[f.external_id]
        result.ids.append(target.id)
        if fp in stored and fp not in seen:
            seen.add(fp)
            if not target.new:
                gained[target.id] += 1
            if target.duplicate_of is not None:
                # Several flags on the same conversation raise the one item that is reviewed.
                gained[target.duplicate_of] += 1
        else:
            result.duplicates.append(f.external_id)
    result.inserted = len(seen)

    # 4. Items that gained a flag (new items arrived counted and predicted).
    _count_flags(session, gained)
    # 5. Labelled lines become past decisions (bootstrapping from old reviews).
    if labeled:
        _record_labels(session, actor, first_by_id, targets, now)
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


def _known(session: Session, external_ids: Collection[str]) -> dict[str, _Target]:
    """Return the stored items among external_ids."""
    rows = session.execute(
        sa.select(Item.external_id, Item.id, Item.duplicate_of_id).where(
            among(session.get_bind().dialect, Item.external_id, external_ids)
        )
    )
    return {external_id: _Target(item_id, original) for external_id, item_id, original in rows}


def _insert_flags(
    session: Session,
    flags: Sequence[FlagIn],
    fingerprints: list[str],
    targets: dict[str, _Target],
    source: str,
    now: datetime,
) -> set[str]:
    """Insert the flags not stored yet; return the fingerprints of those this batch stored."""
    rows = sorted(
        (
            {
                "item_id": targets[f.external_id].id,
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
    created = {t.id for t in targets.values() if t.new}
    # A flag names its item's external_id in its fingerprint: those of items this batch
    # created cannot be stored yet, so they go straight in.
    stored: set[str] = set()
    for new in (True, False):
        part = [row for row in unique_rows if (row["item_id"] in created) == new]
        returned = insert_rows(session, FLAGS, part, "fingerprint", ["fingerprint"], new)
        stored.update(fp for (fp,) in returned)
    return stored


def _count_flags(session: Session, gained: Counter[int]) -> None:
    """Add the flags known items gained to their counts, and re-rank them."""
    touched = _load_items(session, gained.keys())
    for item_id, added in gained.items():
        if item_id in touched:
            touched[item_id].flag_count += added
    if touched:
        presort.refresh_priorities(session, [touched[i] for i in sorted(touched)])


def _insert_items(
    session: Session,
    candidates: Sequence[FlagIn],
    flag_counts: Counter[str],
    labeled: bool,
    now: datetime,
    predicted: Predicted | None,
) -> dict[str, _Target]:
    """Insert the candidate items; return the targets of those stored, keyed by external_id.

    A candidate whose content matches a stored conversation, or an earlier candidate of the
    batch, is stored as that item's duplicate. With an active model, each item that is not a
    duplicate is predicted first (one batched call) and inserted with its prediction, queue
    category and priority already set, and its Prediction row follows: nothing is read back.
    """
    canonical: dict[str, int] = dict(
        session.execute(
            sa.select(Item.content_hash, sa.func.min(Item.id))
            .where(
                among(
                    session.get_bind().dialect,
                    Item.content_hash,
                    {f.content_hash for f in candidates},
                ),
                Item.duplicate_of_id.is_(None),
            )
            .group_by(Item.content_hash)
        ).all()
    )
    first_with_hash: dict[str, str] = {}
    inside_batch: dict[str, str] = {}  # external_id -> the earlier candidate's, same content
    for f in candidates:
        if f.content_hash not in canonical:
            first = first_with_hash.setdefault(f.content_hash, f.external_id)
            if first != f.external_id:
                inside_batch[f.external_id] = first
    active = presort.active_model(session)
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
    stored = insert_rows(
        session, ITEMS, rows, "external_id", ["external_id", "id"], expect_new=True
    )
    new_ids: dict[str, int] = {external_id: item_id for external_id, item_id in stored}
    if active is not None:
        insert_rows(
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
    # Duplicates within the batch learn their original's id only now.
    linked = {
        new_ids[external_id]: new_ids[first]
        for external_id, first in inside_batch.items()
        if external_id in new_ids and first in new_ids
    }
    if linked:
        session.execute(
            sa.update(ITEMS).where(ITEMS.c.id == sa.bindparam("item_id")),
            [{"item_id": i, "duplicate_of_id": o} for i, o in sorted(linked.items())],
        )
    hashes = {f.external_id: f.content_hash for f in candidates}
    return {
        external_id: _Target(
            item_id, canonical.get(hashes[external_id]) or linked.get(item_id), new=True
        )
        for external_id, item_id in new_ids.items()
    }


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
    targets: dict[str, _Target],
    now: datetime,
) -> None:
    labelled = sorted(
        (target.id, first_by_id[external_id])
        for external_id, target in targets.items()
        if target.new and target.duplicate_of is None and first_by_id[external_id].label
    )
    if not labelled:
        return
    version = session.scalar(sa.select(sa.func.max(TaxonomyVersion.id))) or 1
    sensitive = set(session.scalars(sa.select(Category.slug).where(Category.sensitive)))
    insert_rows(
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
            for item_id, f in labelled
        ],
    )

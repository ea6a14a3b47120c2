"""Ingest: store validated flags as items and flags, idempotently, one batch at a time."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models import (
    Category,
    Decision,
    DecisionKind,
    Flag,
    Item,
    ItemStatus,
    User,
    utcnow,
)
from review.errors import Invalid
from review.services import audit, presort
from review.services.flagformat import FlagIn


@dataclass
class IngestResult:
    """What one batch did: the item id of each flag (in order) and what was already known."""

    ids: list[int] = field(default_factory=list)
    inserted: int = 0  # new flags stored
    new_items: int = 0
    duplicates: list[str] = field(default_factory=list)  # external_ids of flags already stored
    linked: int = 0  # new items whose content matched an existing conversation

    def merge(self, other: "IngestResult") -> None:
        self.ids += other.ids
        self.inserted += other.inserted
        self.new_items += other.new_items
        self.duplicates += other.duplicates
        self.linked += other.linked


def _insert(session: Session) -> Any:
    # INSERT ... ON CONFLICT DO NOTHING exists on both engines; it lets two
    # imports overlap without either failing on the other's rows.
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


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
    position = session.scalar(sa.select(sa.func.max(Category.position))) or 0
    for offset, slug in enumerate(missing, start=1):
        if not slug.replace("_", "").replace("-", "").isalnum() or len(slug) > 64:
            raise Invalid.field("label", f"{slug!r} is not a valid category slug")
        session.add(
            Category(
                slug=slug, name=slug.replace("_", " ").capitalize(), position=position + offset
            )
        )
        audit.record(session, actor, "category.create", "category", slug, {"source": "import"})
    session.flush()


def add_flags(
    session: Session,
    actor: User | None,
    flags: Sequence[FlagIn],
    source: str = "api",
    labeled: bool = False,
    create_categories: bool = False,
) -> IngestResult:
    """Store one batch of flags: new items, extra flags on known items, dedup by content.

    The same external_id flagged again adds a flag to its item; the very same
    flag (same time, reason and category) adds nothing; a new id whose content
    matches a stored conversation becomes a linked duplicate, never queued twice.
    Raises Invalid for unknown labels (unless create_categories).
    """
    result = IngestResult()
    if not flags:
        return result
    if labeled:
        check_labels(session, actor, flags, create_categories)
    now = utcnow()
    insert = _insert(session)

    # 1. Items: one per external_id; the first line of a batch wins its content.
    first_by_id: dict[str, FlagIn] = {}
    for f in flags:
        first_by_id.setdefault(f.external_id, f)
    item_rows = [
        {
            "external_id": f.external_id,
            "messages": f.messages,
            "meta": f.metadata,
            "content_hash": f.content_hash,
            "status": ItemStatus.OPEN,
            "priority": 0.0,
            "queue_category": f.category,
            "flag_count": 0,
            "first_flagged_at": f.flagged_at or now,
            "created_at": now,
        }
        for f in first_by_id.values()
    ]
    new_ids = set(
        session.scalars(
            insert(Item).on_conflict_do_nothing(index_elements=["external_id"]).returning(Item.id),
            item_rows,
        )
    )
    items = {
        item.external_id: item
        for item in session.scalars(sa.select(Item).where(Item.external_id.in_(first_by_id)))
    }
    result.new_items = len(new_ids)

    # 2. Content duplicates: a new item whose conversation is already stored links to it.
    new_items = sorted((i for i in items.values() if i.id in new_ids), key=lambda i: i.id)
    if new_items:
        hashes = {i.content_hash for i in new_items}
        canonical: dict[str, int] = dict(
            session.execute(
                sa.select(Item.content_hash, sa.func.min(Item.id))
                .where(Item.content_hash.in_(hashes), Item.duplicate_of_id.is_(None))
                .group_by(Item.content_hash)
            ).all()
        )
        for item in new_items:
            original = canonical.get(item.content_hash)
            if original is not None and original != item.id:
                item.status = ItemStatus.DUPLICATE
                item.duplicate_of_id = original
                result.linked += 1

    # 3. Flags: the fingerprint makes a resent flag a no-op.
    flag_rows = [
        {
            "item_id": items[f.external_id].id,
            "reason": f.reason,
            "category": f.category,
            "flagged_at": f.flagged_at or now,
            "message_index": f.message_index,
            "source": source,
            "fingerprint": f.fingerprint,
            "created_at": now,
        }
        for f in flags
    ]
    stored = set(
        session.scalars(
            insert(Flag)
            .on_conflict_do_nothing(index_elements=["fingerprint"])
            .returning(Flag.fingerprint),
            flag_rows,
        )
    )
    added_per_item: dict[int, int] = {}
    seen: set[str] = set()
    for f in flags:
        item = items[f.external_id]
        result.ids.append(item.id)
        if f.fingerprint in stored and f.fingerprint not in seen:
            seen.add(f.fingerprint)
            target = item.duplicate_of_id or item.id
            added_per_item[target] = added_per_item.get(target, 0) + 1
            if item.duplicate_of_id:
                added_per_item[item.id] = added_per_item.get(item.id, 0) + 1
        else:
            result.duplicates.append(f.external_id)
    result.inserted = len(seen)

    # 4. Counts and priority of every item that gained a flag; predictions for new ones.
    touched = {i.id: i for i in items.values()}
    missing = [i for i in added_per_item if i not in touched]
    if missing:
        touched.update(
            {i.id: i for i in session.scalars(sa.select(Item).where(Item.id.in_(missing)))}
        )
    for item_id, added in added_per_item.items():
        touched[item_id].flag_count += added
    queued_new = [i for i in new_items if i.status == ItemStatus.OPEN]
    session.flush()
    presort.predict_items(session, queued_new)
    presort.refresh_priorities(session, [touched[i] for i in added_per_item])

    # 5. Labelled lines become past decisions (bootstrapping from old reviews).
    if labeled:
        _record_labels(session, actor, flags, {i.id for i in queued_new}, items, now)
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
    return result


def _record_labels(
    session: Session,
    actor: User | None,
    flags: Sequence[FlagIn],
    new_ids: set[int],
    items: dict[str, Item],
    now: Any,
) -> None:
    decisions = []
    for f in flags:
        item = items[f.external_id]
        if not f.label or item.id not in new_ids or item.status != ItemStatus.OPEN:
            continue
        item.status = ItemStatus.DECIDED
        item.final_label = f.label
        item.decided_at = now
        decisions.append(
            {
                "item_id": item.id,
                "reviewer_id": actor.id if actor else None,
                "label": f.label,
                "note": "imported label",
                "kind": DecisionKind.FIRST,
                "queue_category": item.queue_category,
                "sensitive": False,
                "decided_at": now,
            }
        )
    if decisions:
        session.execute(sa.insert(Decision), decisions)

"""Reading items: one conversation with its flags, prediction and decisions."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import Decision, Flag, Item, ItemStatus, Prediction, Role, User, utcnow
from review.errors import NotFound
from review.services import labels

# Roles that read any item in full; a reviewer reads only what they hold or have decided.
READ_ANY = (Role.AUDITOR, Role.TRAINER, Role.ADMIN)


def get_item(session: Session, item_id: int) -> Item:
    """Return the item or raise NotFound."""
    item = session.get(Item, item_id)
    if item is None:
        raise NotFound(f"no flagged conversation with id {item_id}")
    return item


def readable_item(
    session: Session, actor: User, item_id: int, now: datetime | None = None
) -> dict[str, Any]:
    """Return actor's view of one item; raise NotFound unless it exists and actor may read it.

    Auditors, trainers and admins read every item. A reviewer reads an item they have decided,
    or one they hold under a live lease; holding a blind second review, they see nothing of the
    earlier decisions (no decisions, no final label). Anything else is NotFound, so that a
    reviewer cannot tell which ids exist.
    """
    item = get_item(session, item_id)
    if actor.role in READ_ANY:
        return item_json(session, item)
    if actor.role == Role.REVIEWER:
        decided = session.scalar(
            sa.select(
                sa.exists().where(Decision.item_id == item.id, Decision.reviewer_id == actor.id)
            )
        )
        if decided:
            return item_json(session, item)
        now = now or utcnow()
        holds = (
            item.status == ItemStatus.CLAIMED
            and item.claimed_by_id == actor.id
            and item.lease_expires_at is not None
            and item.lease_expires_at > now
        )
        if holds:
            view = item_json(session, item)
            if item.second_review:
                view.update(decisions=[], final_label=None)
            return view
    raise NotFound(f"no flagged conversation with id {item_id}")


def flag_json(flag: Flag) -> dict[str, Any]:
    return {
        "reason": flag.reason,
        "category": flag.category,
        "flagged_at": flag.flagged_at.isoformat(),
        "message_index": flag.message_index,
        "source": flag.source,
    }


def prediction_json(item: Item) -> dict[str, Any] | None:
    """Return the item's current prediction, or None when no model has scored it."""
    if item.prediction_version_id is None:
        return None
    return {
        "label": item.predicted_label,
        "confidence": item.predicted_confidence,
        "version": item.prediction_version_id,
    }


def item_json(session: Session, item: Item) -> dict[str, Any]:
    """Return the API's full view of one item (four queries, whatever its size).

    final_label is the item's label in today's taxonomy (see review.services.labels); each
    decision's label is as the reviewer gave it.
    """
    flags = session.scalars(item.flags.select().order_by(Flag.flagged_at, Flag.id)).all()
    decisions = session.execute(
        sa.select(Decision, User.username)
        .outerjoin(User, User.id == Decision.reviewer_id)
        .where(Decision.item_id == item.id)
        .order_by(Decision.decided_at, Decision.id)
    ).all()
    scores = None
    if item.prediction_version_id is not None:
        scores = session.scalar(
            sa.select(Prediction.scores).where(
                Prediction.item_id == item.id, Prediction.version_id == item.prediction_version_id
            )
        )
    final = labels.final_label(
        labels.TaxonomyHistory.load(session),
        [(d.kind, d.label, d.taxonomy_version) for d, _name in decisions],
        item.final_label,
    )
    prediction = prediction_json(item)
    if prediction is not None:
        prediction["scores"] = scores or {}
    return {
        "id": item.id,
        "external_id": item.external_id,
        "status": item.status.value,
        "messages": item.messages,
        "metadata": item.meta,
        "duplicate_of": item.duplicate_of_id,
        "final_label": final,
        "flags": [flag_json(f) for f in flags],
        "prediction": prediction,
        "decisions": [
            {
                "label": d.label,
                "kind": d.kind.value,
                "reviewer": name,
                "decided_at": d.decided_at.isoformat(),
                "note": d.note,
                "corrected_response": d.corrected_response,
            }
            for d, name in decisions
        ],
    }

"""Blind second review: which decided items are drawn for it, at the safety team's rates.

A rate is the share (0 to 1) of first decisions sent to a second reviewer, per category or
for "all". An item is drawn at the highest rate that applies to it: that of the label its
first reviewer chose, of the category it was queued under, or "all". The draw is a hash of
the item and decision ids, so it is reproducible and cannot be steered by a reviewer.
"""

import hashlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import Category, User
from review.errors import Invalid
from review.services import settings

ALL = "all"


def rates(session: Session) -> dict[str, float]:
    """Return the sampling rates in force, {category or "all": share}."""
    return _shares(settings.get(session, "sampling"))


def _shares(stored: dict[str, Any]) -> dict[str, float]:
    return {key: float(value) for key, value in stored.items()}


def set_rate(session: Session, actor: User | None, category: str, rate: Any) -> dict[str, float]:
    """Set the share of category's (or all) decisions sent to second review; return all rates.

    Raises Invalid for an unknown or retired category, or a rate outside 0 to 1.
    """
    if category != ALL:
        active = session.scalar(sa.select(Category.active).where(Category.slug == category))
        if not active:
            raise Invalid.field("category", f"unknown or retired category {category!r}")
    try:
        share = float(rate)
    except (TypeError, ValueError):
        raise Invalid.field("rate", f"{rate!r} is not a number") from None
    if not 0.0 <= share <= 1.0:
        raise Invalid.field("rate", f"{share:g} is not between 0 and 1")
    in_force = _shares(settings.current(session, "sampling"))
    in_force[category] = share
    settings.put(session, actor, "sampling", in_force)
    return in_force


def rate_for(in_force: dict[str, float], label: str, queue_category: str | None) -> float:
    """Return the highest rate that applies to an item decided as label."""
    applicable = [in_force.get(ALL, 0.0), in_force.get(label, 0.0)]
    if queue_category:
        applicable.append(in_force.get(queue_category, 0.0))
    return max(applicable)


def drawn(item_id: int, decision_id: int, rate: float) -> bool:
    """Return whether this first decision is sent to second review at rate."""
    if rate <= 0.0:
        return False
    digest = hashlib.sha256(f"second-review:{item_id}:{decision_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate

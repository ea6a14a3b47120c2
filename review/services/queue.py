"""The review queue: what is waiting, and who has done what."""

from dataclasses import dataclass
from datetime import datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import Category, Decision, Item, ItemStatus, User, utcnow


@dataclass(frozen=True)
class QueueOverview:
    open_items: int
    by_category: list[tuple[str, str, int]]  # (slug, display name, open items)
    decided_today: int


def start_of_day(now: datetime) -> datetime:
    """Return the UTC midnight that starts now's day."""
    return datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)


def overview(session: Session, user: User, now: datetime | None = None) -> QueueOverview:
    """Return queue sizes (overall and per queue category) and user's decisions today."""
    now = now or utcnow()
    counts = dict(
        session.execute(
            sa.select(Item.queue_category, sa.func.count(Item.id))
            .where(Item.status == ItemStatus.OPEN)
            .group_by(Item.queue_category)
        ).all()
    )
    names = dict(session.execute(sa.select(Category.slug, Category.name)).all())
    by_category = sorted(
        ((slug or "", names.get(slug or "", "Uncategorised"), n) for slug, n in counts.items()),
        key=lambda row: (-row[2], row[1]),
    )
    decided_today = session.scalar(
        sa.select(sa.func.count(Decision.id)).where(
            Decision.reviewer_id == user.id, Decision.decided_at >= start_of_day(now)
        )
    )
    return QueueOverview(sum(counts.values()), by_category, decided_today or 0)

"""Reviewers' decisions, skips, escalations and worked time."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, enum_column, utcnow


class DecisionKind(StrEnum):
    FIRST = "first"
    SECOND = "second"  # blind second review, by a different reviewer
    ADJUDICATION = "adjudication"


class Decision(Base):
    __tablename__ = "decisions"
    __table_args__ = (sa.Index("ix_decisions_reviewer_decided", "reviewer_id", "decided_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("items.id", ondelete="CASCADE"), index=True)
    reviewer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    label: Mapped[str] = mapped_column(sa.String(64))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    corrected_response: Mapped[str | None] = mapped_column(sa.Text)
    kind: Mapped[DecisionKind] = mapped_column(
        enum_column(DecisionKind), default=DecisionKind.FIRST
    )
    # The category the item was filed under when decided (for the daily cap and
    # the reviewer's own report), and whether it was a sensitive one.
    queue_category: Mapped[str | None] = mapped_column(sa.String(64))
    sensitive: Mapped[bool] = mapped_column(default=False)
    taxonomy_version: Mapped[int] = mapped_column(default=1)
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class Skip(Base):
    """A reviewer passed on an item; it is not offered to them again."""

    __tablename__ = "skips"
    __table_args__ = (sa.UniqueConstraint("user_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("items.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Escalation(Base):
    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("items.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )


class WorkInterval(Base):
    """A stretch of continuous work, extended by heartbeats from the open item page."""

    __tablename__ = "work_intervals"
    __table_args__ = (sa.Index("ix_work_intervals_user_last", "user_id", "last_beat_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_beat_at: Mapped[datetime] = mapped_column(default=utcnow)

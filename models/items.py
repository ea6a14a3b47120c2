"""Flagged conversations (items) and the user flags raised on them."""

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, WriteOnlyMapped, mapped_column, relationship

from models.base import Base, enum_column, utcnow


class ItemStatus(StrEnum):
    OPEN = "open"  # waiting in the queue
    CLAIMED = "claimed"  # held by one reviewer under a lease
    DECIDED = "decided"  # has a final decision
    ESCALATED = "escalated"  # on the safety team's escalation list
    DUPLICATE = "duplicate"  # same content as another item; reviewed there


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        # The claim query walks these backwards: ORDER BY priority DESC, id DESC,
        # optionally within one category. Plain columns keep autogenerate exact.
        sa.Index("ix_items_queue", "status", "priority", "id"),
        sa.Index("ix_items_queue_category", "status", "queue_category", "priority", "id"),
        # Finding expired leases without a scan.
        sa.Index("ix_items_lease", "status", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(sa.String(200), unique=True)
    messages: Mapped[list[dict[str, Any]]] = mapped_column()
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    content_hash: Mapped[str] = mapped_column(sa.String(64), index=True)
    duplicate_of_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("items.id", ondelete="SET NULL")
    )
    status: Mapped[ItemStatus] = mapped_column(enum_column(ItemStatus), default=ItemStatus.OPEN)
    priority: Mapped[float] = mapped_column(default=0.0)
    # The category the queue files this item under: the prediction, or the
    # user's pick when there is none. Drives per-category queues and blurring.
    queue_category: Mapped[str | None] = mapped_column(sa.String(64))
    flag_count: Mapped[int] = mapped_column(default=0)
    first_flagged_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    claimed_at: Mapped[datetime | None]
    lease_expires_at: Mapped[datetime | None]
    # The current prediction, denormalised for the queue page.
    predicted_label: Mapped[str | None] = mapped_column(sa.String(64))
    predicted_confidence: Mapped[float | None]
    prediction_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("classifier_versions.id", ondelete="SET NULL")
    )
    final_label: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    decided_at: Mapped[datetime | None] = mapped_column(index=True)
    # Decided once and drawn for a blind second review: open again, for anyone but the
    # reviewers who decided it already (see review.services.queue.decide).
    second_review: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    flags: WriteOnlyMapped["Flag"] = relationship(
        back_populates="item", order_by="Flag.flagged_at", passive_deletes=True
    )


class Flag(Base):
    __tablename__ = "flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("items.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    category: Mapped[str | None] = mapped_column(sa.String(64))
    flagged_at: Mapped[datetime] = mapped_column(default=utcnow)
    message_index: Mapped[int | None]
    source: Mapped[str] = mapped_column(sa.String(16), default="api")
    # sha256 of (external_id, flagged_at, reason, category): the very same flag
    # sent twice is recognised and stored once.
    fingerprint: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    item: Mapped[Item] = relationship(back_populates="flags", lazy="raise")

"""Classifier versions and the predictions they made."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class ClassifierVersion(Base):
    __tablename__ = "classifier_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    # skops.io bytes; loaded only with the pinned trusted-types list.
    artifact: Mapped[bytes] = mapped_column(sa.LargeBinary)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    labels: Mapped[list[str]] = mapped_column(default=list)
    taxonomy_version: Mapped[int] = mapped_column(default=1)
    data_fingerprint: Mapped[str] = mapped_column(sa.String(64), default="")
    active: Mapped[bool] = mapped_column(default=False, index=True)
    activated_at: Mapped[datetime | None]


class Prediction(Base):
    __tablename__ = "predictions"
    __table_args__ = (sa.UniqueConstraint("item_id", "version_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("items.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("classifier_versions.id", ondelete="CASCADE")
    )
    label: Mapped[str | None] = mapped_column(sa.String(64))  # None: the model abstained
    confidence: Mapped[float] = mapped_column(default=0.0)
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

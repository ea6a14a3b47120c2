"""The error taxonomy the safety team owns, and its versions."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

NO_ERROR = "no_error"


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    guideline: Mapped[str] = mapped_column(sa.Text, default="")
    # 1 (minor) .. 5 (most severe); feeds the queue priority.
    severity: Mapped[int] = mapped_column(default=2)
    # Sensitive content is blurred until revealed and counts towards a daily cap.
    sensitive: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    # The taxonomy version in which this row last changed.
    taxonomy_version: Mapped[int] = mapped_column(default=1)
    merged_into: Mapped[str | None] = mapped_column(sa.String(64))

    @property
    def is_outcome(self) -> bool:
        """Whether this is the 'not an error' outcome rather than an error type."""
        return self.slug == NO_ERROR


class TaxonomyVersion(Base):
    __tablename__ = "taxonomy_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    # slug -> slug for merges and retirements, so old labels map onto this version.
    mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Setting(Base):
    """A value the safety team or an admin can change at run time."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

"""What to export: the filters, parsed from what a surface received and checked."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import Category
from review.errors import Invalid
from review.services.exports.formats import parse_format

SPLITS = ("train", "validation")
MAX_VERSION = 2**31 - 1  # classifier versions are row ids


@dataclass(frozen=True)
class ExportFilters:
    """What to export; every field is named in the manifest."""

    categories: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    agreed: bool = False
    include_escalated: bool = False
    model_version: int | None = None
    split: float | None = None
    # With a split and a single stream: only this part, else every row carries its split.
    part: str | None = None
    redact: bool = False

    def to_json(self) -> dict[str, Any]:
        """Return the filters as plain JSON values."""
        return {
            "categories": list(self.categories),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "agreed": self.agreed,
            "include_escalated": self.include_escalated,
            "model_version": self.model_version,
            "split": self.split,
            "part": self.part,
            "redact": self.redact,
        }


def parse_date(value: str | None, name: str, *, end: bool = False) -> datetime | None:
    """Return an aware UTC datetime from an ISO date or date-time (None when empty).

    A bare date means the start of that day, or with end=True the end of it, so
    ``--until 2026-01-31`` includes the 31st. Raises Invalid naming the field.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            stamp = datetime.combine(day, time.min, tzinfo=UTC)
            return stamp + timedelta(days=1, microseconds=-1) if end else stamp
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid.field(
            name, f"{value!r} is not a date (YYYY-MM-DD) or ISO date-time"
        ) from None
    try:
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise Invalid.field(name, f"{value!r} is out of range") from None


def parse_split(value: str | float | None) -> float | None:
    """Return a split ratio strictly between 0 and 1 (None when empty), or raise Invalid."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        ratio = float(value)
    except ValueError:
        raise Invalid.field("split", f"{value!r} is not a number") from None
    if not 0.0 < ratio < 1.0:
        raise Invalid.field("split", "must be between 0 and 1, e.g. 0.9")
    return ratio


_TRUE = ("1", "true", "yes", "on")


_FALSE = ("", "0", "false", "no", "off")


def _flag(params: Mapping[str, Sequence[str]], name: str) -> bool:
    value = (params.get(name) or [""])[-1].strip().lower()
    if value not in _TRUE + _FALSE:
        raise Invalid.field(name, "must be true or false")
    return value in _TRUE


def parse_query(params: Mapping[str, Sequence[str]]) -> tuple[str, ExportFilters]:
    """Return the format and filters of query parameters (each name to its values); raises Invalid.

    ``category`` may repeat or hold a comma-separated list.
    """
    fmt = parse_format((params.get("format") or [None])[-1])
    categories = [c.strip() for v in params.get("category") or [] for c in v.split(",")]
    model_version = (params.get("model_version") or [""])[-1].strip()
    if model_version and not (model_version.isdigit() and int(model_version) <= MAX_VERSION):
        raise Invalid.field(
            "model_version", f"must be a classifier version number (0-{MAX_VERSION})"
        )
    part = (params.get("part") or [""])[-1].strip() or None
    return fmt, ExportFilters(
        categories=tuple(c for c in categories if c),
        since=parse_date((params.get("since") or [None])[-1], "since"),
        until=parse_date((params.get("until") or [None])[-1], "until", end=True),
        agreed=_flag(params, "agreed"),
        include_escalated=_flag(params, "include_escalated"),
        model_version=int(model_version) if model_version else None,
        split=parse_split((params.get("split") or [None])[-1]),
        part=part,
        redact=_flag(params, "redact"),
    )


def check_filters(session: Session, filters: ExportFilters) -> ExportFilters:
    """Check filters against the database and each other; return them with sorted categories."""
    if filters.categories:
        known = set(session.scalars(sa.select(Category.slug)))
        unknown = sorted(set(filters.categories) - known)
        if unknown:
            raise Invalid.field("category", f"unknown category {unknown[0]!r}")
    if filters.since and filters.until and filters.since > filters.until:
        raise Invalid.field("until", "is before since")
    if filters.part is not None:
        if filters.part not in SPLITS:
            raise Invalid.field("part", "must be train or validation")
        if filters.split is None:
            raise Invalid.field("part", "needs a split ratio")
    return replace(filters, categories=tuple(sorted(set(filters.categories))))

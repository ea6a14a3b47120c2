"""Run-time settings the safety team or an admin can change, with their defaults."""

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import Setting, User
from review.errors import Invalid
from review.services import audit

# Every setting, its default and what it means (also in the README).
DEFAULTS: dict[str, Any] = {
    # The queue's priority formula (see review.services.presort).
    "priority": {"severity": 1.0, "uncertainty": 0.6, "flags": 0.5, "age_per_day": 0.02},
    # How long a claim lasts without a heartbeat.
    "lease_minutes": 10,
    # Sensitive items one reviewer is offered per UTC day; then only other work.
    "sensitive_daily_cap": 60,
    # Minutes of continuous work before the UI suggests a break.
    "break_after_minutes": 50,
    # Share of decided items sent to blind second review, per category or "all".
    "sampling": {"all": 0.0},
}


# The claim and decision paths read settings on every request, so each worker keeps what it
# read for CACHE_SECONDS (per database). A change made here is seen at once by this worker and
# within CACHE_SECONDS by the others.
CACHE_SECONDS = 5.0
_cache: dict[sa.URL, tuple[float, dict[str, Any]]] = {}


def get(session: Session, key: str) -> Any:
    """Return a setting's value, or its default."""
    if key not in DEFAULTS:
        raise KeyError(key)
    stored = _stored(session)
    return _merged(key, stored.get(key), key in stored)


def current(session: Session, key: str) -> Any:
    """Return a setting's value read now, its row locked until the transaction ends.

    For a change computed from the value in force: get() may answer from a cache seconds old,
    and two such changes at once must not overwrite each other.
    """
    if key not in DEFAULTS:
        raise KeyError(key)
    row = session.get(Setting, key, with_for_update=True, populate_existing=True)
    return _merged(key, row.value.get("value") if row else None, row is not None)


def _merged(key: str, value: Any, stored: bool) -> Any:
    # A fresh dict every time: callers may change what they get.
    default = DEFAULTS[key]
    if isinstance(default, dict):
        return {**default, **value} if stored else dict(default)
    return value if stored else default


def _stored(session: Session) -> dict[str, Any]:
    """Return every stored setting's value, {key: value}, read at most CACHE_SECONDS ago."""
    url = session.get_bind().url
    read_at, values = _cache.get(url, (float("-inf"), {}))
    if time.monotonic() - read_at >= CACHE_SECONDS:
        values = {
            k: v.get("value") for k, v in session.execute(sa.select(Setting.key, Setting.value))
        }
        _cache[url] = (time.monotonic(), values)
    return values


def forget() -> None:
    """Drop what this process read, for a change made behind its back (a restore, a test's wipe)."""
    _cache.clear()


def put(session: Session, actor: User | None, key: str, value: Any) -> None:
    """Change a setting, audited; raise Invalid for an unknown key or a wrong type."""
    if key not in DEFAULTS:
        raise Invalid.field("key", f"unknown setting {key!r}")
    default = DEFAULTS[key]
    if isinstance(default, dict) != isinstance(value, dict) or (
        isinstance(default, (int, float)) and not isinstance(value, (int, float))
    ):
        raise Invalid.field(key, f"must be like {default!r}")
    row = session.get(Setting, key)
    before = row.value.get("value") if row else None
    if row is None:
        session.add(Setting(key=key, value={"value": value}))
    else:
        row.value = {"value": value}
    audit.record(session, actor, "setting.change", "setting", key, {"from": before, "to": value})
    session.flush()
    # Read afresh from now on; and again should this transaction roll back.
    forget()
    sa.event.listen(session, "after_soft_rollback", lambda *_: forget(), once=True)

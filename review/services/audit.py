"""Write and read the audit trail."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import AuditEvent, User

_INSERT = sa.insert(AuditEvent.__table__)


def record(
    session: Session,
    actor: User | None,
    action: str,
    target_type: str = "",
    target_id: object = "",
    changes: dict[str, Any] | None = None,
) -> None:
    """Write one audit event in the caller's transaction."""
    # A plain INSERT, not an ORM object: every claim and decision writes one, and nothing
    # reads the event back in the same transaction.
    session.execute(
        _INSERT,
        {
            "actor_id": actor.id if actor is not None else None,
            "actor_name": actor.username if actor is not None else "system",
            "action": action,
            "target_type": target_type,
            "target_id": str(target_id),
            "changes": changes or {},
        },
    )


def list_events(
    session: Session,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """Return audit events, newest first, filtered by action, actor name and time."""
    query = sa.select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action == action)
    if actor:
        query = query.where(AuditEvent.actor_name == actor)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    return list(session.scalars(query.limit(max(1, min(limit, 1000)))))


def to_json(event: AuditEvent) -> dict[str, Any]:
    """Return the API's view of one event."""
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor_name,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "changes": event.changes,
    }

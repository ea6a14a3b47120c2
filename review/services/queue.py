"""The review queue: claims under a lease, decisions, skips, escalations, undo and wellbeing.

Claiming is one atomic UPDATE over the queue indexes (ix_items_queue, ix_items_queue_category),
walked backwards by ORDER BY priority DESC, id DESC. On PostgreSQL the inner SELECT takes its row
FOR UPDATE SKIP LOCKED, so concurrent reviewers never wait on or take the same item; SQLite runs
every write transaction as BEGIN IMMEDIATE, so there the UPDATE is atomic by itself.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import (
    NO_ERROR,
    Category,
    Decision,
    DecisionKind,
    Escalation,
    Item,
    ItemStatus,
    Role,
    Skip,
    TaxonomyVersion,
    User,
    WorkInterval,
    utcnow,
)
from review.errors import Conflict, Forbidden, Invalid, NotFound
from review.services import audit, labels, sampling, settings
from review.services.flagformat import DEFAULT_LIMITS, Limits, check_text

# A label or category slug (the columns hold 64 characters).
SLUG_CHARS = 64

UNDO_WINDOW = timedelta(minutes=5)
# A heartbeat this soon after the last one continues the same stretch of work.
WORK_GAP = timedelta(minutes=2)


@dataclass(frozen=True)
class QueueOverview:
    open_items: int
    by_category: list[tuple[str, str, int]]  # (slug, display name, open items)
    decided_today: int


@dataclass(frozen=True)
class Claim:
    item: Item
    lease_expires_at: datetime
    resumed: bool  # True when the user already held this item (reopening the page resumes it)


@dataclass(frozen=True)
class Wellbeing:
    sensitive_today: int  # sensitive items this user decided today (UTC)
    sensitive_cap: int  # settings "sensitive_daily_cap"
    cap_reached: bool
    minutes_continuous: int  # length of the current work stretch (from heartbeats/WorkInterval)
    break_due: bool  # minutes_continuous >= settings "break_after_minutes"


@dataclass(frozen=True)
class WorkReport:
    seconds_worked: int  # from WorkInterval rows in [since, until)
    decisions: int
    by_category: list[tuple[str, int]]  # (label slug, count), most first
    sensitive: int
    by_day: list[tuple[date, int, int]]  # (day, seconds worked, decisions)


def start_of_day(now: datetime) -> datetime:
    """Return the UTC midnight that starts now's day."""
    return datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)


def overview(session: Session, user: User, now: datetime | None = None) -> QueueOverview:
    """Return queue sizes (overall and per queue category) and user's decisions today."""
    now = now or utcnow()
    counts = dict(
        session.execute(
            sa.select(Item.queue_category, sa.func.count(Item.id))
            .where(Item.status == ItemStatus.OPEN, _not_theirs_to_check(user))
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


# -- reading ---------------------------------------------------------------------------------


def sensitive_slugs(session: Session) -> set[str]:
    """Return the slugs of the sensitive categories."""
    return set(session.scalars(sa.select(Category.slug).where(Category.sensitive)))


def lease_length(session: Session) -> timedelta:
    """Return how long a claim lasts without a heartbeat."""
    return timedelta(minutes=float(settings.get(session, "lease_minutes")))


def _rare(session: Session, clause: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """Tell SQLite's planner that clause picks few rows, so that it takes the clause's index.

    After ANALYZE, SQLite keeps only averages: with a million open items and a handful claimed,
    status and claimed_by_id look unselective and it would scan the table. PostgreSQL keeps
    most-common-value statistics and needs no hint.
    """
    if session.get_bind().dialect.name == "sqlite":
        return sa.func.likelihood(clause, sa.literal_column("0.0001"))
    return clause


def _held(session: Session, user: User) -> Item | None:
    return session.scalar(
        sa.select(Item).where(
            _rare(session, Item.claimed_by_id == user.id), Item.status == ItemStatus.CLAIMED
        )
    )


def current_claim(session: Session, user: User, now: datetime | None = None) -> Item | None:
    """Return the item user holds under a live lease, or None."""
    now = now or utcnow()
    item = _held(session, user)
    if item is None or item.lease_expires_at is None or item.lease_expires_at <= now:
        return None
    return item


def sensitive_decided_today(session: Session, user: User, now: datetime) -> int:
    """Return how many sensitive items user decided since UTC midnight."""
    count = session.scalar(
        sa.select(sa.func.count(Decision.id)).where(
            Decision.reviewer_id == user.id,
            Decision.decided_at >= start_of_day(now),
            Decision.sensitive,
        )
    )
    return count or 0


# -- claims ----------------------------------------------------------------------------------


def _lock_claims(session: Session, user: User) -> Item | None:
    """Serialise user's own claims; return the item they hold (live lease or not), if any.

    Two tabs clicking at once must never hold two items, so on PostgreSQL the user's row is
    locked first (other reviewers are not blocked). The claim is read by a second statement:
    one that waited for the lock must see what the tab it waited for committed, and a
    statement keeps the snapshot it started with. SQLite's BEGIN IMMEDIATE already
    serialises every writer.
    """
    if session.get_bind().dialect.name != "sqlite":
        session.execute(
            sa.select(User.id).where(User.id == user.id).with_for_update(key_share=True)
        ).all()
    return _held(session, user)


def release_expired(session: Session, now: datetime | None = None) -> list[int]:
    """Put every item whose lease has run out back in the queue (audited); return their ids."""
    now = now or utcnow()
    rows = session.execute(
        sa.select(Item.id, Item.claimed_by_id, Item.lease_expires_at)
        .where(_rare(session, Item.status == ItemStatus.CLAIMED), Item.lease_expires_at <= now)
        # Rows another transaction is deciding or sweeping are left to it: no waits, and no
        # deadlock between two sweeps taking the same rows in different orders.
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return []
    ids = [r.id for r in rows]
    session.execute(
        sa.update(Item)
        .where(Item.id.in_(ids))
        .values(status=ItemStatus.OPEN, claimed_by_id=None, claimed_at=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    for item_id, holder, lease in rows:
        audit.record(
            session,
            None,
            "claim.expired",
            "item",
            item_id,
            {"reviewer_id": holder, "lease_expires_at": lease.isoformat() if lease else None},
        )
    _expire_cached(session, ids)
    session.flush()
    return ids


# Claims sweep expired leases at most once per SWEEP_INTERVAL in each worker (per database): a
# lease runs for minutes, so a lapsed item is back in the queue within seconds anyway, and the
# claims in between save a query.
SWEEP_INTERVAL = timedelta(seconds=5)
_last_sweep: dict[sa.URL, datetime] = {}


def _sweep_due(session: Session, now: datetime) -> bool:
    url = session.get_bind().url
    last = _last_sweep.get(url)
    if last is not None and last <= now < last + SWEEP_INTERVAL:
        return False
    _last_sweep[url] = now
    return True


def forget_sweeps() -> None:
    """Sweep on the next claim (after a change made behind this process's back, a test's wipe)."""
    _last_sweep.clear()


def _expire_cached(session: Session, item_ids: list[int]) -> None:
    # Bulk UPDATEs bypass the identity map; objects loaded earlier must reload.
    for item_id in item_ids:
        cached = session.identity_map.get(session.identity_key(Item, item_id))
        if cached is not None:
            session.expire(cached)


def _not_theirs_to_check(user: User) -> sa.ColumnElement[bool]:
    # A second review is blind and by someone else: never by a reviewer who decided the item.
    return sa.or_(
        Item.second_review.is_(False),
        ~sa.exists().where(Decision.item_id == Item.id, Decision.reviewer_id == user.id),
    )


def next_item_query(
    user: User, category: str | None, excluded: set[str], sensitive_cap: int | None, now: datetime
) -> sa.Select[tuple[int]]:
    """Return the SELECT of the next item user may claim, locking it and skipping locked rows.

    With sensitive_cap, items in sensitive categories are left out once user decided that many
    sensitive items today; the count is an uncorrelated subquery, evaluated once.
    """
    query = sa.select(Item.id).where(
        Item.status == ItemStatus.OPEN,
        ~sa.exists().where(Skip.user_id == user.id, Skip.item_id == Item.id),
        _not_theirs_to_check(user),
    )
    if category is not None:
        query = query.where(Item.queue_category == category)
    if excluded:
        query = query.where(
            sa.or_(Item.queue_category.is_(None), Item.queue_category.not_in(sorted(excluded)))
        )
    if sensitive_cap is not None:
        decided_today = (
            sa.select(sa.func.count(Decision.id))
            .where(
                Decision.reviewer_id == user.id,
                Decision.decided_at >= start_of_day(now),
                Decision.sensitive,
            )
            .scalar_subquery()
        )
        sensitive = sa.select(Category.slug).where(Category.sensitive)
        query = query.where(
            sa.or_(
                Item.queue_category.is_(None),
                Item.queue_category.not_in(sensitive),
                decided_today < sensitive_cap,
            )
        )
    return (
        query.order_by(Item.priority.desc(), Item.id.desc())
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def claim_next(
    session: Session, user: User, category: str | None = None, now: datetime | None = None
) -> Claim | None:
    """Return user's current claim (resumed), else claim the next item for them, else None.

    The next item is the open one of highest priority (optionally only queue_category ==
    category) that user has not skipped, not in user.excluded_categories, and not sensitive
    once user's daily sensitive cap is reached. Expired leases go back to the queue first.
    Raises Invalid for an unknown category.
    """
    now = now or utcnow()
    if category is not None:
        check_text(category, "category", SLUG_CHARS)
    if (
        category is not None
        and session.scalar(sa.select(Category.id).where(Category.slug == category)) is None
    ):
        raise Invalid.field("category", f"unknown category {category!r}")
    held = _lock_claims(session, user)
    if held is not None and (held.lease_expires_at is None or held.lease_expires_at <= now):
        # Their own claim ran out: it goes back to the queue (audited) like any other.
        release_expired(session, now)
        held = None
    elif _sweep_due(session, now):
        release_expired(session, now)
    lease = lease_length(session)
    if held is not None:
        # Reopening the page is activity: the lease starts again.
        held.lease_expires_at = now + lease
        _beat(session, user, now)
        session.flush()
        return Claim(held, held.lease_expires_at, resumed=True)

    target = next_item_query(
        user,
        category,
        set(user.excluded_categories or []),
        int(settings.get(session, "sensitive_daily_cap")),
        now,
    )
    item = session.scalar(
        sa.update(Item)
        .where(Item.id == target.scalar_subquery())
        .values(
            status=ItemStatus.CLAIMED,
            claimed_by_id=user.id,
            claimed_at=now,
            lease_expires_at=now + lease,
        )
        .returning(Item)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    if item is None:
        return None
    audit.record(
        session,
        user,
        "claim.create",
        "item",
        item.id,
        {"category": item.queue_category, "lease_expires_at": (now + lease).isoformat()},
    )
    _beat(session, user, now)
    session.flush()
    return Claim(item, now + lease, resumed=False)


# Whether an item was filed under a sensitive category (its decisions count toward the cap).
FILED_SENSITIVE = sa.func.coalesce(
    sa.select(Category.sensitive).where(Category.slug == Item.queue_category).scalar_subquery(),
    sa.false(),
)


def _take(
    session: Session,
    user: User,
    item_id: int,
    now: datetime,
    only_if: sa.ColumnElement[bool] | None = None,
    **values: Any,
) -> tuple[Item, bool]:
    """End user's live claim on item_id with values in one UPDATE; raise Conflict if not held.

    With only_if, the UPDATE also requires it (and raises Conflict when it is false). Returns
    the item and whether it was filed under a sensitive category.
    """
    conditions = [
        Item.id == item_id,
        Item.status == ItemStatus.CLAIMED,
        Item.claimed_by_id == user.id,
        Item.lease_expires_at > now,
    ]
    if only_if is not None:
        conditions.append(only_if)
    row = session.execute(
        sa.update(Item)
        .where(*conditions)
        .values(claimed_by_id=None, claimed_at=None, lease_expires_at=None, **values)
        .returning(Item, FILED_SENSITIVE)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).first()
    if row is None:
        raise _not_held(session, user, item_id, now)
    return row[0], bool(row[1])


def _not_held(session: Session, user: User, item_id: int, now: datetime) -> Exception:
    """Return the error that says why user does not hold item_id."""
    item = session.get(Item, item_id, populate_existing=True)
    if item is None:
        return NotFound(f"no flagged conversation with id {item_id}")
    if item.status == ItemStatus.CLAIMED and item.claimed_by_id == user.id:
        message = (
            f"your claim on item {item_id} expired at {item.lease_expires_at:%H:%M:%S} UTC; "
            "claim the next item to continue"
        )
    elif item.status == ItemStatus.CLAIMED:
        message = f"item {item_id} is claimed by another reviewer"
    elif item.status == ItemStatus.DECIDED:
        message = f"item {item_id} was already decided"
    else:
        message = f"you do not hold a claim on item {item_id} (it is {item.status.value})"
    return Conflict(message, [{"field": "id", "message": message}])


def decide(
    session: Session,
    user: User,
    item_id: int,
    label: str,
    note: str = "",
    corrected_response: str | None = None,
    now: datetime | None = None,
    kind: DecisionKind = DecisionKind.FIRST,
    limits: Limits = DEFAULT_LIMITS,
) -> Decision:
    """Record user's decision on the item they hold and end the claim.

    Raises Invalid if label is not an active category slug (or corrected_response is given
    with the no-error outcome), or a text breaks limits; Conflict unless user holds a live
    claim on item_id.
    """
    now = now or utcnow()
    check_text(label, "label", SLUG_CHARS)
    check_text(note, "note", limits.max_note_chars)
    if corrected_response is not None:
        check_text(corrected_response, "corrected_response", limits.max_correction_chars)
    if corrected_response is not None and label == NO_ERROR:
        raise Invalid.field("corrected_response", "only an error label can carry a correction")
    # The label's check rides on the UPDATE; only a refused one looks closer at why.
    label_in_force = sa.exists().where(Category.slug == label, Category.active)
    try:
        item, sensitive = _take(
            session,
            user,
            item_id,
            now,
            only_if=label_in_force,
            status=ItemStatus.DECIDED,
            final_label=label,
            decided_at=now,
        )
    except Conflict:
        _check_label(session, label)  # a bad label is the error to report
        raise
    if item.second_review and kind == DecisionKind.FIRST:
        kind = DecisionKind.SECOND
    decision = _record_decision(
        session, user, item, sensitive, label, kind, now, note, corrected_response
    )
    if kind == DecisionKind.SECOND:
        _close_second_review(session, user, item, label, now)
    elif kind == DecisionKind.FIRST:
        _draw_second_review(session, user, item, decision)
    _beat(session, user, now)
    session.flush()
    return decision


def _check_label(session: Session, label: str) -> None:
    """Raise Invalid unless label is an active category."""
    if not session.scalar(sa.select(Category.active).where(Category.slug == label)):
        raise Invalid.field("label", f"unknown or retired category {label!r}")


def _record_decision(
    session: Session,
    user: User,
    item: Item,
    sensitive: bool,
    label: str,
    kind: DecisionKind,
    now: datetime,
    note: str = "",
    corrected_response: str | None = None,
) -> Decision:
    """Store user's decision on item (sensitive: it was filed under a sensitive category)."""
    decision = Decision(
        item_id=item.id,
        reviewer_id=user.id,
        label=label,
        note=note,
        corrected_response=corrected_response,
        kind=kind,
        queue_category=item.queue_category,
        sensitive=sensitive,
        # Evaluated inside the INSERT: the version in force when the decision is stored.
        taxonomy_version=sa.select(
            sa.func.coalesce(sa.func.max(TaxonomyVersion.id), 1)
        ).scalar_subquery(),
        decided_at=now,
    )
    session.add(decision)
    session.flush()
    audit.record(
        session,
        user,
        "decision.create",
        "item",
        item.id,
        {"decision": decision.id, "label": label, "kind": kind.value},
    )
    return decision


def _draw_second_review(session: Session, user: User, item: Item, decision: Decision) -> None:
    # At the sampling rate for its label, the item goes back to the queue for someone else.
    rate = sampling.rate_for(sampling.rates(session), decision.label, item.queue_category)
    if not sampling.drawn(item.id, decision.id, rate):
        return
    item.status = ItemStatus.OPEN
    item.second_review = True
    audit.record(
        session, user, "review.sampled", "item", item.id, {"decision": decision.id, "rate": rate}
    )


def _close_second_review(
    session: Session, user: User, item: Item, label: str, now: datetime
) -> None:
    # The second label stands (it beats a first decision); a disagreement goes to the safety
    # team's escalation list, which keeps the item out of exports until it is resolved.
    item.second_review = False
    first = session.scalar(
        sa.select(Decision.label)
        .where(Decision.item_id == item.id, Decision.kind == DecisionKind.FIRST)
        .order_by(*labels.latest_order())
        .limit(1)
    )
    if first is None or first == label:
        return
    note = f"second review disagrees: first {first}, second {label}"
    escalation = Escalation(item_id=item.id, user_id=user.id, note=note, created_at=now)
    session.add(escalation)
    session.flush()
    audit.record(
        session,
        user,
        "review.disagreement",
        "item",
        item.id,
        {"escalation": escalation.id, "first": first, "second": label},
    )


def skip(session: Session, user: User, item_id: int, now: datetime | None = None) -> None:
    """Give the item back to the queue, never to be offered to user again; Conflict unless held."""
    now = now or utcnow()
    _take(session, user, item_id, now, status=ItemStatus.OPEN)
    session.add(Skip(user_id=user.id, item_id=item_id, at=now))
    audit.record(session, user, "item.skip", "item", item_id)
    _beat(session, user, now)
    session.flush()


def escalate(
    session: Session,
    user: User,
    item_id: int,
    note: str = "",
    now: datetime | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Escalation:
    """Put the item on the safety team's escalation list with note; Conflict unless held."""
    now = now or utcnow()
    check_text(note, "note", limits.max_note_chars)
    _take(session, user, item_id, now, status=ItemStatus.ESCALATED)
    escalation = Escalation(item_id=item_id, user_id=user.id, note=note, created_at=now)
    session.add(escalation)
    session.flush()
    audit.record(
        session, user, "item.escalate", "item", item_id, {"escalation": escalation.id, "note": note}
    )
    _beat(session, user, now)
    session.flush()
    return escalation


def open_escalations(session: Session) -> list[tuple[Escalation, Item]]:
    """Return the safety team's list: unresolved escalations with their items, oldest first."""
    rows = session.execute(
        sa.select(Escalation, Item)
        .join(Item, Item.id == Escalation.item_id)
        .where(Escalation.resolved_at.is_(None))
        .order_by(Escalation.created_at, Escalation.id)
    ).all()
    return [(e, i) for e, i in rows]


def resolve_escalation(
    session: Session,
    actor: User,
    escalation_id: int,
    label: str,
    note: str = "",
    now: datetime | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Decision:
    """Settle an escalated item with the safety team's label: an adjudication decision.

    The item becomes decided with that label (it beats every other decision), whoever held
    it loses the claim, and every open escalation on it is resolved. Raises NotFound for an
    unknown escalation, Conflict if it is resolved already, Invalid for a bad label.
    """
    now = now or utcnow()
    check_text(label, "label", SLUG_CHARS)
    check_text(note, "note", limits.max_note_chars)
    escalation = session.get(Escalation, escalation_id, with_for_update=True)
    if escalation is None:
        raise NotFound(f"no escalation with id {escalation_id}")
    if escalation.resolved_at is not None:
        raise Conflict(
            f"escalation {escalation_id} was resolved already",
            [{"field": "id", "message": "resolved already"}],
        )
    _check_label(session, label)
    item, sensitive = session.execute(
        sa.select(Item, FILED_SENSITIVE)
        .where(Item.id == escalation.item_id)
        .execution_options(populate_existing=True)
    ).one()  # the foreign key cascades deletes: the item is there
    item.status = ItemStatus.DECIDED
    item.final_label = label
    item.decided_at = now
    item.second_review = False
    item.claimed_by_id = item.claimed_at = item.lease_expires_at = None
    decision = _record_decision(
        session, actor, item, bool(sensitive), label, DecisionKind.ADJUDICATION, now, note
    )
    resolved = list(
        session.scalars(
            sa.update(Escalation)
            .where(Escalation.item_id == item.id, Escalation.resolved_at.is_(None))
            .values(resolved_at=now, resolved_by_id=actor.id)
            .returning(Escalation.id)
            .execution_options(synchronize_session=False)
        )
    )
    session.expire(escalation)
    session.flush()
    audit.record(
        session,
        actor,
        "escalation.resolve",
        "item",
        item.id,
        {"escalations": sorted(resolved), "decision": decision.id, "label": label, "note": note},
    )
    session.flush()
    return decision


def undo_last(session: Session, user: User, now: datetime | None = None) -> Item:
    """Remove user's last decision (made within UNDO_WINDOW) and give them the item again.

    A claim user holds meanwhile goes back to the queue. Raises Conflict when the last
    decision is older than the window, or the item has moved on since.
    """
    now = now or utcnow()
    held = _lock_claims(session, user)
    last = session.scalar(
        sa.select(Decision)
        .where(Decision.reviewer_id == user.id)
        .order_by(Decision.decided_at.desc(), Decision.id.desc())
        .limit(1)
    )
    if last is None or last.decided_at < now - UNDO_WINDOW:
        raise Conflict(
            "nothing to undo: only your last decision, within 5 minutes, can be undone",
            [{"field": "decision", "message": "no decision of yours in the last 5 minutes"}],
        )
    if held is not None and held.id != last.item_id:
        _release(session, user, held)
    lease = lease_length(session)
    undoable = Item.status == ItemStatus.DECIDED
    if last.kind == DecisionKind.FIRST:
        # Drawn for second review but not yet claimed by anyone: still the first reviewer's.
        undoable = sa.or_(
            undoable, sa.and_(Item.status == ItemStatus.OPEN, Item.second_review.is_(True))
        )
    item = session.scalar(
        sa.update(Item)
        .where(
            Item.id == last.item_id,
            undoable,
            Item.final_label == last.label,
            # Nobody decided it after user (a second review that happened to agree).
            ~sa.exists().where(Decision.item_id == Item.id, Decision.id > last.id),
        )
        .values(
            status=ItemStatus.CLAIMED,
            claimed_by_id=user.id,
            claimed_at=now,
            lease_expires_at=now + lease,
            final_label=None,
            decided_at=None,
            # Undoing a second review makes the item a pending second review again.
            second_review=last.kind == DecisionKind.SECOND,
        )
        .returning(Item)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    if item is None:
        raise Conflict(
            f"item {last.item_id} has changed since your decision; it cannot be undone",
            [{"field": "decision", "message": "the item moved on"}],
        )
    audit.record(
        session,
        user,
        "decision.undo",
        "item",
        item.id,
        {
            "decision": last.id,
            "label": last.label,
            "note": last.note,
            "corrected_response": last.corrected_response,
            "kind": last.kind.value,
            "decided_at": last.decided_at.isoformat(),
        },
    )
    if last.kind == DecisionKind.SECOND:
        # The disagreement it raised, if any, goes with it.
        session.execute(
            sa.delete(Escalation).where(
                Escalation.item_id == item.id,
                Escalation.user_id == user.id,
                Escalation.resolved_at.is_(None),
                Escalation.created_at >= last.decided_at,
            )
        )
    session.delete(last)
    session.flush()
    return item


def _release(session: Session, user: User, item: Item) -> None:
    item.status = ItemStatus.OPEN
    item.claimed_by_id = None
    item.claimed_at = None
    item.lease_expires_at = None
    audit.record(session, user, "claim.release", "item", item.id)
    session.flush()


def release(session: Session, user: User, now: datetime | None = None) -> Item | None:
    """Give user's current claim back to the queue; return the item, or None if none was held."""
    item = _held(session, user)
    if item is None:
        return None
    _release(session, user, item)
    return item


# -- work time and wellbeing -----------------------------------------------------------------


def _beat(session: Session, user: User, now: datetime) -> None:
    """Extend user's current stretch of work to now, or start a new one after a gap."""
    latest = (
        sa.select(WorkInterval.id)
        .where(WorkInterval.user_id == user.id)
        .order_by(WorkInterval.last_beat_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    # One statement in the common case: the latest stretch is recent, so it grows to now. A
    # plain UPDATE: work intervals are only ever read back as columns, never as objects.
    intervals = WorkInterval.__table__
    extended = session.execute(
        sa.update(intervals)
        .where(
            intervals.c.id == latest,
            intervals.c.last_beat_at >= now - WORK_GAP,
            intervals.c.last_beat_at <= now,
        )
        .values(last_beat_at=now)
    )
    if extended.rowcount:  # type: ignore[attr-defined]
        return
    last = session.scalar(
        sa.select(sa.func.max(WorkInterval.last_beat_at)).where(WorkInterval.user_id == user.id)
    )
    # A beat older than the last one (a late request) adds nothing.
    if last is None or now > last:
        session.add(WorkInterval(user_id=user.id, started_at=now, last_beat_at=now))


def heartbeat(session: Session, user: User, now: datetime | None = None) -> datetime | None:
    """Renew the lease of user's live claim and record work time; None if there is no claim."""
    now = now or utcnow()
    expires = now + lease_length(session)
    renewed = session.scalar(
        sa.update(Item)
        .where(
            _rare(session, Item.claimed_by_id == user.id),
            Item.status == ItemStatus.CLAIMED,
            # An expired lease stays lost: reviving it would let a stale page decide.
            Item.lease_expires_at > now,
        )
        .values(lease_expires_at=expires)
        .returning(Item.id)
        .execution_options(synchronize_session=False)
    )
    if renewed is None:
        return None
    _expire_cached(session, [renewed])
    _beat(session, user, now)
    session.flush()
    return expires


def _current_stretch(session: Session, user: User, now: datetime) -> timedelta:
    last = session.execute(
        sa.select(WorkInterval.started_at, WorkInterval.last_beat_at)
        .where(WorkInterval.user_id == user.id)
        .order_by(WorkInterval.last_beat_at.desc())
        .limit(1)
    ).first()
    if last is None or now - last.last_beat_at > WORK_GAP:
        return timedelta(0)
    return max(now - last.started_at, timedelta(0))


def wellbeing(session: Session, user: User, now: datetime | None = None) -> Wellbeing:
    """Return user's sensitive count against the daily cap and whether a break is due."""
    now = now or utcnow()
    cap = int(settings.get(session, "sensitive_daily_cap"))
    today = sensitive_decided_today(session, user, now)
    minutes = int(_current_stretch(session, user, now).total_seconds() // 60)
    return Wellbeing(
        sensitive_today=today,
        sensitive_cap=cap,
        cap_reached=today >= cap,
        minutes_continuous=minutes,
        break_due=minutes >= int(settings.get(session, "break_after_minutes")),
    )


def _merged(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    # Two tabs beating at once can open overlapping intervals; time is counted once.
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def work_report(session: Session, user: User, since: datetime, until: datetime) -> WorkReport:
    """Return user's worked time and decisions in [since, until), in total and per UTC day."""
    rows = session.execute(
        sa.select(WorkInterval.started_at, WorkInterval.last_beat_at).where(
            WorkInterval.user_id == user.id,
            WorkInterval.started_at < until,
            WorkInterval.last_beat_at >= since,
        )
    ).all()
    clipped = [(max(s, since), min(e, until)) for s, e in rows]
    seconds_by_day: Counter[date] = Counter()
    for start, end in _merged([(s, e) for s, e in clipped if e > s]):
        cursor = start
        while cursor < end:
            midnight = start_of_day(cursor) + timedelta(days=1)
            piece_end = min(end, midnight)
            seconds_by_day[cursor.date()] += (piece_end - cursor).total_seconds()
            cursor = piece_end
    decisions = session.execute(
        sa.select(Decision.label, Decision.sensitive, Decision.decided_at).where(
            Decision.reviewer_id == user.id,
            Decision.decided_at >= since,
            Decision.decided_at < until,
        )
    ).all()
    labels = Counter(d.label for d in decisions)
    decisions_by_day = Counter(d.decided_at.date() for d in decisions)
    days = sorted(set(seconds_by_day) | set(decisions_by_day))
    return WorkReport(
        seconds_worked=int(sum(seconds_by_day.values())),
        decisions=len(decisions),
        by_category=sorted(labels.items(), key=lambda kv: (-kv[1], kv[0])),
        sensitive=sum(1 for d in decisions if d.sensitive),
        by_day=[(d, int(seconds_by_day[d]), decisions_by_day[d]) for d in days],
    )


def set_excluded_categories(session: Session, actor: User, user: User, slugs: list[str]) -> None:
    """Set the categories user is not shown; raise Invalid for an unknown slug.

    Reviewers set their own; an admin may set anyone's (Forbidden otherwise).
    """
    if actor.id != user.id and actor.role != Role.ADMIN:
        raise Forbidden("only an admin can change another reviewer's excluded categories")
    wanted = list(dict.fromkeys(slugs))
    known = set(session.scalars(sa.select(Category.slug).where(Category.slug.in_(wanted))))
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise Invalid.field("excluded_categories", f"unknown category {unknown[0]!r}")
    before = list(user.excluded_categories or [])
    user.excluded_categories = wanted
    audit.record(
        session,
        actor,
        "user.excluded_categories",
        "user",
        user.id,
        {"from": before, "to": wanted},
    )
    session.flush()

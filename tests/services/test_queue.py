"""The queue service: claims, leases, decisions, skips, escalations, undo and wellbeing."""

import functools
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from models import (
    AuditEvent,
    Decision,
    Escalation,
    Item,
    ItemStatus,
    Role,
    Skip,
    WorkInterval,
)
from review.errors import Conflict, Forbidden, Invalid, NotFound
from review.services import queue, settings

from factories import T0, make_item, make_user


def actions(session, action: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def test_claim_takes_highest_priority_then_newest(session, reviewer, other) -> None:
    low = make_item(session, 1.0)
    high_old = make_item(session, 5.0)
    high_new = make_item(session, 5.0)
    first = queue.claim_next(session, reviewer, now=T0)
    second = queue.claim_next(session, other, now=T0)
    assert first is not None and second is not None
    assert (first.item.id, second.item.id) == (high_new.id, high_old.id)
    assert not first.resumed
    assert first.lease_expires_at == T0 + timedelta(minutes=10)
    assert first.item.status == ItemStatus.CLAIMED and first.item.claimed_by_id == reviewer.id
    assert [e.target_id for e in actions(session, "claim.create")] == [
        str(high_new.id),
        str(high_old.id),
    ]
    assert low.status == ItemStatus.OPEN


def test_claiming_again_resumes_the_held_item(session, reviewer) -> None:
    make_item(session, 1.0)
    make_item(session, 2.0)
    first = queue.claim_next(session, reviewer, now=T0)
    again = queue.claim_next(session, reviewer, now=T0 + timedelta(minutes=3))
    assert first is not None and again is not None
    assert again.item.id == first.item.id and again.resumed
    assert again.lease_expires_at == T0 + timedelta(minutes=13)
    held = session.scalars(sa.select(Item).where(Item.claimed_by_id == reviewer.id)).all()
    assert len(held) == 1
    assert queue.current_claim(session, reviewer, now=T0 + timedelta(minutes=4)) == first.item


def test_empty_queue_gives_none(session, reviewer) -> None:
    assert queue.claim_next(session, reviewer, now=T0) is None
    assert queue.current_claim(session, reviewer, now=T0) is None


def test_claim_within_one_category(session, reviewer) -> None:
    make_item(session, 9.0, "factual_error")
    bias = make_item(session, 1.0, "bias")
    claim = queue.claim_next(session, reviewer, category="bias", now=T0)
    assert claim is not None and claim.item.id == bias.id
    with pytest.raises(Invalid) as error:
        queue.claim_next(session, reviewer, category="nope", now=T0)
    assert error.value.details[0]["field"] == "category"


def test_category_queue_empty_gives_none(session, reviewer) -> None:
    make_item(session, 9.0, "factual_error")
    assert queue.claim_next(session, reviewer, category="privacy", now=T0) is None


def test_excluded_categories_are_not_offered(session, reviewer) -> None:
    make_item(session, 9.0, "violence")
    fine = make_item(session, 1.0, "bias")
    uncategorised = make_item(session, 0.5, None)
    queue.set_excluded_categories(session, reviewer, reviewer, ["violence"])
    assert reviewer.excluded_categories == ["violence"]
    assert actions(session, "user.excluded_categories")[0].changes["to"] == ["violence"]
    claim = queue.claim_next(session, reviewer, now=T0)
    assert claim is not None and claim.item.id == fine.id
    queue.decide(session, reviewer, fine.id, "bias", now=T0)
    claim = queue.claim_next(session, reviewer, now=T0)
    assert claim is not None and claim.item.id == uncategorised.id


def test_set_excluded_categories_checks_slugs_and_actor(session, reviewer, other) -> None:
    with pytest.raises(Invalid) as error:
        queue.set_excluded_categories(session, reviewer, reviewer, ["violence", "nope"])
    assert error.value.details[0]["field"] == "excluded_categories"
    with pytest.raises(Forbidden):
        queue.set_excluded_categories(session, other, reviewer, ["violence"])
    admin = make_user(Role.ADMIN, "ada")
    queue.set_excluded_categories(session, admin, reviewer, ["violence", "violence"])
    assert reviewer.excluded_categories == ["violence"]


def test_sensitive_cap_then_only_other_work(session, reviewer) -> None:
    settings.put(session, None, "sensitive_daily_cap", 2)
    assert {"self_harm", "violence"} <= queue.sensitive_slugs(session)
    for _ in range(3):
        make_item(session, 9.0, "self_harm")
    calm = make_item(session, 1.0, "bias")
    for _ in range(2):
        claim = queue.claim_next(session, reviewer, now=T0)
        assert claim is not None and claim.item.queue_category == "self_harm"
        decision = queue.decide(session, reviewer, claim.item.id, "self_harm", now=T0)
        assert decision.sensitive and decision.queue_category == "self_harm"
    state = queue.wellbeing(session, reviewer, now=T0)
    assert (state.sensitive_today, state.sensitive_cap, state.cap_reached) == (2, 2, True)
    claim = queue.claim_next(session, reviewer, now=T0)
    assert claim is not None and claim.item.id == calm.id
    queue.decide(session, reviewer, calm.id, "bias", now=T0)
    assert queue.claim_next(session, reviewer, now=T0) is None
    # A new UTC day, a new allowance.
    claim = queue.claim_next(session, reviewer, now=T0 + timedelta(days=1))
    assert claim is not None and claim.item.queue_category == "self_harm"


def test_decide_records_decision_and_ends_claim(session, reviewer) -> None:
    item = make_item(session, 1.0, "factual_error")
    queue.claim_next(session, reviewer, now=T0)
    decision = queue.decide(
        session,
        reviewer,
        item.id,
        "factual_error",
        note="made up",
        corrected_response="fixed",
        now=T0,
    )
    assert decision.kind.value == "first" and decision.reviewer_id == reviewer.id
    assert (decision.note, decision.corrected_response) == ("made up", "fixed")
    assert not decision.sensitive
    session.refresh(item)
    assert item.status == ItemStatus.DECIDED and item.final_label == "factual_error"
    assert item.decided_at is not None and item.claimed_by_id is None
    assert item.lease_expires_at is None
    [event] = actions(session, "decision.create")
    assert event.changes["label"] == "factual_error" and event.target_id == str(item.id)


def test_decide_rejects_bad_labels(session, reviewer) -> None:
    item = make_item(session)
    queue.claim_next(session, reviewer, now=T0)
    with pytest.raises(Invalid) as error:
        queue.decide(session, reviewer, item.id, "nonsense", now=T0)
    assert error.value.details[0]["field"] == "label"
    with pytest.raises(Invalid) as error:
        queue.decide(session, reviewer, item.id, "no_error", corrected_response="x", now=T0)
    assert error.value.details[0]["field"] == "corrected_response"
    assert queue.decide(session, reviewer, item.id, "no_error", now=T0).label == "no_error"


def test_decide_without_claim_conflicts(session, reviewer, other) -> None:
    item = make_item(session)
    with pytest.raises(Conflict):
        queue.decide(session, reviewer, item.id, "bias", now=T0)
    queue.claim_next(session, other, now=T0)
    with pytest.raises(Conflict, match="another reviewer"):
        queue.decide(session, reviewer, item.id, "bias", now=T0)
    with pytest.raises(NotFound):
        queue.decide(session, reviewer, 999_999, "bias", now=T0)
    queue.decide(session, other, item.id, "bias", now=T0)
    with pytest.raises(Conflict, match="already decided"):
        queue.decide(session, other, item.id, "bias", now=T0)
    assert session.scalar(sa.select(sa.func.count(Decision.id))) == 1


def test_expired_lease_conflicts_and_returns_item_to_queue(session, reviewer, other) -> None:
    item = make_item(session)
    queue.claim_next(session, reviewer, now=T0)
    late = T0 + timedelta(minutes=10, seconds=1)
    with pytest.raises(Conflict, match="expired"):
        queue.decide(session, reviewer, item.id, "bias", now=late)
    assert queue.current_claim(session, reviewer, now=late) is None
    assert queue.heartbeat(session, reviewer, now=late) is None
    claim = queue.claim_next(session, other, now=late)
    assert claim is not None and claim.item.id == item.id
    [event] = actions(session, "claim.expired")
    assert event.target_id == str(item.id) and event.changes["reviewer_id"] == reviewer.id
    assert event.actor_name == "system"
    with pytest.raises(Conflict, match="another reviewer"):
        queue.decide(session, reviewer, item.id, "bias", now=late)
    assert queue.decide(session, other, item.id, "bias", now=late).reviewer_id == other.id


def test_release_expired_lists_swept_items(session, reviewer, other) -> None:
    a = make_item(session, 2.0)
    b = make_item(session, 1.0)
    queue.claim_next(session, reviewer, now=T0)
    queue.claim_next(session, other, now=T0 + timedelta(minutes=5))
    assert queue.release_expired(session, now=T0 + timedelta(minutes=11)) == [a.id]
    assert queue.release_expired(session, now=T0 + timedelta(minutes=16)) == [b.id]
    assert queue.release_expired(session, now=T0 + timedelta(minutes=30)) == []
    session.refresh(a)
    assert a.status == ItemStatus.OPEN and a.claimed_by_id is None


def test_claims_sweep_expired_leases_once_per_interval(session, reviewer, other) -> None:
    item = make_item(session)
    queue.claim_next(session, reviewer, now=T0)
    swept_at = T0 + timedelta(minutes=10) - timedelta(seconds=1)
    assert queue.claim_next(session, other, now=swept_at) is None  # swept; the lease still runs
    lapsed = T0 + timedelta(minutes=10, seconds=1)
    # The lease ran out, but the last sweep is too recent for another one.
    assert queue.claim_next(session, other, now=lapsed) is None
    claim = queue.claim_next(session, other, now=swept_at + queue.SWEEP_INTERVAL)
    assert claim is not None and claim.item.id == item.id


def test_reopening_after_own_lease_ran_out_is_a_new_claim_not_a_revival(
    session, reviewer, other
) -> None:
    a = make_item(session, 2.0)
    make_item(session, 1.0)
    queue.claim_next(session, reviewer, now=T0)
    assert queue.claim_next(session, other, now=T0 + timedelta(minutes=9, seconds=59))
    # Within the sweep interval of that claim, yet reviewer's own lapsed claim is not revived.
    reopened = queue.claim_next(session, reviewer, now=T0 + timedelta(minutes=10, seconds=1))
    assert reopened is not None and not reopened.resumed
    assert reopened.item.id == a.id  # still first in the queue, claimed afresh
    expired = session.scalars(
        sa.select(AuditEvent.target_id).where(AuditEvent.action == "claim.expired")
    ).all()
    assert expired == [str(a.id)]


def test_heartbeat_renews_lease(session, reviewer) -> None:
    item = make_item(session)
    queue.claim_next(session, reviewer, now=T0)
    renewed = queue.heartbeat(session, reviewer, now=T0 + timedelta(minutes=9))
    assert renewed == T0 + timedelta(minutes=19)
    # The renewed lease keeps the claim alive past the first lease.
    at = T0 + timedelta(minutes=15)
    assert queue.current_claim(session, reviewer, now=at) == item
    assert queue.decide(session, reviewer, item.id, "bias", now=at).label == "bias"


def test_heartbeat_without_claim(session, reviewer) -> None:
    assert queue.heartbeat(session, reviewer, now=T0) is None


def test_release_gives_item_back(session, reviewer, other) -> None:
    item = make_item(session)
    queue.claim_next(session, reviewer, now=T0)
    released = queue.release(session, reviewer, now=T0)
    assert released is not None and released.id == item.id
    assert released.status == ItemStatus.OPEN and released.claimed_by_id is None
    assert actions(session, "claim.release")[0].target_id == str(item.id)
    assert queue.release(session, reviewer, now=T0) is None
    # Released is not skipped: offered again, to anyone.
    claim = queue.claim_next(session, reviewer, now=T0)
    assert claim is not None and claim.item.id == item.id


def test_skip_is_not_offered_again(session, reviewer, other) -> None:
    first = make_item(session, 2.0)
    second = make_item(session, 1.0)
    queue.claim_next(session, reviewer, now=T0)
    queue.skip(session, reviewer, first.id, now=T0)
    assert session.scalar(sa.select(Skip.item_id).where(Skip.user_id == reviewer.id)) == first.id
    assert actions(session, "item.skip")[0].target_id == str(first.id)
    claim = queue.claim_next(session, reviewer, now=T0)
    assert claim is not None and claim.item.id == second.id
    queue.decide(session, reviewer, second.id, "bias", now=T0)
    assert queue.claim_next(session, reviewer, now=T0) is None
    # Others still get it.
    claim = queue.claim_next(session, other, now=T0)
    assert claim is not None and claim.item.id == first.id
    with pytest.raises(Conflict):
        queue.skip(session, reviewer, first.id, now=T0)


def test_escalate_puts_item_on_safety_list(session, reviewer) -> None:
    item = make_item(session)
    queue.claim_next(session, reviewer, now=T0)
    escalation = queue.escalate(session, reviewer, item.id, note="threat to a person", now=T0)
    assert isinstance(escalation, Escalation) and escalation.note == "threat to a person"
    session.refresh(item)
    assert item.status == ItemStatus.ESCALATED and item.claimed_by_id is None
    assert [(e.id, i.id) for e, i in queue.open_escalations(session)] == [(escalation.id, item.id)]
    assert actions(session, "item.escalate")[0].changes["note"] == "threat to a person"
    assert queue.claim_next(session, reviewer, now=T0) is None
    with pytest.raises(Conflict):
        queue.escalate(session, reviewer, item.id, now=T0)


def test_undo_within_window_restores_claim(session, reviewer) -> None:
    first = make_item(session, 2.0)
    second = make_item(session, 1.0)
    queue.claim_next(session, reviewer, now=T0)
    queue.decide(session, reviewer, first.id, "bias", note="why", now=T0)
    claim = queue.claim_next(session, reviewer, now=T0)
    assert claim is not None and claim.item.id == second.id
    later = T0 + timedelta(minutes=4, seconds=59)
    item = queue.undo_last(session, reviewer, now=later)
    assert item.id == first.id and item.status == ItemStatus.CLAIMED
    assert item.claimed_by_id == reviewer.id and item.final_label is None
    assert session.scalar(sa.select(sa.func.count(Decision.id))) == 0
    [event] = actions(session, "decision.undo")
    assert event.changes["label"] == "bias" and event.changes["note"] == "why"
    # The item held meanwhile went back to the queue, audited.
    session.refresh(second)
    assert second.status == ItemStatus.OPEN
    assert actions(session, "claim.release")[0].target_id == str(second.id)
    assert queue.current_claim(session, reviewer, now=later) == item
    assert queue.decide(session, reviewer, first.id, "privacy", now=later).label == "privacy"


def test_undo_after_window_conflicts(session, reviewer) -> None:
    item = make_item(session)
    with pytest.raises(Conflict):
        queue.undo_last(session, reviewer, now=T0)
    queue.claim_next(session, reviewer, now=T0)
    queue.decide(session, reviewer, item.id, "bias", now=T0)
    with pytest.raises(Conflict, match="5 minutes"):
        queue.undo_last(session, reviewer, now=T0 + timedelta(minutes=5, seconds=1))
    assert session.scalar(sa.select(sa.func.count(Decision.id))) == 1


def test_work_time_from_heartbeats_and_wellbeing(session, reviewer) -> None:
    settings.put(session, None, "break_after_minutes", 30)
    make_item(session)
    queue.claim_next(session, reviewer, now=T0)
    beat = T0
    for _ in range(20):  # every 100 s: one stretch of 2000 s
        beat += timedelta(seconds=100)
        assert queue.heartbeat(session, reviewer, now=beat) is not None
    state = queue.wellbeing(session, reviewer, now=beat)
    assert state.minutes_continuous == 33 and state.break_due
    # After a gap of more than two minutes a new stretch starts.
    resume = beat + timedelta(minutes=3)
    queue.heartbeat(session, reviewer, now=resume)
    state = queue.wellbeing(session, reviewer, now=resume + timedelta(seconds=30))
    assert state.minutes_continuous == 0 and not state.break_due
    assert session.scalar(sa.select(sa.func.count(WorkInterval.id))) == 2
    assert (
        queue.wellbeing(session, reviewer, now=resume + timedelta(hours=1)).minutes_continuous == 0
    )


def test_work_report_per_day(session, reviewer) -> None:
    late = datetime(2026, 11, 20, 23, 50, tzinfo=UTC)
    session.add_all(
        [
            WorkInterval(
                user_id=reviewer.id, started_at=late, last_beat_at=late + timedelta(minutes=20)
            ),
            # Overlapping interval (two tabs): counted once.
            WorkInterval(
                user_id=reviewer.id,
                started_at=late + timedelta(minutes=5),
                last_beat_at=late + timedelta(minutes=15),
            ),
        ]
    )
    items = [make_item(session, p, c) for p, c in ((3, "bias"), (2, "self_harm"), (1, "bias"))]
    for n, item in enumerate(items):
        at = late + timedelta(minutes=2 + 5 * n)
        claim = queue.claim_next(session, reviewer, now=at)
        assert claim is not None and claim.item.id == item.id
        queue.decide(session, reviewer, item.id, item.queue_category or "", now=at)
    report = queue.work_report(
        session, reviewer, datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC)
    )
    assert report.seconds_worked == 20 * 60
    assert report.decisions == 3 and report.sensitive == 1
    assert report.by_category == [("bias", 2), ("self_harm", 1)]
    assert report.by_day == [(date(2026, 11, 20), 600, 2), (date(2026, 11, 21), 600, 1)]
    only_first_day = queue.work_report(
        session, reviewer, datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)
    )
    assert only_first_day.seconds_worked == 600 and only_first_day.decisions == 2


def test_overview_counts_open_items_per_category(session, reviewer) -> None:
    make_item(session, 1.0, "bias")
    make_item(session, 1.0, "bias")
    make_item(session, 0.5, "privacy")
    claim = queue.claim_next(session, reviewer)
    assert claim is not None
    queue.decide(session, reviewer, claim.item.id, "bias")
    view = queue.overview(session, reviewer)
    assert view.open_items == 2 and view.decided_today == 1
    assert sorted((slug, n) for slug, _name, n in view.by_category) == [("bias", 1), ("privacy", 1)]


def _count_statements(session, action) -> int:
    engine = session.get_bind()
    statements: list[str] = []

    def before(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        action()
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
    return len(statements)


def _claim_uncached(session, user, now) -> None:
    # Each claim counted pays for the settings read and the lease sweep, as after a pause.
    settings.forget()
    queue.forget_sweeps()
    queue.claim_next(session, user, now=now)


def test_claim_query_count_is_constant(session, reviewer) -> None:
    queue.set_excluded_categories(session, reviewer, reviewer, ["violence"])
    counts = []
    for size in (5, 300):
        # Hours apart, so both rounds start a new stretch of work alike.
        now = T0 + timedelta(hours=size)
        for n in range(size):
            make_item(session, float(n % 7), ["bias", "self_harm", None][n % 3])
        session.commit()
        claim = functools.partial(_claim_uncached, session, reviewer, now)
        counts.append(_count_statements(session, claim))
        session.commit()
        counts.append(_count_statements(session, claim))
        session.commit()
        queue.release(session, reviewer, now=now)
        session.commit()
    fresh_small, resumed_small, fresh_large, resumed_large = counts
    assert fresh_small == fresh_large and resumed_small == resumed_large
    assert fresh_small <= 15 and resumed_small <= 10


def test_claim_query_walks_the_queue_index(session, reviewer, engine_name: str) -> None:
    session.execute(
        sa.insert(Item),
        [
            {
                "external_id": f"plan-{n}",
                "messages": [{"role": "user", "content": "q"}],
                "content_hash": f"p{n:063d}",
                "priority": float(n % 50),
                "queue_category": ["bias", "self_harm", None][n % 3],
                "status": ItemStatus.OPEN if n % 4 else ItemStatus.DECIDED,
            }
            for n in range(5000)
        ],
    )
    session.commit()
    connection = session.connection()
    connection.exec_driver_sql("ANALYZE")
    for category, index in [(None, "ix_items_queue"), ("bias", "ix_items_queue_category")]:
        target = queue.next_item_query(reviewer, category, {"violence"}, 60, T0)
        statement = sa.update(Item).where(Item.id == target.scalar_subquery()).values(priority=0)
        sql = str(statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
        if engine_name == "sqlite":
            plan = " ".join(
                str(r[-1]) for r in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)
            )
            assert f"INDEX {index}" in plan and "TEMP B-TREE" not in plan, plan
        else:
            plan = " ".join(r[0] for r in connection.exec_driver_sql("EXPLAIN " + sql))
            assert f"Index Scan Backward using {index}" in plan and "Sort" not in plan, plan
    session.rollback()

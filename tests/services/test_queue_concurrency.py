"""Many writers at once: every item is decided exactly once and every flag counted, without
errors or deadlocks.

Each thread has its own app context, session and connection, and commits for real, as gunicorn
workers would. PostgreSQL runs 32 threads (SKIP LOCKED); SQLite, with its single writer, 8.
"""

import threading
import time
from collections import Counter

import pytest
import sqlalchemy as sa
from flask import Flask

from models import Decision, Flag, Item, ItemStatus, Role, User
from review.extensions import db
from review.services import bulk, ingest, queue
from review.services.flagformat import parse_flag

JOIN_SECONDS = 300


def _bulk_items(n: int) -> None:
    db.session.execute(
        sa.insert(Item),
        [
            {
                "external_id": f"load-{i}",
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": "a"},
                ],
                "content_hash": f"{i:064d}",
                "priority": float(i % 13),
                "queue_category": ["bias", "self_harm", "privacy", None][i % 4],
                "flag_count": 1,
                "status": ItemStatus.OPEN,
            }
            for i in range(n)
        ],
    )


def _bulk_users(n: int) -> list[int]:
    # Direct rows: hashing 32 passwords would only slow the test down.
    return list(
        db.session.scalars(
            sa.insert(User).returning(User.id),
            [
                {"username": f"load{i}", "password_hash": "x", "role": Role.REVIEWER}
                for i in range(n)
            ],
        )
    )


def _run(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_SECONDS)
    assert not any(t.is_alive() for t in threads), "a worker hung: deadlock or lost wake-up"


def test_reviewers_in_parallel_decide_each_item_once(app: Flask, engine_name: str) -> None:
    workers, n_items = (32, 400) if engine_name == "postgresql" else (8, 200)
    _bulk_items(n_items)
    user_ids = _bulk_users(workers)
    db.session.commit()
    errors: list[BaseException] = []
    decided: list[int] = []
    start = threading.Barrier(workers)

    def work(user_id: int) -> None:
        with app.app_context():
            try:
                user = db.session.get(User, user_id)
                assert user is not None
                # Hand the connection back: the pool is smaller than the crowd at the barrier.
                db.session.commit()
                start.wait(JOIN_SECONDS)
                while True:
                    claim = queue.claim_next(db.session, user)
                    db.session.commit()
                    if claim is None:
                        return
                    item_id = claim.item.id
                    # Reopening the page in between must give back the same item.
                    again = queue.claim_next(db.session, user)
                    db.session.commit()
                    assert again is not None and again.resumed and again.item.id == item_id
                    queue.decide(db.session, user, item_id, "bias")
                    db.session.commit()
                    decided.append(item_id)
            except BaseException as error:
                errors.append(error)
                db.session.rollback()

    _run([threading.Thread(target=work, args=(u,)) for u in user_ids])
    assert errors == []
    assert len(decided) == n_items and len(set(decided)) == n_items
    per_item = Counter(db.session.scalars(sa.select(Decision.item_id)))
    assert len(per_item) == n_items and set(per_item.values()) == {1}
    statuses = Counter(db.session.scalars(sa.select(Item.status)))
    assert statuses == {ItemStatus.DECIDED: n_items}
    # Work was shared out, not done by one thread while the others waited.
    by_reviewer = Counter(db.session.scalars(sa.select(Decision.reviewer_id)))
    assert len(by_reviewer) > 1


@pytest.mark.parametrize("tabs", [4])
def test_one_reviewer_racing_tabs_holds_one_claim(app: Flask, tabs: int) -> None:
    _bulk_items(20)
    [user_id] = _bulk_users(1)
    db.session.commit()
    got: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(tabs)

    def tab() -> None:
        with app.app_context():
            try:
                user = db.session.get(User, user_id)
                assert user is not None
                # Hand the connection back: the pool is smaller than the crowd at the barrier.
                db.session.commit()
                start.wait(JOIN_SECONDS)
                claim = queue.claim_next(db.session, user)
                db.session.commit()
                assert claim is not None
                got.append(claim.item.id)
            except BaseException as error:
                errors.append(error)
                db.session.rollback()

    _run([threading.Thread(target=tab) for _ in range(tabs)])
    assert errors == []
    assert len(got) == tabs and len(set(got)) == 1
    held = db.session.scalars(sa.select(Item.id).where(Item.claimed_by_id == user_id)).all()
    assert held == [got[0]]


def test_flags_arriving_together_on_one_item_are_all_counted(app: Flask) -> None:
    # Each thread sends its own flags on the same conversation at the same moment, as
    # concurrent API requests or overlapping imports would: no increment may be lost.
    threads, rounds = 4, 5
    first = parse_flag({"external_id": "shared", "messages": [{"role": "user", "content": "q"}]})
    ingest.add_flags(db.session, None, [first])
    db.session.commit()
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def sender(n: int) -> None:
        with app.app_context():
            try:
                for r in range(rounds):
                    flag = parse_flag(
                        {
                            "external_id": "shared",
                            "messages": [{"role": "user", "content": "q"}],
                            "flag": {"reason": f"thread {n} round {r}"},
                        }
                    )
                    start.wait(JOIN_SECONDS)
                    ingest.add_flags(db.session, None, [flag])
                    db.session.commit()
            except BaseException as error:
                errors.append(error)
                db.session.rollback()
                start.abort()

    _run([threading.Thread(target=sender, args=(n,)) for n in range(threads)])
    assert errors == []
    db.session.expire_all()
    item = db.session.scalar(sa.select(Item).where(Item.external_id == "shared"))
    assert item is not None and item.flag_count == 1 + threads * rounds
    assert db.session.scalar(sa.select(sa.func.count(Flag.id))) == 1 + threads * rounds


def test_a_batch_meeting_the_new_items_of_a_batch_in_flight_takes_the_conflict_path(
    app: Flask, engine_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A batch's look-up cannot see another batch's uncommitted items, so it tries to COPY
    # them as new; the COPY waits for the other batch, and when that commits, it must fall
    # back to skipping them and flag the stored items instead, with nothing lost or doubled.
    if engine_name == "sqlite":
        pytest.skip("a SQLite writer waits at BEGIN, so its look-up sees every committed item")

    def flag(i: int, reason: str):
        return parse_flag(
            {
                "external_id": f"race-{i}",
                "messages": [{"role": "user", "content": f"question {i}"}],
                "flag": {"reason": reason},
            }
        )

    first = [flag(i, "first") for i in range(150)]  # enough rows for the COPY path
    second = [flag(i, "second") for i in range(100, 250)]
    attempts: list[bool] = []
    copy_new = bulk._copy_new_rows_postgres

    def spied(*args):
        stored = copy_new(*args)
        attempts.append(stored is not None)
        return stored

    monkeypatch.setattr(bulk, "_copy_new_rows_postgres", spied)
    ingest.add_flags(db.session, None, first)  # stored, not committed yet
    results: list[ingest.IngestResult] = []
    errors: list[BaseException] = []

    def other_batch() -> None:
        with app.app_context():
            try:
                results.append(ingest.add_flags(db.session, None, second))
                db.session.commit()
            except BaseException as error:
                errors.append(error)
                db.session.rollback()

    thread = threading.Thread(target=other_batch)
    thread.start()
    waiting = sa.text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    with db.engine.connect() as watcher:
        for _ in range(600):
            if watcher.scalar(waiting):
                break
            watcher.rollback()
            time.sleep(0.05)
        else:
            pytest.fail("the second batch never waited for the first one's items")
    db.session.commit()
    thread.join(JOIN_SECONDS)
    assert not thread.is_alive() and errors == []
    # One straight COPY met the first batch's items: that batch took the conflict path.
    assert attempts.count(False) == 1
    assert results[0].new_items == 100 and results[0].inserted == 150
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Item.id))) == 250
    assert db.session.scalar(sa.select(sa.func.count(Flag.id))) == 300
    counts = dict(db.session.execute(sa.select(Item.external_id, Item.flag_count)).all())
    assert {counts[f"race-{i}"] for i in range(100, 150)} == {2}

"""Training from decisions, activation, rollback, re-scoring and cold start."""

import json
import os
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import ClassifierVersion, Decision, DecisionKind, Item, ItemStatus, Prediction, utcnow
from review.errors import Invalid, NotFound
from review.extensions import db
from review.services import demo, labels, presort, training
from review.services.flagformat import parse_flag

from factories import TRAIN_REPORT_KEYS, make_user, wipe


def _decided_demo(count: int = 240) -> None:
    demo.add_demo_flags(db.session, None, count=count, seed=11, decided_share=1.0)
    db.session.commit()


def test_final_label_prefers_adjudication_then_second_review(app) -> None:
    reviewer = make_user("reviewer", "r1")
    flags = [
        parse_flag({"external_id": f"c{i}", "messages": [{"role": "user", "content": "x"}]})
        for i in range(3)
    ]
    from review.services import ingest

    ingest.add_flags(db.session, None, flags)
    ids = {i.external_id: i.id for i in db.session.scalars(sa.select(Item))}
    now = utcnow()
    rows = [
        # c0: first says A, a later second review says B, an earlier adjudication says C.
        ("c0", "factual_error", DecisionKind.FIRST, 0),
        ("c0", "bias", DecisionKind.SECOND, 5),
        ("c0", "privacy", DecisionKind.ADJUDICATION, 1),
        # c1: two first decisions (an undo and redo): the latest wins.
        ("c1", "bias", DecisionKind.FIRST, 0),
        ("c1", "no_error", DecisionKind.FIRST, 3),
        # c2: first, then a second review.
        ("c2", "other", DecisionKind.FIRST, 0),
        ("c2", "low_quality", DecisionKind.SECOND, 2),
    ]
    for ext, label, kind, minutes in rows:
        db.session.add(
            Decision(
                item_id=ids[ext],
                reviewer_id=reviewer.id,
                label=label,
                kind=kind,
                decided_at=now + timedelta(minutes=minutes),
            )
        )
    db.session.commit()
    assert labels.final_labels(db.session) == {
        ids["c0"]: "privacy",
        ids["c1"]: "no_error",
        ids["c2"]: "low_quality",
    }


def test_train_stores_an_active_version_with_metrics(app) -> None:
    _decided_demo()
    outcome = training.train_version(db.session, None)
    db.session.commit()
    assert outcome.activated and outcome.active_before is None
    version = db.session.get(ClassifierVersion, outcome.version.id)
    assert version.active and version.artifact[:2] == b"PK"  # a skops zip, not a pickle
    assert set(version.metrics) >= TRAIN_REPORT_KEYS
    assert version.metrics["n_train"] + version.metrics["n_test"] <= 240
    assert len(version.data_fingerprint) == 64
    assert set(version.labels) >= {"no_error", "factual_error"}


def test_too_few_decisions_is_a_clear_error(app) -> None:
    with pytest.raises(Invalid, match="cannot train yet"):
        training.train_version(db.session, None)


def test_worse_model_is_stored_but_not_activated_unless_forced(app) -> None:
    _decided_demo()
    # An active model that saw every decided item (held-out ones included) in training
    # beats any honest newcomer on those held-out items.
    from classifiers import persistence
    from classifiers import training as classifier

    data = training.training_set(db.session)
    seen_all = classifier.fit(data.examples, data.labels)
    db.session.add(ClassifierVersion(artifact=persistence.dumps(seen_all), labels=[]))
    db.session.flush()
    first = db.session.scalar(sa.select(ClassifierVersion.id))
    training.activate(db.session, None, first)
    db.session.commit()
    worse = training.train_version(db.session, None)
    db.session.commit()
    assert not worse.activated
    stored = db.session.get(ClassifierVersion, worse.version.id)
    assert stored is not None and not stored.active and stored.artifact
    assert worse.active_macro_f1 is not None and worse.metrics["macro_f1"] < worse.active_macro_f1
    assert presort.active_model(db.session).version_id == first
    forced = training.train_version(db.session, None, force=True)
    db.session.commit()
    assert forced.activated
    assert presort.active_model(db.session).version_id == forced.version.id
    # The same data and seed again is "at least as good": it is activated.
    again = training.train_version(db.session, None)
    assert again.activated


def test_a_reused_version_id_loads_the_new_model(app) -> None:
    _decided_demo()
    training.train_version(db.session, None)
    db.session.commit()
    before = presort.active_model(db.session)
    before_model = before.model
    db.session.rollback()
    wipe(app)  # a re-created database: the next version gets the same id
    _decided_demo()
    training.train_version(db.session, None)
    db.session.commit()
    after = presort.active_model(db.session)
    assert after.version_id == before.version_id
    assert after.model is not before_model


def test_rollback_and_rescore(app) -> None:
    _decided_demo()
    v1 = training.train_version(db.session, None).version.id
    db.session.commit()
    v2 = training.train_version(db.session, None, force=True, seed=3).version.id
    db.session.commit()
    open_flags = [
        parse_flag(
            {
                "external_id": f"open{i}",
                "messages": [
                    {"role": "user", "content": f"question {i}"},
                    {"role": "assistant", "content": "The capital of Australia is Sydney."},
                ],
            }
        )
        for i in range(5)
    ]
    from review.services import ingest

    ingest.add_flags(db.session, None, open_flags)
    db.session.commit()
    scored = db.session.scalars(
        sa.select(Item.prediction_version_id).where(Item.status == ItemStatus.OPEN)
    ).all()
    assert set(scored) == {v2}  # pre-sorted at ingest by the active version
    training.activate(db.session, None, v1)
    db.session.commit()
    total = 0
    while batch := training.rescore_batch(db.session, batch_size=2):
        db.session.commit()
        total += batch
    assert total == 5
    scored = db.session.scalars(
        sa.select(Item.prediction_version_id).where(Item.status == ItemStatus.OPEN)
    ).all()
    assert set(scored) == {v1}
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Prediction.id)).where(Prediction.version_id == v1)
        )
        == 5
    )
    with pytest.raises(NotFound):
        training.activate(db.session, None, 999)


def test_cold_start_queue_is_ordered_by_flag_data(app) -> None:
    from review.services import ingest

    def base(text: str) -> dict:
        # Distinct conversations: equal content would be linked as one item.
        return {
            "messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "a"}]
        }

    flags = [
        parse_flag(
            {
                **base("minor question"),
                "external_id": "minor",
                "flag": {"category": "low_quality", "flagged_at": "2026-11-20T10:00:00Z"},
            }
        ),
        parse_flag(
            {
                **base("severe question"),
                "external_id": "severe",
                "flag": {"category": "self_harm", "flagged_at": "2026-11-20T10:00:00Z"},
            }
        ),
        parse_flag(
            {
                **base("older question"),
                "external_id": "older",
                "flag": {"category": "low_quality", "flagged_at": "2026-11-01T10:00:00Z"},
            }
        ),
    ]
    ingest.add_flags(db.session, None, flags)
    db.session.commit()
    order = db.session.scalars(
        sa.select(Item.external_id).order_by(Item.priority.desc(), Item.id.desc())
    ).all()
    assert order == ["severe", "older", "minor"]
    assert presort.active_model(db.session) is None


WORKER = textwrap.dedent("""
    import sys
    from review import create_app
    from review.extensions import db
    from review.services import presort
    app = create_app({"DATABASE_URL": sys.argv[1], "SECRET_KEY": "s" * 40,
                      "INSTANCE_PATH": sys.argv[2]})
    for _ in sys.stdin:
        with app.app_context():
            active = presort.active_model(db.session)
            print(active.version_id if active else 0, flush=True)
""")


def test_another_worker_process_follows_activation_without_restart(app, database_url, tmp_path):
    _decided_demo()
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, database_url, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )

    def ask() -> int:
        worker.stdin.write("?\n")
        worker.stdin.flush()
        return int(worker.stdout.readline())

    try:
        assert ask() == 0
        v1 = training.train_version(db.session, None).version.id
        db.session.commit()
        assert ask() == v1
        v2 = training.train_version(db.session, None, force=True, seed=5).version.id
        db.session.commit()
        assert ask() == v2
        training.activate(db.session, None, v1)
        db.session.commit()
        assert ask() == v1
    finally:
        worker.stdin.close()
        worker.wait(timeout=20)
        worker.stdout.close()


def test_metrics_are_json_serialisable(app) -> None:
    _decided_demo()
    outcome = training.train_version(db.session, None)
    # Plain JSON values only: a numpy number would make dumps raise, a tuple would not
    # come back equal.
    assert json.loads(json.dumps(outcome.metrics)) == outcome.metrics

"""add_flags: new items, extra flags, duplicates, content links, labels and pre-sort."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from classifiers import training as classifier
from models import AuditEvent, Category, Decision, Flag, Item, ItemStatus, Prediction
from review.errors import Invalid
from review.extensions import db
from review.services import ingest, presort
from review.services.flagformat import FlagIn, parse_flag

from factories import active_version


def flag(
    external_id: str,
    text: str | None = None,
    when: str | None = None,
    reason: str = "wrong",
    category: str | None = "factual_error",
    label: str | None = None,
) -> FlagIn:
    raw = {
        "external_id": external_id,
        "messages": [
            {"role": "user", "content": f"question {text or external_id}"},
            {"role": "assistant", "content": f"answer {text or external_id}"},
        ],
        "flag": {"reason": reason, "category": category, "flagged_at": when},
        "label": label,
    }
    return parse_flag(raw)


def items() -> dict[str, Item]:
    return {i.external_id: i for i in db.session.scalars(sa.select(Item))}


def count(model: type) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_new_flags_make_open_items_with_priority_from_flag_data(session) -> None:
    result = ingest.add_flags(session, None, [flag("a"), flag("b", category="harmful_advice")])
    session.commit()
    assert (result.inserted, result.new_items, result.duplicates, result.linked) == (2, 2, [], 0)
    stored = items()
    assert result.ids == [stored["a"].id, stored["b"].id]
    assert {i.status for i in stored.values()} == {ItemStatus.OPEN}
    assert stored["a"].flag_count == 1 and stored["a"].messages[1]["content"] == "answer a"
    # Harmful advice is more severe than a factual error: it comes first without a model.
    assert stored["b"].priority > stored["a"].priority > 0
    assert stored["a"].prediction_version_id is None
    event = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "flags.ingest"))
    assert event.changes["flags"] == 2 and event.changes["new_items"] == 2


def test_same_id_flagged_again_adds_a_flag_and_raises_priority(session) -> None:
    ingest.add_flags(session, None, [flag("a", when="2026-01-01T00:00:00Z")])
    session.commit()
    before = items()["a"].priority
    result = ingest.add_flags(
        session, None, [flag("a", when="2026-01-02T00:00:00Z", reason="still wrong")]
    )
    session.commit()
    session.expire_all()
    item = items()["a"]
    assert result.inserted == 1 and result.new_items == 0 and result.duplicates == []
    assert count(Item) == 1 and count(Flag) == 2 and item.flag_count == 2
    assert item.priority > before


def test_the_very_same_flag_twice_is_a_duplicate(session) -> None:
    same = flag("a", when="2026-01-01T00:00:00Z")
    ingest.add_flags(session, None, [same])
    session.commit()
    again = ingest.add_flags(session, None, [same])
    twice_in_one_batch = ingest.add_flags(session, None, [flag("b"), flag("b")])
    session.commit()
    assert again.inserted == 0 and again.duplicates == ["a"] and again.ids == [items()["a"].id]
    assert twice_in_one_batch.inserted == 1 and twice_in_one_batch.duplicates == ["b"]
    assert count(Flag) == 2 and items()["b"].flag_count == 1


def test_same_content_under_another_id_is_linked_not_queued(session) -> None:
    ingest.add_flags(session, None, [flag("a", text="same")])
    session.commit()
    result = ingest.add_flags(session, None, [flag("b", text="same"), flag("c", text="same")])
    session.commit()
    session.expire_all()
    stored = items()
    assert result.linked == 2
    for name in ("b", "c"):
        assert stored[name].status == ItemStatus.DUPLICATE
        assert stored[name].duplicate_of_id == stored["a"].id
    # Their flags count on the one conversation a reviewer will see.
    assert stored["a"].flag_count == 3


def test_same_content_inside_one_batch_is_linked_to_the_first(session) -> None:
    result = ingest.add_flags(session, None, [flag("x", text="dup"), flag("y", text="dup")])
    session.commit()
    stored = items()
    assert result.linked == 1
    assert stored["x"].status == ItemStatus.OPEN and stored["x"].duplicate_of_id is None
    assert stored["y"].status == ItemStatus.DUPLICATE
    assert stored["y"].duplicate_of_id == stored["x"].id
    assert stored["x"].flag_count == 2


def test_labels_become_past_decisions_once(session) -> None:
    batch = [flag("a", label="factual_error"), flag("b", label="no_error"), flag("c")]
    ingest.add_flags(session, None, batch, source="import", labeled=True)
    ingest.add_flags(session, None, batch, source="import", labeled=True)
    session.commit()
    stored = items()
    assert stored["a"].status == ItemStatus.DECIDED and stored["a"].final_label == "factual_error"
    assert stored["c"].status == ItemStatus.OPEN
    decisions = session.scalars(sa.select(Decision).order_by(Decision.item_id)).all()
    assert [(d.label, d.kind.value, d.reviewer_id) for d in decisions] == [
        ("factual_error", "first", None),
        ("no_error", "first", None),
    ]


def test_unknown_labels_raise_unless_created(session) -> None:
    with pytest.raises(Invalid, match="unknown category 'made_up'"):
        ingest.add_flags(session, None, [flag("a", label="made_up")], labeled=True)
    session.rollback()
    assert count(Item) == 0
    with pytest.raises(Invalid, match="not a valid category slug"):
        ingest.add_flags(
            session, None, [flag("a", label="Bad Slug!")], labeled=True, create_categories=True
        )
    session.rollback()
    ingest.add_flags(
        session, None, [flag("a", label="made_up")], labeled=True, create_categories=True
    )
    session.commit()
    assert session.scalar(sa.select(Category).where(Category.slug == "made_up")).name == "Made up"
    assert items()["a"].final_label == "made_up"


def test_flags_keep_their_time_and_html_untouched(session) -> None:
    hostile = "<script>alert('x')</script>"
    ingest.add_flags(session, None, [flag("a", reason=hostile, when="2026-11-20T14:03:00+01:00")])
    session.commit()
    stored = session.scalar(sa.select(Flag))
    assert stored.reason == hostile
    assert stored.flagged_at == datetime(2026, 11, 20, 13, 3, tzinfo=UTC)
    assert items()["a"].first_flagged_at == stored.flagged_at


def test_a_batch_is_a_handful_of_statements_whatever_its_size(session) -> None:
    statements: list[str] = []

    def counting(*args: object) -> None:
        statements.append(str(args[2])[:40])

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", counting)
    try:
        ingest.add_flags(session, None, [flag(f"s{i}") for i in range(5)])
        small = len(statements)
        statements.clear()
        ingest.add_flags(session, None, [flag(f"l{i}") for i in range(400)])
        large = len(statements)
        statements.clear()
        ingest.add_flags(session, None, [flag(f"l{i}", reason="again") for i in range(400)])
        again = len(statements)
    finally:
        sa.event.remove(engine, "before_cursor_execute", counting)
    session.commit()
    assert count(Item) == 405 and count(Flag) == 805
    assert large <= small + 2  # multi-row VALUES may split a big insert in two
    assert large <= 12
    assert again <= 14  # plus reading and updating the items that gained a flag


def test_predictions_made_elsewhere_are_stored_and_the_rest_predicted_here(session) -> None:
    version = active_version(session)
    given = classifier.Prediction("bias", 0.97, {"bias": 0.97, "no_error": 0.03})
    asked: list[tuple[int, list[str]]] = []

    def predicted(version_id, flags):
        asked.append((version_id, [f.external_id for f in flags]))
        return [given if f.external_id == "g1" else None for f in flags]

    sent = [flag("g1", category=None), flag("g2", category=None)]
    ingest.add_flags(session, None, sent, predicted=predicted)
    session.commit()
    assert asked == [(version.id, ["g1", "g2"])]
    stored = items()
    assert (stored["g1"].predicted_label, stored["g1"].predicted_confidence) == ("bias", 0.97)
    assert stored["g1"].queue_category == "bias"
    scores = dict(
        session.execute(
            sa.select(Prediction.item_id, Prediction.scores).where(
                Prediction.version_id == version.id
            )
        ).all()
    )
    assert scores[stored["g1"].id] == given.scores
    # g2 was left to this process: the active model's own prediction.
    model = presort.active_model(session).model
    [own] = classifier.predict(model, [presort.example_of(sent[1])])
    assert stored["g2"].predicted_confidence == pytest.approx(own.confidence)
    assert scores[stored["g2"].id] == pytest.approx(own.scores)


def test_the_model_is_not_loaded_when_every_prediction_is_given(session, monkeypatch) -> None:
    active_version(session)
    monkeypatch.setattr(presort, "_model_cache", {})
    given = classifier.Prediction(None, 0.2, {"bias": 0.2, "no_error": 0.2})
    ingest.add_flags(
        session, None, [flag("n1"), flag("n2")], predicted=lambda _, fs: [given] * len(fs)
    )
    session.commit()
    assert presort._model_cache == {}
    assert {i.predicted_label for i in items().values() if i.external_id in ("n1", "n2")} == {None}


def test_active_classifier_predicts_new_items_in_the_same_batch(session) -> None:
    version = active_version(session)
    # Filed without a category: a queue category can only come from the prediction.
    sent = [flag("p1", category=None), flag("p2", category=None), flag("p3", text="p1")]
    result = ingest.add_flags(session, None, sent)
    session.commit()
    stored = items()
    for name in ("p1", "p2"):
        assert stored[name].prediction_version_id == version.id
        assert stored[name].predicted_confidence is not None
    # A linked duplicate is not reviewed, so it is not scored either.
    assert stored["p3"].prediction_version_id is None and result.linked == 1
    predicted = set(
        session.scalars(
            sa.select(Prediction.item_id).where(
                Prediction.version_id == version.id, Prediction.item_id.in_(result.ids)
            )
        )
    )
    assert predicted == {stored["p1"].id, stored["p2"].id}
    # Inserted already sorted: the queue category and priority are those a re-score would set.
    assert any(stored[name].predicted_label for name in ("p1", "p2"))
    for name in ("p1", "p2"):
        item = stored[name]
        assert item.queue_category == item.predicted_label
        inserted_priority = item.priority
        presort.refresh_priorities(session, [item])
        assert item.priority == pytest.approx(inserted_priority)

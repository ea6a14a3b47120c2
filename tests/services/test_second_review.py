"""Blind second review: sampling at the safety team's rates, by another reviewer, undoable."""

import json

import pytest
import sqlalchemy as sa

from models import AuditEvent, Decision, DecisionKind, Escalation, Item, ItemStatus, Role
from review.errors import Conflict, Invalid
from review.extensions import db
from review.services import agreement, exports, queue, sampling

from factories import T0, bearer, make_item, make_token, make_user, run_cli


def _decide_next(session, user, label: str):
    claim = queue.claim_next(session, user, now=T0)
    assert claim is not None
    decision = queue.decide(session, user, claim.item.id, label, now=T0)
    session.commit()
    return claim.item, decision


def test_rate_one_sends_every_decision_to_another_reviewer(session, reviewer, other) -> None:
    sampling.set_rate(session, None, "all", 1)
    item = make_item(session)
    _, first = _decide_next(session, reviewer, "bias")
    assert first.kind == DecisionKind.FIRST
    stored = session.get(Item, item.id)
    assert stored.status == ItemStatus.OPEN and stored.second_review
    assert stored.final_label == "bias"  # the first label stands until the second review
    # The first reviewer never gets it back (nor sees it counted); someone else does.
    assert queue.claim_next(session, reviewer, now=T0) is None
    assert queue.overview(session, reviewer, now=T0).open_items == 0
    assert queue.overview(session, other, now=T0).open_items == 1
    again, second = _decide_next(session, other, "bias")
    assert again.id == item.id
    assert second.kind == DecisionKind.SECOND
    stored = session.get(Item, item.id)
    assert stored.status == ItemStatus.DECIDED and not stored.second_review
    assert session.scalar(sa.select(sa.func.count(Escalation.id))) == 0
    # A second review is not sampled again.
    assert queue.claim_next(session, reviewer, now=T0) is None
    assert queue.claim_next(session, other, now=T0) is None
    overall = agreement.agreement(session)["overall"]
    assert overall["n"] == 1 and overall["agreement"] == 1.0


def test_disagreement_is_escalated_and_kept_out_of_exports(session, reviewer, other) -> None:
    sampling.set_rate(session, None, "bias", 1)
    item = make_item(session)
    _decide_next(session, reviewer, "bias")
    _decide_next(session, other, "privacy")
    stored = session.get(Item, item.id)
    assert stored.status == ItemStatus.DECIDED and stored.final_label == "privacy"
    [escalation] = session.scalars(sa.select(Escalation)).all()
    assert escalation.item_id == item.id and "first bias, second privacy" in escalation.note
    assert [e.action for e in session.scalars(sa.select(AuditEvent))].count(
        "review.disagreement"
    ) == 1
    filters = exports.ExportFilters()
    assert list(exports.iter_entries(session, filters)) == []
    with_escalated = exports.ExportFilters(include_escalated=True)
    exported = [e.external_id for e in exports.iter_entries(session, with_escalated)]
    assert exported == [item.external_id]


def test_a_rate_applies_to_its_label_or_queue_category_only(session, reviewer) -> None:
    sampling.set_rate(session, None, "self_harm", 1)
    item = make_item(session, category="bias")
    _decide_next(session, reviewer, "bias")
    assert session.get(Item, item.id).status == ItemStatus.DECIDED
    # The queue category counts as well as the label: a self-harm item decided "no error".
    flagged = make_item(session, category="self_harm")
    _decide_next(session, reviewer, "no_error")
    assert session.get(Item, flagged.id).second_review


def test_the_draw_follows_the_rate_and_is_reproducible() -> None:
    draws = [sampling.drawn(item, item * 7, 0.3) for item in range(1, 2001)]
    assert 0.25 < sum(draws) / len(draws) < 0.35
    assert draws == [sampling.drawn(item, item * 7, 0.3) for item in range(1, 2001)]
    # Pinned: the same ids draw the same way in every process and release (an auditor can
    # re-derive why an item was sampled; Python's own hash() would differ per process).
    pinned = [item for item in range(1, 21) if sampling.drawn(item, item * 7, 0.5)]
    assert pinned == [2, 3, 4, 5, 10, 11, 13, 14, 15, 16, 17, 20]
    assert not any(sampling.drawn(item, item, 0.0) for item in range(1, 200))
    assert all(sampling.drawn(item, item, 1.0) for item in range(1, 200))


def test_rate_per_item_is_the_highest_that_applies() -> None:
    rates = {"all": 0.1, "bias": 0.5, "self_harm": 0.9}
    assert sampling.rate_for(rates, "bias", "factual_error") == 0.5
    assert sampling.rate_for(rates, "no_error", "self_harm") == 0.9
    assert sampling.rate_for(rates, "privacy", None) == 0.1


@pytest.mark.parametrize(
    ("category", "rate", "field"),
    [
        ("nope", 0.5, "category"),
        ("bias", 1.5, "rate"),
        ("bias", -0.1, "rate"),
        ("all", "x", "rate"),
    ],
)
def test_bad_rates_are_refused(session, category, rate, field) -> None:
    with pytest.raises(Invalid) as error:
        sampling.set_rate(session, None, category, rate)
    assert error.value.details[0]["field"] == field
    assert sampling.rates(session) == {"all": 0.0}


def test_undo_of_a_sampled_first_decision_takes_it_back(session, reviewer, other) -> None:
    sampling.set_rate(session, None, "all", 1)
    item = make_item(session)
    _decide_next(session, reviewer, "bias")
    undone = queue.undo_last(session, reviewer, now=T0)
    session.commit()
    assert undone.id == item.id and undone.claimed_by_id == reviewer.id
    assert not undone.second_review
    assert queue.claim_next(session, other, now=T0) is None  # nothing for anyone else


def test_undo_of_a_second_review_reopens_it_and_drops_the_disagreement(
    session, reviewer, other
) -> None:
    sampling.set_rate(session, None, "all", 1)
    item = make_item(session)
    _decide_next(session, reviewer, "bias")
    _decide_next(session, other, "privacy")
    undone = queue.undo_last(session, other, now=T0)
    session.commit()
    assert undone.id == item.id and undone.second_review and undone.claimed_by_id == other.id
    assert session.scalar(sa.select(sa.func.count(Escalation.id))) == 0
    decision = queue.decide(session, other, item.id, "bias", now=T0)
    session.commit()
    assert decision.kind == DecisionKind.SECOND
    # The first reviewer cannot undo once the second review is in.
    with pytest.raises(Conflict):
        queue.undo_last(session, reviewer, now=T0)


def test_sampling_cli_sets_shows_and_refuses(app) -> None:
    result = run_cli(app, "sampling", "set", "all", "0.2")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"sampling": {"all": 0.2}}
    result = run_cli(app, "sampling", "set", "self_harm", "1")
    assert json.loads(result.stdout) == {"sampling": {"all": 0.2, "self_harm": 1.0}}
    bad = run_cli(app, "sampling", "set", "nope", "0.5")
    assert bad.exit_code == 1 and "unknown or retired category 'nope'" in bad.output
    bad = run_cli(app, "sampling", "set", "bias", "2")
    assert bad.exit_code == 1 and "rate" in bad.output
    shown = run_cli(app, "sampling", "show")
    assert json.loads(shown.stdout) == {"sampling": {"all": 0.2, "self_harm": 1.0}}
    changes = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "setting.change")
    ).all()
    assert len(changes) == 2


def test_decision_kind_is_second_through_the_api(app, client) -> None:
    sampling.set_rate(db.session, None, "all", 1)
    item = make_item(db.session)
    db.session.commit()
    tokens = [make_token(make_user(Role.REVIEWER, name)) for name in ("ana", "ben")]
    kinds = []
    for token in tokens:
        claimed = client.post("/api/v1/queue/claim", headers=bearer(token))
        assert claimed.status_code == 200 and claimed.get_json()["id"] == item.id
        decided = client.post(
            f"/api/v1/flags/{item.id}/decision", headers=bearer(token), json={"label": "bias"}
        )
        assert decided.status_code == 200, decided.get_json()
        kinds.append(decided.get_json()["kind"])
    assert kinds == ["first", "second"]
    assert client.post("/api/v1/queue/claim", headers=bearer(tokens[0])).status_code == 204
    assert db.session.scalar(sa.select(sa.func.count(Decision.id))) == 2

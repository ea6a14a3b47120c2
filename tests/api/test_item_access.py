"""GET /api/v1/flags/{id}: object-level access, and a blind second review stays blind."""

import pytest

from models import Role
from review.extensions import db
from review.services import sampling

from factories import bearer, make_item, make_token, make_user


@pytest.fixture
def tokens(app) -> dict[str, dict[str, str]]:
    names = {
        "first": Role.REVIEWER,
        "second": Role.REVIEWER,
        "bystander": Role.REVIEWER,
        "auditor": Role.AUDITOR,
        "trainer": Role.TRAINER,
        "admin": Role.ADMIN,
    }
    return {name: bearer(make_token(make_user(role, name))) for name, role in names.items()}


def _get(client, headers, item_id: int):
    return client.get(f"/api/v1/flags/{item_id}", headers=headers)


def test_second_reviewer_sees_nothing_of_the_first_decision(client, tokens) -> None:
    sampling.set_rate(db.session, None, "all", 1)
    item_id = make_item(db.session, category="bias").id
    assert client.post("/api/v1/queue/claim", headers=tokens["first"]).get_json()["id"] == item_id
    decided = client.post(
        f"/api/v1/flags/{item_id}/decision",
        headers=tokens["first"],
        json={"label": "bias", "note": "FIRST-NOTE", "corrected_response": "FIRST-FIX"},
    )
    assert decided.status_code == 200
    assert client.post("/api/v1/queue/claim", headers=tokens["second"]).get_json()["id"] == item_id

    blind = _get(client, tokens["second"], item_id)
    assert blind.status_code == 200
    body = blind.get_json()
    assert body["decisions"] == [] and body["final_label"] is None
    assert "FIRST-NOTE" not in blind.get_data(as_text=True)
    assert "FIRST-FIX" not in blind.get_data(as_text=True)
    assert body["messages"] and body["flags"]  # what a reviewer needs to decide is there

    # The first reviewer reads their own decision; the safety team, trainers, admins read all.
    for name in ("first", "auditor", "trainer", "admin"):
        full = _get(client, tokens[name], item_id).get_json()
        assert [d["note"] for d in full["decisions"]] == ["FIRST-NOTE"], name
        assert full["final_label"] == "bias"
    # Nobody else, not even by guessing ids.
    assert _get(client, tokens["bystander"], item_id).status_code == 404

    # Once the second reviewer has decided, it is theirs to read in full.
    client.post(
        f"/api/v1/flags/{item_id}/decision", headers=tokens["second"], json={"label": "bias"}
    )
    after = _get(client, tokens["second"], item_id).get_json()
    assert [d["kind"] for d in after["decisions"]] == ["first", "second"]


def test_reviewer_reads_only_items_they_hold_or_decided(client, tokens) -> None:
    # An item in a category the reviewer opted out of, and one nobody holds.
    opted_out = make_item(db.session, priority=5.0, category="self_harm").id
    waiting = make_item(db.session, priority=1.0, category="bias").id
    for item_id in (opted_out, waiting):
        assert _get(client, tokens["bystander"], item_id).status_code == 404
        assert _get(client, tokens["auditor"], item_id).status_code == 200
    # Holding it under a live lease opens it; releasing it closes it again.
    held = client.post("/api/v1/queue/claim", headers=tokens["bystander"]).get_json()["id"]
    assert _get(client, tokens["bystander"], held).status_code == 200
    assert _get(client, tokens["first"], held).status_code == 404
    client.post("/api/v1/queue/release", headers=tokens["bystander"])
    assert _get(client, tokens["bystander"], held).status_code == 404
    assert _get(client, tokens["bystander"], 999_999).status_code == 404

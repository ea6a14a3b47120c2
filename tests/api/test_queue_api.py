"""The queue's JSON API: claim, decide, skip, escalate, undo, heartbeat, release."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from models import AuditEvent, Decision, Item, ItemStatus, Role
from review.api.openapi import PATHS
from review.extensions import db
from review.services import queue

import factories
from factories import bearer, make_token, make_user


def make_item(priority: float = 1.0, category: str | None = "factual_error", **extra) -> Item:
    """Add one open item with one flag (committed by the client's next request)."""
    return factories.make_item(
        db.session,
        priority,
        category,
        user_text="<b>hi</b>",
        reason="it made that up",
        message_index=1,
        **extra,
    )


@pytest.fixture
def token(app) -> dict[str, str]:
    return bearer(make_token(make_user(Role.REVIEWER, "rita")))


@pytest.fixture
def other_token(app) -> dict[str, str]:
    return bearer(make_token(make_user(Role.REVIEWER, "otto")))


def _claim(client, headers, **body):
    return client.post("/api/v1/queue/claim", headers=headers, json=body or None)


def test_claim_returns_item_then_resumes_then_204(client, token, other_token) -> None:
    item = make_item(2.0)
    response = _claim(client, token)
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == item.id and body["messages"][0]["content"] == "<b>hi</b>"
    assert body["flag"]["reason"] == "it made that up" and body["flag"]["message_index"] == 1
    assert body["prediction"] is None and body["resumed"] is False
    assert datetime.fromisoformat(body["lease_expires_at"]) > datetime.now(UTC)
    again = _claim(client, token).get_json()
    assert again["id"] == item.id and again["resumed"] is True
    assert _claim(client, other_token).status_code == 204


def test_claim_shows_prediction_and_abstention(client, token) -> None:
    from models import ClassifierVersion

    version = ClassifierVersion(artifact=b"", active=False)
    db.session.add(version)
    db.session.flush()
    make_item(
        2.0, predicted_label="bias", predicted_confidence=0.8, prediction_version_id=version.id
    )
    body = _claim(client, token).get_json()
    assert body["prediction"] == {"label": "bias", "confidence": 0.8}


def test_claim_one_category_and_bad_category(client, token) -> None:
    make_item(9.0, "factual_error")
    bias = make_item(1.0, "bias")
    assert _claim(client, token, category="bias").get_json()["id"] == bias.id
    response = client.post("/api/v1/queue/release", headers=token)  # give it back, then ask badly
    assert response.get_json() == {"released": bias.id}
    response = _claim(client, token, category="nope")
    assert response.status_code == 422
    assert response.get_json()["details"][0]["field"] == "category"
    response = _claim(client, token, category=5)
    assert response.status_code == 422
    response = client.post(
        "/api/v1/queue/claim", headers=token, data="{", content_type="application/json"
    )
    assert response.status_code == 400


def test_decide_stores_decision(client, token) -> None:
    item = make_item()
    _claim(client, token)
    response = client.post(
        f"/api/v1/flags/{item.id}/decision",
        headers=token,
        json={"label": "factual_error", "note": "made up", "corrected_response": "Better."},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["label"] == "factual_error" and body["kind"] == "first"
    assert body["reviewer"] == "rita" and body["corrected_response"] == "Better."
    stored = db.session.get(Item, item.id, populate_existing=True)
    assert stored is not None and stored.status == ItemStatus.DECIDED
    assert stored.final_label == "factual_error"
    detail = client.get(f"/api/v1/flags/{item.id}", headers=token).get_json()
    assert detail["decisions"][0]["label"] == "factual_error"


def test_decide_bad_label_names_field(client, token) -> None:
    item = make_item()
    _claim(client, token)
    url = f"/api/v1/flags/{item.id}/decision"
    for body, field in [
        ({"label": "nonsense"}, "label"),
        ({}, "label"),
        ({"label": 3}, "label"),
        ({"label": "no_error", "corrected_response": "x"}, "corrected_response"),
        ({"label": "bias", "note": ["x"]}, "note"),
    ]:
        response = client.post(url, headers=token, json=body)
        assert response.status_code == 422, body
        assert response.get_json()["details"][0]["field"] == field
    assert client.post(url, headers=token, json=["bias"]).status_code == 422
    assert client.post(url, headers=token, json={"label": "bias"}).status_code == 200


def test_decide_without_claim_is_409(client, token, other_token) -> None:
    item = make_item()
    url = f"/api/v1/flags/{item.id}/decision"
    response = client.post(url, headers=token, json={"label": "bias"})
    assert response.status_code == 409 and "claim" in response.get_json()["error"]
    _claim(client, other_token)
    response = client.post(url, headers=token, json={"label": "bias"})
    assert response.status_code == 409
    assert (
        client.post(
            "/api/v1/flags/999999/decision", headers=token, json={"label": "bias"}
        ).status_code
        == 404
    )
    assert db.session.scalar(sa.select(sa.func.count(Decision.id))) == 0


def test_expired_lease_is_409_and_item_back_in_queue(client, token, other_token) -> None:
    item = make_item()
    _claim(client, token)
    # The lease ran out: move it into the past, as time passing would.
    db.session.execute(
        sa.update(Item)
        .where(Item.id == item.id)
        .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    response = client.post(
        f"/api/v1/flags/{item.id}/decision", headers=token, json={"label": "bias"}
    )
    assert response.status_code == 409 and "expired" in response.get_json()["error"]
    assert client.post("/api/v1/queue/heartbeat", headers=token).status_code == 409
    queue.forget_sweeps()  # claims sweep at most every few seconds: let the next one sweep
    assert _claim(client, other_token).get_json()["id"] == item.id
    expired = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "claim.expired")
    ).all()
    assert [e.target_id for e in expired] == [str(item.id)]
    response = client.post(
        f"/api/v1/flags/{item.id}/decision", headers=token, json={"label": "bias"}
    )
    assert response.status_code == 409


def test_heartbeat_renews_lease(client, token) -> None:
    make_item()
    first = datetime.fromisoformat(_claim(client, token).get_json()["lease_expires_at"])
    response = client.post("/api/v1/queue/heartbeat", headers=token)
    assert response.status_code == 200
    assert datetime.fromisoformat(response.get_json()["lease_expires_at"]) >= first


def test_release_and_nothing_to_release(client, token, other_token) -> None:
    item = make_item()
    _claim(client, token)
    assert client.post("/api/v1/queue/release", headers=token).get_json() == {"released": item.id}
    assert client.post("/api/v1/queue/release", headers=token).get_json() == {"released": None}
    assert _claim(client, other_token).get_json()["id"] == item.id


def test_skip_then_not_offered_again(client, token, other_token) -> None:
    item = make_item()
    _claim(client, token)
    response = client.post(f"/api/v1/flags/{item.id}/skip", headers=token)
    assert response.status_code == 200 and response.get_json() == {"skipped": item.id}
    assert _claim(client, token).status_code == 204
    assert _claim(client, other_token).get_json()["id"] == item.id
    assert client.post(f"/api/v1/flags/{item.id}/skip", headers=token).status_code == 409


def test_escalate(client, token) -> None:
    item = make_item()
    _claim(client, token)
    response = client.post(
        f"/api/v1/flags/{item.id}/escalate", headers=token, json={"note": "urgent"}
    )
    assert response.status_code == 201
    assert response.get_json()["note"] == "urgent" and response.get_json()["item_id"] == item.id
    stored = db.session.get(Item, item.id, populate_existing=True)
    assert stored is not None and stored.status == ItemStatus.ESCALATED
    assert client.post(f"/api/v1/flags/{item.id}/escalate", headers=token).status_code == 409


def test_undo_restores_then_nothing_left(client, token) -> None:
    item = make_item()
    _claim(client, token)
    client.post(f"/api/v1/flags/{item.id}/decision", headers=token, json={"label": "bias"})
    response = client.post("/api/v1/queue/undo", headers=token)
    assert response.status_code == 200 and response.get_json()["id"] == item.id
    assert _claim(client, token).get_json()["resumed"] is True
    assert db.session.scalar(sa.select(sa.func.count(Decision.id))) == 0
    assert client.post("/api/v1/queue/undo", headers=token).status_code == 409


def test_queue_state(client, token) -> None:
    make_item(1.0, "bias")
    make_item(1.0, "bias")
    _claim(client, token)
    body = client.get("/api/v1/queue", headers=token).get_json()
    assert body["open_items"] == 1 and body["by_category"][0]["slug"] == "bias"
    assert body["claim"] is not None and body["wellbeing"]["cap_reached"] is False


ROUTES = [
    ("post", "/api/v1/queue/claim"),
    ("post", "/api/v1/queue/heartbeat"),
    ("post", "/api/v1/queue/release"),
    ("post", "/api/v1/queue/undo"),
    ("get", "/api/v1/queue"),
    ("post", "/api/v1/flags/1/decision"),
    ("post", "/api/v1/flags/1/skip"),
    ("post", "/api/v1/flags/1/escalate"),
]


@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_auth_401_and_403(client, method: str, url: str) -> None:
    assert client.open(url, method=method.upper()).status_code == 401
    bad = bearer("not-a-token")
    assert client.open(url, method=method.upper(), headers=bad).status_code == 401
    trainer = bearer(make_token(make_user(Role.TRAINER, "tess")))
    response = client.open(url, method=method.upper(), headers=trainer, json={"label": "bias"})
    assert response.status_code == 403 and "error" in response.get_json()


def test_admin_may_claim(client) -> None:
    make_item()
    admin = bearer(make_token(make_user(Role.ADMIN, "ada")))
    assert _claim(client, admin).status_code == 200


def test_routes_are_in_openapi(client) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    for method, url in ROUTES:
        path = url.removeprefix("/api/v1").replace("/1/", "/{id}/")
        assert method in PATHS[path] and method in document["paths"][path]

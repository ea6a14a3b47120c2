"""POST /api/v1/flags and GET /api/v1/flags/{id}: auth, limits, validation, duplicates."""

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from models import Flag, Item, ItemStatus, Role
from review import create_app
from review.extensions import db
from review.services import accounts

from factories import app_config, bearer, login, make_token, make_user


def conversation(i: int, text: str | None = None) -> list[dict[str, str]]:
    body = text or f"synthetic question {i}"
    return [
        {"role": "user", "content": body},
        {"role": "assistant", "content": f"synthetic answer to {body}"},
    ]


def flag(i: int, **extra: object) -> dict:
    return {
        "external_id": f"conv-{i}",
        "messages": conversation(i),
        "flag": {
            "reason": "made it up",
            "category": "factual_error",
            "flagged_at": "2026-11-20T14:03:00Z",
            "message_index": 1,
        },
        "metadata": {"model": "chat-v7", "surface": "web"},
        **extra,
    }


def count(model: type) -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def integration(app) -> dict[str, str]:
    return bearer(make_token(make_user(Role.INTEGRATION, "chatbot")))


def test_integration_posts_one_flag(client, integration) -> None:
    response = client.post("/api/v1/flags", json=flag(1), headers=integration)
    assert response.status_code == 201
    body = response.get_json()
    item = db.session.scalar(sa.select(Item))
    assert body == {"ids": [item.id], "duplicates": []}
    assert item.external_id == "conv-1" and item.meta == {"model": "chat-v7", "surface": "web"}
    assert item.status == ItemStatus.OPEN and item.priority > 0


def test_admin_posts_a_batch(client) -> None:
    admin = bearer(make_token(make_user(Role.ADMIN, "boss")))
    response = client.post(
        "/api/v1/flags", json={"flags": [flag(i) for i in range(5)]}, headers=admin
    )
    assert response.status_code == 201
    assert len(response.get_json()["ids"]) == 5 and count(Item) == 5


def test_auth(app, client) -> None:
    body = {"flags": [flag(1)]}
    assert client.post("/api/v1/flags", json=body).status_code == 401
    reviewer = make_user(Role.REVIEWER, "rita")
    assert login(client, "rita").status_code == 302
    cookie_only = client.post("/api/v1/flags", json=body)
    assert cookie_only.status_code == 401 and "error" in cookie_only.get_json()
    assert (
        client.post("/api/v1/flags", json=body, headers=bearer(make_token(reviewer))).status_code
        == 403
    )
    new = accounts.create_token(db.session, None, make_user(Role.INTEGRATION, "bot"), "test")
    secret = new.secret
    db.session.commit()
    assert client.post("/api/v1/flags", json=body, headers=bearer(secret)).status_code == 201
    accounts.revoke_token(db.session, None, new.token.id)
    db.session.commit()
    assert client.post("/api/v1/flags", json=body, headers=bearer(secret)).status_code == 401
    assert (
        client.post(
            "/api/v1/flags", json=body, headers={"Authorization": "Bearer fq_not_a_token"}
        ).status_code
        == 401
    )
    assert count(Item) == 1  # only the accepted request wrote anything


def test_malformed_json_is_400(client, integration) -> None:
    for data in ('{"external_id": "x",', "[" * 50_000 + "]" * 50_000):
        response = client.post(
            "/api/v1/flags", data=data, content_type="application/json", headers=integration
        )
        assert response.status_code == 400
        assert response.get_json()["details"][0]["field"] == "body"
    not_json = client.post("/api/v1/flags", data="external_id=x", headers=integration)
    assert not_json.status_code == 400
    assert count(Item) == 0


def test_invalid_flag_is_422_naming_the_path_and_nothing_is_written(client, integration) -> None:
    flags = [flag(i) for i in range(5)]
    flags[3]["messages"][1]["role"] = "robot"
    flags[4]["messages"][0]["content"] = ""
    response = client.post("/api/v1/flags", json={"flags": flags}, headers=integration)
    assert response.status_code == 422
    details = response.get_json()["details"]
    assert details[0]["field"] == "flags[3].messages[1].role"
    assert details[1]["field"] == "flags[4].messages[0].content"
    assert "flags[3].messages[1].role" in response.get_json()["error"]
    assert count(Item) == 0 and count(Flag) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"flags": []}, "flags"),
        ({"flags": "x"}, "flags"),
        ([flag(1)], "body"),
        ({"messages": conversation(1)}, None),  # OpenAI chat: accepted, id from content
        (flag(1, external_id=""), "external_id"),
        (flag(1, messages=[{"role": "user", "content": "nul \u0000 byte"}]), "messages[0].content"),
        (flag(1, messages=[{"role": "user", "content": 7}]), "messages[0].content"),
        (flag(1, flag={"flagged_at": "soon"}), "flag.flagged_at"),
        (flag(1, metadata="x"), "metadata"),
    ],
)
def test_each_bad_body_names_its_field(client, integration, body: object, field: str | None):
    response = client.post("/api/v1/flags", json=body, headers=integration)
    if field is None:
        assert response.status_code == 201
    else:
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["details"][0]["field"] == field


def test_too_many_flags_is_413(client, integration) -> None:
    body = {"flags": [flag(i) for i in range(501)]}
    response = client.post("/api/v1/flags", json=body, headers=integration)
    assert response.status_code == 413
    assert response.get_json()["details"][0]["field"] == "flags"
    assert count(Item) == 0


@pytest.fixture
def small_app(app, database_url, tmp_path) -> Iterator[Flask]:
    small = create_app(
        app_config(
            database_url,
            tmp_path,
            MAX_CONTENT_LENGTH=4000,
            FLAGQ_LIMITS={"max_batch": 3, "max_messages": 2},
        )
    )
    yield small
    with small.app_context():
        db.engine.dispose()


def test_configured_limits_413_and_422(small_app, integration) -> None:
    db.session.commit()
    client = small_app.test_client()
    big = flag(1, metadata={"pad": "x" * 5000})
    assert client.post("/api/v1/flags", json=big, headers=integration).status_code == 413
    four = {"flags": [flag(i) for i in range(4)]}
    assert client.post("/api/v1/flags", json=four, headers=integration).status_code == 413
    three = flag(1, messages=conversation(1) + conversation(2)[:1])
    response = client.post("/api/v1/flags", json=three, headers=integration)
    assert response.status_code == 422
    assert response.get_json()["details"][0]["field"] == "messages"
    assert (
        client.post(
            "/api/v1/flags", json={"flags": [flag(i) for i in range(3)]}, headers=integration
        ).status_code
        == 201
    )
    assert count(Item) == 3


def test_duplicates_and_content_links(client, integration) -> None:
    first = client.post("/api/v1/flags", json={"flags": [flag(1), flag(2)]}, headers=integration)
    ids = first.get_json()["ids"]
    again = client.post("/api/v1/flags", json=flag(1), headers=integration)
    assert again.status_code == 201
    assert again.get_json() == {"ids": [ids[0]], "duplicates": ["conv-1"]}
    reflagged = flag(1, flag={"reason": "another user", "flagged_at": "2026-11-21T09:00:00Z"})
    more = client.post("/api/v1/flags", json=reflagged, headers=integration)
    assert more.get_json() == {"ids": [ids[0]], "duplicates": []}
    copy = flag(3, messages=conversation(2))
    linked = client.post("/api/v1/flags", json=copy, headers=integration).get_json()
    assert linked["duplicates"] == [] and linked["ids"][0] not in ids
    db.session.rollback()
    item = db.session.get(Item, linked["ids"][0])
    assert item.status == ItemStatus.DUPLICATE and item.duplicate_of_id == ids[1]
    assert db.session.get(Item, ids[0]).flag_count == 2
    assert count(Item) == 3 and count(Flag) == 4


def test_get_flag_shape_and_404(client, integration) -> None:
    posted = client.post(
        "/api/v1/flags",
        json=flag(
            1,
            messages=[
                {"role": "user", "content": "<script>alert(1)</script>"},
                {"role": "assistant", "content": "ok"},
            ],
        ),
        headers=integration,
    )
    item_id = posted.get_json()["ids"][0]
    reviewer = bearer(make_token(make_user(Role.AUDITOR, "aude")))
    response = client.get(f"/api/v1/flags/{item_id}", headers=reviewer)
    assert response.status_code == 200
    body = response.get_json()
    assert {"id", "external_id", "status", "messages", "flags", "prediction", "decisions"} <= set(
        body
    )
    assert body["id"] == item_id and body["external_id"] == "conv-1"
    assert body["status"] == "open" and body["prediction"] is None and body["decisions"] == []
    assert body["messages"][0]["content"] == "<script>alert(1)</script>"
    assert body["flags"][0]["reason"] == "made it up"
    assert body["flags"][0]["flagged_at"].startswith("2026-11-20T14:03:00")
    assert client.get("/api/v1/flags/999999", headers=reviewer).status_code == 404
    assert client.get(f"/api/v1/flags/{item_id}", headers=integration).status_code == 403
    assert client.get(f"/api/v1/flags/{item_id}").status_code == 401


def test_openapi_describes_both_routes(client) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    post = paths["/flags"]["post"]
    assert {"201", "400", "401", "403", "413", "422"} <= set(post["responses"])
    assert "404" in paths["/flags/{id}"]["get"]["responses"]
    json.dumps(paths)

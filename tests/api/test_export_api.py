"""GET /api/v1/export and /export/preview: streamed, for trainers and admins only."""

import io
import json

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from services.test_exports import is_chat_example, seed

from models import AuditEvent, Role
from review.extensions import db

from factories import bearer, make_token, make_user


@pytest.fixture
def trainer_token(app) -> str:
    return make_token(make_user(Role.TRAINER, "tess"))


def test_trainer_streams_openai_chat(app, client, trainer_token) -> None:
    seed(db.session)
    response = client.get(
        "/api/v1/export?format=openai-chat", headers=bearer(trainer_token), buffered=True
    )
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert len(rows) == 3 and all(is_chat_example(r["messages"]) for r in rows)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "export.create"))
    assert event.actor_name == "tess" and event.changes["counts"]["rows"] == 3


def test_filters_and_split_in_the_query(app, client, trainer_token) -> None:
    seed(db.session)
    url = "/api/v1/export?format=jsonl&category=bias,privacy&split=0.5&part=train"
    response = client.get(url, headers=bearer(trainer_token), buffered=True)
    assert response.status_code == 200
    everything = client.get(
        "/api/v1/export?format=jsonl&category=bias&category=privacy&split=0.5",
        headers=bearer(trainer_token),
        buffered=True,
    )
    rows = [json.loads(x) for x in everything.get_data(as_text=True).splitlines()]
    assert sorted(r["final_label"] for r in rows) == ["bias", "privacy"]
    train = [r["external_id"] for r in rows if r["split"] == "train"]
    got = [json.loads(x)["external_id"] for x in response.get_data(as_text=True).splitlines()]
    assert got == train


def test_parquet_streams_a_readable_file(app, client, trainer_token) -> None:
    seed(db.session)
    response = client.get(
        "/api/v1/export?format=parquet&redact=true", headers=bearer(trainer_token), buffered=True
    )
    assert response.status_code == 200
    table = pq.read_table(io.BytesIO(response.get_data()))
    assert table.num_rows == 6


def test_preview_counts(app, client, trainer_token) -> None:
    seed(db.session)
    response = client.get(
        "/api/v1/export/preview?format=dpo&split=0.5", headers=bearer(trainer_token)
    )
    assert response.status_code == 200
    counts = response.get_json()["counts"]
    assert counts["rows"] == 2 and sum(counts["by_split"].values()) == 2


def test_admin_may_export(app, client) -> None:
    token = make_token(make_user(Role.ADMIN, "root"))
    response = client.get("/api/v1/export?format=csv", headers=bearer(token), buffered=True)
    assert response.status_code == 200
    assert response.get_data(as_text=True).startswith("external_id,final_label,flag_category")


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.AUDITOR, Role.INTEGRATION])
def test_other_roles_are_forbidden(app, client, role) -> None:
    token = make_token(make_user(role))
    assert client.get("/api/v1/export?format=jsonl", headers=bearer(token)).status_code == 403
    preview = client.get("/api/v1/export/preview?format=jsonl", headers=bearer(token))
    assert preview.status_code == 403


def test_no_token_is_unauthorised(app, client) -> None:
    assert client.get("/api/v1/export?format=jsonl").status_code == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("format=xml", "format"),
        ("", "format"),
        ("format=jsonl&since=yesterday", "since"),
        ("format=jsonl&split=0", "split"),
        ("format=jsonl&category=nope", "category"),
        ("format=jsonl&redact=maybe", "redact"),
        ("format=jsonl&part=train", "part"),
    ],
)
def test_bad_parameters_are_422(app, client, trainer_token, query, field) -> None:
    response = client.get(f"/api/v1/export?{query}", headers=bearer(trainer_token))
    assert response.status_code == 422
    assert response.get_json()["details"][0]["field"] == field


def test_openapi_documents_the_routes(app, client) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/export" in paths and "/export/preview" in paths
    names = {p["name"] for p in paths["/export"]["get"]["parameters"]}
    assert {"format", "category", "since", "until", "split", "redact"} <= names

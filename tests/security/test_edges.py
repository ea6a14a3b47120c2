"""Edges that gave 500: huge ids on every route, huge versions, dates before year 1 in UTC,
schema-valid requests refused, and what a 405 says."""

import pytest

from models import Role

from factories import bearer, login, make_token, make_user

HUGE_IDS = [2**31, 2**63, 2**64 + 1, 10**30]


def _with_id(rule, value: int) -> str:
    url = rule.rule
    for argument in rule.arguments:
        url = url.replace(f"<int:{argument}>", str(value))
    return url


def test_every_route_with_an_id_answers_404_for_ids_past_the_columns(app, client) -> None:
    admin = make_user(Role.ADMIN, "root")
    token = bearer(make_token(admin))
    login(client, "root")
    checked = 0
    for rule in app.url_map.iter_rules():
        if "<int:" not in rule.rule:
            continue
        for value in HUGE_IDS:
            url = _with_id(rule, value)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = client.open(url, method=method, headers=token, json={"label": "bias"})
                assert response.status_code == 404, (method, url, response.status_code)
                checked += 1
    assert checked >= 10 * len(HUGE_IDS)


def test_huge_versions_and_dates_before_year_one_are_422(client) -> None:
    trainer = bearer(make_token(make_user(Role.TRAINER, "tess")))
    auditor = bearer(make_token(make_user(Role.AUDITOR, "aude")))
    cases = [
        (
            "/api/v1/export?format=jsonl&model_version=99999999999999999999",
            trainer,
            "model_version",
        ),
        ("/api/v1/export/preview?format=csv&model_version=2147483648", trainer, "model_version"),
        ("/api/v1/export?format=jsonl&since=0001-01-01T00:00:00%2B14:00", trainer, "since"),
        ("/api/v1/export/preview?format=jsonl&until=0001-01-01T00:00:00%2B14:00", trainer, "until"),
        ("/api/v1/audit?since=0001-01-01T00:00:00%2B14:00", auditor, "since"),
        ("/api/v1/audit?limit=0", auditor, "limit"),
    ]
    for url, headers, field in cases:
        response = client.get(url, headers=headers)
        assert response.status_code == 422, (url, response.status_code)
        assert response.get_json()["details"][0]["field"] == field
    ok = client.get("/api/v1/export/preview?format=csv&model_version=2147483647", headers=trainer)
    assert ok.status_code == 200


def test_an_empty_category_claims_from_any(client) -> None:
    token = bearer(make_token(make_user(Role.REVIEWER, "rita")))
    response = client.post("/api/v1/queue/claim", json={"category": ""}, headers=token)
    assert response.status_code == 204


def test_405_names_the_allowed_methods(client) -> None:
    for url in ("/api/v1/categories", "/api/v1/queue/claim", "/login", "/healthz"):
        response = client.open(url, method="TRACE")
        assert response.status_code == 405, url
        assert response.headers.get("Allow"), url


@pytest.mark.parametrize("value", ["0", "-1", "1001", "x"])
def test_the_document_bounds_what_the_audit_route_refuses(client, value: str) -> None:
    auditor = bearer(make_token(make_user(Role.AUDITOR, "aude")))
    assert client.get(f"/api/v1/audit?limit={value}", headers=auditor).status_code == 422
    document = client.get("/api/v1/openapi.json").get_json()
    (limit,) = [p for p in document["paths"]["/audit"]["get"]["parameters"] if p["name"] == "limit"]
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000}

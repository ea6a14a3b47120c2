"""Every route but the public ones refuses anonymous users; roles are enforced."""

import pytest

from models import Role

from factories import bearer, login, make_token, make_user

PUBLIC = {"auth.login", "static", "healthz", "api.openapi"}


def _concrete(rule) -> str:
    url = rule.rule
    for argument in rule.arguments:
        url = url.replace(f"<int:{argument}>", "1").replace(f"<{argument}>", "x")
        url = url.replace(f"<path:{argument}>", "x")
    return url


def test_every_non_public_route_refuses_anonymous(app, client) -> None:
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        url = _concrete(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            checked += 1
            if url.startswith("/api/"):
                assert response.status_code == 401, (method, url)
                assert "error" in response.get_json()
            else:
                # Anonymous: redirected to sign in, or refused (a POST without CSRF token).
                assert response.status_code in (302, 400), (method, url, response.status_code)
                if response.status_code == 302:
                    assert response.headers["Location"].startswith("/login")
    assert checked >= 5


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.TRAINER])
def test_reviewer_pages_refuse_other_roles(client, role: Role) -> None:
    make_user(role, "someone")
    login(client, "someone")
    assert client.get("/").status_code == 403


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ADMIN])
def test_reviewer_pages_admit_reviewers_and_admins(client, role: Role) -> None:
    make_user(role, "someone")
    login(client, "someone")
    assert client.get("/").status_code == 200


def test_api_requires_a_live_bearer_token(client) -> None:
    user = make_user(Role.REVIEWER, "rita")
    secret = make_token(user)
    assert client.get("/api/v1/categories").status_code == 401
    assert client.get("/api/v1/categories", headers=bearer("fq_wrong")).status_code == 401
    ok = client.get("/api/v1/categories", headers=bearer(secret))
    assert ok.status_code == 200
    slugs = [c["slug"] for c in ok.get_json()["categories"]]
    assert slugs[:2] == ["factual_error", "harmful_advice"] and "no_error" in slugs


def test_api_ignores_browser_sessions(client) -> None:
    # A session cookie must not authorise the CSRF-exempt API.
    make_user(Role.REVIEWER, "rita")
    login(client, "rita")
    response = client.get("/api/v1/categories")
    assert response.status_code == 401
    assert response.get_json()["details"] == [{"field": "Authorization"}]


def test_integration_token_is_refused_on_people_routes(client) -> None:
    bot = make_user(Role.INTEGRATION, "bot")
    response = client.get("/api/v1/categories", headers=bearer(make_token(bot)))
    assert response.status_code == 403
    assert response.get_json()["error"].startswith("this route is for")


def test_openapi_document_lists_routes(client) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert "/categories" in document["paths"]

"""Free text on every route gets the checks imported messages get: no NUL, no lone
surrogate, a length limit; long texts are folded on list pages."""

import pytest
import sqlalchemy as sa

from models import ApiToken, Category, Decision, Escalation, Role
from review.extensions import db
from review.services import queue

from factories import bearer, csrf_token, login, make_item, make_token, make_user, run_cli

NUL = "bad \u0000 text"
SURROGATE = "bad \ud800 text"


@pytest.fixture
def reviewer(app) -> dict[str, str]:
    return bearer(make_token(make_user(Role.REVIEWER, "rita")))


@pytest.fixture
def auditor(app) -> dict[str, str]:
    return bearer(make_token(make_user(Role.AUDITOR, "aude")))


def _field_of(response) -> str:
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    return response.get_json()["details"][0]["field"]


def _claimed(client, headers) -> int:
    make_item(db.session, category="bias")
    return client.post("/api/v1/queue/claim", headers=headers).get_json()["id"]


@pytest.mark.parametrize("text", [NUL, SURROGATE], ids=["nul", "surrogate"])
def test_decision_texts_are_checked(client, reviewer, text: str) -> None:
    item_id = _claimed(client, reviewer)
    url = f"/api/v1/flags/{item_id}/decision"
    for body, field in [
        ({"label": "bias", "note": text}, "note"),
        ({"label": "bias", "corrected_response": text}, "corrected_response"),
        ({"label": text}, "label"),
    ]:
        assert _field_of(client.post(url, json=body, headers=reviewer)) == field
    escalate = client.post(
        f"/api/v1/flags/{item_id}/escalate", json={"note": text}, headers=reviewer
    )
    assert _field_of(escalate) == "note"
    claim = client.post("/api/v1/queue/claim", json={"category": text}, headers=reviewer)
    assert _field_of(claim) == "category"
    # Nothing was written; the claim still stands and a clean decision goes through.
    assert db.session.scalar(sa.select(sa.func.count(Decision.id))) == 0
    ok = client.post(url, json={"label": "bias", "note": "fine"}, headers=reviewer)
    assert ok.status_code == 200


def test_notes_have_a_configurable_limit(app, client, reviewer, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "FLAGQ_LIMITS", {"max_note_chars": 20})
    item_id = _claimed(client, reviewer)
    long_note = {"label": "bias", "note": "x" * 21}
    response = client.post(f"/api/v1/flags/{item_id}/decision", json=long_note, headers=reviewer)
    assert _field_of(response) == "note"
    assert "longer than 20 characters" in response.get_json()["error"]
    escalate = client.post(
        f"/api/v1/flags/{item_id}/escalate", json={"note": "y" * 21}, headers=reviewer
    )
    assert _field_of(escalate) == "note"
    assert (
        client.post(
            f"/api/v1/flags/{item_id}/escalate", json={"note": "y" * 20}, headers=reviewer
        ).status_code
        == 201
    )


def test_resolution_note_and_query_strings(client, reviewer, auditor) -> None:
    item_id = _claimed(client, reviewer)
    client.post(f"/api/v1/flags/{item_id}/escalate", json={"note": "help"}, headers=reviewer)
    escalation = db.session.scalar(sa.select(Escalation.id))
    url = f"/api/v1/escalations/{escalation}/resolve"
    for text in (NUL, SURROGATE, "z" * 10_001):
        body = {"label": "bias", "note": text}
        assert _field_of(client.post(url, json=body, headers=auditor)) == "note"
    for query in ("action=%00", "actor=a%00b"):
        response = client.get(f"/api/v1/audit?{query}", headers=auditor)
        assert _field_of(response) in ("action", "actor")
    assert client.post(url, json={"label": "bias"}, headers=auditor).status_code == 200


def test_forms_refuse_nul(client) -> None:
    make_user(Role.REVIEWER, "rita")
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": "ri\u0000ta", "password": "whatever", "csrf_token": token}
    )
    assert response.status_code == 422
    assert "contains a NUL character" in response.get_data(as_text=True)
    assert login(client, "rita").status_code == 302


def test_cli_names_and_labels_are_checked(app) -> None:
    user = make_user(Role.TRAINER, "tess")
    too_long = run_cli(app, "tokens", "create", "--user", "tess", "--label", "L" * 201)
    assert too_long.exit_code == 1 and "label" in too_long.output
    assert db.session.scalar(sa.select(sa.func.count(ApiToken.id))) == 0
    ok = run_cli(app, "tokens", "create", "--user", user.username, "--label", "L" * 200)
    assert ok.exit_code == 0
    bad = run_cli(app, "taxonomy", "add", "new_one", "--name", "x" * 121)
    assert bad.exit_code == 1 and "name" in bad.output
    assert db.session.scalar(sa.select(Category.id).where(Category.slug == "new_one")) is None


def test_long_texts_are_folded_on_the_audit_page(client) -> None:
    # A huge escalation note from before the limit (or written straight into the database).
    rita = make_user(Role.REVIEWER, "rita")
    make_user(Role.AUDITOR, "aude")
    item = make_item(db.session, category="bias", reason="R" * 50_000)
    claim = queue.claim_next(db.session, rita)
    assert claim is not None and claim.item.id == item.id
    escalation = queue.escalate(db.session, rita, item.id, "ok")
    escalation.note = "N" * 2_000_000
    db.session.commit()
    login(client, "aude")
    page = client.get("/audit")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert len(text) < 100_000
    assert "1,998,000 more characters" in text and "48,000 more characters" in text

"""The safety team's page and API: escalations settled by adjudication, agreement, sampling."""

import re

import sqlalchemy as sa

from models import AuditEvent, Decision, DecisionKind, Escalation, Item, ItemStatus, Role
from review.extensions import db
from review.services import exports, queue, sampling

from factories import T0, bearer, csrf_token, login, make_item, make_token, make_user

HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def _escalated(note: str = HOSTILE, category: str = "factual_error") -> tuple[Item, Escalation]:
    reviewer = make_user(Role.REVIEWER)
    item = make_item(db.session, category=category)
    item.messages = [
        {"role": "user", "content": "what is 2+2?"},
        {"role": "assistant", "content": HOSTILE},
    ]
    db.session.flush()
    claim = queue.claim_next(db.session, reviewer, now=T0)
    assert claim is not None and claim.item.id == item.id
    escalation = queue.escalate(db.session, reviewer, item.id, note, now=T0)
    db.session.commit()
    return item, escalation


def _page(client) -> str:
    response = client.get("/audit")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_auditor_settles_an_escalation_from_the_page(client) -> None:
    item, escalation = _escalated()
    make_user(Role.AUDITOR, "sam")
    login(client, "sam")
    html = _page(client)
    assert f'id="escalation-{escalation.id}"' in html
    # Hostile text is shown as text, never as markup.
    assert "<script>alert(2)" not in html and "&lt;script&gt;alert(2)" in html
    assert '<img src=x onerror="alert(1)">' not in html
    response = client.post(
        f"/audit/escalations/{escalation.id}/resolve",
        data={
            f"e{escalation.id}-label": "bias",
            f"e{escalation.id}-note": "checked",
            "csrf_token": csrf_token(html),
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    stored = db.session.get(Item, item.id)
    assert stored.status == ItemStatus.DECIDED and stored.final_label == "bias"
    settled = db.session.get(Escalation, escalation.id)
    assert settled.resolved_at is not None
    [decision] = db.session.scalars(
        sa.select(Decision).where(Decision.kind == DecisionKind.ADJUDICATION)
    ).all()
    assert decision.label == "bias" and decision.note == "checked"
    assert 'id="no-escalations"' in _page(client)
    # Settled, it is exported with its adjudicated label.
    [entry] = exports.iter_entries(db.session, exports.ExportFilters())
    assert entry.external_id == item.external_id and entry.final_label == "bias"


def test_sensitive_conversations_start_closed(client) -> None:
    _escalated(category="self_harm")
    make_user(Role.AUDITOR, "sam")
    login(client, "sam")
    html = _page(client)
    assert re.search(r"<details>\s*<summary>Conversation \(sensitive", html)


def test_reviewers_and_trainers_cannot_open_the_audit_page(client) -> None:
    for role, name in ((Role.REVIEWER, "rita"), (Role.TRAINER, "tom")):
        make_user(role, name)
        login(client, name)
        assert client.get("/audit").status_code == 403
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/").get_data(True))})


def test_sampling_form_sets_a_rate_and_refuses_a_bad_one(client) -> None:
    make_user(Role.AUDITOR, "sam")
    login(client, "sam")
    token = csrf_token(_page(client))
    form = {"category": "self_harm", "rate": "0.5", "csrf_token": token}
    client.post("/audit/sampling", data=form)
    assert sampling.rates(db.session) == {"all": 0.0, "self_harm": 0.5}
    response = client.post(
        "/audit/sampling", data={"category": "all", "rate": "3", "csrf_token": token}
    )
    assert response.status_code == 302
    assert sampling.rates(db.session) == {"all": 0.0, "self_harm": 0.5}
    assert re.search(r"Self-harm:\s*50%", _page(client))


def test_escalations_api_lists_and_resolves(client) -> None:
    item, escalation = _escalated(note="not sure")
    auditor = make_token(make_user(Role.AUDITOR, "sam"))
    reviewer = make_token(make_user(Role.REVIEWER, "rita"))
    assert client.get("/api/v1/escalations", headers=bearer(reviewer)).status_code == 403
    listed = client.get("/api/v1/escalations", headers=bearer(auditor)).get_json()
    assert [(e["id"], e["item_id"], e["note"]) for e in listed["escalations"]] == [
        (escalation.id, item.id, "not sure")
    ]
    path = f"/api/v1/escalations/{escalation.id}/resolve"
    bad = client.post(path, headers=bearer(auditor), json={"label": "nope"})
    assert bad.status_code == 422 and bad.get_json()["details"][0]["field"] == "label"
    missing = client.post(path, headers=bearer(auditor), json={"note": "x"})
    assert missing.status_code == 422
    done = client.post(path, headers=bearer(auditor), json={"label": "no_error"})
    assert done.status_code == 200 and done.get_json()["kind"] == "adjudication"
    again = client.post(path, headers=bearer(auditor), json={"label": "no_error"})
    assert again.status_code == 409
    unknown = client.post(
        "/api/v1/escalations/999999/resolve", headers=bearer(auditor), json={"label": "bias"}
    )
    assert unknown.status_code == 404
    assert client.get("/api/v1/escalations", headers=bearer(auditor)).get_json() == {
        "escalations": []
    }
    actions = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert actions.count("escalation.resolve") == 1


def test_audit_trail_on_the_page_filters_and_escapes(client) -> None:
    _escalated(note="<b>bold</b> claim")
    make_user(Role.AUDITOR, "sam")
    login(client, "sam")
    html = _page(client)
    assert "<title>Audit · flagq</title>" in html
    assert html.count('id="audit-trail"') == 1
    trail = html.split('id="audit-trail"')[1]
    assert "item.escalate" in trail and "claim.create" in trail
    assert "&lt;b&gt;bold&lt;/b&gt;" in trail and "<b>bold</b>" not in trail
    only = client.get("/audit?action=item.escalate").get_data(as_text=True)
    rows = only.split('id="audit-trail"')[1].split("</table>")[0]
    assert "item.escalate" in rows and "claim.create" not in rows

"""The reviewer's HTML pages through the test client: home, item page, decisions, wellbeing."""

import re
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient

from models import (
    ClassifierVersion,
    Decision,
    Escalation,
    Item,
    ItemStatus,
    Role,
    Skip,
    User,
    WorkInterval,
    utcnow,
)
from review.extensions import db
from review.services import ingest, settings
from review.services.flagformat import parse_flag

from factories import csrf_token, login, make_user

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">click me</a>',
    "<svg onload=alert(1)>",
    "\u202egnp.exe\u202c and zero\u200bwidth\u200d joiners",
]


def add_item(
    external_id: str,
    category: str | None = "factual_error",
    reason: str = "it made up a citation",
    messages: list[dict[str, str]] | None = None,
    priority: float | None = None,
) -> int:
    """Store one flagged conversation (content unique to external_id) and return its item id."""
    messages = messages or [
        {"role": "user", "content": f"Question for {external_id}?"},
        {"role": "assistant", "content": f"An answer about {external_id}."},
    ]
    raw: dict[str, Any] = {
        "external_id": external_id,
        "messages": messages,
        "flag": {"reason": reason, "category": category, "message_index": len(messages) - 1},
    }
    item_id = ingest.add_flags(db.session, None, [parse_flag(raw)]).ids[0]
    if priority is not None:
        db.session.get(Item, item_id).priority = priority
    db.session.commit()
    return item_id


def predict(item_id: int, label: str | None, confidence: float) -> None:
    """Give the item a prediction from a (stand-in) classifier version."""
    version = ClassifierVersion(artifact=b"stand-in", labels=[])
    db.session.add(version)
    db.session.flush()
    item = db.session.get(Item, item_id)
    item.predicted_label, item.predicted_confidence = label, confidence
    item.prediction_version_id = version.id
    db.session.commit()


def reviewer(client: FlaskClient, name: str = "rita") -> User:
    user = make_user(Role.REVIEWER, name)
    login(client, name)
    return user


def token(client: FlaskClient, path: str = "/") -> str:
    return csrf_token(client.get(path).get_data(as_text=True))


def start(client: FlaskClient, category: str = "") -> Any:
    return client.post("/queue/start", data={"csrf_token": token(client), "category": category})


def open_item(client: FlaskClient, item_id: int) -> str:
    response = client.get(f"/queue/items/{item_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def post_item(client: FlaskClient, item_id: int, action: str, **data: Any) -> Any:
    page = open_item(client, item_id)
    return client.post(
        f"/queue/items/{item_id}/{action}", data={"csrf_token": csrf_token(page), **data}
    )


def decisions() -> list[Decision]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Decision).order_by(Decision.id)))


def number(html: str, element_id: str) -> int:
    match = re.search(rf'id="{element_id}">(\d+)<', html)
    assert match, f"no #{element_id} in page"
    return int(match.group(1))


def test_home_shows_counts_and_category_buttons(client) -> None:
    add_item("a-1", "factual_error")
    add_item("a-2", "factual_error")
    add_item("a-3", "privacy")
    reviewer(client)
    html = client.get("/").get_data(as_text=True)
    assert number(html, "queue-size") == 3
    assert number(html, "decided-today") == 0
    assert ">Privacy only</button>" in html and ">Factual error only</button>" in html
    assert "Start reviewing" in html
    assert "Nothing to review" not in html


def test_home_says_when_there_is_nothing_to_review(client) -> None:
    reviewer(client)
    assert "Nothing to review right now" in client.get("/").get_data(as_text=True)
    response = start(client)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "No more conversations for you." in client.get("/").get_data(as_text=True)


def test_start_claims_the_next_item_and_opens_its_page(client) -> None:
    low = add_item("low", priority=1.0)
    high = add_item(
        "high",
        "privacy",
        reason="it printed my address",
        messages=[
            {"role": "system", "content": "Be careful."},
            {"role": "user", "content": "Where does Jane live?"},
            {"role": "assistant", "content": "Jane lives at 1 Main Street."},
        ],
        priority=5.0,
    )
    user = reviewer(client)
    response = start(client)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/queue/items/{high}"
    item = db.session.get(Item, high)
    assert item.status == ItemStatus.CLAIMED and item.claimed_by_id == user.id
    assert db.session.get(Item, low).status == ItemStatus.OPEN
    html = open_item(client, high)
    for role in ("system", "user", "assistant"):
        assert f'<span class="role">{role}</span>' in html
    assert "Jane lives at 1 Main Street." in html
    assert "it printed my address" in html
    # The flagged message (the last one) is highlighted and marked in words.
    assert html.count("Flagged message") == 1
    assert re.search(r'class="message role-assistant flagged"', html)
    assert "no prediction" in html
    assert re.search(r"<button[^>]*disabled[^>]*>Confirm", html, re.S)
    for name in ("Factual error", "Privacy", "Self-harm", "Other"):
        assert re.search(rf"</kbd> {name}\s*</button>", html), name
    assert re.search(r'value="factual_error"\s+data-key="1"', html)
    for label in ("Not an error", "Skip", "Escalate", "Undo"):
        assert f">{label} <kbd" in html
    # Starting again resumes the same claim rather than taking a second item.
    assert start(client).headers["Location"] == f"/queue/items/{high}"


def test_category_button_stores_the_decision_and_opens_the_next_item(client) -> None:
    first = add_item("first", priority=2.0)
    second = add_item("second", priority=1.0)
    user = reviewer(client)
    start(client)
    response = post_item(client, first, "decide", label="privacy", note="leaks an address")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/queue/items/{second}"
    [decision] = decisions()
    assert (decision.item_id, decision.label, decision.note) == (
        first,
        "privacy",
        "leaks an address",
    )
    assert decision.reviewer_id == user.id and decision.corrected_response is None
    item = db.session.get(Item, first)
    assert item.status == ItemStatus.DECIDED and item.final_label == "privacy"
    assert db.session.get(Item, second).claimed_by_id == user.id
    assert number(client.get("/").get_data(as_text=True), "decided-today") == 1


def test_confirm_accepts_the_prediction(client) -> None:
    item_id = add_item("predicted")
    predict(item_id, "bias", 0.87)
    reviewer(client)
    start(client)
    html = open_item(client, item_id)
    assert re.search(r"Prediction:\s*<strong>Bias</strong>\s*\(87% confidence\)", html)
    confirm = re.search(r'<button[^>]*value="([^"]*)"[^>]*>Confirm', html, re.S)
    assert confirm and confirm.group(1) == "bias" and "disabled" not in confirm.group(0)
    response = post_item(client, item_id, "decide", label=confirm.group(1))
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert [d.label for d in decisions()] == ["bias"]


def test_abstained_prediction_reads_no_prediction(client) -> None:
    item_id = add_item("abstained")
    predict(item_id, None, 0.2)
    reviewer(client)
    start(client)
    html = open_item(client, item_id)
    assert "no prediction" in html and "the model abstained" in html
    assert re.search(r"<button[^>]*disabled[^>]*>Confirm", html, re.S)


def test_not_an_error(client) -> None:
    item_id = add_item("fine")
    reviewer(client)
    start(client)
    assert post_item(client, item_id, "decide", label="no_error").status_code == 302
    assert [d.label for d in decisions()] == ["no_error"]
    assert db.session.get(Item, item_id).final_label == "no_error"


def test_corrected_response_is_kept_with_an_error_label_only(client) -> None:
    item_id = add_item("wrong")
    reviewer(client)
    start(client)
    refused = post_item(
        client, item_id, "decide", label="no_error", corrected_response="A better answer."
    )
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert "only an error label can carry a correction" in body
    assert "A better answer." in body  # what the reviewer typed is kept
    assert decisions() == []
    ok = post_item(
        client, item_id, "decide", label="factual_error", corrected_response="A better answer."
    )
    assert ok.status_code == 302
    [decision] = decisions()
    assert decision.corrected_response == "A better answer."


def test_unknown_label_is_refused_and_the_page_rerendered(client) -> None:
    item_id = add_item("odd")
    reviewer(client)
    start(client)
    response = post_item(client, item_id, "decide", label="made_up")
    assert response.status_code == 422
    assert "unknown or retired category" in response.get_data(as_text=True)
    assert decisions() == []
    assert db.session.get(Item, item_id).status == ItemStatus.CLAIMED


def test_skip_moves_on_and_never_offers_the_item_again(client) -> None:
    skipped = add_item("skipped", priority=2.0)
    other = add_item("other", priority=1.0)
    user = reviewer(client)
    start(client)
    response = post_item(client, skipped, "skip")
    assert response.headers["Location"] == f"/queue/items/{other}"
    assert db.session.scalar(sa.select(Skip.item_id).where(Skip.user_id == user.id)) == skipped
    assert db.session.get(Item, skipped).status == ItemStatus.OPEN
    post_item(client, other, "decide", label="other")
    assert start(client).headers["Location"] == "/"
    assert decisions()[0].item_id == other


def test_escalate_with_a_note(client) -> None:
    item_id = add_item("danger", "harmful_advice")
    user = reviewer(client)
    start(client)
    response = post_item(client, item_id, "escalate", note="needs the safety team today")
    assert response.status_code == 302
    escalation = db.session.scalar(sa.select(Escalation))
    assert escalation.item_id == item_id and escalation.user_id == user.id
    assert escalation.note == "needs the safety team today"
    assert db.session.get(Item, item_id).status == ItemStatus.ESCALATED
    assert "Escalated to the safety team." in client.get("/").get_data(as_text=True)


def test_undo_returns_the_last_decision_to_the_reviewer(client) -> None:
    first = add_item("first", priority=2.0)
    second = add_item("second", priority=1.0)
    user = reviewer(client)
    start(client)
    post_item(client, first, "decide", label="bias")
    page = open_item(client, second)
    response = client.post("/queue/undo", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/queue/items/{first}"
    assert decisions() == []
    item = db.session.get(Item, first)
    assert item.status == ItemStatus.CLAIMED and item.claimed_by_id == user.id
    assert item.final_label is None
    assert db.session.get(Item, second).status == ItemStatus.OPEN
    assert "decide again" in open_item(client, first)


def test_undo_from_home_after_the_last_item(client) -> None:
    item_id = add_item("last one")
    reviewer(client)
    assert ">Undo</button>" not in client.get("/").get_data(as_text=True)
    start(client)
    assert post_item(client, item_id, "decide", label="bias").headers["Location"] == "/"
    home = client.get("/").get_data(as_text=True)
    assert ">Undo</button>" in home
    response = client.post("/queue/undo", data={"csrf_token": csrf_token(home)})
    assert response.headers["Location"] == f"/queue/items/{item_id}"
    assert decisions() == []


def test_undo_with_nothing_to_undo_is_a_conflict(client) -> None:
    reviewer(client)
    response = client.post("/queue/undo", data={"csrf_token": token(client)})
    assert response.status_code == 409
    assert "Nothing to undo" in response.get_data(as_text=True)


def test_undo_is_refused_after_five_minutes(client) -> None:
    item_id = add_item("old")
    reviewer(client)
    start(client)
    post_item(client, item_id, "decide", label="bias")
    decision = decisions()[0]
    decision.decided_at = utcnow() - timedelta(minutes=6)
    db.session.commit()
    response = client.post("/queue/undo", data={"csrf_token": token(client)})
    assert response.status_code == 409
    assert len(decisions()) == 1


def test_posts_without_csrf_token_are_refused(client) -> None:
    item_id = add_item("guarded")
    reviewer(client)
    assert client.post("/queue/start").status_code == 400
    assert db.session.get(Item, item_id).status == ItemStatus.OPEN
    start(client)
    for action in ("decide", "skip", "escalate"):
        response = client.post(f"/queue/items/{item_id}/{action}", data={"label": "bias"})
        assert response.status_code == 400, action
    assert client.post("/queue/undo").status_code == 400
    assert client.post("/queue/heartbeat").status_code == 400
    assert decisions() == []
    assert db.session.get(Item, item_id).status == ItemStatus.CLAIMED


def test_decision_after_the_lease_expired_is_a_conflict(client) -> None:
    item_id = add_item("slow")
    reviewer(client)
    start(client)
    page = open_item(client, item_id)
    db.session.get(Item, item_id).lease_expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = client.post(
        f"/queue/items/{item_id}/decide", data={"csrf_token": csrf_token(page), "label": "bias"}
    )
    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert "Your claim on this item expired or was taken over; nothing was saved." in body
    assert "Next item" in body
    assert decisions() == []
    # The next item button claims again; the expired item is back in the queue first.
    assert start(client).headers["Location"] == f"/queue/items/{item_id}"


def test_decision_on_an_item_someone_else_holds_is_a_conflict(client) -> None:
    item_id = add_item("taken")
    reviewer(client, "rita")
    start(client)
    page = open_item(client, item_id)
    client.post("/logout", data={"csrf_token": csrf_token(page)})
    reviewer(client, "sam")
    assert client.get(f"/queue/items/{item_id}").status_code == 409
    response = client.post(
        f"/queue/items/{item_id}/decide", data={"csrf_token": token(client), "label": "bias"}
    )
    assert response.status_code == 409
    assert "nothing was saved" in response.get_data(as_text=True)
    assert decisions() == []


def test_sensitive_item_is_blurred_until_revealed(client) -> None:
    item_id = add_item("hard", "self_harm", reason="it encouraged self-harm")
    plain = add_item("easy", "factual_error", priority=-10.0)
    reviewer(client)
    start(client)
    html = open_item(client, item_id)
    assert 'class="sensitive-content blurred"' in html
    assert re.search(r'<button[^>]*data-reveal="sensitive-content"[^>]*>Reveal</button>', html)
    response = client.post(
        f"/queue/items/{item_id}/reveal", data={"csrf_token": csrf_token(html), "reveal": "1"}
    )
    assert response.headers["Location"] == f"/queue/items/{item_id}?reveal=1"
    revealed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'class="sensitive-content"' in revealed and "sensitive-content blurred" not in revealed
    assert re.search(r'<button[^>]*data-reveal="sensitive-content"[^>]*>Hide</button>', revealed)
    response = client.post(
        f"/queue/items/{item_id}/reveal", data={"csrf_token": csrf_token(html), "reveal": "0"}
    )
    assert response.headers["Location"] == f"/queue/items/{item_id}"
    post_item(client, item_id, "decide", label="self_harm")
    assert "sensitive-content blurred" not in open_item(client, plain)
    assert decisions()[0].sensitive


def test_daily_sensitive_cap_offers_only_other_work(client) -> None:
    settings.put(db.session, None, "sensitive_daily_cap", 1)
    first = add_item("hard-1", "violence", priority=3.0)
    add_item("hard-2", "violence", priority=2.0)
    plain = add_item("plain", "bias", priority=1.0)
    reviewer(client)
    assert "daily limit" not in client.get("/").get_data(as_text=True)
    start(client)
    response = post_item(client, first, "decide", label="violence")
    assert response.headers["Location"] == f"/queue/items/{plain}"
    home = client.get("/").get_data(as_text=True)
    assert 'id="sensitive-cap"' in home and "the daily limit of 1" in home
    assert ">Violence only</button>" not in home and "daily limit reached" in home


def test_break_prompt_after_a_long_stretch(client) -> None:
    item_id = add_item("long day")
    user = reviewer(client)
    assert "take a short break" not in client.get("/").get_data(as_text=True)
    now = utcnow()
    db.session.add(
        WorkInterval(user_id=user.id, started_at=now - timedelta(minutes=70), last_beat_at=now)
    )
    db.session.commit()
    assert "take a short break" in client.get("/").get_data(as_text=True)
    start(client)
    assert "take a short break" in open_item(client, item_id)


def test_working_on_one_category_only(client) -> None:
    add_item("fact", "factual_error", priority=9.0)
    privacy_1 = add_item("priv-1", "privacy", priority=2.0)
    privacy_2 = add_item("priv-2", "privacy", priority=1.0)
    reviewer(client)
    assert start(client, "privacy").headers["Location"] == f"/queue/items/{privacy_1}"
    response = post_item(client, privacy_1, "decide", label="privacy")
    assert response.headers["Location"] == f"/queue/items/{privacy_2}"
    response = post_item(client, privacy_2, "decide", label="privacy")
    assert response.headers["Location"] == "/"
    assert "in this category" in client.get("/").get_data(as_text=True)
    assert start(client, "no_such_category").status_code == 422


def test_opt_out_form_on_my_work(client) -> None:
    add_item("gore", "violence")
    user = reviewer(client)
    page = client.get("/me").get_data(as_text=True)
    assert 'name="categories" type="checkbox" value="violence"' in page
    response = client.post(
        "/me",
        data={"csrf_token": csrf_token(page), "categories": ["violence", "sexual_content"]},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).excluded_categories == ["violence", "sexual_content"]
    page = client.get("/me").get_data(as_text=True)
    assert re.search(r'checked[^>]*value="violence"|value="violence"[^>]*checked', page)
    assert "you opted out" in client.get("/").get_data(as_text=True)
    assert start(client).headers["Location"] == "/"  # the only item is in an excluded category
    bad = client.post("/me", data={"csrf_token": csrf_token(page), "categories": ["nonsense"]})
    assert bad.status_code == 422
    db.session.expire_all()
    assert db.session.get(User, user.id).excluded_categories == ["violence", "sexual_content"]


def test_my_work_shows_time_and_decisions(client) -> None:
    first = add_item("one", priority=3.0)
    second = add_item("two", "self_harm", priority=2.0)
    third = add_item("three", priority=1.0)
    user = reviewer(client)
    start(client)
    post_item(client, first, "decide", label="bias")
    post_item(client, second, "decide", label="self_harm")
    post_item(client, third, "decide", label="bias")
    now = utcnow()
    # Noon three days ago: the half hour never straddles a UTC midnight, whenever this runs.
    noon = (now - timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    db.session.add(
        WorkInterval(user_id=user.id, started_at=noon, last_beat_at=noon + timedelta(minutes=30))
    )
    db.session.commit()
    html = client.get("/me").get_data(as_text=True)
    assert number(html, "decisions-total") == 3
    assert number(html, "sensitive-total") == 1
    assert re.search(r"<td>Bias</td><td>2</td>", html)
    assert re.search(r"<td>Self-harm</td><td>1</td>", html)
    assert re.search(r'id="time-worked">(\d+) min<', html)
    assert int(re.search(r'id="time-worked">(\d+) min<', html).group(1)) >= 30
    day = noon.date().isoformat()
    assert re.search(rf"<td>{day}</td><td>30 min</td><td>0</td>", html)
    assert re.search(rf"<td>{now.date().isoformat()}</td><td>\d+ min</td><td>3</td>", html)
    assert html.count("<tr") == 1 + 14 + 1 + 2  # two table heads, 14 days, two categories


def test_heartbeat_renews_the_lease_with_the_csrf_header(client) -> None:
    item_id = add_item("beat")
    reviewer(client)
    assert client.post(
        "/queue/heartbeat", headers={"X-CSRFToken": token(client), "Accept": "application/json"}
    ).get_json() == {"lease_expires_at": None}
    start(client)
    page = open_item(client, item_id)
    header_token = re.search(r'data-csrf-token="([^"]+)"', page).group(1)
    before = db.session.get(Item, item_id).lease_expires_at
    response = client.post(
        "/queue/heartbeat", headers={"X-CSRFToken": header_token, "Accept": "application/json"}
    )
    assert response.status_code == 200
    db.session.expire_all()
    after = db.session.get(Item, item_id).lease_expires_at
    assert response.get_json()["lease_expires_at"] == after.isoformat()
    assert after >= before


def test_stop_reviewing_gives_the_item_back(client) -> None:
    item_id = add_item("later")
    reviewer(client)
    start(client)
    page = open_item(client, item_id)
    response = client.post("/queue/release", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    item = db.session.get(Item, item_id)
    assert item.status == ItemStatus.OPEN and item.claimed_by_id is None


def test_item_page_escapes_hostile_content(client) -> None:
    messages = [{"role": "user", "content": payload} for payload in HOSTILE]
    messages.append({"role": "assistant", "content": "x" * 1_000_000})
    item_id = add_item("<script>alert(1)</script>", HOSTILE[1], HOSTILE[0], messages)
    reviewer(client)
    start(client)
    response = client.get(f"/queue/items/{item_id}")
    html = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "<svg onload" not in html
    assert 'href="javascript:' not in html
    assert "&lt;a href=&#34;javascript:alert(1)&#34;&gt;" in html
    assert "x" * 1_000_000 in html
    # Every message is its own bidi-isolated box, so U+202E cannot flip the page.
    assert html.count('class="content user-text" dir="auto"') == len(messages)
    assert html.count("<script") == 1  # only static/app.js
    assert " style=" not in html and "onclick" not in html.lower()
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp


def test_every_form_on_the_item_page_carries_a_csrf_token(client) -> None:
    item_id = add_item("forms")
    reviewer(client)
    start(client)
    html = open_item(client, item_id)
    forms = re.findall(r"<form\b.*?</form>", html, re.S)
    assert len(forms) >= 4
    for form in forms:
        assert 'name="csrf_token"' in form


def test_second_review_goes_to_another_reviewer_and_says_so(client, app) -> None:
    from review.services import sampling

    item_id = add_item("twice")
    sampling.set_rate(db.session, None, "all", 1)
    db.session.commit()
    reviewer(client, "rita")
    start(client)
    assert "Second review" not in open_item(client, item_id)
    post_item(client, item_id, "decide", label="bias")
    assert db.session.get(Item, item_id).second_review
    # Rita never sees it again: her queue is empty.
    assert start(client).headers["Location"] == "/"
    client.post("/logout", data={"csrf_token": token(client)})
    reviewer(client, "otto")
    assert start(client).headers["Location"] == f"/queue/items/{item_id}"
    html = open_item(client, item_id)
    assert 'id="second-review"' in html
    # Blind: nothing names the first reviewer. (Their label cannot be looked for: every
    # category's button is on the page.)
    assert "rita" not in html
    post_item(client, item_id, "decide", label="bias")
    kinds = [d.kind for d in decisions()]
    assert [k.value for k in kinds] == ["first", "second"]

"""Reviewing in Chromium: start, decide by key, confirm, skip, escalate, undo, blur, lost leases.

The keys (documented in static/app.js and the page's help dialog): a category's digit or
letter labels the item with that category and submits at once; Enter confirms the prediction;
N is "Not an error"; S skips; E escalates with the note; U undoes; V reveals; ? shows help.
"""

import re
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from models import ClassifierVersion, Decision, Escalation, Item, ItemStatus, Role, Skip, utcnow
from review.extensions import db
from review.services import ingest
from review.services.flagformat import parse_flag

from factories import PASSWORD, make_user


def add_item(
    external_id: str, category: str = "factual_error", priority: float = 0.0, **extra: Any
) -> int:
    """Store one flagged conversation with content of its own; return its item id."""
    raw = {
        "external_id": external_id,
        "messages": extra.pop(
            "messages",
            [
                {"role": "user", "content": f"Tell me about {external_id}."},
                {"role": "assistant", "content": f"Here is something about {external_id}."},
            ],
        ),
        "flag": {"reason": extra.pop("reason", "wrong answer"), "category": category},
    }
    item_id = ingest.add_flags(db.session, None, [parse_flag(raw)]).ids[0]
    db.session.get(Item, item_id).priority = priority
    db.session.commit()
    return item_id


def read(query: Any) -> list[Any]:
    """Run a query and end the transaction at once (SQLite: the server thread needs the lock)."""
    rows = list(db.session.execute(query).all())
    db.session.commit()
    return rows


def write(statement: Any) -> None:
    db.session.execute(statement)
    db.session.commit()


def sign_in(page: Page, live_server: str, name: str = "rita") -> None:
    make_user(Role.REVIEWER, name)
    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Start reviewing")).to_be_visible()


def at_item(page: Page, item_id: int) -> None:
    """Wait until the page is item_id's and its shortcut keys are live."""
    expect(page).to_have_url(re.compile(rf"/queue/items/{item_id}$"))
    expect(page.locator("#review[data-keys=on]")).to_have_count(1)
    expect(page.locator("#review[data-keys=on]")).to_have_count(1)


def start(page: Page, item_id: int) -> None:
    page.get_by_role("button", name="Start reviewing").click()
    at_item(page, item_id)


def labels() -> list[tuple[int, str]]:
    return [
        tuple(r) for r in read(sa.select(Decision.item_id, Decision.label).order_by(Decision.id))
    ]


def test_start_reviewing_shows_the_item(live_server: str, page: Page) -> None:
    item_id = add_item("first", "privacy", reason="it gave out a home address")
    sign_in(page, live_server)
    start(page, item_id)
    expect(page.get_by_role("heading", name="Flagged conversation")).to_be_visible()
    expect(page.get_by_text("Here is something about first.")).to_be_visible()
    expect(page.get_by_text("it gave out a home address")).to_be_visible()
    expect(page.get_by_text("Flagged message")).to_be_visible()
    expect(page.locator("#prediction")).to_contain_text("no prediction")
    expect(page.get_by_role("button", name="Confirm")).to_be_disabled()
    for name in ("Factual error", "Privacy", "Not an error", "Skip", "Escalate", "Undo"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_enabled()


def test_digit_labels_and_submits_at_once(live_server: str, page: Page) -> None:
    first = add_item("first", priority=2.0)
    second = add_item("second", priority=1.0)
    sign_in(page, live_server)
    start(page, first)
    page.keyboard.press("7")  # the seventh category in display order: Privacy
    at_item(page, second)
    assert labels() == [(first, "privacy")]
    page.keyboard.press("n")
    expect(page.get_by_text("No more conversations for you.")).to_be_visible()
    assert labels() == [(first, "privacy"), (second, "no_error")]


def test_enter_confirms_the_prediction(live_server: str, page: Page) -> None:
    item_id = add_item("predicted")
    version = ClassifierVersion(artifact=b"stand-in", labels=[])
    db.session.add(version)
    db.session.flush()
    write(
        sa.update(Item)
        .where(Item.id == item_id)
        .values(predicted_label="bias", predicted_confidence=0.91, prediction_version_id=version.id)
    )
    sign_in(page, live_server)
    start(page, item_id)
    expect(page.locator("#prediction")).to_contain_text("Bias (91% confidence)")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/$"))
    assert labels() == [(item_id, "bias")]


def test_keys_do_not_fire_while_typing(live_server: str, page: Page) -> None:
    item_id = add_item("typing")
    sign_in(page, live_server)
    start(page, item_id)
    note = page.get_by_label("Note (optional)")
    note.press_sequentially("unsure? see 1 example")  # u, ?, s, e, 1 and Enter-free
    note.press("Enter")
    expect(note).to_have_value("unsure? see 1 example\n")
    at_item(page, item_id)
    expect(page.locator("#help")).not_to_be_visible()
    # Out of the field the keys work again; events run in order, so had a key in the note
    # submitted anything, the page would have gone by now.
    page.get_by_role("heading", name="Your decision").click()
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    at_item(page, item_id)
    assert labels() == []


def test_s_skips(live_server: str, page: Page) -> None:
    first = add_item("first", priority=2.0)
    second = add_item("second", priority=1.0)
    sign_in(page, live_server)
    start(page, first)
    page.keyboard.press("s")
    at_item(page, second)
    assert [r.item_id for r in read(sa.select(Skip.item_id))] == [first]


def test_e_escalates_with_the_note(live_server: str, page: Page) -> None:
    item_id = add_item("dangerous", "harmful_advice")
    sign_in(page, live_server)
    start(page, item_id)
    page.get_by_label("Note (optional)").fill("tells people to mix bleach and ammonia")
    page.get_by_role("heading", name="Your decision").click()  # leave the field
    page.keyboard.press("e")
    expect(page.get_by_text("Escalated to the safety team.")).to_be_visible()
    [row] = read(sa.select(Escalation.item_id, Escalation.note))
    assert tuple(row) == (item_id, "tells people to mix bleach and ammonia")
    assert read(sa.select(Item.status).where(Item.id == item_id))[0][0] == ItemStatus.ESCALATED


def test_u_undoes_the_last_decision(live_server: str, page: Page) -> None:
    first = add_item("first", priority=2.0)
    second = add_item("second", priority=1.0)
    sign_in(page, live_server)
    start(page, first)
    page.keyboard.press("1")
    at_item(page, second)
    page.keyboard.press("u")
    at_item(page, first)
    expect(page.get_by_text("Your last decision was undone")).to_be_visible()
    assert labels() == []
    page.get_by_role("button", name="Bias", exact=True).click()
    at_item(page, second)
    assert labels() == [(first, "bias")]


def test_sensitive_content_is_blurred_until_revealed(live_server: str, page: Page) -> None:
    item_id = add_item("hard", "self_harm", reason="it ignored a crisis")
    sign_in(page, live_server)
    start(page, item_id)
    content = page.locator("#sensitive-content")
    expect(content).to_have_class(re.compile(r"\bblurred\b"))
    expect(page.locator(".message .content").first).to_have_css("filter", "blur(7px)")
    page.keyboard.press("v")
    expect(content).not_to_have_class(re.compile(r"\bblurred\b"))
    expect(page.locator(".message .content").first).to_have_css("filter", "none")
    page.get_by_role("button", name="Hide").click()
    expect(content).to_have_class(re.compile(r"\bblurred\b"))
    page.get_by_role("button", name="Reveal").click()
    expect(content).not_to_have_class(re.compile(r"\bblurred\b"))
    at_item(page, item_id)  # no round trip


def test_reveal_works_without_javascript(live_server: str, browser: Any) -> None:
    item_id = add_item("hard", "violence")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, live_server)
    page.get_by_role("button", name="Start reviewing").click()
    expect(page).to_have_url(re.compile(rf"/queue/items/{item_id}$"))
    expect(page.locator("#review[data-keys=on]")).to_have_count(0)  # no JS, no keys
    expect(page.locator("#sensitive-content")).to_have_class(re.compile(r"\bblurred\b"))
    page.get_by_role("button", name="Reveal").click()
    expect(page).to_have_url(re.compile(rf"/queue/items/{item_id}\?reveal=1$"))
    expect(page.locator("#sensitive-content")).not_to_have_class(re.compile(r"\bblurred\b"))
    page.get_by_role("button", name="Violence", exact=True).click()
    expect(page.get_by_text("No more conversations for you.")).to_be_visible()
    assert labels() == [(item_id, "violence")]
    context.close()


def test_question_mark_shows_the_keys(live_server: str, page: Page) -> None:
    item_id = add_item("help")
    sign_in(page, live_server)
    start(page, item_id)
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).not_to_be_visible()
    page.keyboard.press("?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Confirm the prediction")
    expect(dialog).to_contain_text("Label as Privacy")
    page.keyboard.press("1")  # keys are off while the help is open
    page.keyboard.press("Escape")
    expect(dialog).not_to_be_visible()
    assert labels() == []


def test_decision_on_a_lost_lease_says_nothing_was_saved(live_server: str, page: Page) -> None:
    item_id = add_item("slow")
    sign_in(page, live_server)
    start(page, item_id)
    write(
        sa.update(Item)
        .where(Item.id == item_id)
        .values(lease_expires_at=utcnow() - timedelta(seconds=1))
    )
    with page.expect_response(re.compile(r"/decide$")) as response:
        page.keyboard.press("1")
    assert response.value.status == 409
    expect(
        page.get_by_text("Your claim on this item expired or was taken over; nothing was saved.")
    ).to_be_visible()
    assert labels() == []
    page.get_by_role("button", name="Next item").click()
    at_item(page, item_id)


def test_heartbeat_renews_the_lease_and_reports_a_lost_one(live_server: str, page: Page) -> None:
    item_id = add_item("beating")
    sign_in(page, live_server)
    page.clock.install()
    start(page, item_id)
    soon = utcnow() + timedelta(seconds=30)
    write(sa.update(Item).where(Item.id == item_id).values(lease_expires_at=soon))
    with page.expect_response(re.compile(r"/queue/heartbeat$")) as response:
        page.clock.fast_forward(61_000)
    assert response.value.status == 200
    [(renewed,)] = read(sa.select(Item.lease_expires_at).where(Item.id == item_id))
    assert renewed > soon
    expect(page.locator("#lease-lost")).to_be_hidden()
    write(
        sa.update(Item)
        .where(Item.id == item_id)
        .values(lease_expires_at=utcnow() - timedelta(seconds=1))
    )
    with page.expect_response(re.compile(r"/queue/heartbeat$")):
        page.clock.fast_forward(61_000)
    expect(page.locator("#lease-lost")).to_be_visible()

"""Hostile conversations render inert in Chromium: no payload runs, the page stays usable.

Each payload tries to set window.__xss = true (an init script sets it to false first);
escaping and the Content-Security-Policy must both keep it false.
"""

import re
from typing import Any

import sqlalchemy as sa
from playwright.sync_api import Page, expect

from models import Decision, Item, Role
from review.extensions import db
from review.services import ingest
from review.services.flagformat import parse_flag

from factories import PASSWORD, make_user

PAYLOADS = [
    '<img src=x onerror="window.__xss=true">',
    "<script>window.__xss=true</script>",
    '<svg onload="window.__xss=true"></svg>',
    '<a id="evil" href="javascript:window.__xss=true">click me</a>',
    '"><script>window.__xss=true</script><b x="',
    "'><img src=x onerror=window.__xss=true>",
    '<iframe srcdoc="<script>parent.__xss=true</script>"></iframe>',
    '<details open ontoggle="window.__xss=true">x</details>',
    '<input autofocus onfocus="window.__xss=true">',
    '<body onload="window.__xss=true">',
    "<style>body { display: none }</style>",
    '<meta http-equiv="refresh" content="0; url=javascript:window.__xss=true">',
    "javascript:window.__xss=true",
    "{{ 7 * 7 }} {% raw %}",
    "\u202eevil.exe\u202c right-to-left override, zero\u200bwidth\u200d\u2060 and \ufeff marks",
]


def hostile_item(external_id: str, messages: list[dict[str, str]], category: str) -> int:
    raw = {
        "external_id": external_id,
        "messages": messages,
        "flag": {"reason": " ".join(PAYLOADS), "category": category, "message_index": 0},
        "metadata": {"note": PAYLOADS[1]},
    }
    item_id = ingest.add_flags(db.session, None, [parse_flag(raw)]).ids[0]
    db.session.commit()
    return item_id


def sign_in_and_start(page: Page, live_server: str) -> list[str]:
    """Sign in with the XSS hook installed and open the first item; return the dialogs seen."""
    fired: list[str] = []
    page.on("dialog", lambda dialog: (fired.append(dialog.message), dialog.dismiss()))
    page.add_init_script("window.__xss = false;")
    make_user(Role.REVIEWER, "rita")
    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Start reviewing").click()
    expect(page).to_have_url(re.compile(r"/queue/items/\d+$"))
    expect(page.locator("#review[data-keys=on]")).to_have_count(1)
    return fired


def assert_inert(page: Page, fired: list[str]) -> None:
    assert page.evaluate("window.__xss") is False
    assert fired == []


def decided() -> list[Any]:
    rows = list(db.session.scalars(sa.select(Decision.label)))
    db.session.commit()
    return rows


def test_xss_corpus_never_runs(live_server: str, page: Page) -> None:
    messages = [{"role": "user", "content": p} for p in PAYLOADS]
    messages.append({"role": "assistant", "content": "An ordinary answer."})
    hostile_item("<script>window.__xss=true</script>", messages, PAYLOADS[0][:64])
    fired = sign_in_and_start(page, live_server)
    expect(page.get_by_text("An ordinary answer.")).to_be_visible()
    # Every payload is shown as text, and no element it describes exists.
    conversation = page.locator(".messages")
    for payload in PAYLOADS[:4]:
        expect(conversation.get_by_text(payload, exact=True)).to_be_visible()
    for selector in (
        "main img",
        "main svg",
        "main iframe",
        "main details[ontoggle]",
        "main input[autofocus]",
        "a[href^='javascript']",
        "#evil",
        "main style",
    ):
        expect(page.locator(selector)).to_have_count(0)
    expect(conversation.get_by_text("{{ 7 * 7 }} {% raw %}", exact=True)).to_be_visible()
    # Clicking the text of the javascript: link does nothing.
    conversation.get_by_text(PAYLOADS[3], exact=True).click()
    conversation.get_by_text("javascript:window.__xss=true", exact=True).click()
    assert_inert(page, fired)
    # The right-to-left override stays inside its own message: the page reads left to right.
    override = page.locator(".message .content").nth(len(PAYLOADS) - 1)
    expect(override).to_have_attribute("dir", "auto")
    expect(override).to_have_css("unicode-bidi", "isolate")
    expect(page.locator("main")).to_have_css("direction", "ltr")
    expect(page.locator("body")).to_be_visible()
    # Still usable: a key decides, and the next page (home) is inert too.
    page.keyboard.press("1")
    expect(page.get_by_role("button", name="Start reviewing")).to_be_visible()
    assert_inert(page, fired)
    assert decided() == ["factual_error"]
    page.goto(f"{live_server}/me")
    expect(page.get_by_role("heading", name="My work")).to_be_visible()
    assert_inert(page, fired)


def test_sensitive_hostile_item_reveals_inert(live_server: str, page: Page) -> None:
    messages = [{"role": "assistant", "content": p} for p in PAYLOADS]
    hostile_item("hostile-sensitive", messages, "violence")
    fired = sign_in_and_start(page, live_server)
    expect(page.locator("#sensitive-content")).to_have_class(re.compile(r"\bblurred\b"))
    page.keyboard.press("v")
    expect(page.locator("#sensitive-content")).not_to_have_class(re.compile(r"\bblurred\b"))
    expect(page.locator(".messages").get_by_text(PAYLOADS[0], exact=True)).to_be_visible()
    assert_inert(page, fired)


def test_a_one_megabyte_message_stays_usable(live_server: str, page: Page) -> None:
    huge = ("A" * 199_999 + "\n") * 5  # 1 MB of lines with no break opportunity
    item_id = hostile_item(
        "huge",
        [{"role": "user", "content": "Say a lot."}, {"role": "assistant", "content": huge}],
        "low_quality",
    )
    fired = sign_in_and_start(page, live_server)
    box = page.locator(".message .content").nth(1)
    expect(box).to_be_visible()
    height = box.bounding_box()["height"]
    assert height < page.viewport_size["height"]  # scrolls inside its own box
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    button = page.get_by_role("button", name="Low quality", exact=True)
    expect(button).to_be_visible()
    button.click()
    expect(page.get_by_role("button", name="Start reviewing")).to_be_visible()
    assert decided() == ["low_quality"]
    label = db.session.scalar(sa.select(Item.final_label).where(Item.id == item_id))
    db.session.commit()
    assert label == "low_quality"
    assert_inert(page, fired)

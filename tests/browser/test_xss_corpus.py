"""The XSS and injection corpus in every user-controlled field, on every page, in Chromium.

Messages, flag reason, metadata, decision and escalation notes, the corrected response, a
category's name, description and guideline, a username and a token label all carry payloads
that try to set window.__xss = true. An init script sets it to false and records every
Content-Security-Policy violation (a payload that escaped escaping and was stopped only by the
CSP would show up there). Every page is opened as the hostile-named admin, who sees them all;
the CSV export of the same corpus is checked cell by cell.
"""

import csv
import io
import re

from browser.test_xss import PAYLOADS
from playwright.sync_api import Page, expect

from models import Role
from review.extensions import db
from review.services import accounts, ingest, queue, taxonomy
from review.services.flagformat import parse_flag

from factories import PASSWORD, bearer, make_token, make_user

# Printable, without spaces, at most 80 characters: what a username may be.
HOSTILE_NAME = '"><svg/onload=window.__xss=true>'
SHORT = '<img src=x onerror="window.__xss=true">'
FORMULAS = ["=cmd|' /C calc'!A0", " =1+1", "\uff1dSUM(A1)", 'a;=HYPERLINK("x")', "@SUM(A1)"]
ALL = " ".join(PAYLOADS + FORMULAS)

WATCH = """
window.__xss = false;
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def _seed() -> dict[str, int]:
    """Put the corpus into every field a user controls; return the ids the pages need."""
    admin = accounts.create_user(db.session, None, HOSTILE_NAME, Role.ADMIN, PASSWORD)
    accounts.create_token(db.session, admin, admin, SHORT + " " + FORMULAS[0])
    category = taxonomy.add_category(
        db.session, admin, "hostile", SHORT, severity=5, description=ALL[:10_000]
    )
    category.guideline = ALL
    flags = [
        parse_flag(
            {
                "external_id": f"{SHORT}-{n}",
                "messages": [{"role": "user", "content": p} for p in PAYLOADS + FORMULAS]
                + [{"role": "assistant", "content": f"{ALL} ({n})"}],
                "flag": {"reason": ALL[:10_000], "category": "hostile", "message_index": 0},
                "metadata": {p[:60]: p for p in PAYLOADS},
            }
        )
        for n in range(3)
    ]
    ids = ingest.add_flags(db.session, admin, flags).ids
    reviewer = accounts.create_user(db.session, admin, "rita", Role.REVIEWER, PASSWORD)
    # One decided with a hostile note and correction (exported), one escalated with a hostile
    # note (on /audit), one left for the admin to open.
    for user, action in ((reviewer, "decide"), (reviewer, "escalate")):
        claim = queue.claim_next(db.session, user)
        assert claim is not None
        if action == "decide":
            queue.decide(
                db.session, user, claim.item.id, "hostile", note=ALL, corrected_response=ALL
            )
        else:
            queue.escalate(db.session, user, claim.item.id, ALL[:10_000])
    db.session.commit()
    return {"first": ids[0]}


def _check(page: Page, fired: list[str], where: str) -> None:
    assert page.evaluate("window.__xss") is False, where
    assert page.evaluate("window.__csp") == [], where
    assert fired == [], where


def test_the_corpus_is_inert_on_every_page(live_server: str, page: Page) -> None:
    _seed()
    fired: list[str] = []
    page.on("dialog", lambda dialog: (fired.append(dialog.message), dialog.dismiss()))
    page.add_init_script(WATCH)
    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill(HOSTILE_NAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Start reviewing")).to_be_visible()
    expect(page.get_by_role("link", name=f"{HOSTILE_NAME} (admin)")).to_be_visible()
    _check(page, fired, "/")
    page.get_by_role("button", name="Start reviewing").click()
    expect(page).to_have_url(re.compile(r"/queue/items/\d+$"))
    expect(page.get_by_role("button", name=SHORT, exact=True)).to_be_visible()
    _check(page, fired, "item page")
    for path in ("/me", "/account", "/audit", "/exports", "/audit?actor=" + HOSTILE_NAME):
        page.goto(live_server + path)
        expect(page.locator("main")).to_be_visible()
        _check(page, fired, path)
    # The audit page shows the escalation note, the hostile category and the trail as text.
    page.goto(f"{live_server}/audit")
    expect(page.locator("#audit-trail")).to_contain_text("token.create")
    expect(page.locator(".escalation").first).to_contain_text(PAYLOADS[1])
    for selector in ("main img", "main svg", "main iframe", "main script", "a[href^='javascript']"):
        expect(page.locator(selector)).to_have_count(0)
    page.goto(f"{live_server}/exports")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-title")).to_be_visible()
    _check(page, fired, "export preview")
    # A page of an item the admin does not hold (the 409 page) is inert too.
    page.goto(f"{live_server}/queue/items/1")
    _check(page, fired, "conflict page")


def test_the_corpus_exports_to_inert_csv(app, client) -> None:
    _seed()
    trainer = bearer(make_token(make_user(Role.TRAINER, "tess")))
    response = client.get("/api/v1/export?format=csv", headers=trainer, buffered=True)
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 2  # the header and the one decided item
    formula = re.compile(
        r"(^|[,;])[\s\u3000]*[=+\-@\t\r\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\u2212]"
    )
    for cell in rows[1]:
        assert not formula.search(cell), cell[:80]
    text = dict(zip(rows[0], rows[1], strict=True))
    assert PAYLOADS[1] in text["text"]  # kept as text, not dropped

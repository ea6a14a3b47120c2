"""The safety team in Chromium: a disagreeing second review is settled on the Audit page."""

import re

import sqlalchemy as sa
from browser.test_review import add_item, read, sign_in, start
from playwright.sync_api import Page, expect

from models import Decision, DecisionKind, Escalation, Item, ItemStatus, Role
from review.extensions import db
from review.services import sampling

from factories import PASSWORD, make_user


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Username")).to_be_visible()


def test_second_review_disagreement_is_settled_on_the_audit_page(
    live_server: str, page: Page
) -> None:
    item_id = add_item("twice", "factual_error", reason="the date is wrong")
    sampling.set_rate(db.session, None, "all", 1)
    db.session.commit()
    sign_in(page, live_server, "rita")
    start(page, item_id)
    expect(page.locator("#second-review")).to_have_count(0)
    page.get_by_role("button", name="Bias", exact=True).click()
    expect(page.get_by_text("No more conversations for you.")).to_be_visible()
    sign_out(page)

    sign_in(page, live_server, "otto")
    start(page, item_id)
    expect(page.locator("#second-review")).to_contain_text("Second review")
    page.get_by_role("button", name="Privacy", exact=True).click()
    expect(page.get_by_text("No more conversations for you.")).to_be_visible()
    sign_out(page)

    make_user(Role.AUDITOR, "sam")
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Audit", exact=True).click()
    expect(page).to_have_url(re.compile(r"/audit$"))
    card = page.get_by_role("article", name=re.compile(r"^Escalation \d+$"))
    expect(card).to_contain_text("second review disagrees: first bias, second privacy")
    expect(page.locator("#agreement-overall")).to_contain_text("1 second reviews")
    card.get_by_label("Final label").select_option("factual_error")
    card.get_by_label("Note").fill("the date really is wrong")
    card.get_by_role("button", name="Resolve").click()
    expect(page.locator("#no-escalations")).to_be_visible()
    [(status, label)] = read(sa.select(Item.status, Item.final_label).where(Item.id == item_id))
    assert (status, label) == (ItemStatus.DECIDED, "factual_error")
    kinds = [k for (k,) in read(sa.select(Decision.kind).order_by(Decision.id))]
    assert kinds == [DecisionKind.FIRST, DecisionKind.SECOND, DecisionKind.ADJUDICATION]
    assert read(sa.select(Escalation.resolved_at))[0][0] is not None

"""Sign in through the real form in Chromium and land on the reviewer home."""

from playwright.sync_api import Page, expect

from models import Role

from factories import PASSWORD, make_user


def test_sign_in_shows_reviewer_home(live_server: str, page: Page) -> None:
    make_user(Role.REVIEWER, "rita")
    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Start reviewing")).to_be_visible()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()


def test_wrong_password_stays_on_sign_in(live_server: str, page: Page) -> None:
    make_user(Role.REVIEWER, "rita")
    page.goto(f"{live_server}/login")
    page.get_by_label("Username").fill("rita")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("invalid username or password")).to_be_visible()
    expect(page.get_by_role("button", name="Start reviewing")).to_have_count(0)

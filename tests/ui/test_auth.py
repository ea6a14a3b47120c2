"""Sign in, sign out, CSRF, throttling and password change through the HTML forms."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from models import AuditEvent, Role, User, utcnow
from review.extensions import db

from factories import PASSWORD, csrf_token, login, make_user


def test_login_lands_on_reviewer_home(client) -> None:
    make_user(Role.REVIEWER, "rita")
    response = login(client, "rita")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "Start reviewing" in home.get_data(as_text=True)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_wrong_password_is_refused_and_counted(client) -> None:
    user = make_user(Role.REVIEWER, "rita")
    response = login(client, "rita", "wrong password!")
    assert response.status_code == 401
    assert "invalid username or password" in response.get_data(as_text=True)
    assert db.session.get(User, user.id).failed_logins == 1
    assert client.get("/").status_code == 302


def test_unknown_user_gets_the_same_message(client) -> None:
    response = login(client, "nobody", "whatever12345")
    assert response.status_code == 401
    assert "invalid username or password" in response.get_data(as_text=True)


def test_repeated_failures_lock_the_account_even_for_the_right_password(client) -> None:
    user = make_user(Role.REVIEWER, "rita")
    for _ in range(6):
        login(client, "rita", "guess-guess-guess")
    db.session.expire_all()
    locked = db.session.get(User, user.id)
    assert locked.locked_until is not None and locked.locked_until > utcnow()
    response = login(client, "rita", PASSWORD)
    assert response.status_code == 401
    assert "too many failed sign-ins" in response.get_data(as_text=True)
    # Once the lock has passed, the right password works and resets the count.
    locked.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert login(client, "rita", PASSWORD).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).failed_logins == 0
    actions = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert "user.login_locked" in actions


def test_login_without_csrf_token_is_rejected(client) -> None:
    make_user(Role.REVIEWER, "rita")
    response = client.post("/login", data={"username": "rita", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_logout_needs_post_with_csrf(client) -> None:
    make_user(Role.REVIEWER, "rita")
    login(client, "rita")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no token: still signed in
    assert client.get("/").status_code == 200
    token = csrf_token(client.get("/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_next_parameter_cannot_redirect_off_site(client) -> None:
    make_user(Role.REVIEWER, "rita")
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login?next=//evil.example/x",
        data={"username": "rita", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


def test_integration_account_cannot_sign_in(client) -> None:
    make_user(Role.INTEGRATION, "bot")
    response = login(client, "bot")
    assert response.status_code == 403
    assert client.get("/").status_code == 302


def test_password_change(client) -> None:
    make_user(Role.REVIEWER, "rita")
    login(client, "rita")
    token = csrf_token(client.get("/account").get_data(as_text=True))
    bad = client.post(
        "/account",
        data={
            "csrf_token": token,
            "current_password": "nope",
            "new_password": "new password 123",
            "confirm": "new password 123",
        },
    )
    assert "does not match" in bad.get_data(as_text=True)
    ok = client.post(
        "/account",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": "new password 123",
            "confirm": "new password 123",
        },
    )
    assert ok.status_code == 302
    client.post("/logout", data={"csrf_token": token})
    assert login(client, "rita").status_code == 401
    assert login(client, "rita", "new password 123").status_code == 302


@pytest.mark.parametrize(
    ("role", "landing"),
    [
        (Role.REVIEWER, "/"),
        (Role.ADMIN, "/"),
        (Role.AUDITOR, "/audit"),
        (Role.TRAINER, "/exports"),
    ],
)
def test_sign_in_lands_on_the_role_s_own_page(client, role, landing) -> None:
    make_user(role, "lee")
    response = login(client, "lee")
    assert response.status_code == 302 and response.headers["Location"] == landing
    assert client.get(landing).status_code == 200

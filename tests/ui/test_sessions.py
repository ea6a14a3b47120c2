"""Browser sessions can be revoked: sign-out, sign out everywhere, password change, end_sessions."""

from flask.testing import FlaskClient

from models import Role
from review.extensions import db
from review.services import accounts

from factories import PASSWORD, csrf_token, login, make_user


def _session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _signed_in(client: FlaskClient) -> bool:
    response = client.get("/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def _post_button(client: FlaskClient, page: str, url: str):
    return client.post(url, data={"csrf_token": csrf_token(client.get(page).get_data(True))})


def test_a_cookie_copied_before_sign_out_stops_working(client) -> None:
    make_user(Role.REVIEWER, "rita")
    login(client, "rita")
    stolen = _session_cookie(client)
    assert _signed_in(client)
    assert _post_button(client, "/", "/logout").status_code == 302
    assert not _signed_in(client)
    client.set_cookie("session", stolen)
    assert not _signed_in(client)


def test_password_change_ends_other_sessions_and_keeps_this_one(app) -> None:
    make_user(Role.REVIEWER, "rita")
    here, elsewhere = app.test_client(), app.test_client()
    login(here, "rita")
    login(elsewhere, "rita")
    assert _signed_in(here) and _signed_in(elsewhere)
    token = csrf_token(here.get("/account").get_data(True))
    changed = here.post(
        "/account",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "new_password": "another long password",
            "confirm": "another long password",
        },
    )
    assert changed.status_code == 302
    assert _signed_in(here)
    assert not _signed_in(elsewhere)


def test_sign_out_everywhere_else_from_the_account_page(app) -> None:
    make_user(Role.AUDITOR, "aude")
    here, elsewhere = app.test_client(), app.test_client()
    login(here, "aude")
    login(elsewhere, "aude")
    page = here.get("/account").get_data(True)
    assert "Sign out everywhere else" in page
    assert _post_button(here, "/account", "/account/sessions/end").status_code == 302
    assert here.get("/account").status_code == 200
    assert elsewhere.get("/account").status_code == 302


def test_end_sessions_is_what_admin_changes_call(client) -> None:
    # Deactivation and role changes (the admin pages) call accounts.end_sessions.
    user = make_user(Role.REVIEWER, "rita")
    login(client, "rita")
    assert _signed_in(client)
    accounts.end_sessions(db.session, None, user, "role_change")
    db.session.commit()
    assert not _signed_in(client)
    assert login(client, "rita").status_code == 302  # signing in again works
    assert _signed_in(client)


def test_sign_in_renews_the_session_and_its_csrf_token(client) -> None:
    make_user(Role.REVIEWER, "rita")
    before_sign_in = csrf_token(client.get("/login").get_data(True))
    with client.session_transaction() as before:
        anonymous_secret = before["csrf_token"]
    login(client, "rita")
    with client.session_transaction() as after:
        assert after.get("csrf_token") != anonymous_secret
    # A form token handed out before sign-in is refused afterwards.
    response = client.post("/logout", data={"csrf_token": before_sign_in})
    assert response.status_code == 400
    assert _signed_in(client)

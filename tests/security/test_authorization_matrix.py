"""The authorization matrix: every route and method x every principal, plus object-level cases.

ROUTES below is the table: one row per "METHOD /rule" of app.url_map, saying who may call it.
A route missing from the table (or a row whose route is gone) fails the test, so a new route
is never left unchecked: add its row next to its neighbours.

- public(): anyone, signed in or not.
- api(roles): the JSON API; a bearer token of one of roles. Other tokens get 403, no token
  (or a revoked one, or only a browser session) 401.
- ui(roles): an HTML page; a browser session of one of roles. Another role's session gets
  403; no session (bearer tokens do not count) is sent to /login.
- signed_in(): an HTML page for any browser session.

"Admitted" means the route did its work or refused the input (2xx, 3xx other than to /login,
404, 409, 422, ...): never 401 or 403, never a 5xx.
"""

from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from models import ApiToken, Role
from review.extensions import db
from review.services import accounts, queue

from factories import bearer, csrf_token, login, make_item, make_token, make_user

R, A, T, ADM, INT = Role.REVIEWER, Role.AUDITOR, Role.TRAINER, Role.ADMIN, Role.INTEGRATION
PEOPLE = (R, A, T, ADM)


@dataclass(frozen=True)
class Access:
    kind: str  # "public", "api", "ui"
    roles: tuple[Role, ...] = ()


def public() -> Access:
    return Access("public")


def api(*roles: Role) -> Access:
    return Access("api", roles)


def ui(*roles: Role) -> Access:
    return Access("ui", roles)


def signed_in() -> Access:
    return Access("ui", PEOPLE)


ROUTES: dict[str, Access] = {
    # Public.
    "GET /healthz": public(),
    "GET /login": public(),
    "POST /login": public(),
    "GET /static/<path:filename>": public(),
    "GET /api/v1/openapi.json": public(),
    # Any signed-in person (auth blueprint).
    "POST /logout": signed_in(),
    "GET /account": signed_in(),
    "POST /account": signed_in(),
    "POST /account/sessions/end": signed_in(),
    # Reviewers' pages.
    "GET /": ui(R, ADM),
    "POST /queue/start": ui(R, ADM),
    "GET /queue/items/<int:item_id>": ui(R, ADM),
    "POST /queue/items/<int:item_id>/reveal": ui(R, ADM),
    "POST /queue/items/<int:item_id>/decide": ui(R, ADM),
    "POST /queue/items/<int:item_id>/skip": ui(R, ADM),
    "POST /queue/items/<int:item_id>/escalate": ui(R, ADM),
    "POST /queue/undo": ui(R, ADM),
    "POST /queue/release": ui(R, ADM),
    "POST /queue/heartbeat": ui(R, ADM),
    "GET /me": ui(R, ADM),
    "POST /me": ui(R, ADM),
    # The safety team's page.
    "GET /audit": ui(A, ADM),
    "POST /audit/escalations/<int:escalation_id>/resolve": ui(A, ADM),
    "POST /audit/sampling": ui(A, ADM),
    # Trainers' page.
    "GET /exports": ui(T, ADM),
    "POST /exports": ui(T, ADM),
    # The API.
    "GET /api/v1/categories": api(*PEOPLE),
    "POST /api/v1/flags": api(INT, ADM),
    "GET /api/v1/flags/<int:item_id>": api(*PEOPLE),  # object-level: see below
    "GET /api/v1/queue": api(R, ADM),
    "POST /api/v1/queue/claim": api(R, ADM),
    "POST /api/v1/flags/<int:item_id>/decision": api(R, ADM),
    "POST /api/v1/flags/<int:item_id>/skip": api(R, ADM),
    "POST /api/v1/flags/<int:item_id>/escalate": api(R, ADM),
    "POST /api/v1/queue/undo": api(R, ADM),
    "POST /api/v1/queue/heartbeat": api(R, ADM),
    "POST /api/v1/queue/release": api(R, ADM),
    "GET /api/v1/audit": api(A, ADM),
    "GET /api/v1/stats/agreement": api(A, ADM),
    "GET /api/v1/escalations": api(A, ADM),
    "POST /api/v1/escalations/<int:escalation_id>/resolve": api(A, ADM),
    "GET /api/v1/export": api(T, ADM),
    "GET /api/v1/export/preview": api(T, ADM),
}
# Routes that end the caller's own session: the principal signs in again after them.
ENDS_SESSION = {"POST /logout"}


def _url(rule: Any, ids: dict[str, int]) -> str:
    url = rule.rule
    for argument in rule.arguments:
        url = url.replace(f"<int:{argument}>", str(ids.get(argument, 1)))
        url = url.replace(f"<path:{argument}>", "app.css")
    return url


def test_every_route_is_in_the_table(app) -> None:
    served = {
        f"{method} {rule.rule}"
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert sorted(served - set(ROUTES)) == [], "add these routes to ROUTES"
    assert sorted(set(ROUTES) - served) == [], "these rows name no route"


@dataclass
class Principal:
    name: str
    client: FlaskClient
    role: Role | None = None
    via: str = "none"  # "session", "token" or "none"
    headers: dict[str, str] | None = None
    username: str = ""
    csrf: str = ""

    def csrf_token(self) -> str:
        """Return a form token of this principal's browser session (anonymous or not)."""
        if not self.csrf:
            page = "/account" if self.via == "session" else "/login"
            self.csrf = csrf_token(self.client.get(page).text)
        return self.csrf


def _principals(app) -> list[Principal]:
    people: list[Principal] = [Principal("anonymous", app.test_client())]
    for role in Role:
        user = make_user(role, f"{role.value}-user")
        people.append(
            Principal(
                f"{role.value} token",
                app.test_client(),
                role,
                "token",
                bearer(make_token(user)),
            )
        )
        if role != INT:  # integration accounts cannot sign in
            client = app.test_client()
            login(client, user.username)
            people.append(
                Principal(f"{role.value} session", client, role, "session", None, user.username)
            )
    revoked = make_user(R, "revoked-user")
    secret = make_token(revoked)
    accounts.revoke_token(db.session, None, db.session.scalar(sa.select(sa.func.max(ApiToken.id))))
    db.session.commit()
    people.append(Principal("revoked token", app.test_client(), R, "revoked", bearer(secret)))
    return people


def _expected(access: Access, who: Principal) -> str:
    """Return "admitted", "401", "403" or "login" for who calling a route of access."""
    if access.kind == "public":
        return "admitted"
    if access.kind == "api":
        if who.via != "token":
            return "401"
        return "admitted" if who.role in access.roles else "403"
    if who.via != "session":
        return "login"
    return "admitted" if who.role in access.roles else "403"


def _outcome(response: Any) -> str:
    status = response.status_code
    assert status < 500, response.get_data(as_text=True)[:300]
    if status in (401, 403):
        return str(status)
    # Sent to sign in (with ?next=); a plain redirect to /login is where signing out ends.
    if status in (301, 302, 303) and response.headers["Location"].startswith("/login?next="):
        return "login"
    return "admitted"


def test_the_matrix(app, client) -> None:  # client: isolated test clients
    people = _principals(app)
    item = make_item(db.session, category="bias")
    escalation_item = make_item(db.session, category="bias")
    reviewer = make_user(R, "escalator")
    claim = queue.claim_next(db.session, reviewer)
    assert claim is not None
    escalation = queue.escalate(db.session, reviewer, claim.item.id, "look")
    db.session.commit()
    ids = {"item_id": item.id, "escalation_id": escalation.id}
    assert escalation_item.id  # a second open item, so claims have something to take
    checked = 0
    wrong: list[str] = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            key = f"{method} {rule.rule}"
            access = ROUTES[key]
            url = _url(rule, ids)
            for who in people:
                kwargs: dict[str, Any] = {"headers": who.headers or {}}
                if method == "POST" and not url.startswith("/api/"):
                    kwargs["data"] = {"csrf_token": who.csrf_token()}
                elif method == "POST":
                    kwargs["json"] = {}
                response = who.client.open(url, method=method, **kwargs)
                got, want = _outcome(response), _expected(access, who)
                response.close()  # a static file is streamed from disk
                if got != want:
                    wrong.append(
                        f"{key} as {who.name}: {got} ({response.status_code}), want {want}"
                    )
                checked += 1
                if key in ENDS_SESSION and who.via == "session":
                    login(who.client, who.username)
                    who.csrf = ""
    assert wrong == []
    assert checked == len(ROUTES) * len(people)


@pytest.fixture
def two_reviewers(app, client) -> dict[str, Any]:
    rita, otto = make_user(R, "rita"), make_user(R, "otto")
    item = make_item(db.session, category="bias")
    claim = queue.claim_next(db.session, rita)
    assert claim is not None and claim.item.id == item.id
    db.session.commit()
    return {"item": item.id, "rita": bearer(make_token(rita)), "otto": bearer(make_token(otto))}


def test_another_reviewers_claim_cannot_be_decided_skipped_escalated_or_read(
    client, two_reviewers
) -> None:
    item, otto = two_reviewers["item"], two_reviewers["otto"]
    for action, body in (
        ("decision", {"label": "bias", "note": "mine"}),
        ("skip", {}),
        ("escalate", {}),
    ):
        response = client.post(f"/api/v1/flags/{item}/{action}", json=body, headers=otto)
        assert response.status_code == 409, action
    assert client.get(f"/api/v1/flags/{item}", headers=otto).status_code == 404
    # The holder decides with a note; the other reviewer still cannot read it.
    rita = two_reviewers["rita"]
    decided = client.post(
        f"/api/v1/flags/{item}/decision", json={"label": "bias", "note": "SECRET"}, headers=rita
    )
    assert decided.status_code == 200
    assert client.get(f"/api/v1/flags/{item}", headers=otto).status_code == 404


def test_another_reviewers_item_page_and_work_report_stay_theirs(
    app, client, two_reviewers
) -> None:
    item = two_reviewers["item"]
    rita = db.session.scalar(sa.select(accounts.User).where(accounts.User.username == "rita"))
    queue.decide(db.session, rita, item, "bias", note="rita's note")
    db.session.commit()
    otto = app.test_client()
    login(otto, "otto")
    page = otto.get(f"/queue/items/{item}")
    assert page.status_code == 409 and "rita's note" not in page.text
    me = otto.get("/me").text
    assert "otto" in me and "rita" not in me

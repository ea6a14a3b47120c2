"""A request whose database connection dies before it commits runs again on a fresh one.

The connection is really terminated (pg_terminate_backend on the request's own backend, in
the test database only), halfway through a decision: after the decision row is written and
before the audit event and the commit.
"""

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from models import AuditEvent, Decision, Item, ItemStatus, Role
from review.extensions import db

from factories import bearer, make_item, make_token, make_user

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def postgres_app(app: Flask, engine_name: str) -> Flask:
    if engine_name != "postgresql":
        pytest.skip("terminating a backend needs PostgreSQL")
    return app


def _terminate(pid: int) -> None:
    """End backend pid of this test's own database, and wait until it is gone."""
    admin = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        ended = conn.scalar(
            sa.text(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                "WHERE pid = :pid AND datname = current_database()"
            ),
            {"pid": pid},
        )
    admin.dispose()
    assert ended


@pytest.fixture
def kill_once(postgres_app: Flask) -> Iterator[list[str]]:
    """Terminate the connection right after its first INSERT INTO decisions; yield a log."""
    log: list[str] = []

    def after(conn, _cursor, statement: str, *_args) -> None:
        if not log and statement.lstrip().upper().startswith("INSERT INTO DECISIONS"):
            log.append("terminated")
            _terminate(conn.connection.dbapi_connection.info.backend_pid)

    sa.event.listen(db.engine, "after_cursor_execute", after)
    yield log
    sa.event.remove(db.engine, "after_cursor_execute", after)


def test_a_decision_whose_connection_dies_is_retried_once(client, kill_once) -> None:
    token = bearer(make_token(make_user(Role.REVIEWER, "rita")))
    item_id = make_item(db.session, category="bias").id
    assert client.post("/api/v1/queue/claim", headers=token).status_code == 200
    response = client.post(
        f"/api/v1/flags/{item_id}/decision", json={"label": "bias", "note": "n"}, headers=token
    )
    assert kill_once == ["terminated"]
    assert response.status_code == 200, response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalars(sa.select(Decision.label)).all() == ["bias"]
    assert db.session.get(Item, item_id).status == ItemStatus.DECIDED
    creates = sa.select(sa.func.count()).where(AuditEvent.action == "decision.create")
    assert db.session.scalar(creates) == 1


def test_the_same_in_the_browser_form(client, kill_once) -> None:
    from factories import csrf_token, login

    make_user(Role.REVIEWER, "rita")
    make_item(db.session, category="bias")
    login(client, "rita")
    page = client.post("/queue/start", data={"csrf_token": csrf_token(client.get("/").text)})
    item_url = page.headers["Location"]
    form = client.get(item_url).text
    decided = client.post(
        item_url + "/decide", data={"csrf_token": csrf_token(form), "label": "bias"}
    )
    assert kill_once == ["terminated"]
    assert decided.status_code == 302
    db.session.rollback()
    assert db.session.scalars(sa.select(Decision.label)).all() == ["bias"]

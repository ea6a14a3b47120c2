"""Fixtures: the app on every engine (SQLite always, PostgreSQL with TEST_DATABASE_URL)."""

import contextvars
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, has_app_context
from flask.testing import FlaskClient

from review import create_app
from review.extensions import alembic, db

from factories import POSTGRES_URL, app_config, reset_postgres, wipe

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_ALL = os.environ.get("FLAGQ_REQUIRE_ALL_ENGINES") == "1"


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_ALL and not POSTGRES_URL:
        raise pytest.UsageError("FLAGQ_REQUIRE_ALL_ENGINES is set but TEST_DATABASE_URL is not")
    if REQUIRE_ALL and not CHROMIUM.exists():
        raise pytest.UsageError("FLAGQ_REQUIRE_ALL_ENGINES is set but /usr/bin/chromium is missing")


ENGINES = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(scope="session", params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def database_url(engine_name: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Return a migrated, empty database of the engine."""
    if engine_name == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'flagq.db'}"
    else:
        assert POSTGRES_URL
        url = POSTGRES_URL
        reset_postgres(url)
    app = create_app(app_config(url, tmp_path_factory.mktemp("instance")))
    with app.app_context():
        alembic.upgrade()
        db.engine.dispose()
    return url


@pytest.fixture(scope="session")
def session_app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = create_app(app_config(database_url, tmp_path_factory.mktemp("instance")))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(session_app: Flask) -> Iterator[Flask]:
    wipe(session_app)
    with session_app.app_context():
        yield session_app
        db.session.rollback()


@pytest.fixture
def session(app: Flask) -> Any:
    return db.session


class IsolatedClient(FlaskClient):
    """A test client whose requests run as in production: own app context, g and session.

    The test's own app context stays pushed for setup and checks; its pending
    work is committed before each request (SQLite allows one writer) and its
    objects expire, so what the test reads afterwards comes from the database.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        if has_app_context():
            db.session.commit()
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = IsolatedClient
    return app.test_client()

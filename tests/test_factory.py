"""The factory and its configuration."""

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from review import create_app
from review.config import ConfigError, from_environment, load_secret_key
from review.extensions import db

from factories import POSTGRES_URL, app_config


def test_development_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_secret_key(tmp_path, production=False, given=None)
    second = load_secret_key(tmp_path, production=False, given=None)
    assert first == second
    assert len(first) >= 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_processes_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    start = threading.Barrier(12)

    def load(_: int) -> str:
        start.wait()
        return load_secret_key(instance, production=False, given=None)

    with ThreadPoolExecutor(12) as pool:
        keys = set(pool.map(load, range(12)))
    assert len(keys) == 1
    assert len(keys.pop()) == 64
    assert [p.name for p in instance.iterdir()] == ["secret_key"]


@pytest.mark.parametrize("given", [None, "", "changeme", "dev", "short-but-not-listed"])
def test_production_refuses_missing_or_weak_secret(tmp_path: Path, given: str | None) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_secret_key(tmp_path, production=True, given=given)
    assert not (tmp_path / "secret_key").exists()


def test_production_accepts_strong_secret(tmp_path: Path) -> None:
    strong = "k" * 20 + "9f3a" * 5
    assert load_secret_key(tmp_path, production=True, given=strong) == strong


def test_environment_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The one test of the environment reader itself; every other test passes config.
    monkeypatch.setenv("FLAGQ_INSTANCE", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("FLAGQ_ENV", "development")
    config = from_environment()
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'flagq.db'}"
    assert config["SESSION_COOKIE_SECURE"] is False
    monkeypatch.setenv("FLAGQ_ENV", "production")
    with pytest.raises(ConfigError):
        from_environment()
    monkeypatch.setenv("SECRET_KEY", "p" * 48)
    assert from_environment()["SESSION_COOKIE_SECURE"] is True


def test_factory_has_no_side_effects(tmp_path: Path) -> None:
    db_file = tmp_path / "never.db"
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{db_file}",
            "SECRET_KEY": "s" * 40,
            "INSTANCE_PATH": str(tmp_path),
        }
    )
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert not db_file.exists()


def test_factory_requires_a_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": "", "INSTANCE_PATH": str(tmp_path)})


def test_security_headers_on_every_response(client) -> None:
    for path in ("/login", "/healthz", "/api/v1/categories", "/no-such-page"):
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert "http" not in csp  # no third-party origin
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_healthz(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_unreachable_database(tmp_path: Path) -> None:
    app = create_app(
        {
            "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "SECRET_KEY": "s" * 40,
            "INSTANCE_PATH": str(tmp_path),
        }
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


@pytest.mark.skipif(not POSTGRES_URL, reason="needs TEST_DATABASE_URL (PostgreSQL)")
@pytest.mark.parametrize(("idle_seconds", "status"), [(0.0, 200), (3600.0, 503)])
def test_idle_postgres_connection_dropped_by_the_server_is_replaced(
    tmp_path: Path, idle_seconds: float, status: int
) -> None:
    assert POSTGRES_URL
    app = create_app(app_config(POSTGRES_URL, tmp_path, DATABASE_PING_IDLE_SECONDS=idle_seconds))
    client = app.test_client()
    with app.app_context():
        engine = db.engine
    with engine.connect() as conn:  # the pool's one connection, checked in again after
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    killer = sa.create_engine(POSTGRES_URL)
    with killer.connect() as conn:
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
    killer.dispose()
    # With a ping, the dead connection is swapped for a new one; with none, the request
    # meets the dropped connection (and the pool replaces it only afterwards).
    assert client.get("/healthz").status_code == status
    assert client.get("/healthz").status_code == 200
    engine.dispose()

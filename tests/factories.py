"""Small factories and helpers the tests share."""

import itertools
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from models import Base, ClassifierVersion, Flag, Item, Role, TaxonomyVersion, User, utcnow
from review.extensions import db
from review.services import accounts, demo, queue, settings, training
from review.services.taxonomy import default_rows

TEST_SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse battery"
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
# The installed console script, as an operator runs it.
FLAGQ = str(Path(sys.executable).with_name("flagq"))


def app_config(url: str, instance: Path, **extra: Any) -> dict[str, Any]:
    """Return the config tests give the factory."""
    return {
        "DATABASE_URL": url,
        "SECRET_KEY": TEST_SECRET,
        "INSTANCE_PATH": str(instance),
        "TESTING": True,
        **extra,
    }


def reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def make_user(
    role: Role | str = Role.REVIEWER, name: str | None = None, password: str = PASSWORD
) -> User:
    """Create and commit a user (inside an app context)."""
    role = Role(role)
    count = db.session.scalar(sa.select(sa.func.count(User.id))) or 0
    user = accounts.create_user(
        db.session, None, name or f"{role.value}{count + 1}", role, password
    )
    db.session.commit()
    return user


def make_token(user: User) -> str:
    """Create and commit an API token for user; return its secret."""
    secret = accounts.create_token(db.session, None, user, "test").secret
    db.session.commit()
    return secret


def csrf_token(html: str) -> str:
    """Return the CSRF token of the first form in a page."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no csrf_token in page"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    """Sign in through the form, CSRF token and all."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def run_cli(app: Any, *args: str, input: str | None = None) -> Any:
    """Invoke the flagq command group against app, as the console script would."""
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from review.cli import cli

    runner = CliRunner()
    return runner.invoke(
        cli, list(args), input=input, obj=ScriptInfo(create_app=lambda: app), catch_exceptions=False
    )


# What SPEC says `flagq train` reports (and a classifier version keeps as its metrics).
TRAIN_REPORT_KEYS = frozenset(
    {"n_train", "n_test", "macro_f1", "accuracy", "per_class", "confusion_matrix", "ece"}
)


# A fixed "now" for queue tests: leases, days and undo windows are computed from it.
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
_item_numbers = itertools.count(1)


def make_item(
    session: Any,
    priority: float = 1.0,
    category: str | None = "factual_error",
    *,
    user_text: str = "hi",
    reason: str | None = None,
    message_index: int | None = None,
    **extra: Any,
) -> Item:
    """Add one open item with one flag, each with content of its own; extra sets Item fields."""
    n = next(_item_numbers)
    item = Item(
        external_id=f"conv-{n}",
        messages=[{"role": "user", "content": user_text}, {"role": "assistant", "content": "x"}],
        content_hash=f"{n:064d}",
        priority=priority,
        queue_category=category,
        flag_count=1,
        **extra,
    )
    session.add(item)
    session.flush()
    session.add(
        Flag(
            item_id=item.id,
            reason=f"reason {n}" if reason is None else reason,
            category=category,
            message_index=message_index,
            fingerprint=f"f{n:063d}",
        )
    )
    session.flush()
    return item


def wipe(app: Flask) -> None:
    """Empty every table and restore the default taxonomy, as a fresh migration leaves it."""
    settings.forget()
    queue.forget_sweeps()
    with app.app_context():
        engine = db.engine
        with engine.begin() as conn:
            # DELETE, children first: on PostgreSQL a TRUNCATE of every table costs ~0.4 s,
            # these few small tables' DELETEs a few ms. Ids then start at 1 again, as in a
            # fresh database.
            for table in reversed(Base.metadata.sorted_tables):
                conn.exec_driver_sql(f"DELETE FROM {table.name}")
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql(
                    "SELECT setval(oid, 1, false) FROM pg_class "
                    "WHERE relkind = 'S' AND relnamespace = current_schema()::regnamespace"
                )
            conn.execute(sa.insert(Base.metadata.tables["categories"]), default_rows())
            conn.execute(
                sa.insert(TaxonomyVersion.__table__),
                [
                    {
                        "summary": "default taxonomy",
                        "mapping": {},
                        "created_at": utcnow(),
                    }
                ],
            )


def script_env(url: str, instance: Path) -> dict[str, str]:
    """Return the environment in which FLAGQ runs against url, with instance as its folder."""
    env = {**os.environ, "DATABASE_URL": url, "FLAGQ_INSTANCE": str(instance)}
    env["FLAGQ_ENV"] = "development"
    env.pop("SECRET_KEY", None)
    return env


def active_version(session: Any, seed: int = 11) -> ClassifierVersion:
    """Train and activate a classifier version on 240 decided demo flags (committed)."""
    demo.add_demo_flags(session, None, count=240, seed=seed, decided_share=1.0)
    session.commit()
    version = training.train_version(session, None).version
    session.commit()
    return version


def committed_rows(model: Any) -> int:
    """Return how many rows of model are committed, read beside a running import."""
    # A read-only connection: on SQLite it takes no write lock from the importer.
    with db.engine.connect().execution_options(read_only=True) as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(model))

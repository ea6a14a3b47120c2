"""flagq users / tokens / setup, through the command group and the console script."""

import subprocess
from pathlib import Path

import sqlalchemy as sa

from models import ApiToken, Item, User
from review.extensions import db

from factories import FLAGQ, bearer, make_user, run_cli, script_env


def test_users_create_prints_generated_password_once(app) -> None:
    result = run_cli(app, "users", "create", "rita", "--role", "reviewer")
    assert result.exit_code == 0, result.output
    line = [x for x in result.stdout.splitlines() if x.startswith("password: ")]
    assert len(line) == 1 and len(line[0]) > len("password: ") + 12
    user = db.session.scalar(sa.select(User).where(User.username == "rita"))
    assert user is not None and user.role.value == "reviewer"
    assert line[0].removeprefix("password: ") not in user.password_hash


def test_users_create_reads_password_from_stdin(app, client) -> None:
    result = run_cli(
        app,
        "users",
        "create",
        "ann",
        "--role",
        "auditor",
        "--password-stdin",
        input="a long enough secret\n",
    )
    assert result.exit_code == 0, result.output
    assert "password:" not in result.stdout
    from factories import login

    assert login(client, "ann", "a long enough secret").status_code == 302


def test_users_create_rejects_unknown_role(app) -> None:
    result = run_cli(app, "users", "create", "rita", "--role", "boss")
    assert result.exit_code == 1
    assert "unknown role 'boss'" in result.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_users_create_rejects_duplicate(app) -> None:
    make_user("reviewer", "rita")
    result = run_cli(app, "users", "create", "rita", "--role", "admin")
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_users_create_rejects_short_password(app) -> None:
    result = run_cli(
        app, "users", "create", "rita", "--role", "reviewer", "--password-stdin", input="short\n"
    )
    assert result.exit_code == 1
    assert "password" in result.output


def test_users_create_without_role_is_a_usage_error(app) -> None:
    assert run_cli(app, "users", "create", "rita").exit_code == 2


def test_tokens_create_and_revoke(app, client) -> None:
    make_user("integration", "bot")
    result = run_cli(app, "tokens", "create", "--user", "bot", "--label", "chat product")
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("fq_") and "\n" not in secret
    stored = db.session.scalar(sa.select(ApiToken))
    assert stored.token_hash != secret and secret not in stored.token_hash
    flag = {"external_id": "c1", "messages": [{"role": "user", "content": "hi"}]}
    assert client.post("/api/v1/flags", json=flag, headers=bearer(secret)).status_code == 201
    revoke = run_cli(app, "tokens", "revoke", str(stored.id))
    assert revoke.exit_code == 0
    again = client.post("/api/v1/flags", json=flag, headers=bearer(secret))
    assert again.status_code == 401


def test_tokens_for_unknown_user_or_token(app) -> None:
    assert run_cli(app, "tokens", "create", "--user", "ghost").exit_code == 1
    assert run_cli(app, "tokens", "revoke", "999").exit_code == 1
    assert run_cli(app, "tokens", "revoke", "abc").exit_code == 2


def test_setup_seeds_once(app) -> None:
    first = run_cli(app, "setup")
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("admin password: ")
    items = db.session.scalar(sa.select(sa.func.count(Item.id)))
    assert items >= 300
    second = run_cli(app, "setup")
    assert second.exit_code == 0
    assert "admin password" not in second.stdout
    assert db.session.scalar(sa.select(sa.func.count(Item.id))) == items


def test_console_script_end_to_end(tmp_path: Path) -> None:
    # The installed `flagq` script, as an operator runs it, on a fresh SQLite file.
    env = script_env(f"sqlite:///{tmp_path / 'x.db'}", tmp_path)
    upgrade = subprocess.run([FLAGQ, "db", "upgrade"], env=env, capture_output=True, text=True)
    assert upgrade.returncode == 0, upgrade.stderr
    made = subprocess.run(
        [FLAGQ, "users", "create", "ops", "--role", "admin"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0 and made.stdout.startswith("password: ")
    bad = subprocess.run(
        [FLAGQ, "users", "create", "ops2", "--role", "nope"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "unknown role" in bad.stderr

"""Configuration: the only reader of the environment."""

import contextlib
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from review.services.flagformat import Limits

# Values that must never sign production sessions: placeholders people copy.
WEAK_SECRETS = frozenset(
    {"", "dev", "changeme", "change-me", "secret", "secret-key", "test", "flagq"}
)
MIN_SECRET_LENGTH = 32


class ConfigError(RuntimeError):
    """The configuration cannot start the app; the message says how to fix it."""


def default_instance_path() -> Path:
    """Return the instance folder: ./instance beside the project, or FLAGQ_INSTANCE."""
    return Path(os.environ.get("FLAGQ_INSTANCE", Path.cwd() / "instance")).resolve()


def load_secret_key(instance: Path, production: bool, given: str | None) -> str:
    """Return the signing key, generating and keeping one in development.

    Raises ConfigError in production when the key is missing or known to be weak.
    """
    if given is not None and given.strip():
        if production and (given in WEAK_SECRETS or len(given) < MIN_SECRET_LENGTH):
            raise ConfigError(
                f"SECRET_KEY is too weak for production: use at least {MIN_SECRET_LENGTH} random "
                'characters, e.g. python -c "import secrets; print(secrets.token_hex(32))"'
            )
        return given
    if production:
        raise ConfigError("SECRET_KEY must be set when FLAGQ_ENV=production")
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    # Written in full to a private temporary file, then linked into place: two processes
    # starting together (gunicorn workers, parallel CLI runs) agree on one key and never
    # read a half-written file.
    fd, temporary = tempfile.mkstemp(dir=instance, prefix=".secret_key.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return path.read_text().strip()


LIMIT_PREFIX = "FLAGQ_LIMIT_"


def limits_from_environment(env: Mapping[str, str]) -> dict[str, int]:
    """Return the flag-format limits set as FLAGQ_LIMIT_<NAME> (e.g. FLAGQ_LIMIT_MAX_MESSAGES).

    Raises ConfigError for an unknown name or a value that is not a positive integer.
    """
    from review.services.flagformat import limits_from

    overrides = {
        key.removeprefix(LIMIT_PREFIX).lower(): value
        for key, value in env.items()
        if key.startswith(LIMIT_PREFIX)
    }
    try:
        limits_from(overrides)
    except ValueError as error:
        raise ConfigError(f"{LIMIT_PREFIX}*: {error}") from None
    return {name: int(value) for name, value in overrides.items()}


def input_limits() -> "Limits":
    """Return the input limits in force in the current app (config FLAGQ_LIMITS)."""
    from flask import current_app

    from review.services.flagformat import limits_from

    return limits_from(current_app.config.get("FLAGQ_LIMITS"))


def from_environment() -> dict[str, Any]:
    """Build the app config from environment variables."""
    env = os.environ
    production = env.get("FLAGQ_ENV", "development") == "production"
    instance = default_instance_path()
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'flagq.db'}"
    return {
        "FLAGQ_ENV": "production" if production else "development",
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": database_url,
        "SECRET_KEY": load_secret_key(instance, production, env.get("SECRET_KEY")),
        "SESSION_COOKIE_SECURE": production,
        "MAX_CONTENT_LENGTH": int(env.get("FLAGQ_MAX_BODY_BYTES", 16 * 1024 * 1024)),
        "FLAGQ_LIMITS": limits_from_environment(env),
    }

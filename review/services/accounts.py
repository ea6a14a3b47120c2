"""Accounts: users, passwords, login throttling and API tokens."""

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash, generate_password_hash

from models import ApiToken, Role, User, utcnow
from review.errors import Conflict, Invalid, NotFound, Unauthorized
from review.services import audit
from review.services.flagformat import check_text

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_CHARS = 1000
MAX_USERNAME_CHARS = 80  # the column's size
MAX_TOKEN_LABEL_CHARS = 200  # the column's size
# Failures allowed before the account must wait; each further failure doubles the wait.
FREE_FAILURES = 5
FIRST_LOCK = timedelta(seconds=30)
MAX_LOCK = timedelta(minutes=15)
TOKEN_PREFIX = "fq_"  # noqa: S105 (a marker, not a secret)


@functools.cache
def _dummy_hash() -> str:
    # Compared against when the user does not exist, so timing does not tell. Made on first
    # use: a scrypt hash costs every process start (each CLI command, each worker) 0.1-0.7 s.
    return hash_password("not a real password")


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str


def hash_password(password: str) -> str:
    """Return a salted scrypt hash of the password."""
    return generate_password_hash(password, method="scrypt")


def generate_password() -> str:
    """Return a random password that is easy to copy."""
    return secrets.token_urlsafe(15)


def parse_role(value: str) -> Role:
    """Return the Role named by value, or raise Invalid naming the choices."""
    try:
        return Role(value)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise Invalid.field("role", f"unknown role {value!r}; choose one of {choices}") from None


def _check_password_strength(password: str) -> None:
    check_text(password, "password", MAX_PASSWORD_CHARS)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid.field("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")


def create_user(
    session: Session, actor: User | None, username: str, role: Role, password: str
) -> User:
    """Create an account. Raises Invalid for a bad name or password, Conflict if taken."""
    username = check_text(username, "username", MAX_USERNAME_CHARS).strip()
    if not username or not username.isprintable() or " " in username:
        raise Invalid.field("username", "1-80 printable characters without spaces")
    _check_password_strength(password)
    if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists", [{"field": "username"}])
    user = User(username=username, role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    audit.record(
        session, actor, "user.create", "user", user.id, {"username": username, "role": role}
    )
    return user


def get_user(session: Session, username: str) -> User:
    """Return the user by name or raise NotFound."""
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def _lock_for(failures: sa.ColumnElement[int], now: datetime) -> sa.ColumnElement[datetime]:
    """Return the locked_until that failures failed sign-ins earn, as one SQL expression."""
    column_type = User.__table__.c.locked_until.type
    steps, extra = [], 0
    while FIRST_LOCK * (2**extra) < MAX_LOCK:
        until = now + FIRST_LOCK * (2**extra)
        steps.append((failures == FREE_FAILURES + extra, sa.literal(until, column_type)))
        extra += 1
    return sa.case(
        (failures < FREE_FAILURES, User.locked_until),
        *steps,
        else_=sa.literal(now + MAX_LOCK, column_type),
    )


def authenticate(
    session: Session, username: str, password: str, now: datetime | None = None
) -> User:
    """Return the user whose password matches, or raise Unauthorized.

    Repeated failures lock the account for a growing while; the caller commits
    either way so that failures are counted.
    """
    now = now or utcnow()
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        check_password_hash(_dummy_hash(), password)
        raise Unauthorized("invalid username or password")
    # Each attempt counts as a failure before its password is checked, in one UPDATE that also
    # sets the lock that failure would earn: parallel guesses each draw their own number, and
    # none after the one that locks the account is checked at all. A success undoes both.
    failures = User.failed_logins + 1
    counted = session.execute(
        sa.update(User)
        .where(User.id == user.id, sa.or_(User.locked_until.is_(None), User.locked_until <= now))
        .values(failed_logins=failures, locked_until=_lock_for(failures, now))
        .returning(User.failed_logins, User.locked_until)
        .execution_options(synchronize_session=False)
    ).first()
    if counted is None:
        raise Unauthorized("too many failed sign-ins; try again in a few minutes")
    if user.active and check_password_hash(user.password_hash, password):
        session.execute(
            sa.update(User)
            .where(User.id == user.id)
            .values(failed_logins=0, locked_until=None)
            .execution_options(synchronize_session=False)
        )
        set_committed_value(user, "failed_logins", 0)
        set_committed_value(user, "locked_until", None)
        return user
    set_committed_value(user, "failed_logins", counted.failed_logins)
    set_committed_value(user, "locked_until", counted.locked_until)
    if counted.failed_logins >= FREE_FAILURES:
        audit.record(
            session,
            None,
            "user.login_locked",
            "user",
            user.id,
            {"failures": counted.failed_logins},
        )
    raise Unauthorized("invalid username or password")


def end_sessions(session: Session, actor: User | None, user: User, reason: str) -> int:
    """End every browser session of user (at its next request); return the new session version.

    The one place that revokes sessions: signing out, "sign out everywhere", a password change,
    and (for the admin pages) deactivation and role changes all call it, with reason saying
    which. API tokens are not affected (revoke_token, or deactivation, stops those).
    """
    version = session.scalar(
        sa.update(User)
        .where(User.id == user.id)
        .values(session_version=User.session_version + 1)
        .returning(User.session_version)
        .execution_options(synchronize_session=False)
    )
    if version is None:
        raise NotFound(f"no user with id {user.id}")
    set_committed_value(user, "session_version", version)
    audit.record(session, actor, "user.sessions_end", "user", user.id, {"reason": reason})
    return version


def change_password(session: Session, user: User, current: str, new: str) -> int:
    """Set a new password after checking the current one; end user's sessions.

    Returns the new session version, with which the caller keeps its own session alive.
    """
    if not check_password_hash(user.password_hash, current):
        raise Invalid.field("current_password", "does not match")
    _check_password_strength(new)
    user.password_hash = hash_password(new)
    audit.record(session, user, "user.password_change", "user", user.id)
    return end_sessions(session, user, user, "password_change")


def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(session: Session, actor: User | None, user: User, label: str = "") -> NewToken:
    """Create an API token for user; the secret is returned once and only its hash kept.

    Raises Invalid for a label that is too long or holds characters no engine stores.
    """
    check_text(label, "label", MAX_TOKEN_LABEL_CHARS)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, label=label, token_hash=_hash_token(secret), prefix=secret[:10])
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor,
        "token.create",
        "api_token",
        token.id,
        {"user": user.username, "label": label},
    )
    return NewToken(token, secret)


def revoke_token(session: Session, actor: User | None, token_id: int) -> ApiToken:
    """Revoke a token at once; raises NotFound for an unknown id."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(session, actor, "token.revoke", "api_token", token.id)
    return token


def user_for_token(session: Session, secret: str) -> User | None:
    """Return the active user a live token acts as, or None."""
    return session.scalar(
        sa.select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == _hash_token(secret),
            ApiToken.revoked_at.is_(None),
            User.active,
        )
    )

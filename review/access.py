"""Who is asking: session and bearer-token loaders, and role guards."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, g, redirect, request, session, url_for
from flask_login import current_user, login_user

from models import Role, User
from review.errors import Forbidden, Unauthorized
from review.extensions import db, login_manager
from review.services import accounts

# Which roles each UI area admits. Admins may do everything.
REVIEWERS = (Role.REVIEWER, Role.ADMIN)
AUDITORS = (Role.AUDITOR, Role.ADMIN)
TRAINERS = (Role.TRAINER, Role.ADMIN)
PEOPLE = (Role.REVIEWER, Role.AUDITOR, Role.TRAINER, Role.ADMIN)


# The flask session key holding the session version the browser signed in under.
SESSION_VERSION = "_session_version"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Load the signed-in user of a browser session, unless the session was ended since."""
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or session.get(SESSION_VERSION) != user.session_version:
        # A revoked (or foreign) session: forget it whole, CSRF token included.
        session.clear()
        return None
    return user


def start_session(user: User) -> None:
    """Sign user in on a fresh session: nothing of the one before (CSRF token) survives."""
    session.clear()
    login_user(user)
    keep_session(user)


def keep_session(user: User) -> None:
    """Stamp this browser's session with user's current version (after end_sessions)."""
    session[SESSION_VERSION] = user.session_version


def guard_ui(blueprint: Blueprint, roles: tuple[Role, ...]) -> None:
    """Admit only signed-in users with one of roles to every view of blueprint."""

    @blueprint.before_request
    def _check() -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path))
        if current_user.role not in roles:
            abort(403)
        return None


def bearer_user() -> User:
    """Return the user of the request's bearer token, or raise Unauthorized."""
    if "api_user" in g:
        return g.api_user
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("missing bearer token", [{"field": "Authorization"}])
    user = accounts.user_for_token(db.session, secret.strip())
    if user is None:
        raise Unauthorized("invalid or revoked token", [{"field": "Authorization"}])
    g.api_user = user
    return user


def api_roles(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Admit a bearer token of one of roles (all people, if none given) to a JSON route."""
    allowed = roles or PEOPLE

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = bearer_user()
            if user.role not in allowed:
                names = ", ".join(r.value for r in allowed)
                raise Forbidden(f"this route is for: {names}")
            return view(*args, **kwargs)

        wrapped.api_roles = allowed  # type: ignore[attr-defined]
        return wrapped

    return decorate

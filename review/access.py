"""Who is asking: session and bearer-token loaders, and role guards."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, abort, g, redirect, request, url_for
from flask_login import current_user

from models import Role, User
from review.errors import Forbidden, Unauthorized
from review.extensions import db, login_manager
from review.services import accounts

# Which roles each UI area admits. Admins may do everything.
REVIEWERS = (Role.REVIEWER, Role.ADMIN)
AUDITORS = (Role.AUDITOR, Role.ADMIN)
TRAINERS = (Role.TRAINER, Role.ADMIN)
PEOPLE = (Role.REVIEWER, Role.AUDITOR, Role.TRAINER, Role.ADMIN)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Load the signed-in user of a browser session."""
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None


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

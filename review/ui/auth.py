"""Sign in, sign out and change password."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, logout_user
from werkzeug.wrappers import Response

from models import Role
from review.access import keep_session, start_session
from review.errors import DomainError
from review.extensions import db
from review.services import accounts, audit
from review.ui.forms import ActionForm, LoginForm, PasswordForm

bp = Blueprint("auth", __name__)

HOME_BY_ROLE = {
    Role.REVIEWER: "queue.home",
    Role.ADMIN: "queue.home",
    Role.TRAINER: "exports.home",
    Role.AUDITOR: "audit.home",
}


def home_url() -> str:
    """Return the landing page of the signed-in user's role."""
    endpoint = HOME_BY_ROLE.get(current_user.role, "auth.account")
    return url_for(endpoint)


def _safe_next(target: str | None) -> str | None:
    # Only same-site paths: an open redirect would let a phishing link bounce
    # through the sign-in page.
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(home_url())
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(
                db.session, form.username.data or "", form.password.data or ""
            )
        except DomainError as error:
            db.session.commit()  # keep the failure count
            flash(str(error), "error")
            return render_template("auth/login.html", form=form), 401
        if user.role == Role.INTEGRATION:
            flash("Integration accounts use API tokens and cannot sign in.", "error")
            return render_template("auth/login.html", form=form), 403
        audit.record(db.session, user, "user.login", "user", user.id)
        db.session.commit()
        start_session(user)
        return redirect(_safe_next(request.args.get("next")) or home_url())
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout() -> Response:
    # A signed cookie cannot be revoked alone: signing out ends every session of the
    # account, so that a copy of this cookie taken earlier stops working too.
    if ActionForm().validate_on_submit():
        accounts.end_sessions(db.session, current_user, current_user, "logout")
        db.session.commit()
        logout_user()
        session.clear()
        flash("Signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.post("/account/sessions/end")
@login_required
def end_other_sessions() -> Response:
    if ActionForm().validate_on_submit():
        accounts.end_sessions(db.session, current_user, current_user, "logout_everywhere")
        db.session.commit()
        keep_session(current_user)  # the new version: this session goes on
        flash("Signed out everywhere else.", "info")
    return redirect(url_for("auth.account"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account() -> str | Response:
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(
                db.session,
                current_user,
                form.current_password.data or "",
                form.new_password.data or "",
            )
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "error")
        else:
            db.session.commit()
            keep_session(current_user)  # other sessions end; this one goes on
            flash("Password changed; your other sessions are signed out.", "info")
            return redirect(url_for("auth.account"))
    return render_template("auth/account.html", form=form, action=ActionForm())

"""The reviewer's pages: home and the review queue."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from review.access import REVIEWERS, guard_ui
from review.extensions import db
from review.services import queue

bp = Blueprint("queue", __name__)
guard_ui(bp, REVIEWERS)


@bp.get("/")
def home() -> str:
    return render_template("queue/home.html", overview=queue.overview(db.session, current_user))


@bp.post("/queue/start")
def start() -> Response:
    # Claiming lands with the review queue; until then the home says so.
    flash("Claiming items is not available yet.", "info")
    return redirect(url_for("queue.home"))

"""The reviewer's pages: home, the item page with its decisions, and "My work".

Every action is a real form button (the page works without JS); static/app.js
only adds shortcut keys that press those buttons, the reveal toggle and the
lease heartbeat. After a decision, skip or escalation the view claims the next
item in the same transaction and redirects to it (POST-redirect-GET).
"""

from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user

from models import NO_ERROR, Category, Item, utcnow
from review.access import REVIEWERS, guard_ui
from review.config import input_limits
from review.errors import Conflict, DomainError
from review.extensions import db
from review.services import items, queue, taxonomy
from review.ui.forms import ActionForm, ExcludedCategoriesForm, ItemForm, StartForm

bp = Blueprint("queue", __name__)
guard_ui(bp, REVIEWERS)

CLAIM_LOST = "Your claim on this item expired or was taken over; nothing was saved."
NOT_HELD = "You do not hold a claim on this item (it expired, was decided or was taken over)."
# Shortcut keys of the category buttons in display order: digits, then letters
# that no other shortcut uses (E escalate, N not an error, S skip, U undo, V reveal).
CATEGORY_KEYS = "1234567890abcdfghijklmopqrtwxyz"
# The flask session key of the category a reviewer chose to work on only.
ONLY_KEY = "queue_only"
REPORT_DAYS = 14

Page = str | Response | tuple[str, int]


@bp.app_template_filter("duration")
def duration(seconds: int) -> str:
    """Format seconds as hours and minutes, e.g. "2 h 05 min"."""
    minutes = int(seconds) // 60
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def keyed_categories(categories: list[Category]) -> list[tuple[str, Category]]:
    """Pair each category button with its shortcut key (none past the last key)."""
    keys = list(CATEGORY_KEYS) + [""] * max(0, len(categories) - len(CATEGORY_KEYS))
    return list(zip(keys, categories, strict=False))


@bp.get("/")
def home() -> str:
    return render_template(
        "queue/home.html",
        overview=queue.overview(db.session, current_user),
        wellbeing=queue.wellbeing(db.session, current_user),
        sensitive=queue.sensitive_slugs(db.session),
        known={c.slug for c in taxonomy.list_categories(db.session, include_retired=False)},
    )


@bp.post("/queue/start")
def start() -> Page:
    form = StartForm()
    session[ONLY_KEY] = (form.category.data or None) if form.validate() else None
    try:
        return _open_next()
    except DomainError as error:  # an unknown category
        db.session.rollback()
        session.pop(ONLY_KEY, None)
        flash(str(error), "error")
        return home(), error.status


@bp.get("/queue/items/<int:item_id>")
def item(item_id: int) -> Page:
    held = queue.current_claim(db.session, current_user)
    if held is None or held.id != item_id:
        return _conflict(NOT_HELD)
    return _render_item(held, ItemForm(formdata=None))


@bp.post("/queue/items/<int:item_id>/reveal")
def reveal(item_id: int) -> Response:
    # Without JS the reveal button re-renders the page (un)blurred; with JS it never posts.
    if request.form.get("reveal") == "0":
        return redirect(url_for("queue.item", item_id=item_id))
    return redirect(url_for("queue.item", item_id=item_id, reveal=1))


@bp.post("/queue/items/<int:item_id>/decide")
def decide(item_id: int) -> Page:
    form = ItemForm()
    if not form.validate():
        return _invalid(item_id, form, "Check the note and corrected response.")
    try:
        queue.decide(
            db.session,
            current_user,
            item_id,
            form.label.data or "",
            note=form.note.data or "",
            corrected_response=_blank_to_none(form.corrected_response.data),
            limits=input_limits(),
        )
    except Conflict:
        return _conflict(CLAIM_LOST)
    except DomainError as error:
        return _invalid(item_id, form, str(error), error.status)
    return _open_next()


@bp.post("/queue/items/<int:item_id>/skip")
def skip(item_id: int) -> Page:
    try:
        queue.skip(db.session, current_user, item_id)
    except Conflict:
        return _conflict(CLAIM_LOST)
    flash("Skipped; you will not be offered that conversation again.", "info")
    return _open_next()


@bp.post("/queue/items/<int:item_id>/escalate")
def escalate(item_id: int) -> Page:
    form = ItemForm()
    if not form.validate():
        return _invalid(item_id, form, "Check the note.")
    try:
        queue.escalate(
            db.session, current_user, item_id, form.note.data or "", limits=input_limits()
        )
    except Conflict:
        return _conflict(CLAIM_LOST)
    flash("Escalated to the safety team.", "info")
    return _open_next()


@bp.post("/queue/undo")
def undo() -> Page:
    try:
        restored = queue.undo_last(db.session, current_user)
    except Conflict as error:
        return _conflict(error.message[:1].upper() + error.message[1:] + ".")
    db.session.commit()
    flash("Your last decision was undone; decide again.", "info")
    return redirect(url_for("queue.item", item_id=restored.id))


@bp.post("/queue/release")
def release() -> Response:
    queue.release(db.session, current_user)
    db.session.commit()
    flash("You gave the item back to the queue.", "info")
    return redirect(url_for("queue.home"))


@bp.post("/queue/heartbeat")
def heartbeat() -> Response:
    expires = queue.heartbeat(db.session, current_user)
    db.session.commit()
    return jsonify(lease_expires_at=expires.isoformat() if expires else None)


@bp.route("/me", methods=["GET", "POST"])
def me() -> Page:
    form = ExcludedCategoriesForm()
    form.categories.choices = [(c.slug, c.name) for c in taxonomy.error_categories(db.session)]
    status = 200
    if form.validate_on_submit():
        try:
            queue.set_excluded_categories(
                db.session, current_user, current_user, form.categories.data or []
            )
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "error")
            status = error.status
        else:
            db.session.commit()
            flash("Your choices are saved.", "info")
            return redirect(url_for("queue.me"))
    elif request.method == "POST":
        status = 422
    else:
        form.categories.data = list(current_user.excluded_categories or [])
    now = utcnow()
    since = queue.start_of_day(now) - timedelta(days=REPORT_DAYS - 1)
    report = queue.work_report(db.session, current_user, since, now)
    # Every one of the days, newest first, so a day without work shows as zero.
    worked = {day: (seconds, decisions) for day, seconds, decisions in report.by_day}
    days = [since.date() + timedelta(days=n) for n in reversed(range(REPORT_DAYS))]
    by_day = [(day, *worked.get(day, (0, 0))) for day in days]
    names = {c.slug: c.name for c in taxonomy.list_categories(db.session)}
    page = render_template(
        "queue/me.html", form=form, report=report, by_day=by_day, names=names, since=since
    )
    return page, status


def _blank_to_none(text: str | None) -> str | None:
    # An untouched or whitespace-only editor is no correction at all.
    return text if text and text.strip() else None


def _open_next() -> Response:
    """Claim the next item (in the chosen category, if any), commit, and open it."""
    only = session.get(ONLY_KEY)
    claim = queue.claim_next(db.session, current_user, category=only)
    db.session.commit()
    if claim is None:
        flash("No more conversations for you" + (" in this category." if only else "."), "info")
        return redirect(url_for("queue.home"))
    return redirect(url_for("queue.item", item_id=claim.item.id))


def _conflict(message: str) -> tuple[str, int]:
    db.session.rollback()
    return render_template("queue/conflict.html", message=message, form=ActionForm()), 409


def _invalid(item_id: int, form: ItemForm, message: str, status: int = 422) -> Page:
    db.session.rollback()
    held = queue.current_claim(db.session, current_user)
    if held is None or held.id != item_id:
        return _conflict(CLAIM_LOST)
    flash(message, "error")
    return _render_item(held, form, status)


def _render_item(item: Item, form: ItemForm, status: int = 200) -> tuple[str, int]:
    data: dict[str, Any] = items.item_json(db.session, item)
    categories = taxonomy.list_categories(db.session)
    sensitive = item.queue_category in queue.sensitive_slugs(db.session)
    page = render_template(
        "queue/item.html",
        item=item,
        form=form,
        flags=data["flags"],
        prediction=data["prediction"],
        flagged={f["message_index"] for f in data["flags"] if f["message_index"] is not None},
        names={c.slug: c.name for c in categories},
        keyed=keyed_categories([c for c in categories if c.active and c.slug != NO_ERROR]),
        sensitive=sensitive,
        revealed=request.args.get("reveal") == "1",
        wellbeing=queue.wellbeing(db.session, current_user),
        action=ActionForm(),
    )
    return page, status

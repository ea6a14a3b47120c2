"""The safety team's page: open escalations to settle, reviewer agreement, sampling rates."""

import json
from collections.abc import Callable

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DecimalField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from models import Category
from review.access import AUDITORS, guard_ui
from review.config import input_limits
from review.errors import DomainError
from review.extensions import db
from review.services import agreement, audit, presort, queue, sampling, taxonomy
from review.services.labels import final_labels

TRAIL_ROWS = 50

bp = Blueprint("audit", __name__)
guard_ui(bp, AUDITORS)


class ResolveForm(FlaskForm):
    label = SelectField("Final label", choices=[], validators=[DataRequired()])
    note = StringField("Note", validators=[Length(max=2000)])
    submit = SubmitField("Resolve")


class SamplingForm(FlaskForm):
    category = SelectField("Category", choices=[], validators=[DataRequired()])
    rate = DecimalField(
        "Share sent to second review (0 to 1)",
        places=None,
        validators=[InputRequired(), NumberRange(min=0, max=1)],
    )
    submit = SubmitField("Set rate")


def _label_choices(categories: list[Category] | None = None) -> list[SelectChoice]:
    if categories is None:
        categories = taxonomy.list_categories(db.session)
    return [SelectChoice(c.slug, c.name) for c in categories if c.active]


def _sampling_choices(labels: list[SelectChoice]) -> list[SelectChoice]:
    return [SelectChoice(sampling.ALL, "All categories"), *labels]


@bp.get("/audit")
def home() -> ResponseReturnValue:
    categories = taxonomy.list_categories(db.session)
    labels = _label_choices(categories)
    open_items = queue.open_escalations(db.session)
    flags = presort.first_flags(db.session, [item.id for _, item in open_items])
    finals = final_labels(db.session, [item.id for _, item in open_items])
    forms = {}
    for escalation, item in open_items:
        form = ResolveForm(prefix=f"e{escalation.id}")
        form.label.choices = labels
        form.label.data = finals.get(item.id) or item.queue_category
        forms[escalation.id] = form
    sampling_form = SamplingForm()
    sampling_form.category.choices = _sampling_choices(labels)
    return render_template(
        "audit/home.html",
        escalations=open_items,
        flags=flags,
        forms=forms,
        sensitive={c.slug for c in categories if c.sensitive},
        names={c.slug: c.name for c in categories},
        agreement=agreement.agreement(db.session),
        rates=sampling.rates(db.session),
        sampling_form=sampling_form,
        trail=_trail(),
    )


def _trail() -> dict:
    # The newest events, optionally of one action or actor (the API pages further back).
    action = request.args.get("action", "").strip()[:64] or None
    actor = request.args.get("actor", "").strip()[:64] or None
    events = audit.list_events(db.session, action=action, actor=actor, limit=TRAIL_ROWS)
    return {
        "action": action or "",
        "actor": actor or "",
        "events": [
            {**audit.to_json(e), "changes": json.dumps(e.changes, ensure_ascii=False)}
            for e in events
        ],
    }


@bp.post("/audit/escalations/<int:escalation_id>/resolve")
def resolve(escalation_id: int) -> ResponseReturnValue:
    form = ResolveForm(prefix=f"e{escalation_id}")
    form.label.choices = _label_choices()
    if not form.validate_on_submit():
        flash("Choose a final label to resolve the escalation.", "error")
        return redirect(url_for("audit.home"))
    return _change(
        lambda: queue.resolve_escalation(
            db.session,
            current_user,
            escalation_id,
            form.label.data or "",
            form.note.data or "",
            limits=input_limits(),
        ),
        f"Escalation {escalation_id} resolved as {form.label.data}.",
    )


@bp.post("/audit/sampling")
def set_sampling() -> ResponseReturnValue:
    form = SamplingForm()
    form.category.choices = _sampling_choices(_label_choices())
    if not form.validate_on_submit():
        flash("Give a share between 0 and 1.", "error")
        return redirect(url_for("audit.home"))
    return _change(
        lambda: sampling.set_rate(
            db.session, current_user, form.category.data or "", form.rate.data
        ),
        f"Second review: {float(form.rate.data or 0):.0%} of {form.category.data}.",
    )


def _change(apply: Callable[[], object], done: str) -> ResponseReturnValue:
    # Commit and say so, or roll back and show the error; back to the page either way.
    try:
        apply()
    except DomainError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        db.session.commit()
        flash(done, "success")
    return redirect(url_for("audit.home"))

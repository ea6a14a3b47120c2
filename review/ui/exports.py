"""The trainer's page: choose filters, preview counts per label and split, download."""

from flask import Blueprint, flash, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional

from review.access import TRAINERS, guard_ui
from review.errors import DomainError
from review.extensions import db
from review.services import exports, taxonomy
from review.streaming import export_response

bp = Blueprint("exports", __name__)
guard_ui(bp, TRAINERS)


class ExportForm(FlaskForm):
    format = SelectField("Format", choices=[SelectChoice(f, f) for f in exports.FORMATS])
    categories = SelectMultipleField(
        "Final labels (none ticked: all)",
        choices=[],
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
    )
    since = DateField("Decided from", validators=[Optional()])
    until = DateField("Decided until", validators=[Optional()])
    split = StringField("Train share (e.g. 0.9; empty: no split)", validators=[Optional()])
    part = SelectField(
        "Part",
        choices=[
            SelectChoice("", "both, with a split column"),
            SelectChoice("train", "train"),
            SelectChoice("validation", "validation"),
        ],
    )
    model_version = IntegerField("Classifier version", validators=[Optional(), NumberRange(min=0)])
    agreed = BooleanField("Only adjudicated or agreed items")
    include_escalated = BooleanField("Include items with an open escalation")
    redact = BooleanField("Mask e-mails, phones, cards, IPs and URLs")
    preview = SubmitField("Preview")
    download = SubmitField("Download")


def _filters(form: ExportForm) -> exports.ExportFilters:
    stamp = exports.parse_date
    return exports.ExportFilters(
        categories=tuple(form.categories.data or ()),
        since=stamp(form.since.data.isoformat(), "since") if form.since.data else None,
        until=stamp(form.until.data.isoformat(), "until", end=True) if form.until.data else None,
        agreed=bool(form.agreed.data),
        include_escalated=bool(form.include_escalated.data),
        model_version=form.model_version.data,
        split=exports.parse_split(form.split.data),
        part=form.part.data or None,
        redact=bool(form.redact.data),
    )


@bp.route("/exports", methods=["GET", "POST"])
def home() -> ResponseReturnValue:
    form = ExportForm()
    form.categories.choices = [
        SelectChoice(c.slug, c.name) for c in taxonomy.list_categories(db.session)
    ]
    result = None
    if form.validate_on_submit():
        try:
            filters = _filters(form)
            if form.download.data:
                stream = exports.stream_export(db.session, current_user, form.format.data, filters)
                return export_response(stream)
            result = exports.preview(db.session, form.format.data or "", filters)
        except DomainError as error:
            db.session.rollback()
            flash(str(error), "error")
    return render_template("exports/home.html", form=form, preview=result)

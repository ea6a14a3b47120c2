"""Flask-WTF forms: every form carries a CSRF token."""

from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    PasswordField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField("Sign in")


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField(
        "New password", validators=[DataRequired(), Length(min=10, max=1000)]
    )
    confirm = PasswordField(
        "Repeat new password",
        validators=[DataRequired(), EqualTo("new_password", "Passwords differ")],
    )
    submit = SubmitField("Change password")


class ActionForm(FlaskForm):
    """A form that is only a button: the CSRF token is its whole payload."""


class StartForm(FlaskForm):
    """Claim the next item, optionally from one queue category only."""

    category = HiddenField(validators=[Optional(), Length(max=64)])


class ItemForm(FlaskForm):
    """The item page's one form: a decision (label), skip or escalate, with the note."""

    label = StringField(validators=[Optional(), Length(max=64)])
    note = TextAreaField("Note (optional)", validators=[Optional(), Length(max=10_000)])
    corrected_response = TextAreaField(
        "Corrected response (optional: what the assistant should have said)",
        validators=[Optional(), Length(max=1_000_000)],
    )


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ExcludedCategoriesForm(FlaskForm):
    categories = MultiCheckboxField("Categories I do not want to review", choices=[])
    submit = SubmitField("Save my choices")

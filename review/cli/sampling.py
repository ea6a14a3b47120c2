"""flagq sampling: the share of decisions sent to blind second review."""

import click

from review.cli import cli, emit, fail, say
from review.errors import DomainError
from review.extensions import db
from review.services import sampling


@cli.group("sampling")
def sampling_group() -> None:
    """Second-review sampling rates, per category or for all."""


@sampling_group.command("show")
def sampling_show() -> None:
    """Print the rates in force: {"sampling": {category or "all": rate}}."""
    emit({"sampling": sampling.rates(db.session)})


@sampling_group.command("set")
@click.argument("category")
@click.argument("rate")
def sampling_set(category: str, rate: str) -> None:
    """Send RATE (0 to 1) of CATEGORY's decisions (or all) to blind second review.

    An item is drawn at the highest rate that applies: its first label's, its queue
    category's, or "all"; always for a reviewer other than the one who decided it.
    """
    try:
        rates = sampling.set_rate(db.session, None, category, rate)
    except DomainError as error:
        raise fail(error) from None
    db.session.commit()
    say(f"second review: {float(rate):.0%} of {category} decisions")
    emit({"sampling": rates})

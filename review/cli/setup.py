"""flagq setup / demo: first-run seeding for `make run`."""

import click
import sqlalchemy as sa

from models import Role, User
from review.cli import cli, emit, say
from review.cli.models import rescore_queue
from review.errors import DomainError
from review.extensions import db
from review.services import accounts, demo, training


@cli.command("setup")
@click.option("--demo/--no-demo", "demo_data", default=True, help="Seed synthetic demo flags too.")
def setup_command(demo_data: bool) -> None:
    """On an empty database: create the admin account (password printed once) and demo data."""
    if db.session.scalar(sa.select(sa.func.count(User.id))):
        say("flagq is already set up; keeping the existing accounts and data")
        return
    password = accounts.generate_password()
    accounts.create_user(db.session, None, "admin", Role.ADMIN, password)
    if demo_data:
        result = demo.add_demo_flags(db.session, None)
        say(f"seeded {result.inserted} demo flags ({result.decided} already decided)")
    db.session.commit()
    click.echo(f"admin password: {password}")
    if demo_data:
        _train_on_demo_decisions()


def _train_on_demo_decisions() -> None:
    # The demo queue comes pre-sorted, as it would after a team's first reviews.
    try:
        outcome = training.train_version(db.session, None)
    except DomainError as error:
        db.session.rollback()
        say(f"no demo classifier: {error}")
        return
    db.session.commit()
    rescore_queue()
    say(
        f"demo classifier version {outcome.version.id} pre-sorts the queue "
        f"(macro-F1 {outcome.metrics['macro_f1']:.2f} on held-out demo decisions)"
    )


@cli.command("demo")
@click.option("--count", default=360, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--seed", default=7, show_default=True, type=int)
def demo_command(count: int, seed: int) -> None:
    """Add synthetic demo flags (the same seed adds nothing twice)."""
    result = demo.add_demo_flags(db.session, None, count=count, seed=seed)
    db.session.commit()
    emit({"inserted": result.inserted, "decided": result.decided})

"""flagq users / tokens."""

import click
import sqlalchemy as sa

from models import User
from review.cli import cli, emit, fail, read_stdin_line, say
from review.errors import DomainError
from review.extensions import db
from review.services import accounts


@cli.group()
def users() -> None:
    """Manage accounts."""


@users.command("create")
@click.argument("name")
@click.option("--role", required=True, help="reviewer, auditor, trainer, admin or integration")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def users_create(name: str, role: str, password_stdin: bool) -> None:
    """Create an account; prints a generated password once unless --password-stdin."""
    password = read_stdin_line() if password_stdin else accounts.generate_password()
    try:
        user = accounts.create_user(db.session, None, name, accounts.parse_role(role), password)
    except DomainError as error:
        raise fail(error) from None
    db.session.commit()
    if not password_stdin:
        click.echo(f"password: {password}")
    say(f"created {user.role.value} {user.username!r} (id {user.id})")


@users.command("list")
def users_list() -> None:
    """List accounts as JSON."""
    emit(
        [
            {"id": u.id, "username": u.username, "role": u.role.value, "active": u.active}
            for u in db.session.scalars(sa.select(User).order_by(User.id))
        ]
    )


@cli.group()
def tokens() -> None:
    """Manage API tokens."""


@tokens.command("create")
@click.option("--user", "username", required=True, help="The account the token acts as.")
@click.option("--label", default="", help="What the token is for.")
def tokens_create(username: str, label: str) -> None:
    """Print a new API token once; only its hash is stored."""
    try:
        user = accounts.get_user(db.session, username)
        new = accounts.create_token(db.session, None, user, label)
    except DomainError as error:
        raise fail(error) from None
    db.session.commit()
    click.echo(new.secret)
    say(f"token id {new.token.id} for {user.username!r}; it is shown only now")


@tokens.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    """Revoke a token at once."""
    try:
        accounts.revoke_token(db.session, None, token_id)
    except DomainError as error:
        raise fail(error) from None
    db.session.commit()
    say(f"token {token_id} revoked")

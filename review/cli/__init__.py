"""The flagq command line: parse, call a service, commit, JSON to stdout.

A package rather than one cli.py: each area keeps its commands in its own
module, and this group imports them all.
"""

import json
import sys
from typing import Any

import click
from flask.cli import FlaskGroup

from review import create_app
from review.config import ConfigError
from review.errors import DomainError


def make_app(*_args: Any) -> Any:
    try:
        return create_app()
    except ConfigError as error:
        # One line that says what to fix, not a traceback (exit status 1).
        raise SystemExit(f"flagq: {error}") from None


@click.group(
    cls=FlaskGroup,
    create_app=make_app,
    add_version_option=False,
    load_dotenv=False,
    set_debug_flag=False,
)
def cli() -> None:
    """flagq: the review queue for flagged chatbot conversations."""


def emit(data: Any) -> None:
    """Write one JSON document to stdout."""
    click.echo(json.dumps(data, ensure_ascii=False, default=str))


def say(message: str) -> None:
    """Write a human message to stderr."""
    click.echo(message, err=True)


def fail(error: DomainError | str) -> click.ClickException:
    """Return the ClickException (exit 1) for an input error."""
    return click.ClickException(str(error))


def read_stdin_line() -> str:
    """Return the first line of stdin without its line ending."""
    return sys.stdin.readline().rstrip("\r\n")


from review.cli import accounts, exports, ingest, models, sampling, setup, taxonomy  # noqa: E402,F401  (register commands)

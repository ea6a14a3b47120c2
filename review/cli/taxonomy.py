"""flagq taxonomy: the safety team's categories, each change a new version."""

from collections.abc import Callable
from typing import Any

import click

from review.cli import cli, emit, fail, say
from review.errors import DomainError
from review.extensions import db
from review.services import taxonomy


def _listing() -> list[dict[str, Any]]:
    return [
        {
            "slug": c.slug,
            "name": c.name,
            "active": c.active,
            "sensitive": c.sensitive,
            "severity": c.severity,
        }
        for c in taxonomy.list_categories(db.session)
    ]


def _change(apply: Callable[[], Any], message: str) -> None:
    try:
        apply()
    except DomainError as error:
        raise fail(error) from None
    db.session.commit()
    say(f"{message} (taxonomy version {taxonomy.current_version(db.session)})")
    emit(_listing())


@cli.group("taxonomy")
def taxonomy_group() -> None:
    """List and change the taxonomy of error types."""


@taxonomy_group.command("list")
def taxonomy_list() -> None:
    """Print every category, retired ones included."""
    emit(_listing())


@taxonomy_group.command("add")
@click.argument("slug")
@click.option("--name", required=True, help="Display name shown to reviewers.")
@click.option("--sensitive", is_flag=True, help="Blur its items until revealed.")
@click.option("--severity", default=2, show_default=True, type=click.IntRange(0, 5))
@click.option("--description", default="")
def taxonomy_add(slug: str, name: str, sensitive: bool, severity: int, description: str) -> None:
    """Add a category."""
    _change(
        lambda: taxonomy.add_category(
            db.session, None, slug, name, sensitive, severity, description
        ),
        f"added {slug}",
    )


@taxonomy_group.command("rename")
@click.argument("slug")
@click.argument("name")
def taxonomy_rename(slug: str, name: str) -> None:
    """Change a category's display name."""
    _change(lambda: taxonomy.rename_category(db.session, None, slug, name), f"renamed {slug}")


@taxonomy_group.command("retire")
@click.argument("slug")
def taxonomy_retire(slug: str) -> None:
    """Retire a category; its past labels map to 'other'."""
    _change(lambda: taxonomy.retire_category(db.session, None, slug), f"retired {slug}")


@taxonomy_group.command("merge")
@click.argument("src")
@click.argument("dst")
def taxonomy_merge(src: str, dst: str) -> None:
    """Merge SRC into DST; SRC's past labels map to DST."""
    _change(
        lambda: taxonomy.merge_categories(db.session, None, src, dst), f"merged {src} into {dst}"
    )

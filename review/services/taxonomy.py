"""The taxonomy of error types: defaults, reading it and versioned changes."""

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import NO_ERROR, Category, TaxonomyVersion, User
from review.errors import Conflict, Invalid, NotFound
from review.services import audit, labels
from review.services.flagformat import DEFAULT_LIMITS, Limits, check_text

MAX_NAME_CHARS = 120  # the column's size

SLUG = re.compile(r"[a-z][a-z0-9_]{0,63}")

# The default taxonomy a new database starts with: (slug, name, severity, sensitive,
# description). Severity 1 (minor) .. 5 (most severe) feeds the queue priority.
DEFAULT_CATEGORIES: list[tuple[str, str, int, bool, str]] = [
    (
        "factual_error",
        "Factual error",
        3,
        False,
        "The answer states something false, invents sources, or gets numbers wrong.",
    ),
    (
        "harmful_advice",
        "Harmful advice",
        5,
        False,
        "The answer helps someone do something dangerous or gives unsafe guidance.",
    ),
    (
        "hate_harassment",
        "Hate or harassment",
        4,
        True,
        "The answer demeans a person or group, or harasses the user.",
    ),
    (
        "sexual_content",
        "Sexual content",
        4,
        True,
        "The answer contains sexual content that was not appropriate.",
    ),
    (
        "self_harm",
        "Self-harm",
        5,
        True,
        "The answer mishandles self-harm or suicide, e.g. encourages it or ignores a crisis.",
    ),
    ("violence", "Violence", 4, True, "The answer describes, threatens or encourages violence."),
    (
        "privacy",
        "Privacy",
        4,
        False,
        "The answer exposes or helps find personal data about someone.",
    ),
    (
        "unhelpful_refusal",
        "Unhelpful refusal",
        2,
        False,
        "The assistant refused or hedged on a harmless request.",
    ),
    (
        "instruction_following",
        "Instruction following",
        2,
        False,
        "The answer ignored the user's or system's instructions, format or constraints.",
    ),
    ("bias", "Bias", 3, False, "The answer treats groups unequally or relies on stereotypes."),
    (
        "low_quality",
        "Low quality",
        1,
        False,
        "The answer is confusing, repetitive, truncated or badly written, though not wrong.",
    ),
    ("other", "Other", 1, False, "An error that fits no other category."),
    (NO_ERROR, "Not an error", 0, False, "The flag shows no error in the assistant's answer."),
]


def default_rows() -> list[dict[str, Any]]:
    """Return the default categories as plain rows (used by the first migration too)."""
    return [
        {
            "slug": slug,
            "name": name,
            "severity": severity,
            "sensitive": sensitive,
            "description": description,
            "guideline": "",
            "active": True,
            "position": position,
            "taxonomy_version": 1,
        }
        for position, (slug, name, severity, sensitive, description) in enumerate(
            DEFAULT_CATEGORIES
        )
    ]


def list_categories(session: Session, include_retired: bool = True) -> list[Category]:
    """Return the categories in display order."""
    query = sa.select(Category).order_by(Category.position, Category.id)
    if not include_retired:
        query = query.where(Category.active)
    return list(session.scalars(query))


def error_categories(session: Session) -> list[Category]:
    """Return the active error types a reviewer can pick, without the no-error outcome."""
    return [c for c in list_categories(session, include_retired=False) if not c.is_outcome]


def to_json(category: Category) -> dict[str, Any]:
    """Return the API's view of a category."""
    return {
        "slug": category.slug,
        "name": category.name,
        "description": category.description,
        "guideline": category.guideline,
        "severity": category.severity,
        "sensitive": category.sensitive,
        "active": category.active,
        "position": category.position,
        "taxonomy_version": category.taxonomy_version,
    }


def current_version(session: Session) -> int:
    """Return the taxonomy's current version number."""
    return session.scalar(sa.select(sa.func.max(TaxonomyVersion.id))) or 1


def _new_version(
    session: Session, actor: User | None, summary: str, mapping: dict[str, str] | None = None
) -> int:
    version = TaxonomyVersion(
        actor_id=actor.id if actor else None, summary=summary, mapping=mapping or {}
    )
    session.add(version)
    session.flush()
    return version.id


def _check_name(name: str) -> None:
    if not check_text(name, "name", MAX_NAME_CHARS).strip():
        raise Invalid.field("name", f"1-{MAX_NAME_CHARS} characters")


def get_category(session: Session, slug: str) -> Category:
    """Return the category by slug or raise NotFound."""
    if not isinstance(slug, str) or not SLUG.fullmatch(slug):
        raise NotFound(f"no category {slug!r}")
    category = session.scalar(sa.select(Category).where(Category.slug == slug))
    if category is None:
        raise NotFound(f"no category {slug!r}")
    return category


def add_category(
    session: Session,
    actor: User | None,
    slug: str,
    name: str,
    sensitive: bool = False,
    severity: int = 2,
    description: str = "",
    limits: Limits = DEFAULT_LIMITS,
) -> Category:
    """Add a category as a new taxonomy version; raise Invalid or Conflict."""
    if not SLUG.fullmatch(slug):
        raise Invalid.field("slug", "lower-case letters, digits and _ (1-64, starting a-z)")
    _check_name(name)
    check_text(description, "description", limits.max_description_chars)
    if not 0 <= severity <= 5:
        raise Invalid.field("severity", "0 (none) to 5 (most severe)")
    if session.scalar(sa.select(Category.id).where(Category.slug == slug)) is not None:
        raise Conflict(f"category {slug!r} already exists", [{"field": "slug"}])
    version = _new_version(session, actor, f"add {slug}")
    position = (session.scalar(sa.select(sa.func.max(Category.position))) or 0) + 1
    # Keep the no-error outcome last.
    outcome = session.scalar(sa.select(Category).where(Category.slug == NO_ERROR))
    if outcome is not None:
        position, outcome.position = outcome.position, position
    category = Category(
        slug=slug,
        name=name.strip(),
        sensitive=sensitive,
        severity=severity,
        description=description,
        position=position,
        taxonomy_version=version,
    )
    session.add(category)
    session.flush()
    audit.record(
        session,
        actor,
        "category.add",
        "category",
        slug,
        {"name": name, "sensitive": sensitive, "severity": severity, "version": version},
    )
    return category


def rename_category(session: Session, actor: User | None, slug: str, name: str) -> Category:
    """Change a category's display name (its slug, and so past labels, stay)."""
    _check_name(name)
    category = get_category(session, slug)
    before = category.name
    category.name = name.strip()
    category.taxonomy_version = _new_version(session, actor, f"rename {slug}")
    audit.record(
        session,
        actor,
        "category.rename",
        "category",
        slug,
        {"name": [before, category.name], "version": category.taxonomy_version},
    )
    return category


def retire_category(session: Session, actor: User | None, slug: str) -> Category:
    """Retire a category: reviewers no longer see it; past labels map to 'other'.

    To where 'other' lives today, that is: it may have been merged into another category.
    """
    category = get_category(session, slug)
    if slug in (NO_ERROR, "other"):
        raise Invalid.field("slug", f"{slug!r} is part of every taxonomy and cannot be retired")
    if not category.active:
        raise Conflict(f"category {slug!r} is already retired")
    # A label "other" from before any version: where every change since has carried it.
    target = labels.TaxonomyHistory.load(session).map("other", 0)
    if target == slug:
        raise Invalid.field("slug", f"{slug!r} holds the labels of 'other' and cannot be retired")
    category.active = False
    category.merged_into = target
    category.taxonomy_version = _new_version(session, actor, f"retire {slug}", {slug: target})
    audit.record(
        session,
        actor,
        "category.retire",
        "category",
        slug,
        {"version": category.taxonomy_version, "maps_to": target},
    )
    return category


def merge_categories(session: Session, actor: User | None, source: str, target: str) -> Category:
    """Merge source into target: source retires, its past labels map to target."""
    if source == target:
        raise Invalid.field("dst", "must differ from the source")
    src, dst = get_category(session, source), get_category(session, target)
    if source == NO_ERROR:
        raise Invalid.field("src", "the no-error outcome cannot be merged")
    if not dst.active:
        raise Invalid.field("dst", f"{target!r} is retired")
    src.active = False
    src.merged_into = target
    src.taxonomy_version = _new_version(
        session, actor, f"merge {source} into {target}", {source: target}
    )
    audit.record(
        session,
        actor,
        "category.merge",
        "category",
        source,
        {"into": target, "version": src.taxonomy_version},
    )
    return dst

"""The taxonomy of error types: defaults and reading it."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import NO_ERROR, Category

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

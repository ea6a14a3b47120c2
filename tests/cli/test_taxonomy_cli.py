"""flagq taxonomy: list, add, rename, retire, merge; each a new version, audited."""

import json

import sqlalchemy as sa

from models import AuditEvent, TaxonomyVersion
from review.extensions import db
from review.services import labels, taxonomy

from factories import run_cli


def _listing(app) -> dict[str, dict]:
    result = run_cli(app, "taxonomy", "list")
    assert result.exit_code == 0, result.output
    return {row["slug"]: row for row in json.loads(result.stdout)}


def test_list_shows_the_default_taxonomy(app) -> None:
    rows = _listing(app)
    assert len(rows) == 13
    assert rows["self_harm"] == {
        "slug": "self_harm",
        "name": "Self-harm",
        "active": True,
        "sensitive": True,
        "severity": 5,
    }
    assert rows["factual_error"]["sensitive"] is False


def test_add_rename_retire_merge_each_make_a_version(app) -> None:
    added = run_cli(
        app,
        "taxonomy",
        "add",
        "medical",
        "--name",
        "Medical advice",
        "--sensitive",
        "--severity",
        "4",
    )
    assert added.exit_code == 0, added.output
    assert _listing(app)["medical"]["sensitive"] is True
    assert run_cli(app, "taxonomy", "rename", "medical", "Medical claims").exit_code == 0
    assert _listing(app)["medical"]["name"] == "Medical claims"
    assert run_cli(app, "taxonomy", "merge", "medical", "harmful_advice").exit_code == 0
    assert run_cli(app, "taxonomy", "retire", "bias").exit_code == 0
    rows = _listing(app)
    assert rows["medical"]["active"] is False and rows["bias"]["active"] is False
    assert taxonomy.current_version(db.session) == 5
    history = labels.TaxonomyHistory.load(db.session)
    assert history.map("medical", 2) == "harmful_advice" and history.map("bias", 1) == "other"
    assert history.map("privacy", 1) == "privacy"
    actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["category.add", "category.rename", "category.merge", "category.retire"]
    assert db.session.scalar(sa.select(sa.func.count(TaxonomyVersion.id))) == 5
    # The outcome stays last in display order.
    assert [c.slug for c in taxonomy.list_categories(db.session)][-1] == "no_error"


def test_merge_chains_resolve(app) -> None:
    for change in (("merge", "bias", "other"), ("add", "misc", "--name", "Misc")):
        assert run_cli(app, "taxonomy", *change).exit_code == 0
    assert run_cli(app, "taxonomy", "merge", "other", "misc").exit_code == 0
    history = labels.TaxonomyHistory.load(db.session)
    assert history.map("bias", 1) == history.map("other", 1) == "misc"
    assert history.map("other", 2) == "misc"  # made after bias merged into it: still moves
    # A retirement sends labels where "other" went, and "other"'s new home stays.
    assert run_cli(app, "taxonomy", "retire", "privacy").exit_code == 0
    assert labels.TaxonomyHistory.load(db.session).map("privacy", 1) == "misc"
    refused = run_cli(app, "taxonomy", "retire", "misc")
    assert refused.exit_code == 1 and "holds the labels of 'other'" in refused.output


def test_bad_changes_exit_1_and_change_nothing(app) -> None:
    cases = [
        ("add", "Bad Slug", "--name", "x"),
        ("add", "privacy", "--name", "Again"),
        ("rename", "nope", "Name"),
        ("retire", "no_error"),
        ("merge", "bias", "bias"),
        ("merge", "no_error", "other"),
    ]
    for case in cases:
        result = run_cli(app, "taxonomy", *case)
        assert result.exit_code == 1, (case, result.output)
    assert taxonomy.current_version(db.session) == 1
    assert run_cli(app, "taxonomy", "add", "x", "--name", "X", "--severity", "9").exit_code == 2

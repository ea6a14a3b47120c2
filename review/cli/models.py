"""flagq train / classify / models."""

import sys
from collections.abc import Iterator
from typing import IO

import click

from classifiers import features
from classifiers import training as classifier
from review.cli import cli, emit, fail, say
from review.errors import DomainError
from review.extensions import db
from review.services import presort, training
from review.services.flagformat import parse_line

CLASSIFY_BATCH = 2000


def rescore_queue() -> int:
    """Re-score queued items with the active version, committing per batch; return how many."""
    rescored = 0
    while batch := training.rescore_batch(db.session):
        db.session.commit()  # a batch at a time: an interrupted re-score resumes
        rescored += batch
    return rescored


@cli.command("train")
@click.option("--force", is_flag=True, help="Activate even if it is worse than the active one.")
@click.option("--seed", default=classifier.SEED, show_default=True, type=int)
def train_command(force: bool, seed: int) -> None:
    """Train a classifier version from reviewed decisions; print its held-out metrics."""
    try:
        outcome = training.train_version(db.session, None, force=force, seed=seed)
    except DomainError as error:
        raise fail(error) from None
    db.session.commit()
    if outcome.activated:
        rescored = rescore_queue()
        say(f"version {outcome.version.id} is active; re-scored {rescored} queued items")
    else:
        say(
            f"version {outcome.version.id} stored but not activated: macro-F1 "
            f"{outcome.metrics['macro_f1']:.3f} < {outcome.active_macro_f1:.3f} of version "
            f"{outcome.active_before} on the same held-out items (use --force or "
            f"`flagq models activate {outcome.version.id}`)"
        )
    emit(
        {
            "version": outcome.version.id,
            "activated": outcome.activated,
            "previous_version": outcome.active_before,
            "previous_macro_f1_same_items": outcome.active_macro_f1,
            **outcome.metrics,
        }
    )


def _lines(path: str) -> Iterator[tuple[int, bytes]]:
    stream: IO[bytes] = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    try:
        yield from enumerate(stream, start=1)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


@cli.command("classify")
@click.argument("path")
def classify_command(path: str) -> None:
    """Print a JSON line per input line: external_id, label (null: abstain), confidence, scores."""
    active = presort.active_model(db.session)
    if active is None:
        raise fail("no active classifier: run `flagq train` first")
    errors = 0
    pending: list[tuple[str, features.Example]] = []

    def flush() -> None:
        predictions = classifier.predict(active.model, [ex for _, ex in pending])
        for (external_id, _), p in zip(pending, predictions, strict=True):
            emit(
                {
                    "external_id": external_id,
                    "label": p.label,
                    "confidence": round(p.confidence, 6),
                    "scores": {k: round(v, 6) for k, v in p.scores.items()},
                }
            )
        pending.clear()

    try:
        for number, line in _lines(path):
            if not line.strip():
                continue
            try:
                flag = parse_line(line)
            except DomainError as error:
                flush()
                errors += 1
                emit({"external_id": None, "label": None, "line": number, "error": str(error)})
                say(f"line {number}: {error}")
                continue
            pending.append((flag.external_id, presort.example_of(flag)))
            if len(pending) >= CLASSIFY_BATCH:
                flush()
        flush()
    except OSError as error:
        raise fail(f"{path}: {error.strerror}") from None
    if errors:
        raise fail(f"{errors} line(s) could not be classified")


@cli.group("models")
def models_group() -> None:
    """Classifier versions."""


@models_group.command("list")
def models_list() -> None:
    """List versions with their metrics, newest first."""
    emit([training.version_json(v) for v in training.list_versions(db.session)])


@models_group.command("show")
@click.argument("version", type=int)
def models_show(version: int) -> None:
    """Show one version with all its metrics."""
    try:
        emit(training.version_json(training.get_version(db.session, version), full=True))
    except DomainError as error:
        raise fail(error) from None


@models_group.command("activate")
@click.argument("version", type=int)
def models_activate(version: int) -> None:
    """Make a version the active one (rollback) and re-score the queue."""
    try:
        training.activate(db.session, None, version)
    except DomainError as error:
        raise fail(error) from None
    db.session.commit()
    rescored = rescore_queue()
    say(f"version {version} is active; re-scored {rescored} queued items")
    emit({"version": version, "active": True, "rescored": rescored})

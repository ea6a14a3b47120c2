"""flagq import: stream JSONL flags into the database, one committed batch at a time."""

import contextlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import click
import sqlalchemy as sa
from flask import current_app
from tqdm import tqdm

from classifiers.training import Prediction
from review.cli import ahead, cli, emit, fail, say
from review.cli.lines import open_input, read_lines
from review.errors import DomainError, Invalid
from review.extensions import db
from review.services import ingest, presort
from review.services.flagformat import SLUG, FlagIn, Limits, limits_from, parse_line

# Lines per committed batch: a crash loses at most this many, which a re-run completes. Fewer,
# larger commits are the cheaper (5,000 ran about 10% faster than 1,000 on both engines).
BATCH_LINES = 5000
# The summary lists this many errors; past it only counts them, so memory stays flat.
MAX_LISTED_ERRORS = 1000
# PostgreSQL's deadlock_detected and serialization_failure: the batch is simply retried.
RETRYABLE = frozenset({"40P01", "40001"})
RETRIES = 5
# On SQLite an import lets the write-ahead log grow to this many pages (about 40 MB) before
# copying it into the database file, instead of SQLite's 1,000: the index pages a batch
# rewrites are then copied once per ten or so batches rather than once per batch. The import
# copies what is left when it ends, so web workers are not left with a long log to copy.
SQLITE_IMPORT_CHECKPOINT_PAGES = 10_000
PROGRESS_EVERY = 100
# With a pre-sort helper, lines read while it has not yet predicted the next batch wait in
# memory, up to this many batches, rather than the import waiting idle: the helper starts
# about two seconds behind (it loads scikit-learn and the model).
READ_AHEAD_BATCHES = 4


@dataclass
class Summary:
    """The figures `flagq import` prints."""

    several_files: bool
    inserted: int = 0
    duplicates: int = 0
    new_items: int = 0
    linked: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    omitted: int = 0

    def reject(self, path: str, line: int, error: str) -> None:
        """Count a bad line and list it while the list is short."""
        self.rejected += 1
        if len(self.errors) >= MAX_LISTED_ERRORS:
            self.omitted += 1
            return
        entry: dict[str, Any] = {"line": line, "error": error}
        if self.several_files:
            entry = {"file": path, **entry}
        self.errors.append(entry)

    def add(self, result: ingest.IngestResult) -> None:
        """Count one stored batch."""
        self.inserted += result.inserted
        self.duplicates += len(result.duplicates)
        self.new_items += result.new_items
        self.linked += result.linked

    def to_json(self) -> dict[str, Any]:
        """Return the summary document."""
        data: dict[str, Any] = {
            "inserted": self.inserted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "errors": self.errors,
            "new_items": self.new_items,
            "linked": self.linked,
        }
        if self.omitted:
            data["errors_omitted"] = self.omitted
        return data


@dataclass(frozen=True)
class Pending:
    """A good line waiting for its batch."""

    path: str
    file: int  # the path's position among the command's paths (a path may be given twice)
    number: int
    crc: int  # of the line's bytes, to match the pre-sort helper's answer (0 without one)
    flag: FlagIn


def _retryable(error: sa.exc.DBAPIError) -> bool:
    return getattr(error.orig, "sqlstate", None) in RETRYABLE


class Importer:
    """Parse, check and store lines a batch at a time; own the transactions."""

    def __init__(
        self,
        summary: Summary,
        labeled: bool,
        create_categories: bool,
        strict: bool,
        limits: Limits,
        batch_size: int = BATCH_LINES,
    ) -> None:
        self.summary = summary
        self.batch_size = batch_size
        self.labeled = labeled
        self.create_categories = create_categories
        self.strict = strict
        self.limits = limits
        self.labels = ingest.known_labels(db.session) if labeled else set()
        self.batch: list[Pending] = []
        self.failed = False  # with --strict: a bad line was seen, nothing more is written
        self.sqlite = db.engine.dialect.name == "sqlite"
        self.ahead: ahead.PredictionsAhead | None = None

    def predict_ahead(self, paths: Sequence[str]) -> None:
        """Start the pre-sort helper (see review.cli.ahead) if a model is active and it can help."""
        if not ahead.usable(paths):
            return
        active = presort.active_model(db.session)
        if active is not None:
            artifact = presort.artifact(db.session, active.version_id, active.created_at)
            self.ahead = ahead.PredictionsAhead(paths, self.limits, active.version_id, artifact)
        db.session.rollback()  # a read: on SQLite it holds the write lock until it ends

    def feed(self, path: str, file: int, number: int, line: bytes | Invalid) -> None:
        """Take one line: reject it with its number, or queue it for the next batch."""
        if isinstance(line, bytes) and not line.strip():
            return  # blank lines (and the usual trailing newline) are no flags
        try:
            if isinstance(line, Invalid):
                raise line
            flag = parse_line(line, self.limits)
            if self.labeled and flag.label is not None:
                self._check_label(flag.label)
        except DomainError as error:
            self.reject(path, number, str(error))
            return
        assert isinstance(line, bytes)
        self.batch.append(Pending(path, file, number, ahead.crc(line) if self.ahead else 0, flag))

    def _check_label(self, label: str) -> None:
        if label in self.labels:
            return
        if not self.create_categories:
            raise Invalid.field(
                "label", f"unknown category {label!r} (use --create-categories to add it)"
            )
        if not SLUG.fullmatch(label):
            raise Invalid.field("label", f"{label!r} is not a valid category slug (a-z, 0-9, _, -)")
        self.labels.add(label)

    def reject(self, path: str, number: int, error: str) -> None:
        """Report a bad line; with --strict, drop everything written so far."""
        self.summary.reject(path, number, error)
        if self.strict and not self.failed:
            self.failed = True
            db.session.rollback()
            self.close()  # nothing more is stored, so nothing more is predicted

    def due(self) -> bool:
        """Whether a batch is queued and should be stored now."""
        if len(self.batch) < self.batch_size:
            return False
        if self.ahead is None or len(self.batch) >= self.batch_size * READ_AHEAD_BATCHES:
            return True
        last = self.batch[self.batch_size - 1]
        return self.ahead.answered((last.file, last.number))

    def flush(self) -> None:
        """Store a batch of the queued lines: one transaction, or flushed only with --strict."""
        batch = self.batch[: self.batch_size]
        del self.batch[: self.batch_size]
        if not batch or self.failed:
            return
        self._flush(batch)
        if self.ahead is None:  # none, or --strict stopped it in _flush
            return
        if self.ahead.failure:
            say(f"{self.ahead.failure}; this process predicts the rest")
            self.close()
        else:
            self.ahead.forget((batch[-1].file, batch[-1].number))

    def _flush(self, batch: list[Pending]) -> None:
        if self.strict:
            try:
                self.summary.add(self._store(batch))
                db.session.flush()
            except sa.exc.DBAPIError as error:
                message = str(error.orig).strip().splitlines()[0][:200]
                self.reject(
                    batch[0].path,
                    batch[0].number,
                    f"batch from this line could not be stored: {message}",
                )
                return
            db.session.expunge_all()  # the transaction stays open; memory must not grow
            return
        for attempt in range(RETRIES):
            try:
                result = self._store(batch)
                db.session.commit()
                self.summary.add(result)  # counted once committed, so a retry counts once
                return
            except sa.exc.DBAPIError as error:
                db.session.rollback()
                if not _retryable(error) or attempt == RETRIES - 1:
                    break
        self._store_one_by_one(batch)

    def _store(self, batch: list[Pending]) -> ingest.IngestResult:
        if self.sqlite:
            # A setting of the connection, which the pool may swap between batches.
            db.session.connection().exec_driver_sql(
                f"PRAGMA wal_autocheckpoint = {SQLITE_IMPORT_CHECKPOINT_PAGES}"
            )
        predicted = None
        helper = self.ahead
        if helper is not None:
            lines = {id(p.flag): (p.file, p.number, p.crc) for p in batch}

            def predicted(version_id: int, flags: Sequence[FlagIn]) -> list[Prediction | None]:
                return helper.get(version_id, [lines[id(f)] for f in flags])

        return ingest.add_flags(
            db.session,
            None,
            [p.flag for p in batch],
            source="import",
            labeled=self.labeled,
            create_categories=self.create_categories,
            predicted=predicted,
        )

    def _store_one_by_one(self, batch: list[Pending]) -> None:
        # The database refused the batch: find the lines it refuses and keep the others.
        for pending in batch:
            try:
                result = self._store([pending])
                db.session.commit()
                self.summary.add(result)
            except sa.exc.DBAPIError as error:
                db.session.rollback()
                message = str(error.orig).strip().splitlines()[0][:200]
                self.summary.reject(pending.path, pending.number, f"could not be stored: {message}")

    def finish(self) -> None:
        """Store what is queued; commit the --strict transaction if every line was good."""
        while self.batch:
            self.flush()
        self.close()
        if self.strict and not self.failed:
            db.session.commit()
        elif self.strict:
            db.session.rollback()
            self.summary.inserted = self.summary.duplicates = 0
            self.summary.new_items = self.summary.linked = 0
        if self.sqlite:
            # Outside any transaction (the app's connections begin every one IMMEDIATE).
            connection = db.engine.raw_connection()
            try:
                connection.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
            finally:
                connection.close()

    def close(self) -> None:
        """Stop the pre-sort helper, if there is one."""
        if self.ahead is not None:
            self.ahead.close()
            self.ahead = None


@cli.command("import")
@click.argument(
    "paths",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, allow_dash=True),
)
@click.option("--labeled", is_flag=True, help="Store each line's label as a past decision.")
@click.option(
    "--create-categories", is_flag=True, help="With --labeled: add unknown labels as categories."
)
@click.option("--strict", is_flag=True, help="Write nothing unless every line is good.")
@click.option(
    "--batch-size",
    default=BATCH_LINES,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Lines per committed batch.",
)
@click.option(
    "--predict-ahead/--no-predict-ahead",
    default=True,
    show_default=True,
    help="Pre-sort in a second process reading the same files (with an active model, file "
    "input and 2+ cores).",
)
@click.pass_context
def import_command(
    ctx: click.Context,
    paths: tuple[str, ...],
    labeled: bool,
    create_categories: bool,
    strict: bool,
    batch_size: int,
    predict_ahead: bool,
) -> None:
    """Import JSONL flags (native, OpenAI chat or ShareGPT lines; .gz too; - for stdin)."""
    summary = Summary(several_files=len(paths) > 1)
    try:
        limits = limits_from(current_app.config.get("FLAGQ_LIMITS"))
    except ValueError as error:  # a bad FLAGQ_LIMITS setting
        raise fail(f"FLAGQ_LIMITS: {error}") from None
    importer = Importer(summary, labeled, create_categories, strict, limits, batch_size)
    if predict_ahead:
        importer.predict_ahead(paths)
    progress = tqdm(
        unit=" lines",
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
        dynamic_ncols=True,
        smoothing=0.1,
    )
    with progress, contextlib.closing(importer):
        done = 0
        for file, path in enumerate(paths):
            with open_input(path) as stream:
                for number, line in read_lines(stream, limits.max_line_bytes):
                    importer.feed(path, file, number, line)
                    if importer.due():
                        importer.flush()
                    done += 1
                    if done % PROGRESS_EVERY == 0:
                        progress.update(PROGRESS_EVERY)
                        progress.set_postfix(rejects=summary.rejected, refresh=False)
        importer.finish()
        progress.update(done % PROGRESS_EVERY)
        progress.set_postfix(rejects=summary.rejected)
    emit(summary.to_json())
    if summary.rejected:
        ctx.exit(1)

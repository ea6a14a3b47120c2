"""flagq import: stream JSONL flags into the database, one committed batch at a time."""

import gzip
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

import click
import sqlalchemy as sa
from flask import current_app
from tqdm import tqdm

from review.cli import cli, emit, fail
from review.errors import DomainError, Invalid
from review.extensions import db
from review.services import ingest
from review.services.flagformat import SLUG, FlagIn, Limits, limits_from, parse_line

# Lines per committed batch: a crash loses at most this many, which a re-run completes. Fewer,
# larger commits are the cheaper (5,000 ran about 10% faster than 1,000 on both engines).
BATCH_LINES = 5000
# The summary lists this many errors; past it only counts them, so memory stays flat.
MAX_LISTED_ERRORS = 1000
# PostgreSQL's deadlock_detected and serialization_failure: the batch is simply retried.
RETRYABLE = frozenset({"40P01", "40001"})
RETRIES = 5
GZIP_MAGIC = b"\x1f\x8b"
SKIP_CHUNK = 1024 * 1024
# On SQLite an import lets the write-ahead log grow to this many pages (about 40 MB) before
# copying it into the database file, instead of SQLite's 1,000: the index pages a batch
# rewrites are then copied once per ten or so batches rather than once per batch. The import
# copies what is left when it ends, so web workers are not left with a long log to copy.
SQLITE_IMPORT_CHECKPOINT_PAGES = 10_000
PROGRESS_EVERY = 100


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


@contextmanager
def open_input(path: str) -> Iterator[IO[bytes]]:
    """Open a path (or - for stdin) for binary reading, unpacking gzip by its magic bytes."""
    if path == "-":
        raw: IO[bytes] = sys.stdin.buffer
        peek = getattr(raw, "peek", None)
        head = peek(2)[:2] if peek else b""
        owned = False
    else:
        raw = open(path, "rb")  # noqa: SIM115  (closed below)
        head = raw.read(2)
        raw.seek(0)
        owned = True
    try:
        if head == GZIP_MAGIC or path.endswith(".gz"):
            with gzip.GzipFile(fileobj=raw, mode="rb") as unpacked:
                yield unpacked  # type: ignore[misc]
        else:
            yield raw
    finally:
        if owned:
            raw.close()


def read_lines(stream: IO[bytes], max_bytes: int) -> Iterator[tuple[int, bytes | Invalid]]:
    """Yield (line number, bytes or error), reading at most max_bytes + 1 bytes at a time."""
    number = 0
    while True:
        try:
            line = stream.readline(max_bytes + 1)
        except (OSError, EOFError, zlib.error) as error:
            yield number + 1, Invalid.field("file", f"cannot be read further ({error})")
            return
        if not line:
            return
        number += 1
        if len(line) > max_bytes and not line.endswith(b"\n"):
            # Skip the rest of the line a chunk at a time, then carry on with the next one.
            try:
                while (chunk := stream.readline(SKIP_CHUNK)) and not chunk.endswith(b"\n"):
                    pass
            except (OSError, EOFError, zlib.error) as error:
                yield number, Invalid.field("file", f"cannot be read further ({error})")
                return
            yield number, Invalid.field("line", f"longer than {max_bytes} bytes")
            continue
        yield number, line


def _retryable(error: sa.exc.DBAPIError) -> bool:
    return getattr(error.orig, "sqlstate", None) in RETRYABLE


class Importer:
    """Parse, check and store lines a batch at a time; own the transactions."""

    def __init__(
        self, summary: Summary, labeled: bool, create_categories: bool, strict: bool
    ) -> None:
        self.summary = summary
        self.labeled = labeled
        self.create_categories = create_categories
        self.strict = strict
        self.limits: Limits = limits_from(current_app.config.get("FLAGQ_LIMITS"))
        self.labels = ingest.known_labels(db.session) if labeled else set()
        self.batch: list[tuple[str, int, FlagIn]] = []
        self.failed = False  # with --strict: a bad line was seen, nothing more is written
        self.sqlite = db.engine.dialect.name == "sqlite"

    def feed(self, path: str, number: int, line: bytes | Invalid) -> None:
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
        self.batch.append((path, number, flag))

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

    def flush(self) -> None:
        """Store the queued lines: one transaction per batch, or flushed only with --strict."""
        batch, self.batch = self.batch, []
        if not batch or self.failed:
            return
        flags = [flag for _, _, flag in batch]
        if self.strict:
            try:
                self.summary.add(self._store(flags))
                db.session.flush()
            except sa.exc.DBAPIError as error:
                path, first = batch[0][0], batch[0][1]
                message = str(error.orig).strip().splitlines()[0][:200]
                self.reject(path, first, f"batch from this line could not be stored: {message}")
                return
            db.session.expunge_all()  # the transaction stays open; memory must not grow
            return
        for attempt in range(RETRIES):
            try:
                result = self._store(flags)
                db.session.commit()
                self.summary.add(result)  # counted once committed, so a retry counts once
                return
            except sa.exc.DBAPIError as error:
                db.session.rollback()
                if not _retryable(error) or attempt == RETRIES - 1:
                    break
        self._store_one_by_one(batch)

    def _store(self, flags: list[FlagIn]) -> ingest.IngestResult:
        if self.sqlite:
            # A setting of the connection, which the pool may swap between batches.
            db.session.connection().exec_driver_sql(
                f"PRAGMA wal_autocheckpoint = {SQLITE_IMPORT_CHECKPOINT_PAGES}"
            )
        return ingest.add_flags(
            db.session,
            None,
            flags,
            source="import",
            labeled=self.labeled,
            create_categories=self.create_categories,
        )

    def _store_one_by_one(self, batch: list[tuple[str, int, FlagIn]]) -> None:
        # The database refused the batch: find the lines it refuses and keep the others.
        for path, number, flag in batch:
            try:
                result = self._store([flag])
                db.session.commit()
                self.summary.add(result)
            except sa.exc.DBAPIError as error:
                db.session.rollback()
                message = str(error.orig).strip().splitlines()[0][:200]
                self.summary.reject(path, number, f"could not be stored: {message}")

    def finish(self) -> None:
        """Commit the --strict transaction if every line was good, else write nothing."""
        self.flush()
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
@click.pass_context
def import_command(
    ctx: click.Context,
    paths: tuple[str, ...],
    labeled: bool,
    create_categories: bool,
    strict: bool,
    batch_size: int,
) -> None:
    """Import JSONL flags (native, OpenAI chat or ShareGPT lines; .gz too; - for stdin)."""
    summary = Summary(several_files=len(paths) > 1)
    try:
        importer = Importer(summary, labeled, create_categories, strict)
    except ValueError as error:  # a bad FLAGQ_LIMITS setting
        raise fail(f"FLAGQ_LIMITS: {error}") from None
    progress = tqdm(
        unit=" lines",
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
        dynamic_ncols=True,
        smoothing=0.1,
    )
    with progress:
        done = 0
        for path in paths:
            with open_input(path) as stream:
                for number, line in read_lines(stream, importer.limits.max_line_bytes):
                    importer.feed(path, number, line)
                    if len(importer.batch) >= batch_size:
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

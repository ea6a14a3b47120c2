"""Running an export: streamed (and audited when it ends), written to files, or previewed.

The same data and filters give byte-identical data files; only the manifest's ``created_at``
changes, and it is part of no hash.
"""

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from models import User, utcnow
from review.services import audit
from review.services.exports.filters import SPLITS, ExportFilters, check_filters
from review.services.exports.formats import REGISTRY, parse_format
from review.services.exports.manifests import (
    dataset_card,
    flagq_version,
    manifest_paths,
    output_paths,
)
from review.services.exports.selection import iter_entries
from review.services.exports.writers import Writer
from review.services.labels import TaxonomyHistory


@dataclass
class Stats:
    """Counts of what an export wrote, filled in as rows go out."""

    rows: int = 0
    skipped: int = 0  # selected items the format cannot express (e.g. no correction for DPO)
    by_label: Counter[str] = field(default_factory=Counter)
    by_split: Counter[str] = field(default_factory=Counter)
    by_split_label: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, label: str, split: str | None) -> None:
        self.rows += 1
        self.by_label[label] += 1
        if split is not None:
            self.by_split[split] += 1
            self.by_split_label.setdefault(split, Counter())[label] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "skipped": self.skipped,
            "by_label": dict(sorted(self.by_label.items())),
            "by_split": {s: self.by_split[s] for s in SPLITS if s in self.by_split},
            "by_split_label": {
                s: dict(sorted(self.by_split_label[s].items()))
                for s in SPLITS
                if s in self.by_split_label
            },
        }


class ExportStream:
    """One streamed export, checked: iterate chunks(session), then finish(session) to audit it.

    The session is an argument of each step, not part of the stream: a web response streams
    after its view returned, in a context (and session) of its own. With a split and no part,
    every record carries a ``split`` field (column) so the receiver can tell train from
    validation in a single stream.
    """

    def __init__(self, actor: User | None, fmt: str, filters: ExportFilters) -> None:
        self.actor = actor
        self.format = fmt
        self.filters = filters
        self.stats = Stats()
        self.digest = hashlib.sha256()
        self.bytes = 0
        self.complete = False

    @property
    def filename(self) -> str:
        """Return the name a download of this stream should get."""
        return f"flagq-{self.format}.{REGISTRY[self.format].extension}"

    @property
    def media_type(self) -> str:
        """Return the stream's Content-Type."""
        return REGISTRY[self.format].media_type

    def _out(self, data: bytes) -> bytes:
        self.digest.update(data)
        self.bytes += len(data)
        return data

    def chunks(self, session: Session) -> Iterator[bytes]:
        """Yield the file's bytes as rows come from the database."""
        spec = REGISTRY[self.format]
        taxonomy = TaxonomyHistory.load(session)
        tag_split = self.filters.split is not None and self.filters.part is None
        writer = spec.writer(tag_split)
        yield self._out(writer.start())
        pending: list[bytes] = []
        size = 0
        for entry in iter_entries(session, self.filters, taxonomy):
            if self.filters.part is not None and entry.split != self.filters.part:
                continue
            record = spec.record(entry, taxonomy.current)
            if record is None:
                self.stats.skipped += 1
                continue
            if tag_split:
                record["split"] = entry.split
            self.stats.add(entry.final_label, entry.split)
            data = writer.write(record)
            if data:
                pending.append(data)
                size += len(data)
            # Hand over about 64 KiB at a time: fewer, larger writes to the socket.
            if size >= 65536:
                yield self._out(b"".join(pending))
                pending, size = [], 0
        yield self._out(b"".join(pending) + writer.finish())
        self.complete = True

    def finish(self, session: Session) -> dict[str, Any]:
        """Record the export in session's audit trail (the caller commits); return its summary."""
        summary = {
            "format": self.format,
            "filters": self.filters.to_json(),
            "counts": self.stats.to_json(),
            "sha256": self.digest.hexdigest(),
            "bytes": self.bytes,
            "complete": self.complete,
            "destination": "stream",
        }
        audit.record(session, self.actor, "export.create", "export", self.format, summary)
        session.flush()
        return summary


def stream_export(
    session: Session, actor: User | None, fmt: str, filters: ExportFilters
) -> ExportStream:
    """Check fmt and filters and return the export to stream; raises Invalid."""
    return ExportStream(actor, parse_format(fmt), check_filters(session, filters))


@dataclass
class _FileOut:
    path: Path
    split: str | None
    writer: Writer
    handle: Any
    digest: Any = field(default_factory=hashlib.sha256)
    rows: int = 0
    size: int = 0

    def put(self, data: bytes) -> None:
        if data:
            self.handle.write(data)
            self.digest.update(data)
            self.size += len(data)


def write_export(
    session: Session, actor: User | None, fmt: str, filters: ExportFilters, target: Path | str
) -> dict[str, Any]:
    """Write the data file(s), the manifest and the dataset card; audit; return the manifest.

    With a split there is one file per split (``part`` is ignored). Raises Invalid.
    """
    fmt = parse_format(fmt)
    spec = REGISTRY[fmt]
    filters = replace(check_filters(session, filters), part=None)
    taxonomy = TaxonomyHistory.load(session)
    paths = output_paths(target, fmt, filters.split is not None)
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    stats = Stats()
    outs: dict[str | None, _FileOut] = {}
    try:
        for split, path in paths.items():
            out = _FileOut(path, split, spec.writer(False), path.open("wb"))
            out.put(out.writer.start())
            outs[split] = out
        for entry in iter_entries(session, filters, taxonomy):
            record = spec.record(entry, taxonomy.current)
            if record is None:
                stats.skipped += 1
                continue
            stats.add(entry.final_label, entry.split)
            out = outs[entry.split]
            out.rows += 1
            out.put(out.writer.write(record))
        for out in outs.values():
            out.put(out.writer.finish())
    finally:
        for out in outs.values():
            out.handle.close()
    manifest = {
        "format": fmt,
        "filters": filters.to_json(),
        "taxonomy_version": taxonomy.current,
        "counts": stats.to_json(),
        "files": [
            {
                "path": out.path.name,
                "split": out.split,
                "rows": out.rows,
                "bytes": out.size,
                "sha256": out.digest.hexdigest(),
            }
            for out in outs.values()
        ],
        "flagq_version": flagq_version(),
        "created_at": utcnow().isoformat(),
    }
    manifest_path, card_path = manifest_paths(target, fmt)
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    card_path.write_text(dataset_card(manifest), encoding="utf-8")
    audit.record(
        session,
        actor,
        "export.create",
        "export",
        fmt,
        {
            "format": fmt,
            "filters": manifest["filters"],
            "counts": manifest["counts"],
            "files": manifest["files"],
            "destination": "files",
        },
    )
    session.flush()
    return manifest


@dataclass(frozen=True)
class Preview:
    """What an export with these filters would hold, before downloading it."""

    format: str
    taxonomy_version: int
    stats: Stats

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "taxonomy_version": self.taxonomy_version,
            "counts": self.stats.to_json(),
        }


def preview(session: Session, fmt: str, filters: ExportFilters) -> Preview:
    """Return the counts per label and split that fmt would write with filters; raises Invalid."""
    spec = REGISTRY[parse_format(fmt)]
    filters = replace(check_filters(session, filters), part=None)
    taxonomy = TaxonomyHistory.load(session)
    stats = Stats()
    for entry in iter_entries(session, filters, taxonomy):
        if spec.skips and spec.record(entry, taxonomy.current) is None:
            stats.skipped += 1
            continue
        stats.add(entry.final_label, entry.split)
    return Preview(spec.name, taxonomy.current, stats)

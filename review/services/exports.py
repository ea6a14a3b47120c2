"""Exports for retraining: reviewed items as jsonl, chat, SFT, DPO, CSV or Parquet, streamed.

What is exported: items with status ``decided`` (never ``duplicate`` ones: their original is
exported). The final label, and each decision's label, are in the current taxonomy, by the rules
of review.services.labels (which decision settles an item; how a label maps through versions).

The corrected response is the one of the decision that set the final label, else the latest
non-empty one. The flagged turn is the first flag's ``message_index`` when it points at an
assistant message, else the conversation's last assistant message.

Order and split are reproducible: rows go out by ``external_id``; with a split ratio r an item is in
``train`` when the first 8 bytes of sha256(external_id), read as a fraction of 2**64, are below r.
The same data and filters give byte-identical data files; only the manifest's ``created_at``
changes, and it is part of no hash.

CSV cells that start with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a leading
single quote (OWASP's advice against formula injection), so ``-5`` is written ``'-5``.

Redaction (``redact=True``) replaces, in message contents, flag reasons, notes, corrected
responses and string values of metadata:
- URLs with a scheme or ``www.`` -> ``[URL]``; e-mail addresses -> ``[EMAIL]``;
- IPv4 and IPv6 addresses that ``ipaddress`` accepts -> ``[IP]``;
- 13-19 digit card numbers (spaces or dashes allowed) that pass the Luhn check -> ``[CARD]``;
- phone numbers that Google's libphonenumber (the ``phonenumbers`` package) finds valid (any
  number written with ``+`` and a country code; national numbers of ``PHONE_REGION``): [PHONE].
It misses: names, street addresses, national ids, IBANs, bare domains (``example.com/x``),
obfuscated addresses (``jo at example dot com``), numbers spelled out or split oddly, national
phone numbers of other regions, card numbers that fail Luhn, and anything inside ``external_id``.
Ordinary numbers, dates and times are left alone.
"""

import csv
import hashlib
import io
import ipaddress
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import phonenumbers
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import (
    NO_ERROR,
    Category,
    Decision,
    DecisionKind,
    Escalation,
    Flag,
    Item,
    ItemStatus,
    User,
    utcnow,
)
from review.errors import Invalid
from review.services import audit
from review.services.labels import TaxonomyHistory, final_label, final_label_sql, settling_index
from review.services.lookup import among

FORMATS = ("jsonl", "openai-chat", "sft", "dpo", "csv", "parquet")
EXTENSIONS = {
    "jsonl": "jsonl",
    "openai-chat": "jsonl",
    "sft": "jsonl",
    "dpo": "jsonl",
    "csv": "csv",
    "parquet": "parquet",
}
MEDIA_TYPES = {
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
SPLITS = ("train", "validation")
BATCH_SIZE = 1000  # items per database round trip
ROW_GROUP_SIZE = 10_000  # Parquet rows per row group: fixed, so files are byte-identical
PHONE_REGION = "US"


@dataclass(frozen=True)
class ExportFilters:
    """What to export; every field is named in the manifest."""

    categories: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    agreed: bool = False
    include_escalated: bool = False
    model_version: int | None = None
    split: float | None = None
    # With a split and a single stream: only this part, else every row carries its split.
    part: str | None = None
    redact: bool = False

    def to_json(self) -> dict[str, Any]:
        """Return the filters as plain JSON values."""
        return {
            "categories": list(self.categories),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "agreed": self.agreed,
            "include_escalated": self.include_escalated,
            "model_version": self.model_version,
            "split": self.split,
            "part": self.part,
            "redact": self.redact,
        }


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


# -- parsing what a surface received ------------------------------------------------------------


def parse_format(value: str | None) -> str:
    """Return the export format, or raise Invalid naming the choices."""
    if value not in FORMATS:
        raise Invalid.field("format", f"unknown format {value!r}; use one of {', '.join(FORMATS)}")
    return value


def parse_date(value: str | None, name: str, *, end: bool = False) -> datetime | None:
    """Return an aware UTC datetime from an ISO date or date-time (None when empty).

    A bare date means the start of that day, or with end=True the end of it, so
    ``--until 2026-01-31`` includes the 31st. Raises Invalid naming the field.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            stamp = datetime.combine(day, time.min, tzinfo=UTC)
            return stamp + timedelta(days=1, microseconds=-1) if end else stamp
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid.field(
            name, f"{value!r} is not a date (YYYY-MM-DD) or ISO date-time"
        ) from None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def parse_split(value: str | float | None) -> float | None:
    """Return a split ratio strictly between 0 and 1 (None when empty), or raise Invalid."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        ratio = float(value)
    except ValueError:
        raise Invalid.field("split", f"{value!r} is not a number") from None
    if not 0.0 < ratio < 1.0:
        raise Invalid.field("split", "must be between 0 and 1, e.g. 0.9")
    return ratio


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def _flag(params: Mapping[str, Sequence[str]], name: str) -> bool:
    value = (params.get(name) or [""])[-1].strip().lower()
    if value not in _TRUE + _FALSE:
        raise Invalid.field(name, "must be true or false")
    return value in _TRUE


def parse_query(params: Mapping[str, Sequence[str]]) -> tuple[str, ExportFilters]:
    """Return the format and filters of query parameters (each name to its values); raises Invalid.

    ``category`` may repeat or hold a comma-separated list.
    """
    fmt = parse_format((params.get("format") or [None])[-1])
    categories = [c.strip() for v in params.get("category") or [] for c in v.split(",")]
    model_version = (params.get("model_version") or [""])[-1].strip()
    if model_version and not model_version.isdigit():
        raise Invalid.field("model_version", "must be a classifier version number")
    part = (params.get("part") or [""])[-1].strip() or None
    return fmt, ExportFilters(
        categories=tuple(c for c in categories if c),
        since=parse_date((params.get("since") or [None])[-1], "since"),
        until=parse_date((params.get("until") or [None])[-1], "until", end=True),
        agreed=_flag(params, "agreed"),
        include_escalated=_flag(params, "include_escalated"),
        model_version=int(model_version) if model_version else None,
        split=parse_split((params.get("split") or [None])[-1]),
        part=part,
        redact=_flag(params, "redact"),
    )


def check_filters(session: Session, filters: ExportFilters) -> ExportFilters:
    """Check filters against the database and each other; return them with sorted categories."""
    if filters.categories:
        known = set(session.scalars(sa.select(Category.slug)))
        unknown = sorted(set(filters.categories) - known)
        if unknown:
            raise Invalid.field("category", f"unknown category {unknown[0]!r}")
    if filters.since and filters.until and filters.since > filters.until:
        raise Invalid.field("until", "is before since")
    if filters.part is not None:
        if filters.part not in SPLITS:
            raise Invalid.field("part", "must be train or validation")
        if filters.split is None:
            raise Invalid.field("part", "needs a split ratio")
    return replace(filters, categories=tuple(sorted(set(filters.categories))))


# -- redaction ----------------------------------------------------------------------------------

_URL = re.compile(r"\b(?:[a-zA-Z][a-zA-Z0-9+.-]*://|www\.)[^\s<>\"'`]+")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(
    r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|(?:\d{1,3}\.){3}\d{1,3})(?![\w:])"
)
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_TRAILING = ".,;:!?)]}'\""


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _url(match: re.Match[str]) -> str:
    # A sentence's closing punctuation is not part of the address.
    text = match.group(0)
    stripped = text.rstrip(_TRAILING)
    return "[URL]" + text[len(stripped) :]


def _ip(kind: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address]) -> Callable[..., str]:
    def replace_ip(match: re.Match[str]) -> str:
        try:
            kind(match.group(0))
        except ValueError:
            return match.group(0)
        return "[IP]"

    return replace_ip


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[CARD]" if 13 <= len(digits) <= 19 and _luhn(digits) else match.group(0)


def _phones(text: str) -> str:
    if not any(c.isdigit() for c in text):
        return text
    pieces, last = [], 0
    for found in phonenumbers.PhoneNumberMatcher(text, PHONE_REGION):
        pieces += [text[last : found.start], "[PHONE]"]
        last = found.end
    return "".join(pieces) + text[last:] if pieces else text


def redact_text(text: str) -> str:
    """Return text with URLs, e-mails, IPs, card numbers and phone numbers masked."""
    text = _URL.sub(_url, text)
    text = _EMAIL.sub("[EMAIL]", text)
    text = _IPV6.sub(_ip(ipaddress.IPv6Address), text)
    text = _IPV4.sub(_ip(ipaddress.IPv4Address), text)
    text = _CARD.sub(_card, text)
    return _phones(text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [_redact_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    return value


# -- selecting and assembling items ---------------------------------------------------------------


@dataclass
class Entry:
    """One reviewed item, assembled from its rows and mapped to the current taxonomy."""

    external_id: str
    messages: list[dict[str, str]]
    metadata: dict[str, Any]
    final_label: str
    decided_at: str | None  # ISO 8601 in UTC, as exported (so are the times in flags, decisions)
    model_version: int | None
    flags: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    corrected_response: str | None
    flagged_turn: int | None  # index of the assistant message the flag is about
    split: str | None


def split_of(external_id: str, ratio: float) -> str:
    """Return train or validation for external_id at ratio, from a hash of the id."""
    digest = hashlib.sha256(external_id.encode("utf-8")).digest()
    return "train" if int.from_bytes(digest[:8], "big") / 2**64 < ratio else "validation"


def flagged_turn(messages: Sequence[dict[str, Any]], index: int | None) -> int | None:
    """Return the index of the flagged assistant message, or None when there is none."""
    if index is not None and 0 <= index < len(messages) and messages[index]["role"] == "assistant":
        return index
    for position in range(len(messages) - 1, -1, -1):
        if messages[position].get("role") == "assistant":
            return position
    return None


def _plain_time(column: Any) -> Any:
    # Read without UTCDateTime's per-value Python hook, which dominated export time;
    # _iso() gives the text UTCDateTime's value would have given.
    return sa.type_coerce(column, sa.DateTime(timezone=True))


def _iso(value: datetime | None) -> str | None:
    """Return a timestamp read with _plain_time() as ISO text in UTC (SQLite's are naive UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.isoformat() + "+00:00"
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat()


def _query(filters: ExportFilters, taxonomy: TaxonomyHistory) -> sa.Select[Any]:
    query = (
        sa.select(
            Item.id,
            Item.external_id,
            Item.messages,
            Item.meta,
            Item.final_label,
            _plain_time(Item.decided_at),
            Item.prediction_version_id,
        )
        .where(Item.status == ItemStatus.DECIDED)
        .order_by(Item.external_id)
    )
    if filters.since is not None:
        query = query.where(Item.decided_at >= filters.since)
    if filters.until is not None:
        query = query.where(Item.decided_at <= filters.until)
    if filters.model_version is not None:
        query = query.where(Item.prediction_version_id == filters.model_version)
    if not filters.include_escalated:
        open_escalation = sa.exists().where(
            Escalation.item_id == Item.id, Escalation.resolved_at.is_(None)
        )
        query = query.where(~open_escalation)
    if filters.agreed:
        query = query.where(
            sa.exists().where(
                Decision.item_id == Item.id,
                Decision.kind.in_([DecisionKind.SECOND, DecisionKind.ADJUDICATION]),
            )
        )
    if filters.categories:
        query = query.where(final_label_sql(taxonomy).in_(filters.categories))
    return query


def _read_connection(session: Session) -> sa.Connection:
    engine = session.get_bind()
    assert isinstance(engine, sa.Engine)
    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        # One snapshot for the whole export, so later batches see what earlier ones saw.
        return connection.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
    # A plain BEGIN (see review._tune_sqlite): a long export holds no write lock.
    return connection.execution_options(read_only=True)


def iter_entries(
    session: Session, filters: ExportFilters, taxonomy: TaxonomyHistory | None = None
) -> Iterator[Entry]:
    """Yield the selected items in external_id order, read from the database in batches.

    Reads on a connection of its own (a read snapshot), so the caller's session stays free
    for the audit write; three queries per batch of items, whatever the batch holds.
    """
    taxonomy = taxonomy or TaxonomyHistory.load(session)
    with _read_connection(session) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            # Timestamps then come with the datetime.UTC tzinfo, which _iso() takes as is.
            connection.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
        # Streamed on this statement only (Connection.execution_options() would set it on the
        # connection, so that each small per-batch query opened a server-side cursor too).
        result = connection.execute(
            _query(filters, taxonomy),
            execution_options={"stream_results": True, "yield_per": BATCH_SIZE},
        )
        for batch in result.partitions():
            ids = [row[0] for row in batch]
            decisions = _decisions(connection, ids, taxonomy)
            flags = _flags(connection, ids)
            for row in batch:
                entry = _entry(row, decisions.get(row[0], []), flags.get(row[0], []), taxonomy)
                if entry is None:
                    continue
                if filters.agreed and not _agreed(entry):
                    continue
                if filters.split is not None:
                    entry.split = split_of(entry.external_id, filters.split)
                if filters.redact:
                    _redact_entry(entry)
                yield entry


def _decisions(
    connection: sa.Connection, ids: list[int], taxonomy: TaxonomyHistory
) -> dict[int, list[dict[str, Any]]]:
    # Each item's decisions in (decided_at, id) order, which _entry() relies on.
    rows = connection.execute(
        sa.select(
            Decision.item_id,
            Decision.label,
            sa.type_coerce(Decision.kind, sa.String()),
            Decision.note,
            Decision.corrected_response,
            _plain_time(Decision.decided_at),
            Decision.taxonomy_version,
            User.username,
        )
        .outerjoin(User, User.id == Decision.reviewer_id)
        .where(among(connection.dialect, Decision.item_id, ids))
        .order_by(Decision.item_id, Decision.decided_at, Decision.id)
    ).all()
    grouped: dict[int, list[dict[str, Any]]] = {}
    for item_id, label, kind, note, corrected, decided_at, version, reviewer in rows:
        grouped.setdefault(item_id, []).append(
            {
                "label": taxonomy.map(label, version),
                "original_label": label,
                "kind": kind,
                "reviewer": reviewer,
                "decided_at": _iso(decided_at),
                "note": note or "",
                "corrected_response": corrected,
                "taxonomy_version": version,
            }
        )
    return grouped


def _flags(connection: sa.Connection, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    rows = connection.execute(
        sa.select(
            Flag.item_id,
            Flag.reason,
            Flag.category,
            _plain_time(Flag.flagged_at),
            Flag.message_index,
        )
        .where(among(connection.dialect, Flag.item_id, ids))
        .order_by(Flag.item_id, Flag.flagged_at, Flag.id)
    ).all()
    grouped: dict[int, list[dict[str, Any]]] = {}
    for item_id, reason, category, flagged_at, message_index in rows:
        grouped.setdefault(item_id, []).append(
            {
                "reason": reason,
                "category": category,
                "flagged_at": _iso(flagged_at),
                "message_index": message_index,
            }
        )
    return grouped


def _entry(
    row: Any,
    decisions: list[dict[str, Any]],
    flags: list[dict[str, Any]],
    taxonomy: TaxonomyHistory,
) -> Entry | None:
    _id, external_id, messages, meta, stored, decided_at, model_version = row
    # Decisions come in (decided_at, id) order, as the labels rules take them.
    final = final_label(
        taxonomy,
        [(d["kind"], d["original_label"], d["taxonomy_version"]) for d in decisions],
        stored,
    )
    if not final:
        return None
    index = settling_index([d["kind"] for d in decisions])
    corrected = decisions[index]["corrected_response"] if index is not None else None
    if not (corrected and corrected.strip()):
        corrected = next(
            (
                d["corrected_response"]
                for d in reversed(decisions)
                if d["corrected_response"] and d["corrected_response"].strip()
            ),
            None,
        )
    return Entry(
        external_id=external_id,
        messages=messages,
        metadata=meta or {},
        final_label=final,
        decided_at=_iso(decided_at),
        model_version=model_version,
        flags=flags,
        decisions=decisions,
        corrected_response=corrected,
        flagged_turn=flagged_turn(messages, flags[0]["message_index"] if flags else None),
        split=None,
    )


def _agreed(entry: Entry) -> bool:
    # Adjudicated: settled by definition. Otherwise a second review exists and every
    # first and second opinion names the final label.
    kinds = {d["kind"] for d in entry.decisions}
    if DecisionKind.ADJUDICATION.value in kinds:
        return True
    return DecisionKind.SECOND.value in kinds and all(
        d["label"] == entry.final_label for d in entry.decisions
    )


def _redact_entry(entry: Entry) -> None:
    entry.messages = [
        {"role": m["role"], "content": redact_text(m["content"])} for m in entry.messages
    ]
    entry.metadata = _redact_value(entry.metadata)
    for flag in entry.flags:
        flag["reason"] = redact_text(flag["reason"])
    for decision in entry.decisions:
        decision["note"] = redact_text(decision["note"])
        if decision["corrected_response"]:
            decision["corrected_response"] = redact_text(decision["corrected_response"])
    if entry.corrected_response:
        entry.corrected_response = redact_text(entry.corrected_response)


# -- records per format ---------------------------------------------------------------------------


def native_record(entry: Entry, taxonomy_version: int) -> dict[str, Any]:
    """Return the jsonl record: the native flag format plus the review's outcome."""
    return {
        "external_id": entry.external_id,
        "messages": entry.messages,
        "flag": entry.flags[0] if entry.flags else None,
        "metadata": entry.metadata,
        "label": entry.final_label,
        "final_label": entry.final_label,
        "flags": entry.flags,
        "decisions": entry.decisions,
        "corrected_response": entry.corrected_response,
        "taxonomy_version": taxonomy_version,
        "decided_at": entry.decided_at,
        "model_version": entry.model_version,
    }


def _chat_prompt(entry: Entry) -> list[dict[str, str]]:
    turn = entry.flagged_turn
    return list(entry.messages if turn is None else entry.messages[:turn])


def chat_record(entry: Entry) -> dict[str, Any] | None:
    """Return the openai-chat record, or None when the item teaches nothing to imitate."""
    if entry.corrected_response:
        messages = [
            *_chat_prompt(entry),
            {"role": "assistant", "content": entry.corrected_response},
        ]
    elif entry.final_label == NO_ERROR and entry.flagged_turn is not None:
        # As they came, up to the last assistant message: an example must end with one.
        last = max(i for i, m in enumerate(entry.messages) if m["role"] == "assistant")
        messages = entry.messages[: last + 1]
    else:
        return None
    return {"messages": messages}


def sft_record(entry: Entry) -> dict[str, Any] | None:
    """Return the prompt-completion record (corrected answer, or a no_error item's answer)."""
    if entry.corrected_response:
        completion = entry.corrected_response
    elif entry.final_label == NO_ERROR and entry.flagged_turn is not None:
        completion = entry.messages[entry.flagged_turn]["content"]
    else:
        return None
    return {
        "prompt": _chat_prompt(entry),
        "completion": [{"role": "assistant", "content": completion}],
    }


def dpo_record(entry: Entry) -> dict[str, Any] | None:
    """Return TRL's conversational preference record, or None without a distinct correction."""
    turn = entry.flagged_turn
    if not entry.corrected_response or turn is None:
        return None
    rejected = entry.messages[turn]["content"]
    if entry.corrected_response.strip() == rejected.strip():
        return None
    return {
        "prompt": _chat_prompt(entry),
        "chosen": [{"role": "assistant", "content": entry.corrected_response}],
        "rejected": [{"role": "assistant", "content": rejected}],
    }


CSV_COLUMNS = (
    "external_id",
    "final_label",
    "flag_category",
    "flag_reason",
    "text",
    "corrected_response",
    "decisions",
    "decided_at",
    "taxonomy_version",
    "model_version",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """Return cell with a leading quote if a spreadsheet would read it as a formula."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def csv_record(entry: Entry, taxonomy_version: int) -> dict[str, Any]:
    """Return one CSV row as a column -> text mapping."""
    first = entry.flags[0] if entry.flags else {}
    return {
        "external_id": entry.external_id,
        "final_label": entry.final_label,
        "flag_category": first.get("category") or "",
        "flag_reason": first.get("reason") or "",
        "text": "\n".join(f"{m['role']}: {m['content']}" for m in entry.messages),
        "corrected_response": entry.corrected_response or "",
        "decisions": "; ".join(f"{d['kind']}:{d['label']}" for d in entry.decisions),
        "decided_at": entry.decided_at or "",
        "taxonomy_version": str(taxonomy_version),
        "model_version": "" if entry.model_version is None else str(entry.model_version),
    }


# -- writers: records in, bytes out ---------------------------------------------------------------


class Writer:
    """Turn records into bytes: header, one chunk per record (maybe empty), and a tail."""

    def start(self) -> bytes:
        return b""

    def write(self, record: dict[str, Any]) -> bytes:
        raise NotImplementedError

    def finish(self) -> bytes:
        return b""


# One encoder for every line: json.dumps() with options builds a new one per call.
_JSON_LINE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class JsonLinesWriter(Writer):
    def write(self, record: dict[str, Any]) -> bytes:
        return (_JSON_LINE.encode(record) + "\n").encode()


class CsvWriter(Writer):
    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\r\n")

    def _line(self, cells: Sequence[str]) -> bytes:
        self.writer.writerow(cells)
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text.encode("utf-8")

    def start(self) -> bytes:
        return self._line(self.columns)

    def write(self, record: dict[str, Any]) -> bytes:
        return self._line([neutralise(str(record.get(c, ""))) for c in self.columns])


class _Sink:
    """A write-only file for pyarrow that hands its bytes over as they come."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


_FLAG_TYPE = pa.struct(
    [
        ("reason", pa.string()),
        ("category", pa.string()),
        ("flagged_at", pa.timestamp("us", tz="UTC")),
        ("message_index", pa.int32()),
    ]
)
_MESSAGE_TYPE = pa.struct([("role", pa.string()), ("content", pa.string())])
_DECISION_TYPE = pa.struct(
    [
        ("label", pa.string()),
        ("original_label", pa.string()),
        ("kind", pa.string()),
        ("reviewer", pa.string()),
        ("decided_at", pa.timestamp("us", tz="UTC")),
        ("note", pa.string()),
        ("corrected_response", pa.string()),
        ("taxonomy_version", pa.int32()),
    ]
)


def parquet_schema(with_split: bool) -> pa.Schema:
    """Return the typed schema of the parquet format (metadata is kept as JSON text)."""
    fields = [
        ("external_id", pa.string()),
        ("messages", pa.list_(_MESSAGE_TYPE)),
        ("flag", _FLAG_TYPE),
        ("metadata", pa.string()),
        ("label", pa.string()),
        ("final_label", pa.string()),
        ("flags", pa.list_(_FLAG_TYPE)),
        ("decisions", pa.list_(_DECISION_TYPE)),
        ("corrected_response", pa.string()),
        ("taxonomy_version", pa.int32()),
        ("decided_at", pa.timestamp("us", tz="UTC")),
        ("model_version", pa.int64()),
    ]
    if with_split:
        fields.append(("split", pa.string()))
    return pa.schema(fields)


class ParquetWriter(Writer):
    """Buffer rows into fixed-size row groups and hand over each group's bytes."""

    def __init__(self, with_split: bool) -> None:
        self.schema = parquet_schema(with_split)
        self.sink = _Sink()
        self.writer = pq.ParquetWriter(self.sink, self.schema, compression="zstd")
        self.rows: list[dict[str, Any]] = []

    def _flush_rows(self) -> bytes:
        if self.rows:
            table = pa.Table.from_pylist(self.rows, schema=self.schema)
            self.writer.write_table(table, row_group_size=ROW_GROUP_SIZE)
            self.rows.clear()
        return self.sink.take()

    def write(self, record: dict[str, Any]) -> bytes:
        self.rows.append({**record, "metadata": json.dumps(record["metadata"], sort_keys=True)})
        return self._flush_rows() if len(self.rows) >= ROW_GROUP_SIZE else b""

    def finish(self) -> bytes:
        data = self._flush_rows()
        self.writer.close()
        return data + self.sink.take()


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


def _parquet_record(entry: Entry, taxonomy_version: int) -> dict[str, Any]:
    record = native_record(entry, taxonomy_version)
    # Timestamps are typed here; the jsonl record spells them as text.
    flags = [{**f, "flagged_at": _time(f["flagged_at"])} for f in entry.flags]
    record["flags"] = flags
    record["flag"] = flags[0] if flags else None
    record["decisions"] = [{**d, "decided_at": _time(d["decided_at"])} for d in entry.decisions]
    record["decided_at"] = _time(entry.decided_at)
    return record


def make_writer(fmt: str, with_split: bool) -> Writer:
    """Return a new writer for fmt."""
    if fmt == "csv":
        return CsvWriter([*CSV_COLUMNS, "split"] if with_split else CSV_COLUMNS)
    if fmt == "parquet":
        return ParquetWriter(with_split)
    return JsonLinesWriter()


def make_record(fmt: str, entry: Entry, taxonomy_version: int) -> dict[str, Any] | None:
    """Return entry as fmt's record, or None when fmt leaves it out."""
    if fmt == "jsonl":
        return native_record(entry, taxonomy_version)
    if fmt == "openai-chat":
        return chat_record(entry)
    if fmt == "sft":
        return sft_record(entry)
    if fmt == "dpo":
        return dpo_record(entry)
    if fmt == "csv":
        return csv_record(entry, taxonomy_version)
    return _parquet_record(entry, taxonomy_version)


def media_type(fmt: str) -> str:
    """Return the Content-Type of fmt's files."""
    return MEDIA_TYPES.get(EXTENSIONS[fmt], "application/octet-stream")


def flagq_version() -> str:
    """Return the installed flagq version."""
    try:
        return package_metadata.version("flagq")
    except package_metadata.PackageNotFoundError:
        return "0+unknown"


# -- running an export ----------------------------------------------------------------------------


class ExportStream:
    """One streamed export: iterate chunks(), then finish() to audit it.

    With a split and no part, every record carries a ``split`` field (column) so the
    receiver can tell train from validation in a single stream.
    """

    def __init__(
        self, session: Session, actor: User | None, fmt: str, filters: ExportFilters
    ) -> None:
        self.session = session
        self.actor = actor
        self.format = fmt
        self.filters = filters
        self.stats = Stats()
        self.digest = hashlib.sha256()
        self.bytes = 0
        self.complete = False

    def _out(self, data: bytes) -> bytes:
        self.digest.update(data)
        self.bytes += len(data)
        return data

    def chunks(self) -> Iterator[bytes]:
        """Yield the file's bytes as rows come from the database."""
        taxonomy = TaxonomyHistory.load(self.session)
        tag_split = self.filters.split is not None and self.filters.part is None
        writer = make_writer(self.format, tag_split)
        yield self._out(writer.start())
        pending: list[bytes] = []
        size = 0
        for entry in iter_entries(self.session, self.filters, taxonomy):
            if self.filters.part is not None and entry.split != self.filters.part:
                continue
            record = make_record(self.format, entry, taxonomy.current)
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

    def finish(self) -> dict[str, Any]:
        """Record the export in the audit trail (the caller commits); return its summary."""
        summary = {
            "format": self.format,
            "filters": self.filters.to_json(),
            "counts": self.stats.to_json(),
            "sha256": self.digest.hexdigest(),
            "bytes": self.bytes,
            "complete": self.complete,
            "destination": "stream",
        }
        audit.record(self.session, self.actor, "export.create", "export", self.format, summary)
        self.session.flush()
        return summary


def stream_export(
    session: Session, actor: User | None, fmt: str, filters: ExportFilters
) -> ExportStream:
    """Check fmt and filters and return the export to stream; raises Invalid."""
    return ExportStream(session, actor, parse_format(fmt), check_filters(session, filters))


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


def _is_dir(target: Path | str) -> bool:
    return str(target).endswith(("/", "\\")) or Path(target).is_dir()


def output_paths(target: Path | str, fmt: str, split: bool) -> dict[str | None, Path]:
    """Return the data file per split (None: no split) for -o target.

    A directory (existing, or named with a trailing slash) gets train.EXT / validation.EXT
    (or data.EXT) beside manifest.json and README.md, the layout ``datasets`` reads; a file
    path PATH.EXT gets PATH-train.EXT / PATH-validation.EXT.
    """
    ext = EXTENSIONS[fmt]
    is_dir, target = _is_dir(target), Path(target)
    if is_dir:
        if split:
            return {s: target / f"{s}.{ext}" for s in SPLITS}
        return {None: target / f"data.{ext}"}
    if split:
        stem = target.name[: -len(ext) - 1] if target.name.endswith(f".{ext}") else target.name
        return {s: target.with_name(f"{stem}-{s}.{ext}") for s in SPLITS}
    return {None: target}


def manifest_paths(target: Path | str, fmt: str) -> tuple[Path, Path]:
    """Return where the JSON manifest and the Markdown dataset card go for -o target."""
    is_dir, target = _is_dir(target), Path(target)
    if is_dir:
        return target / "manifest.json", target / "README.md"
    ext = EXTENSIONS[fmt]
    stem = target.name[: -len(ext) - 1] if target.name.endswith(f".{ext}") else target.name
    return target.with_name(f"{stem}.manifest.json"), target.with_name(f"{stem}.md")


def write_export(
    session: Session, actor: User | None, fmt: str, filters: ExportFilters, target: Path | str
) -> dict[str, Any]:
    """Write the data file(s), the manifest and the dataset card; audit; return the manifest.

    With a split there is one file per split (``part`` is ignored). Raises Invalid.
    """
    fmt = parse_format(fmt)
    filters = replace(check_filters(session, filters), part=None)
    taxonomy = TaxonomyHistory.load(session)
    paths = output_paths(target, fmt, filters.split is not None)
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    stats = Stats()
    outs: dict[str | None, _FileOut] = {}
    try:
        for split, path in paths.items():
            out = _FileOut(path, split, make_writer(fmt, False), path.open("wb"))
            out.put(out.writer.start())
            outs[split] = out
        for entry in iter_entries(session, filters, taxonomy):
            record = make_record(fmt, entry, taxonomy.current)
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


def dataset_card(manifest: dict[str, Any]) -> str:
    """Return a short Markdown dataset card for a manifest."""
    counts = manifest["counts"]
    filters = {k: v for k, v in manifest["filters"].items() if v not in (None, False, [])}
    lines = [
        f"# flagq export ({manifest['format']})",
        "",
        "Reviewed, error-typed chatbot conversations exported by flagq "
        f"{manifest['flagq_version']} at {manifest['created_at']}, labels in taxonomy version "
        f"{manifest['taxonomy_version']}.",
        "",
        "Filters: "
        + (", ".join(f"{k}={json.dumps(v)}" for k, v in filters.items()) or "none")
        + ".",
        "",
        f"Rows: {counts['rows']} ({counts['skipped']} selected items left out by this format).",
        "",
        "| label | rows |",
        "| --- | --- |",
        *(f"| {label} | {n} |" for label, n in counts["by_label"].items()),
        "",
        "| file | split | rows | sha256 |",
        "| --- | --- | --- | --- |",
        *(
            f"| {f['path']} | {f['split'] or 'all'} | {f['rows']} | `{f['sha256']}` |"
            for f in manifest["files"]
        ),
        "",
        "Conversations come from users of a chatbot and may contain offensive text"
        + ("; e-mails, phones, cards, IPs and URLs were masked." if filters.get("redact") else "."),
        "",
    ]
    return "\n".join(lines)


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
    fmt = parse_format(fmt)
    filters = replace(check_filters(session, filters), part=None)
    taxonomy = TaxonomyHistory.load(session)
    stats = Stats()
    for entry in iter_entries(session, filters, taxonomy):
        if fmt in ("openai-chat", "sft", "dpo") and make_record(fmt, entry, 0) is None:
            stats.skipped += 1
            continue
        stats.add(entry.final_label, entry.split)
    return Preview(fmt, taxonomy.current, stats)

"""The flag format: parse and validate one flag (native, OpenAI chat or ShareGPT).

Everything here is untrusted input: each check names the field at fault by its
path (``flags[3].messages[1].role``) and nothing is trusted or evaluated. Text is
kept as it came (HTML and script included): escaping is the renderer's job.
"""

import dataclasses
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from review.errors import Invalid

ROLES = frozenset({"system", "user", "assistant", "tool"})
SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
    "tool": "tool",
    "function_call": "assistant",
    "observation": "tool",
    "function": "tool",
}
# A category slug a label may create with --create-categories.
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


@dataclass(frozen=True)
class Limits:
    """Bounds on one flag and one request; app config FLAGQ_LIMITS, env FLAGQ_LIMIT_<NAME>."""

    max_messages: int = 500  # messages in one conversation
    max_message_chars: int = 1_000_000  # characters in one message's content
    max_reason_chars: int = 10_000  # characters in flag.reason
    max_external_id_chars: int = 200
    max_line_bytes: int = 8 * 1024 * 1024  # one JSONL line (flagq import)
    max_metadata_bytes: int = 64 * 1024  # metadata as compact JSON
    max_metadata_depth: int = 16  # nesting of objects and lists in metadata
    max_batch: int = 500  # flags in one POST /api/v1/flags
    # Free text people type on other routes: notes, corrections, category descriptions.
    max_note_chars: int = 10_000  # a decision's, escalation's or resolution's note
    max_correction_chars: int = 1_000_000  # a corrected response (as long as a message)
    max_description_chars: int = 10_000  # a category's description or guideline


DEFAULT_LIMITS = Limits()


def limits_from(value: "Limits | Mapping[str, Any] | None") -> Limits:
    """Return Limits from app config: a Limits, a mapping of overrides, or None.

    Raises ValueError naming an unknown limit or a value that is not a positive integer.
    """
    if value is None:
        return Limits()
    if isinstance(value, Limits):
        return value
    names = {f.name for f in dataclasses.fields(Limits)}
    overrides: dict[str, int] = {}
    for name, raw in value.items():
        if name not in names:
            raise ValueError(f"unknown limit {name!r}; known: {', '.join(sorted(names))}")
        try:
            number = int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"limit {name} must be an integer, not {raw!r}") from None
        if number < 1:
            raise ValueError(f"limit {name} must be at least 1")
        overrides[name] = number
    return Limits(**overrides)


@dataclass(frozen=True)
class FlagIn:
    """One validated flag, ready to store."""

    external_id: str
    messages: list[dict[str, str]]
    content_hash: str
    reason: str = ""
    category: str | None = None
    flagged_at: datetime | None = None
    message_index: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    label: str | None = None

    @property
    def fingerprint(self) -> str:
        """Return what makes this flag the same flag if it is sent again."""
        stamp = self.flagged_at.isoformat() if self.flagged_at else ""
        key = json.dumps([self.external_id, stamp, self.reason, self.category])
        return hashlib.sha256(key.encode()).hexdigest()


_CANONICAL = json.JSONEncoder(ensure_ascii=False, check_circular=False)
_COMPACT = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":"))


def content_hash(messages: list[dict[str, str]]) -> str:
    """Return a stable hash of a conversation's roles and contents."""
    canonical = _CANONICAL.encode([[m["role"], m["content"]] for m in messages])
    return hashlib.sha256(canonical.encode()).hexdigest()


def default_message_index(messages: list[dict[str, str]]) -> int:
    """Return the index of the last assistant message, or of the last message."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index]["role"] == "assistant":
            return index
    return len(messages) - 1


def _type_name(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _check_chars(value: str, path: str) -> None:
    if "\x00" in value:
        raise Invalid.field(path, "contains a NUL character")
    # isascii() is O(1) in CPython; only non-ASCII text pays for the encode check. A lone
    # surrogate would pass json.loads and then fail in the database driver.
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise Invalid.field(path, "contains an unpaired UTF-16 surrogate") from None


def check_text(value: Any, field: str, limit: int, *, allow_empty: bool = True) -> str:
    """Return value if it is a string of at most limit characters that every engine can store.

    The one rule for untrusted free text anywhere (flags, notes, names, labels): no NUL
    character, no unpaired surrogate, not longer than limit; raises Invalid naming field.
    """
    return _text(value, field, limit, allow_empty=allow_empty)


def _text(
    value: Any, path: str, limit: int, *, allow_empty: bool = True, check_chars: bool = True
) -> str:
    if not isinstance(value, str):
        raise Invalid.field(path, f"must be a string, not {_type_name(value)}")
    if len(value) > limit:
        raise Invalid.field(path, f"longer than {limit} characters")
    if check_chars:
        _check_chars(value, path)
    if not allow_empty and not value.strip():
        raise Invalid.field(path, "must not be empty")
    return value


def _messages(
    raw: Any, path: str, limits: Limits, sharegpt: bool, check_chars: bool
) -> list[dict[str, str]]:
    if not isinstance(raw, list):
        raise Invalid.field(path, f"must be an array of messages, not {_type_name(raw)}")
    if not raw:
        raise Invalid.field(path, "must hold at least one message")
    if len(raw) > limits.max_messages:
        raise Invalid.field(path, f"more than {limits.max_messages} messages")
    role_key, content_key = ("from", "value") if sharegpt else ("role", "content")
    messages = []
    for i, message in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(message, dict):
            raise Invalid.field(where, f"must be an object, not {_type_name(message)}")
        role = message.get(role_key)
        if not isinstance(role, str):
            raise Invalid.field(f"{where}.{role_key}", "is required and must be a string")
        role = SHAREGPT_ROLES.get(role) if sharegpt else role
        if role not in ROLES:
            allowed = ", ".join(sorted(SHAREGPT_ROLES if sharegpt else ROLES))
            raise Invalid.field(f"{where}.{role_key}", f"unknown role; use one of {allowed}")
        if content_key not in message:
            raise Invalid.field(f"{where}.{content_key}", "is required")
        content = _text(
            message[content_key],
            f"{where}.{content_key}",
            limits.max_message_chars,
            allow_empty=False,
            check_chars=check_chars,
        )
        messages.append({"role": role, "content": content})
    return messages


def _timestamp(value: Any, path: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise Invalid.field(path, "must be an ISO 8601 date-time string")
    try:
        stamp = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Invalid.field(
            path, "is not an ISO 8601 date-time, e.g. 2026-11-20T14:03:00Z"
        ) from None
    # A time without an offset is taken as UTC, the format's documented default.
    try:
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
    except OverflowError:
        raise Invalid.field(path, "is out of range") from None


def _external_id(raw: dict[str, Any], prefix: str, limits: Limits, digest: str) -> str:
    for key in ("external_id", "id"):
        if key in raw and raw[key] is not None:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise Invalid.field(f"{prefix}{key}", "must be a string")
            value = str(value).strip()
            if not value or len(value) > limits.max_external_id_chars or not value.isprintable():
                raise Invalid.field(
                    f"{prefix}{key}",
                    f"must be 1-{limits.max_external_id_chars} printable characters",
                )
            return value
    # A line with no id is named by its content, so re-importing it is idempotent.
    return f"sha256:{digest[:32]}"


def _metadata(value: Any, path: str, limits: Limits, check_chars: bool) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid.field(path, f"must be an object, not {_type_name(value)}")
    # Walked without recursion: depth is bounded here, before anything recurses into it. The
    # walk counts characters as it goes, so that a huge value stops it early; the size that
    # counts is that of the JSON itself, measured once the walk has passed.
    size = 2
    stack: list[tuple[Any, int]] = [(value, 1)]
    too_large = Invalid.field(path, f"larger than {limits.max_metadata_bytes} bytes as JSON")
    while stack:
        node, depth = stack.pop()
        if depth > limits.max_metadata_depth:
            raise Invalid.field(path, f"nested deeper than {limits.max_metadata_depth} levels")
        if isinstance(node, dict):
            for key in node:
                if check_chars:
                    _check_chars(key, path)
                size += len(key) + 3
            children = node.values()
        else:
            children = node
        for child in children:
            if isinstance(child, str):
                if check_chars:
                    _check_chars(child, path)
                size += len(child) + 3
            elif isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
                size += 2
            elif isinstance(child, float) and not math.isfinite(child):
                raise Invalid.field(path, "holds a number JSON cannot store (NaN or Infinity)")
            else:
                size += 2
        if size > limits.max_metadata_bytes:
            raise too_large
    try:
        serialised = _COMPACT.encode(value)
    except ValueError:  # an integer past Python's digit limit for str()
        raise Invalid.field(path, "holds a number too large to store") from None
    if len(serialised) > limits.max_metadata_bytes or (
        not serialised.isascii() and len(serialised.encode()) > limits.max_metadata_bytes
    ):
        raise too_large
    return value


def parse_flag(
    raw: Any, limits: Limits = Limits(), path: str = "", check_chars: bool = True
) -> FlagIn:
    """Validate one flag in any accepted format; raise Invalid naming the field.

    check_chars=False skips the search for NUL characters and lone surrogates in its strings,
    for a flag decoded from JSON text that cannot hold them (see parse_line).
    """
    prefix = f"{path}." if path else ""
    if not isinstance(raw, dict):
        raise Invalid.field(path or "flag", f"must be a JSON object, not {_type_name(raw)}")
    sharegpt = "conversations" in raw and "messages" not in raw
    key = "conversations" if sharegpt else "messages"
    if key not in raw:
        raise Invalid.field(f"{prefix}messages", "is required")
    messages = _messages(raw[key], f"{prefix}{key}", limits, sharegpt, check_chars)
    digest = content_hash(messages)
    external_id = _external_id(raw, prefix, limits, digest)

    flag = raw.get("flag")
    if flag is None:
        flag = {}
    elif not isinstance(flag, dict):
        raise Invalid.field(f"{prefix}flag", f"must be an object, not {_type_name(flag)}")
    reason = flag.get("reason")
    reason = (
        ""
        if reason is None
        else _text(reason, f"{prefix}flag.reason", limits.max_reason_chars, check_chars=check_chars)
    )
    category = flag.get("category")
    if category is not None:
        category = (
            _text(category, f"{prefix}flag.category", 64, check_chars=check_chars).strip() or None
        )
    flagged_at = _timestamp(flag.get("flagged_at"), f"{prefix}flag.flagged_at")
    index = flag.get("message_index")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
        raise Invalid.field(f"{prefix}flag.message_index", "must be an integer")
    if index is not None and not 0 <= index < len(messages):
        raise Invalid.field(
            f"{prefix}flag.message_index", f"must point at one of the {len(messages)} messages"
        )

    metadata = _metadata(raw.get("metadata"), f"{prefix}metadata", limits, check_chars)
    label = raw.get("label")
    if label is not None:
        label = _text(
            label, f"{prefix}label", 64, allow_empty=False, check_chars=check_chars
        ).strip()
    return FlagIn(
        external_id=external_id,
        messages=messages,
        content_hash=digest,
        reason=reason,
        category=category,
        flagged_at=flagged_at,
        message_index=index if index is not None else default_message_index(messages),
        metadata=metadata,
        label=label,
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# NaN and Infinity are Python's extensions to JSON; PostgreSQL's jsonb refuses them.
_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def parse_json(text: str) -> Any:
    """Parse JSON text; raise Invalid (field "line") for bad or too deeply nested JSON."""
    try:
        return _DECODER.decode(text)
    except RecursionError:
        raise Invalid.field("line", "JSON nested too deeply") from None
    except ValueError as error:
        raise Invalid.field("line", f"is not valid JSON ({error})") from None


def parse_line(line: bytes | str, limits: Limits = Limits()) -> FlagIn:
    """Parse one JSONL line; raise Invalid for bad bytes, bad JSON or a bad flag."""
    if len(line) > limits.max_line_bytes:
        raise Invalid.field("line", f"longer than {limits.max_line_bytes} bytes")
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise Invalid.field("line", f"is not valid UTF-8 (byte {error.start})") from None
    if "\x00" in line:
        raise Invalid.field("line", "contains a NUL byte")
    # Valid UTF-8 without NUL bytes spells neither NUL nor a lone surrogate: only a \u escape
    # can put one into a decoded string. Lines without such an escape skip the per-string check.
    check_chars = _RISKY_ESCAPE.search(line) is not None
    raw = parse_json(line)
    if not isinstance(raw, dict):
        raise Invalid.field("line", f"must be a JSON object, not {_type_name(raw)}")
    return parse_flag(raw, limits, check_chars=check_chars)


# \u0000 and the surrogate range \uD800-\uDFFF (an escaped backslash before the u only makes
# a false alarm, which costs the full check).
_RISKY_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")

"""The flag format: parse and validate one flag (native, OpenAI chat or ShareGPT).

Everything here is untrusted input: each check names the field at fault by its
path (``flags[3].messages[1].role``) and nothing is trusted or evaluated.
"""

import hashlib
import json
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


@dataclass(frozen=True)
class Limits:
    """Bounds on one flag; each is a setting (see README, "Limits")."""

    max_messages: int = 500
    max_message_chars: int = 1_000_000
    max_reason_chars: int = 10_000
    max_external_id_chars: int = 200
    max_line_bytes: int = 8 * 1024 * 1024
    max_batch: int = 500


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


def content_hash(messages: list[dict[str, str]]) -> str:
    """Return a stable hash of a conversation's roles and contents."""
    canonical = json.dumps([[m["role"], m["content"]] for m in messages], ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def default_message_index(messages: list[dict[str, str]]) -> int:
    """Return the index of the last assistant message, or of the last message."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index]["role"] == "assistant":
            return index
    return len(messages) - 1


def _text(value: Any, path: str, limit: int, *, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise Invalid.field(path, f"must be a string, not {type(value).__name__}")
    if "\x00" in value:
        raise Invalid.field(path, "contains a NUL character")
    if len(value) > limit:
        raise Invalid.field(path, f"longer than {limit} characters")
    if not allow_empty and not value.strip():
        raise Invalid.field(path, "must not be empty")
    return value


def _messages(raw: Any, path: str, limits: Limits, sharegpt: bool) -> list[dict[str, str]]:
    if not isinstance(raw, list):
        raise Invalid.field(path, "must be a list of messages")
    if not raw:
        raise Invalid.field(path, "must hold at least one message")
    if len(raw) > limits.max_messages:
        raise Invalid.field(path, f"more than {limits.max_messages} messages")
    role_key, content_key = ("from", "value") if sharegpt else ("role", "content")
    messages = []
    for i, message in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(message, dict):
            raise Invalid.field(where, "must be an object")
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
        )
        messages.append({"role": role, "content": content})
    return messages


def _timestamp(value: Any, path: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid.field(path, "must be an ISO 8601 date-time string")
    try:
        stamp = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Invalid.field(
            path, "is not an ISO 8601 date-time, e.g. 2026-11-20T14:03:00Z"
        ) from None
    # A time without an offset is taken as UTC, the format's documented default.
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _external_id(raw: dict[str, Any], path: str, limits: Limits, digest: str) -> str:
    for key in ("external_id", "id"):
        if key in raw and raw[key] is not None:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise Invalid.field(f"{path}{key}", "must be a string")
            value = str(value).strip()
            if not value or len(value) > limits.max_external_id_chars or not value.isprintable():
                raise Invalid.field(
                    f"{path}{key}", f"must be 1-{limits.max_external_id_chars} printable characters"
                )
            return value
    # A line with no id is named by its content, so re-importing it is idempotent.
    return f"sha256:{digest[:32]}"


def parse_flag(raw: Any, limits: Limits = Limits(), path: str = "") -> FlagIn:
    """Validate one flag in any accepted format; raise Invalid naming the field."""
    prefix = f"{path}." if path else ""
    if not isinstance(raw, dict):
        raise Invalid.field(path or "flag", "must be a JSON object")
    sharegpt = "conversations" in raw and "messages" not in raw
    key = "conversations" if sharegpt else "messages"
    if key not in raw:
        raise Invalid.field(f"{prefix}messages", "is required")
    messages = _messages(raw[key], f"{prefix}{key}", limits, sharegpt)
    digest = content_hash(messages)
    external_id = _external_id(raw, prefix, limits, digest)

    flag = raw.get("flag") or {}
    if not isinstance(flag, dict):
        raise Invalid.field(f"{prefix}flag", "must be an object")
    reason = flag.get("reason") or ""
    reason = _text(reason, f"{prefix}flag.reason", limits.max_reason_chars)
    category = flag.get("category")
    if category is not None:
        category = _text(category, f"{prefix}flag.category", 64).strip() or None
    flagged_at = _timestamp(flag.get("flagged_at"), f"{prefix}flag.flagged_at")
    index = flag.get("message_index")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
        raise Invalid.field(f"{prefix}flag.message_index", "must be an integer")
    if index is not None and not 0 <= index < len(messages):
        raise Invalid.field(
            f"{prefix}flag.message_index", f"must point at one of the {len(messages)} messages"
        )

    metadata = raw.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise Invalid.field(f"{prefix}metadata", "must be an object")
    label = raw.get("label")
    if label is not None:
        label = _text(label, f"{prefix}label", 64, allow_empty=False).strip()
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


def parse_line(line: bytes | str, limits: Limits = Limits()) -> FlagIn:
    """Parse one JSONL line; raise Invalid for bad bytes, bad JSON or a bad flag."""
    if len(line) > limits.max_line_bytes:
        raise Invalid.field("line", f"longer than {limits.max_line_bytes} bytes")
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise Invalid.field("line", f"is not valid UTF-8 (byte {error.start})") from None
    try:
        raw = json.loads(line)
    except RecursionError:
        raise Invalid.field("line", "JSON nested too deeply") from None
    except ValueError as error:
        raise Invalid.field("line", f"is not valid JSON ({error})") from None
    return parse_flag(raw, limits)

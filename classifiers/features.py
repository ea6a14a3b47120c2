"""Turn a flagged conversation into the plain text fields the classifier reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# The column order of the matrix that to_columns() builds; pipeline.py selects columns by position.
FIELDS: tuple[str, ...] = ("flagged", "previous_user", "context", "reason", "category", "role")

# Absent fields become this token so every vectorizer always has a vocabulary, and "no reason
# given" or "no earlier context" is itself a feature the model can weigh.
EMPTY = "fieldisempty"


@dataclass(frozen=True)
class Example:
    """One flagged conversation, as the classifier sees it."""

    messages: list[dict]
    reason: str | None = None
    category: str | None = None
    message_index: int | None = None


def example_from_flag(line: Mapping[str, Any]) -> Example:
    """Build an Example from a native flag dict; `metadata` and `label` are ignored on purpose."""
    messages = line.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages: at least one message is required")
    flag = line.get("flag") or {}
    if not isinstance(flag, Mapping):
        raise ValueError("flag: must be an object")
    index = flag.get("message_index")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
        raise ValueError("flag.message_index: must be an integer")
    return Example(
        messages=[dict(m) for m in messages],
        reason=flag.get("reason") or None,
        category=flag.get("category") or None,
        message_index=index,
    )


def flagged_index(messages: Sequence[Mapping[str, Any]], message_index: int | None) -> int:
    """Return the index of the flagged message: the given one, else the last assistant turn."""
    if not messages:
        raise ValueError("messages: at least one message is required")
    if message_index is not None:
        # Out-of-range indices come from integrations we do not control; clamp, never fail.
        if message_index < 0:
            message_index += len(messages)
        return min(max(message_index, 0), len(messages) - 1)
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "assistant":
            return i
    # Moderation-style items have no assistant turn: the text the user sent is what was flagged.
    return len(messages) - 1


def _content(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    return content if isinstance(content, str) else ""


def to_fields(ex: Example) -> dict[str, str]:
    """Return the text fields the pipeline reads; absent fields are empty strings.

    `flagged` is the flagged turn, `previous_user` the last user turn before it, `context` the
    turns before that as "role: content" lines (turns after the flagged one are ignored),
    `reason` and `category` come from the flag, `role` is the flagged turn's role.
    """
    messages = ex.messages
    i = flagged_index(messages, ex.message_index)
    prev = next((j for j in range(i - 1, -1, -1) if messages[j].get("role") == "user"), None)
    before = messages[:prev] if prev is not None else messages[:i]
    context = "\n".join(f"{m.get('role', '')}: {_content(m)}" for m in before)
    return {
        "flagged": _content(messages[i]),
        "previous_user": _content(messages[prev]) if prev is not None else "",
        "context": context,
        "reason": ex.reason or "",
        "category": ex.category or "",
        "role": str(messages[i].get("role", "")),
    }


def to_columns(examples: Iterable[Example]) -> np.ndarray:
    """Return an (n, len(FIELDS)) object array of field texts, the pipeline's first step."""
    rows = []
    for ex in examples:
        fields = to_fields(ex)
        rows.append([fields[name].strip() or EMPTY for name in FIELDS])
    return np.array(rows, dtype=object).reshape(len(rows), len(FIELDS))

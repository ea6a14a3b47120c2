"""One reviewed item as exports see it, and the two facts every format derives from it.

Pure: no database. The flagged turn is the first flag's ``message_index`` when it points at an
assistant message, else the conversation's last assistant message. With a split ratio r an item
is in ``train`` when the first 8 bytes of sha256(external_id), read as a fraction of 2**64, are
below r, so the split is reproducible.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


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

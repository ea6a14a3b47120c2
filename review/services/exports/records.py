"""Records per format: one Entry in, one dict out (or None when the format leaves it out).

Every builder takes (entry, taxonomy_version), the version the export's labels are in, whether
or not its format writes it.
"""

from datetime import datetime
from typing import Any

from models import NO_ERROR
from review.services.exports.entries import Entry


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


def chat_record(entry: Entry, taxonomy_version: int = 0) -> dict[str, Any] | None:
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


def sft_record(entry: Entry, taxonomy_version: int = 0) -> dict[str, Any] | None:
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


def dpo_record(entry: Entry, taxonomy_version: int = 0) -> dict[str, Any] | None:
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


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


def parquet_record(entry: Entry, taxonomy_version: int) -> dict[str, Any]:
    record = native_record(entry, taxonomy_version)
    # Timestamps are typed here; the jsonl record spells them as text.
    flags = [{**f, "flagged_at": _time(f["flagged_at"])} for f in entry.flags]
    record["flags"] = flags
    record["flag"] = flags[0] if flags else None
    record["decisions"] = [{**d, "decided_at": _time(d["decided_at"])} for d in entry.decisions]
    record["decided_at"] = _time(entry.decided_at)
    return record

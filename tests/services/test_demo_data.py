"""Tests for the synthetic demo flag generator."""

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from review.services.demo_data import generate_flags

DEFAULT_CATEGORIES = (
    "factual_error",
    "harmful_advice",
    "hate_harassment",
    "sexual_content",
    "self_harm",
    "violence",
    "privacy",
    "unhelpful_refusal",
    "instruction_following",
    "bias",
    "low_quality",
    "other",
)
ROLES = {"system", "user", "assistant", "tool"}
HOSTILE = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "](javascript:alert(1))",
    '"><svg onload=alert(1)>',
    "\u202e",
    "\u200b",
    "{{ 7*7 }}",
    "=HYPERLINK(",
    "+cmd",
    "@SUM(1)",
)


@pytest.fixture(scope="module")
def flags() -> list[dict]:
    """Generate the default demo set once."""
    return generate_flags()


def _parse_utc(value: str) -> datetime:
    """Parse an ISO 8601 timestamp that must end in Z."""
    assert value.endswith("Z")
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None and parsed.utcoffset() == timedelta(0)
    return parsed


def test_default_count_is_at_least_300(flags: list[dict]) -> None:
    assert len(flags) >= 300


def test_count_parameter_is_respected() -> None:
    assert len(generate_flags(count=50)) == 50
    assert generate_flags(count=0) == []


def test_every_label_is_well_represented(flags: list[dict]) -> None:
    counts = Counter(item["label"] for item in flags)
    for label in (*DEFAULT_CATEGORIES, "no_error"):
        assert counts[label] >= 8, label
    assert set(counts) == {*DEFAULT_CATEGORIES, "no_error"}
    assert 0.2 <= counts["no_error"] / len(flags) <= 0.3


def test_deterministic_for_a_seed() -> None:
    assert generate_flags(seed=3) == generate_flags(seed=3)


def test_different_seeds_give_different_data() -> None:
    first, second = generate_flags(seed=1), generate_flags(seed=2)
    assert [f["messages"] for f in first] != [f["messages"] for f in second]


def test_every_item_has_the_flag_shape(flags: list[dict]) -> None:
    for item in flags:
        assert set(item) == {"external_id", "messages", "flag", "metadata", "label"}
        assert isinstance(item["external_id"], str) and 1 <= len(item["external_id"]) <= 200
        assert item["messages"]
        for message in item["messages"]:
            assert set(message) == {"role", "content"}
            assert message["role"] in ROLES
            assert isinstance(message["content"], str) and message["content"].strip()
        flag = item["flag"]
        assert set(flag) == {"reason", "category", "flagged_at", "message_index"}
        assert isinstance(flag["reason"], str)
        assert flag["category"] is None or flag["category"] in DEFAULT_CATEGORIES
        index = flag["message_index"]
        assert 0 <= index < len(item["messages"])
        assert item["messages"][index]["role"] == "assistant"
        _parse_utc(flag["flagged_at"])
        assert isinstance(item["metadata"], dict)
        assert {"model", "surface"} <= set(item["metadata"])
        json.dumps(item)


def test_conversations_have_one_to_five_exchanges(flags: list[dict]) -> None:
    turns = Counter(sum(m["role"] == "user" for m in item["messages"]) for item in flags)
    assert min(turns) >= 1 and max(turns) <= 5
    assert len(turns) >= 4
    assert any(item["messages"][0]["role"] == "system" for item in flags)


def test_flagged_at_spread_over_last_30_days(flags: list[dict]) -> None:
    start = datetime(2026, 11, 20, 12, tzinfo=UTC)
    stamps = [_parse_utc(item["flag"]["flagged_at"]) for item in flags]
    assert all(start - timedelta(days=30) <= s <= start for s in stamps)
    assert max(stamps) - min(stamps) > timedelta(days=20)


def test_custom_start_moves_the_window() -> None:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    stamps = [_parse_utc(f["flag"]["flagged_at"]) for f in generate_flags(40, start=start)]
    assert all(start - timedelta(days=30) <= s <= start for s in stamps)


def test_hostile_strings_are_present(flags: list[dict]) -> None:
    blob = json.dumps(flags, ensure_ascii=False)
    for payload in HOSTILE:
        assert payload in blob, payload


def test_some_items_are_long(flags: list[dict]) -> None:
    long_replies = [
        len(m["content"])
        for item in flags
        for m in item["messages"]
        if m["role"] == "assistant" and len(m["content"]) > 3000
    ]
    assert len(long_replies) >= 3
    assert max(long_replies) <= 8000


def test_external_ids_unique(flags: list[dict]) -> None:
    ids = [item["external_id"] for item in flags]
    assert len(ids) == len(set(ids))


def test_a_few_content_duplicates(flags: list[dict]) -> None:
    groups = Counter(json.dumps(item["messages"], sort_keys=True) for item in flags)
    duplicated = [n for n in groups.values() if n > 1]
    assert 3 <= len(duplicated) <= 8
    by_content: dict[str, set[str]] = {}
    for item in flags:
        key = json.dumps(item["messages"], sort_keys=True)
        by_content.setdefault(key, set()).add(item["label"])
    assert all(len(labels) == 1 for labels in by_content.values())


def test_user_category_is_sometimes_wrong_or_missing(flags: list[dict]) -> None:
    wrong = sum(f["flag"]["category"] not in (None, f["label"]) for f in flags)
    missing = sum(f["flag"]["category"] is None for f in flags)
    assert 0.1 <= wrong / len(flags) <= 0.35
    assert 0.05 <= missing / len(flags) <= 0.25
    assert any(f["flag"]["reason"] == "" for f in flags)
    assert len({f["flag"]["reason"] for f in flags}) >= 40


def test_texts_are_varied(flags: list[dict]) -> None:
    replies = {item["messages"][item["flag"]["message_index"]]["content"] for item in flags}
    assert len(replies) >= 200


def test_negative_count_rejected() -> None:
    with pytest.raises(ValueError):
        generate_flags(count=-1)

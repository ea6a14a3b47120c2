"""The flag format: each accepted shape, and each way a line can be wrong, named by its field."""

import json

import pytest

from review.errors import Invalid
from review.services.flagformat import Limits, limits_from, parse_flag, parse_line

CONVERSATION = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]


def native(**extra: object) -> dict:
    return {"external_id": "c-1", "messages": [dict(m) for m in CONVERSATION], **extra}


def field_of(raw: object, limits: Limits | None = None) -> str:
    with pytest.raises(Invalid) as caught:
        if isinstance(raw, (bytes, str)):
            parse_line(raw, limits or Limits())
        else:
            parse_flag(raw, limits or Limits())
    return caught.value.details[0]["field"]


def test_native_flag_with_every_field() -> None:
    flag = parse_flag(
        native(
            flag={
                "reason": "made up a citation",
                "category": "factual_error",
                "flagged_at": "2026-11-20T14:03:00+02:00",
                "message_index": 1,
            },
            metadata={"model": "chat-v7", "nested": {"list": [1, 2.5, None, True]}},
            label="factual_error",
        )
    )
    assert flag.external_id == "c-1"
    assert flag.messages == CONVERSATION
    assert flag.flagged_at.isoformat() == "2026-11-20T12:03:00+00:00"
    assert flag.message_index == 1
    assert flag.metadata["nested"]["list"] == [1, 2.5, None, True]
    assert flag.label == "factual_error"


def test_openai_chat_line_gets_an_id_from_its_content() -> None:
    line = json.dumps({"messages": CONVERSATION})
    first, again = parse_line(line), parse_line(line.encode())
    assert first.external_id.startswith("sha256:")
    assert first.external_id == again.external_id
    assert first.fingerprint == again.fingerprint
    other = parse_line(json.dumps({"messages": [{"role": "user", "content": "other"}]}))
    assert other.external_id != first.external_id
    assert parse_line(json.dumps({"id": 42, "messages": CONVERSATION})).external_id == "42"


def test_sharegpt_line_maps_roles() -> None:
    flag = parse_line(
        json.dumps(
            {
                "id": "sg-1",
                "conversations": [
                    {"from": "system", "value": "be nice"},
                    {"from": "human", "value": "hi"},
                    {"from": "gpt", "value": "hello"},
                ],
            }
        )
    )
    assert flag.external_id == "sg-1"
    assert [m["role"] for m in flag.messages] == ["system", "user", "assistant"]
    assert flag.message_index == 2  # the last assistant turn
    assert field_of({"conversations": [{"from": "robot", "value": "x"}]}) == (
        "conversations[0].from"
    )


def test_same_content_same_hash_across_formats() -> None:
    a = parse_flag(native())
    b = parse_flag(
        {
            "id": "x",
            "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}],
        }
    )
    assert a.content_hash == b.content_hash


def test_html_and_script_are_kept_as_text() -> None:
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)> &amp; {{7*7}}"
    flag = parse_flag(native(messages=[{"role": "user", "content": hostile}]))
    assert flag.messages[0]["content"] == hostile


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"external_id": "x"}, "messages"),
        (native(messages=[]), "messages"),
        (native(messages="hi"), "messages"),
        (native(messages=["hi"]), "messages[0]"),
        (native(messages=[{"content": "x"}]), "messages[0].role"),
        (native(messages=[{"role": "robot", "content": "x"}]), "messages[0].role"),
        (native(messages=[{"role": "user"}]), "messages[0].content"),
        (native(messages=[{"role": "user", "content": "  "}]), "messages[0].content"),
        (native(messages=[{"role": "user", "content": 5}]), "messages[0].content"),
        (native(messages=[{"role": "user", "content": ["a"]}]), "messages[0].content"),
        (native(messages=[{"role": "user", "content": "a\x00b"}]), "messages[0].content"),
        (native(messages=[{"role": "user", "content": "a\ud800b"}]), "messages[0].content"),
        (native(external_id=""), "external_id"),
        (native(external_id="x" * 201), "external_id"),
        (native(external_id=["x"]), "external_id"),
        (native(external_id=True), "external_id"),
        (native(external_id="a\nb"), "external_id"),
        (native(flag="bad"), "flag"),
        (native(flag={"reason": 5}), "flag.reason"),
        (native(flag={"reason": "x" * 10_001}), "flag.reason"),
        (native(flag={"category": {"a": 1}}), "flag.category"),
        (native(flag={"flagged_at": "yesterday"}), "flag.flagged_at"),
        (native(flag={"flagged_at": 1700000000}), "flag.flagged_at"),
        (native(flag={"message_index": "1"}), "flag.message_index"),
        (native(flag={"message_index": 2}), "flag.message_index"),
        (native(flag={"message_index": -1}), "flag.message_index"),
        (native(metadata=[1, 2]), "metadata"),
        (native(metadata={"k": "a\x00"}), "metadata"),
        (native(metadata={"k": float("nan")}), "metadata"),
        (native(metadata={"k": "x" * 70_000}), "metadata"),
        (native(label=3), "label"),
        (native(label=""), "label"),
        ([1, 2], "flag"),
        ("just a string", "flag"),
    ],
)
def test_each_invalid_field_is_named(raw: object, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_flag(raw)
    assert caught.value.details[0]["field"] == field


def test_paths_carry_the_batch_position() -> None:
    raw = native(messages=[{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}])
    with pytest.raises(Invalid) as caught:
        parse_flag(raw, path="flags[3]")
    assert caught.value.details[0]["field"] == "flags[3].messages[1].role"


def test_deep_metadata_is_refused_without_recursion() -> None:
    deep: dict = {}
    node = deep
    for _ in range(50):
        node["k"] = {}
        node = node["k"]
    assert field_of(native(metadata=deep)) == "metadata"


@pytest.mark.parametrize(
    "line",
    [
        b"\xff\xfe not utf-8",
        b'{"external_id": "x", "messages": [\x00]}',
        b"{not json",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"external_id": "x", "messages": [{"role": "user", "content": "a"}], "metadata": '
        b'{"v": NaN}}',
        b"12345678901234567890",
    ],
)
def test_broken_lines_are_invalid_not_crashes(line: bytes) -> None:
    assert field_of(line) in {"line", "flag"}


def test_lone_surrogate_escape_is_refused() -> None:
    line = '{"external_id": "x", "messages": [{"role": "user", "content": "\\udc80"}]}'
    assert field_of(line) == "messages[0].content"


@pytest.mark.parametrize("escape", ["\\u0000", "\\uD800", "\\udfff"])
@pytest.mark.parametrize(
    ("template", "field"),
    [
        ('"messages": [{"role": "user", "content": "a%sb"}]', "messages[0].content"),
        ('"messages": [{"role": "user", "content": "a"}], "flag": {"reason": "%s"}', "flag.reason"),
        (
            '"messages": [{"role": "user", "content": "a"}], "flag": {"category": "c%s"}',
            "flag.category",
        ),
        ('"messages": [{"role": "user", "content": "a"}], "label": "l%s"', "label"),
        ('"messages": [{"role": "user", "content": "a"}], "metadata": {"k%s": 1}', "metadata"),
        ('"messages": [{"role": "user", "content": "a"}], "metadata": {"k": ["%s"]}', "metadata"),
    ],
)
def test_escaped_nul_or_lone_surrogate_is_refused_in_every_string(
    escape: str, template: str, field: str
) -> None:
    line = '{"external_id": "x", ' + template % escape + "}"
    assert field_of(line) == field


def test_escaped_backslash_before_u0000_is_plain_text() -> None:
    # Text that spells a backslash and then u0000: nothing to refuse (only a closer look).
    line = '{"external_id": "x", "messages": [{"role": "user", "content": "a\\\\u0000 b"}]}'
    assert parse_line(line).messages[0]["content"] == "a\\u0000 b"


def test_limits_bound_messages_and_lines() -> None:
    small = Limits(max_messages=2, max_message_chars=5, max_line_bytes=200)
    assert field_of(native(messages=CONVERSATION * 2), small) == "messages"
    assert field_of(native(messages=[{"role": "user", "content": "toolong"}]), small) == (
        "messages[0].content"
    )
    assert field_of(json.dumps(native(metadata={"pad": "x" * 300})), small) == "line"


def test_limits_from_config() -> None:
    assert limits_from(None) == Limits()
    assert limits_from({"max_messages": "7"}).max_messages == 7
    with pytest.raises(ValueError, match="unknown limit"):
        limits_from({"max_mesages": 7})
    with pytest.raises(ValueError, match="at least 1"):
        limits_from({"max_batch": 0})

"""Features: which turn is the flagged one, and what the pipeline reads of a flag."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from classifiers.features import EMPTY, FIELDS, Example, example_from_flag, to_columns, to_fields


def msg(role: str, content: str) -> dict:
    return {"role": role, "content": content}


CHAT = [
    msg("system", "You are a terse assistant."),
    msg("user", "Name a prime number."),
    msg("assistant", "Nine is prime."),
    msg("user", "Are you sure?"),
    msg("assistant", "Yes, nine is prime."),
    msg("user", "Thanks."),
]


def test_given_index_picks_that_turn_and_the_user_turn_before_it():
    fields = to_fields(Example(messages=CHAT, message_index=2))
    assert fields["flagged"] == "Nine is prime."
    assert fields["previous_user"] == "Name a prime number."
    assert fields["context"] == "system: You are a terse assistant."
    assert fields["role"] == "assistant"


def test_context_holds_earlier_turns_and_ignores_later_ones():
    fields = to_fields(Example(messages=CHAT, message_index=4))
    assert fields["flagged"] == "Yes, nine is prime."
    assert fields["previous_user"] == "Are you sure?"
    assert fields["context"] == (
        "system: You are a terse assistant.\nuser: Name a prime number.\nassistant: Nine is prime."
    )
    assert "Thanks" not in " ".join(fields.values())


def test_without_index_the_last_assistant_turn_is_flagged():
    fields = to_fields(Example(messages=CHAT))
    assert fields["flagged"] == "Yes, nine is prime."
    assert fields["previous_user"] == "Are you sure?"


def test_a_lone_user_message_is_the_flagged_one():
    fields = to_fields(Example(messages=[msg("user", "some posted text")]))
    assert fields == {
        "flagged": "some posted text",
        "previous_user": "",
        "context": "",
        "reason": "",
        "category": "",
        "role": "user",
    }


def test_without_assistant_turn_the_last_message_is_flagged():
    messages = [msg("user", "first"), msg("tool", "lookup result"), msg("user", "second")]
    fields = to_fields(Example(messages=messages))
    assert fields["flagged"] == "second"
    assert fields["previous_user"] == "first"
    assert fields["context"] == ""


def test_out_of_range_and_negative_indices_are_clamped():
    assert to_fields(Example(messages=CHAT, message_index=99))["flagged"] == "Thanks."
    assert to_fields(Example(messages=CHAT, message_index=-2))["flagged"] == "Yes, nine is prime."
    assert to_fields(Example(messages=CHAT, message_index=-99))["role"] == "system"


def test_example_from_flag_reads_the_flag_and_ignores_metadata_and_label():
    line = {
        "external_id": "c-1",
        "messages": CHAT,
        "flag": {"reason": "wrong maths", "category": "factual_error", "message_index": 2},
        "metadata": {"model": "m-1"},
        "label": "factual_error",
    }
    ex = example_from_flag(line)
    assert ex == Example(
        messages=CHAT, reason="wrong maths", category="factual_error", message_index=2
    )
    fields = to_fields(ex)
    assert fields["reason"] == "wrong maths"
    assert fields["category"] == "factual_error"
    assert "m-1" not in " ".join(fields.values())


def test_example_from_flag_without_flag_object():
    ex = example_from_flag({"messages": [msg("user", "hi")]})
    assert ex == Example(messages=[msg("user", "hi")])


@pytest.mark.parametrize(
    "line",
    [
        {"messages": []},
        {"messages": "hi"},
        {"messages": [msg("user", "hi")], "flag": {"message_index": "2"}},
        {"messages": [msg("user", "hi")], "flag": {"message_index": True}},
        {"messages": [msg("user", "hi")], "flag": "oops"},
    ],
)
def test_example_from_flag_rejects_malformed_lines(line):
    with pytest.raises(ValueError):
        example_from_flag(line)


def test_to_columns_orders_fields_and_marks_empty_ones():
    columns = to_columns([Example(messages=[msg("user", "text")], category="privacy")])
    assert columns.shape == (1, len(FIELDS))
    row = dict(zip(FIELDS, columns[0], strict=True))
    assert row["flagged"] == "text"
    assert row["category"] == "privacy"
    assert row["previous_user"] == row["context"] == row["reason"] == EMPTY
    assert to_columns([]).shape == (0, len(FIELDS))


roles = st.sampled_from(["system", "user", "assistant", "tool"])
messages = st.lists(
    st.fixed_dictionaries({"role": roles, "content": st.text(max_size=20)}), min_size=1, max_size=8
)


@given(messages=messages, index=st.none() | st.integers(-20, 20))
def test_flagged_turn_is_always_one_of_the_messages(messages, index):
    fields = to_fields(Example(messages=messages, message_index=index))
    assert fields["flagged"] in [m["content"] for m in messages]
    assert set(fields) == set(FIELDS)
    assert to_columns([Example(messages=messages, message_index=index)]).shape == (1, len(FIELDS))

"""Exports: selection, final labels, formats, split, reproducibility, redaction, audit."""

import csv
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from models import (
    AuditEvent,
    Category,
    ClassifierVersion,
    Decision,
    DecisionKind,
    Escalation,
    Item,
    ItemStatus,
    TaxonomyVersion,
)
from review.errors import Invalid
from review.extensions import db
from review.services import exports
from review.services.exports import ExportFilters
from review.services.flagformat import parse_flag
from review.services.ingest import add_flags
from review.services.labels import TaxonomyHistory

JAN = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
FEB = datetime(2026, 2, 10, 12, 0, tzinfo=UTC)
MAR = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
CHAT_ROLES = {"system", "user", "assistant", "tool"}


def add_item(
    session: Any,
    external_id: str,
    label: str,
    *,
    question: str | None = None,
    answer: str | None = None,
    reason: str = "wrong",
    category: str | None = None,
    decided_at: datetime = FEB,
    message_index: int | None = 1,
) -> Item:
    """Add one labelled flag (its label becomes a first decision) and return the item."""
    raw = {
        "external_id": external_id,
        "messages": [
            {"role": "user", "content": question or f"question {external_id}"},
            {"role": "assistant", "content": answer or f"answer {external_id}"},
        ],
        "flag": {"reason": reason, "category": category, "message_index": message_index},
        "metadata": {"model": "chat-v7"},
        "label": label,
    }
    add_flags(session, None, [parse_flag(raw)], labeled=True)
    item = session.scalar(sa.select(Item).where(Item.external_id == external_id))
    item.decided_at = decided_at
    session.execute(
        sa.update(Decision).where(Decision.item_id == item.id).values(decided_at=decided_at)
    )
    return item


def add_decision(
    session: Any,
    item: Item,
    label: str,
    kind: DecisionKind,
    corrected: str | None = None,
    at: datetime = MAR,
) -> None:
    """Add a later decision and make the item's final label follow it."""
    session.add(
        Decision(
            item_id=item.id, label=label, kind=kind, corrected_response=corrected, decided_at=at
        )
    )
    item.final_label = label


def seed(session: Any) -> dict[str, Item]:
    """Build the fixture every test reads; see each line for what it exercises."""
    session.add(Category(slug="old_slug", name="Old", active=False, position=99))
    session.flush()
    items = {}
    # Second review agrees and corrects: in chat, SFT and DPO; agreed.
    items["a"] = add_item(
        session,
        "conv-a",
        "factual_error",
        question="Capital of Australia?",
        answer="Sydney.",
        decided_at=JAN,
    )
    add_decision(session, items["a"], "factual_error", DecisionKind.SECOND, "Canberra.")
    # No error, as it came: in chat and SFT, not DPO.
    items["b"] = add_item(session, "conv-b", "no_error")
    # An error without a correction: only in jsonl, csv and parquet.
    items["c"] = add_item(session, "conv-c", "harmful_advice", decided_at=MAR)
    # Disagreement settled by adjudication (which corrects): final bias, agreed.
    items["d"] = add_item(session, "conv-d", "factual_error")
    add_decision(session, items["d"], "bias", DecisionKind.SECOND)
    add_decision(session, items["d"], "bias", DecisionKind.ADJUDICATION, "A fair answer.")
    # Disagreement without adjudication: the second review wins; not agreed.
    items["e"] = add_item(session, "conv-e", "factual_error")
    add_decision(session, items["e"], "other", DecisionKind.SECOND)
    # An open escalation: left out unless asked for.
    items["f"] = add_item(session, "conv-f", "low_quality")
    session.add(Escalation(item_id=items["f"].id, note="look"))
    # A label later merged into privacy (taxonomy version 2).
    items["h"] = add_item(session, "conv-h", "old_slug")
    session.add(TaxonomyVersion(id=2, summary="merge", mapping={"old_slug": "privacy"}))
    # The same conversation as conv-b under another id: a duplicate, never exported.
    add_flags(
        session,
        None,
        [
            parse_flag(
                {
                    "external_id": "conv-g",
                    "messages": [
                        {"role": "user", "content": "question conv-b"},
                        {"role": "assistant", "content": "answer conv-b"},
                    ],
                    "label": "bias",
                }
            )
        ],
        labeled=True,
    )
    session.commit()
    return items


def lines(session: Any, stream: exports.ExportStream) -> list[dict[str, Any]]:
    data = b"".join(stream.chunks(session))
    return [json.loads(line) for line in data.decode().splitlines()]


def export(session: Any, fmt: str, **filters: Any) -> list[dict[str, Any]]:
    return lines(session, exports.stream_export(session, None, fmt, ExportFilters(**filters)))


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["external_id"] for r in rows]


def test_jsonl_selects_decided_items_in_order_with_computed_labels(session) -> None:
    seed(session)
    rows = export(session, "jsonl")
    assert ids(rows) == ["conv-a", "conv-b", "conv-c", "conv-d", "conv-e", "conv-h"]
    by_id = {r["external_id"]: r for r in rows}
    assert by_id["conv-d"]["final_label"] == "bias"
    assert by_id["conv-e"]["final_label"] == "other"
    assert by_id["conv-h"]["final_label"] == "privacy"
    assert by_id["conv-h"]["decisions"][0]["original_label"] == "old_slug"
    assert {r["taxonomy_version"] for r in rows} == {2}
    a = by_id["conv-a"]
    assert a["label"] == "factual_error" and a["corrected_response"] == "Canberra."
    assert [d["kind"] for d in a["decisions"]] == ["first", "second"]
    assert a["flag"]["message_index"] == 1 and a["metadata"] == {"model": "chat-v7"}
    assert a["messages"][1] == {"role": "assistant", "content": "Sydney."}


def test_computed_label_wins_over_a_stale_item_column(session) -> None:
    items = seed(session)
    items["e"].final_label = "factual_error"  # stale: the second review said other
    session.commit()
    rows = export(session, "jsonl", categories=("other",))
    assert ids(rows) == ["conv-e"]


def test_filters_are_exact(session) -> None:
    items = seed(session)
    version = ClassifierVersion(artifact=b"", labels=[])
    session.add(version)
    session.flush()
    items["c"].prediction_version_id = version.id
    session.commit()
    assert ids(export(session, "jsonl", include_escalated=True)) == [
        "conv-a",
        "conv-b",
        "conv-c",
        "conv-d",
        "conv-e",
        "conv-f",
        "conv-h",
    ]
    assert ids(export(session, "jsonl", categories=("privacy",))) == ["conv-h"]
    assert ids(export(session, "jsonl", categories=("bias", "no_error"))) == ["conv-b", "conv-d"]
    assert ids(export(session, "jsonl", agreed=True)) == ["conv-a", "conv-d"]
    assert ids(export(session, "jsonl", since=MAR)) == ["conv-c"]
    until = exports.parse_date("2026-01-10", "until", end=True)
    assert ids(export(session, "jsonl", until=until)) == ["conv-a"]
    assert ids(export(session, "jsonl", model_version=version.id)) == ["conv-c"]


def test_timestamps_are_utc_iso_text_and_ties_go_to_the_later_decision(
    session, tmp_path: Path
) -> None:
    item = add_item(session, "conv-t", "factual_error", decided_at=FEB.replace(microsecond=5))
    # Same kind, same time: the later row wins; the adjudication, though older, beats both.
    add_decision(session, item, "bias", DecisionKind.SECOND, at=MAR)
    add_decision(session, item, "other", DecisionKind.SECOND, at=MAR)
    session.commit()
    row = export(session, "jsonl")[0]
    assert row["decided_at"] == "2026-02-10T12:00:00.000005+00:00"
    assert [d["decided_at"] for d in row["decisions"]] == [
        "2026-02-10T12:00:00.000005+00:00",
        "2026-03-10T12:00:00+00:00",
        "2026-03-10T12:00:00+00:00",
    ]
    assert row["final_label"] == "other"
    stored = session.scalars(sa.select(Decision.decided_at).where(Decision.item_id == item.id))
    assert row["flag"]["flagged_at"] == item.first_flagged_at.isoformat()
    assert sorted(d["decided_at"] for d in row["decisions"]) == sorted(
        d.isoformat() for d in stored
    )
    add_decision(session, item, "privacy", DecisionKind.ADJUDICATION, at=JAN)
    session.commit()
    assert export(session, "jsonl")[0]["final_label"] == "privacy"
    exports.write_export(session, None, "parquet", ExportFilters(), f"{tmp_path}/p/")
    typed = pq.read_table(tmp_path / "p" / "data.parquet").to_pylist()[0]
    assert typed["decided_at"] == FEB.replace(microsecond=5)
    assert typed["decisions"][0]["decided_at"] == JAN  # decisions go out in time order


def test_resolved_escalation_is_exported(session) -> None:
    seed(session)
    session.execute(sa.update(Escalation).values(resolved_at=MAR))
    session.commit()
    assert "conv-f" in ids(export(session, "jsonl"))


def is_chat_example(messages: list[dict[str, Any]]) -> bool:
    """The shape chat fine-tuning accepts: valid roles, non-empty text, ends with the assistant."""
    return (
        bool(messages)
        and all(set(m) == {"role", "content"} for m in messages)
        and all(m["role"] in CHAT_ROLES for m in messages)
        and all(isinstance(m["content"], str) and m["content"].strip() for m in messages)
        and messages[-1]["role"] == "assistant"
        and any(m["role"] == "user" for m in messages)
    )


def test_openai_chat_lines_are_valid_examples(session) -> None:
    seed(session)
    rows = export(session, "openai-chat")
    assert all(set(r) == {"messages"} and is_chat_example(r["messages"]) for r in rows)
    texts = [r["messages"][-1]["content"] for r in rows]
    # a and d corrected, b as it came; c (error, no correction), e and h left out.
    assert texts == ["Canberra.", "answer conv-b", "A fair answer."]
    assert rows[0]["messages"][0]["content"] == "Capital of Australia?"


def test_sft_pairs_prompt_with_corrected_completion(session) -> None:
    seed(session)
    rows = export(session, "sft")
    assert len(rows) == 3
    assert rows[0] == {
        "prompt": [{"role": "user", "content": "Capital of Australia?"}],
        "completion": [{"role": "assistant", "content": "Canberra."}],
    }


def test_dpo_rows_prefer_the_correction(session) -> None:
    items = seed(session)
    # A correction identical to the original answer teaches no preference: left out.
    add_decision(session, items["c"], "harmful_advice", DecisionKind.SECOND, "answer conv-c")
    session.commit()
    rows = export(session, "dpo")
    assert len(rows) == 2
    for row in rows:
        assert set(row) == {"prompt", "chosen", "rejected"}
        assert row["chosen"][0]["role"] == row["rejected"][0]["role"] == "assistant"
        assert row["chosen"][0]["content"].strip()
        assert row["chosen"] != row["rejected"]
        assert row["prompt"] and row["prompt"][-1]["role"] == "user"
    assert rows[0]["rejected"][0]["content"] == "Sydney."


def test_flagged_turn_is_the_flag_index_or_the_last_assistant_message(session) -> None:
    raw = {
        "external_id": "multi",
        "messages": [
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "bad"},
            {"role": "user", "content": "q2"},
            {"role": "assistant", "content": "fine"},
        ],
        "flag": {"reason": "x", "message_index": 1},
        "label": "factual_error",
    }
    add_flags(session, None, [parse_flag(raw)], labeled=True)
    item = session.scalar(sa.select(Item))
    add_decision(session, item, "factual_error", DecisionKind.SECOND, "good")
    session.commit()
    (row,) = export(session, "dpo")
    assert row["prompt"] == [{"role": "user", "content": "q1"}]
    assert row["rejected"][0]["content"] == "bad"
    assert exports.flagged_turn(raw["messages"], 0) == 3
    assert exports.flagged_turn([{"role": "user", "content": "q"}], None) is None


def test_csv_neutralises_formula_cells(session) -> None:
    add_item(
        session,
        "=cmd|' /C calc'!A0",
        "other",
        question='=HYPERLINK("http://evil")',
        reason="+1+1",
        category="@SUM(A1)",
    )
    add_item(session, "plain", "other", reason="\tTab", question="-2+3")
    session.commit()
    stream = exports.stream_export(session, None, "csv", ExportFilters())
    data = b"".join(stream.chunks(session)).decode()
    rows = list(csv.DictReader(io.StringIO(data)))
    assert [r["external_id"] for r in rows] == ["'=cmd|' /C calc'!A0", "plain"]
    assert rows[0]["flag_reason"] == "'+1+1"
    assert rows[0]["flag_category"] == "'@SUM(A1)"
    assert rows[0]["text"].startswith("user: =HYPERLINK")
    assert rows[1]["flag_reason"] == "'\tTab"
    for row in rows:
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in row.values())
    assert exports.neutralise("\rx") == "'\rx" and exports.neutralise("a=b") == "a=b"


def test_parquet_has_a_typed_schema(session, tmp_path: Path) -> None:
    seed(session)
    manifest = exports.write_export(session, None, "parquet", ExportFilters(), f"{tmp_path}/x/")
    table = pq.read_table(tmp_path / "x" / "data.parquet")
    assert table.schema.equals(exports.parquet_schema(False))
    assert table.column("external_id").to_pylist()[0] == "conv-a"
    assert str(table.schema.field("messages").type) == (
        "list<element: struct<role: string, content: string>>"
    )
    first = table.slice(0, 1).to_pylist()[0]
    assert first["decisions"][1]["corrected_response"] == "Canberra."
    assert json.loads(first["metadata"]) == {"model": "chat-v7"}
    assert manifest["files"][0]["rows"] == table.num_rows == 6


def test_split_is_by_hash_and_exact(session, tmp_path: Path) -> None:
    for n in range(40):
        add_item(session, f"s-{n:02d}", "other")
    session.commit()
    manifest = exports.write_export(
        session, None, "jsonl", ExportFilters(split=0.7), tmp_path / "out.jsonl"
    )

    def expected(external_id: str) -> str:
        fraction = int(hashlib.sha256(external_id.encode()).hexdigest()[:16], 16) / 2**64
        return "train" if fraction < 0.7 else "validation"

    for split in ("train", "validation"):
        path = tmp_path / f"out-{split}.jsonl"
        got = [json.loads(x)["external_id"] for x in path.read_text().splitlines()]
        want = [f"s-{n:02d}" for n in range(40) if expected(f"s-{n:02d}") == split]
        assert got == want and got
        assert manifest["counts"]["by_split"][split] == len(want)
    assert {f["path"] for f in manifest["files"]} == {"out-train.jsonl", "out-validation.jsonl"}
    # Streamed, each row carries its split; part= streams one side only.
    tagged = export(session, "jsonl", split=0.7)
    assert all(r["split"] == expected(r["external_id"]) for r in tagged)
    only = export(session, "jsonl", split=0.7, part="validation")
    assert ids(only) == [r["external_id"] for r in tagged if r["split"] == "validation"]
    assert all("split" not in r for r in only)


@pytest.mark.parametrize("fmt", exports.FORMATS)
def test_reexport_is_byte_identical(session, tmp_path: Path, fmt: str) -> None:
    seed(session)
    first = exports.write_export(session, None, fmt, ExportFilters(split=0.5), f"{tmp_path}/1/")
    second = exports.write_export(session, None, fmt, ExportFilters(split=0.5), f"{tmp_path}/2/")
    assert first["files"] == second["files"]
    for entry in first["files"]:
        one = (tmp_path / "1" / entry["path"]).read_bytes()
        assert one == (tmp_path / "2" / entry["path"]).read_bytes()
        assert hashlib.sha256(one).hexdigest() == entry["sha256"]
    saved = json.loads((tmp_path / "1" / "manifest.json").read_text())
    assert saved["filters"]["split"] == 0.5 and saved["taxonomy_version"] == 2
    assert saved["flagq_version"] and saved["created_at"]
    card = (tmp_path / "1" / "README.md").read_text()
    assert fmt in card and first["files"][0]["sha256"] in card


def test_manifest_counts_per_label_and_split(session, tmp_path: Path) -> None:
    seed(session)
    manifest = exports.write_export(session, None, "jsonl", ExportFilters(), tmp_path / "a.jsonl")
    assert manifest["counts"]["by_label"] == {
        "bias": 1,
        "factual_error": 1,
        "harmful_advice": 1,
        "no_error": 1,
        "other": 1,
        "privacy": 1,
    }
    assert (tmp_path / "a.manifest.json").exists() and (tmp_path / "a.md").exists()
    preview = exports.preview(session, "dpo", ExportFilters(split=0.5))
    assert preview.stats.rows == 2 and preview.stats.skipped == 4
    assert sum(preview.stats.by_split.values()) == 2


PII = (
    "Mail me at jane.doe+work@example.co.uk or call (415) 555-2671 / +44 20 7946 0958. "
    "Card 4111 1111 1111 1111, server 192.168.10.20 and 2001:db8::8a2e:370:7334, "
    "see https://example.com/reset?token=abc123."
)


def test_redaction_masks_pii_and_leaves_ordinary_numbers() -> None:
    redacted = exports.redact_text(PII)
    assert redacted == (
        "Mail me at [EMAIL] or call [PHONE] / [PHONE]. "
        "Card [CARD], server [IP] and [IP], "
        "see [URL]."
    )
    ordinary = (
        "On 2026-01-10 at 12:30:45 I paid $1,234.56 for 3 items; order 123456789; "
        "4111 1111 1111 1112 fails Luhn; 999.300.1.1 is no address; ratio 3:2."
    )
    assert exports.redact_text(ordinary) == ordinary


def test_redacted_export_masks_every_text_field(session) -> None:
    item = add_item(session, "pii", "privacy", question=PII, reason="leaks a@b.io")
    add_decision(session, item, "privacy", DecisionKind.SECOND, "Write to help@example.org")
    session.commit()
    (row,) = export(session, "jsonl", redact=True)
    dumped = json.dumps(row)
    for secret in ("jane.doe", "555-2671", "4111", "192.168", "example.com", "a@b.io", "help@"):
        assert secret not in dumped
    assert row["flag"]["reason"] == "leaks [EMAIL]"
    assert row["corrected_response"] == "Write to [EMAIL]"
    (plain,) = export(session, "jsonl")
    assert "jane.doe" in json.dumps(plain)


def test_export_is_audited(session) -> None:
    seed(session)
    stream = exports.stream_export(session, None, "sft", ExportFilters(categories=("bias",)))
    b"".join(stream.chunks(session))
    summary = stream.finish(session)
    session.commit()
    event = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "export.create"))
    assert event.changes["format"] == "sft"
    assert event.changes["filters"]["categories"] == ["bias"]
    assert event.changes["counts"]["rows"] == 1 and event.changes["complete"] is True
    assert event.changes["sha256"] == summary["sha256"]


def test_bad_input_is_invalid(session) -> None:
    with pytest.raises(Invalid, match="format"):
        exports.stream_export(session, None, "xml", ExportFilters())
    with pytest.raises(Invalid, match="unknown category"):
        exports.stream_export(session, None, "jsonl", ExportFilters(categories=("nope",)))
    with pytest.raises(Invalid, match="since"):
        exports.parse_date("2026-13-01", "since")
    with pytest.raises(Invalid, match="split"):
        exports.parse_split("1.5")
    with pytest.raises(Invalid, match="part"):
        exports.stream_export(session, None, "jsonl", ExportFilters(part="train"))


def test_taxonomy_mapping_follows_the_chain(session) -> None:
    session.add_all(
        [
            TaxonomyVersion(id=2, mapping={"a": "b"}),
            TaxonomyVersion(id=3, mapping={"b": "c"}),
            TaxonomyVersion(id=4, mapping={"x": "y", "y": "x"}),  # a cycle stops, not loops
        ]
    )
    session.flush()
    taxonomy = TaxonomyHistory.load(session)
    assert taxonomy.map("a", 1) == "c"
    assert taxonomy.map("b", 2) == "c"
    assert taxonomy.map("a", 3) == "a"  # made after the merge: a new 'a'
    assert taxonomy.map("x", 1) == "y"


def test_queries_per_export_do_not_grow_with_items(session, monkeypatch) -> None:
    def count(n: int) -> int:
        statements: list[str] = []

        def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        sa.event.listen(db.engine, "before_cursor_execute", listen)
        try:
            export(session, "jsonl")
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listen)
        assert len(export(session, "jsonl")) == n
        return len([s for s in statements if s.lstrip().upper().startswith("SELECT")])

    monkeypatch.setattr(exports.selection, "BATCH_SIZE", 50)
    for n in range(3):
        add_item(session, f"q-{n}", "other")
    session.commit()
    few = count(3)
    for n in range(3, 45):
        add_item(session, f"q-{n}", "other")
    session.commit()
    assert count(45) == few
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Item.id)).where(Item.status == ItemStatus.DECIDED)
        )
        == 45
    )


def test_a_new_format_is_one_registry_entry(session, tmp_path: Path, monkeypatch) -> None:
    seed(session)

    def tsv_record(entry: exports.Entry, _version: int) -> dict[str, Any] | None:
        return None if entry.final_label == "bias" else {"id": entry.external_id}

    class TsvWriter(exports.Writer):
        def start(self) -> bytes:
            return b"id\n"

        def write(self, record: dict[str, Any]) -> bytes:
            return f"{record['id']}\t{record.get('split', '')}\n".encode()

    tsv = exports.Format(
        "tsv", "tsv", "text/tab-separated-values", tsv_record, lambda _split: TsvWriter(), True
    )
    monkeypatch.setitem(exports.REGISTRY, "tsv", tsv)
    manifest = exports.write_export(session, None, "tsv", ExportFilters(), f"{tmp_path}/t/")
    written = (tmp_path / "t" / "data.tsv").read_text().splitlines()
    assert written == ["id", "conv-a\t", "conv-b\t", "conv-c\t", "conv-e\t", "conv-h\t"]
    assert manifest["counts"]["rows"] == 5 and manifest["counts"]["skipped"] == 1
    assert exports.preview(session, "tsv", ExportFilters()).stats.skipped == 1
    stream = exports.stream_export(session, None, "tsv", ExportFilters(split=0.5))
    assert stream.filename == "flagq-tsv.tsv" and stream.media_type.startswith("text/tab")
    streamed = b"".join(stream.chunks(session)).decode().splitlines()
    assert [line.split("\t")[1] for line in streamed[1:]] == [
        exports.split_of(line.split("\t")[0], 0.5) for line in streamed[1:]
    ]

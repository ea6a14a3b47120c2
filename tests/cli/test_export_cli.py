"""flagq export: stdout streaming, files with a manifest, loading with datasets and pyarrow."""

import csv
import io
import json
from pathlib import Path
from typing import Any

import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from services.test_exports import is_chat_example, seed

from models import AuditEvent
from review.extensions import db

from factories import run_cli

# The loader the trainers use: datasets' packaged builders, with no network.
LOADERS = {"jsonl": "json", "openai-chat": "json", "sft": "json", "dpo": "json"}


def load_with_datasets(fmt: str, files: dict[str, str], cache: Path) -> Any:
    datasets = pytest.importorskip("datasets")
    builder = LOADERS.get(fmt, fmt)
    return datasets.load_dataset(builder, data_files=files, cache_dir=str(cache))


def test_stdout_streams_jsonl_and_audits(app) -> None:
    seed(db.session)
    result = run_cli(app, "export", "--format", "jsonl", "--category", "bias")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["external_id"] for r in rows] == ["conv-d"]
    assert "exported 1 rows" in result.stderr
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "export.create"))
    assert event is not None and event.changes["counts"]["rows"] == 1


@pytest.mark.parametrize("fmt", ["jsonl", "openai-chat", "sft", "dpo", "csv", "parquet"])
def test_files_load_with_datasets_and_pyarrow(app, tmp_path: Path, fmt: str) -> None:
    seed(db.session)
    out = tmp_path / "export"
    result = run_cli(app, "export", "--format", fmt, "--split", "0.5", "-o", f"{out}/")
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.stdout)
    assert manifest == json.loads((out / "manifest.json").read_text())
    files = {f["split"]: str(out / f["path"]) for f in manifest["files"]}
    assert set(files) == {"train", "validation"}
    loaded = load_with_datasets(fmt, files, tmp_path / "cache")
    rows = manifest["counts"]["by_split"]
    assert {s: loaded[s].num_rows for s in loaded} == {s: rows.get(s, 0) for s in files}
    for split, path in files.items():
        if fmt == "parquet":
            table = pq.read_table(path)
        elif fmt == "csv":
            table = pa_csv.read_csv(path)
        else:
            table = pa_json.read_json(path) if rows.get(split) else None
        if table is not None:
            assert table.num_rows == rows.get(split, 0)
    if fmt == "openai-chat":
        for split in loaded:
            assert all(is_chat_example(r["messages"]) for r in loaded[split])


def test_csv_reads_back_neutralised(app, tmp_path: Path) -> None:
    seed(db.session)
    result = run_cli(app, "export", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 6 and rows[0]["external_id"] == "conv-a"


def test_same_export_twice_is_byte_identical(app, tmp_path: Path) -> None:
    seed(db.session)
    run_cli(app, "export", "--format", "parquet", "-o", str(tmp_path / "one.parquet"))
    run_cli(app, "export", "--format", "parquet", "-o", str(tmp_path / "two.parquet"))
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "two.parquet").read_bytes()
    one = json.loads((tmp_path / "one.manifest.json").read_text())
    two = json.loads((tmp_path / "two.manifest.json").read_text())
    assert one["files"][0]["sha256"] == two["files"][0]["sha256"]
    first = run_cli(app, "export", "--format", "dpo", "--redact").stdout_bytes
    assert first == run_cli(app, "export", "--format", "dpo", "--redact").stdout_bytes


def test_unknown_format_is_a_usage_error(app) -> None:
    result = run_cli(app, "export", "--format", "xml")
    assert result.exit_code == 2
    assert "xml" in result.output


def test_bad_date_is_an_input_error(app) -> None:
    result = run_cli(app, "export", "--format", "jsonl", "--since", "last tuesday")
    assert result.exit_code == 1
    assert "since" in result.output and "last tuesday" in result.output


def test_bad_split_and_unknown_category_are_input_errors(app) -> None:
    assert run_cli(app, "export", "--format", "jsonl", "--split", "2").exit_code == 1
    result = run_cli(app, "export", "--format", "jsonl", "--category", "nope")
    assert result.exit_code == 1 and "unknown category" in result.output

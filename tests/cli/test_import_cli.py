"""flagq import: formats, per-line errors, --strict, idempotence, crash safety, concurrency."""

import gzip
import json
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa

from models import Category, Decision, Flag, Item, ItemStatus
from review.extensions import db

from factories import FLAGQ, committed_rows, run_cli, script_env


def native(i: int, **extra: object) -> dict:
    return {
        "external_id": f"syn-{i}",
        "messages": [
            {"role": "user", "content": f"synthetic question number {i}"},
            {"role": "assistant", "content": f"synthetic answer number {i}"},
        ],
        "flag": {"reason": "seems wrong", "category": "factual_error"},
        **extra,
    }


def write(path: Path, lines: list[object]) -> Path:
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    path.write_text(text, encoding="utf-8")
    return path


def count(model: type) -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def summary(result) -> dict:
    return json.loads(result.stdout)


def test_native_openai_and_sharegpt_lines_in_one_file(app, tmp_path) -> None:
    path = write(
        tmp_path / "mixed.jsonl",
        [
            native(1),
            {
                "messages": [
                    {"role": "user", "content": "openai style"},
                    {"role": "assistant", "content": "reply"},
                ]
            },
            {
                "id": "sg-1",
                "conversations": [
                    {"from": "human", "value": "sharegpt style"},
                    {"from": "gpt", "value": "reply"},
                ],
            },
            "",
        ],
    )
    result = run_cli(app, "import", str(path))
    assert result.exit_code == 0, result.output
    assert summary(result) == {
        "inserted": 3,
        "duplicates": 0,
        "rejected": 0,
        "errors": [],
        "new_items": 3,
        "linked": 0,
    }
    ids = set(db.session.scalars(sa.select(Item.external_id)))
    assert "syn-1" in ids and "sg-1" in ids and any(i.startswith("sha256:") for i in ids)
    assert set(db.session.scalars(sa.select(Flag.source))) == {"import"}


def test_gzip_file_and_stdin(app, tmp_path) -> None:
    packed = tmp_path / "flags.jsonl.gz"
    packed.write_bytes(
        gzip.compress("".join(json.dumps(native(i)) + "\n" for i in range(5)).encode())
    )
    result = run_cli(app, "import", str(packed))
    assert result.exit_code == 0, result.output
    assert summary(result)["inserted"] == 5
    piped = run_cli(
        app, "import", "-", input="".join(json.dumps(native(i)) + "\n" for i in range(3, 8))
    )
    assert piped.exit_code == 0, piped.output
    assert summary(piped)["inserted"] == 3 and summary(piped)["duplicates"] == 2
    assert count(Item) == 8


def test_reimport_inserts_nothing_new(app, tmp_path) -> None:
    path = write(tmp_path / "a.jsonl", [native(i) for i in range(30)] + [native(0)])
    first = summary(run_cli(app, "import", str(path)))
    assert (first["inserted"], first["duplicates"]) == (30, 1)
    second = summary(run_cli(app, "import", str(path)))
    assert (second["inserted"], second["duplicates"], second["new_items"]) == (0, 31, 0)
    assert count(Item) == 30 and count(Flag) == 30


def test_bad_lines_are_reported_by_number_and_skipped(app, tmp_path) -> None:
    bad_role = native(2)
    bad_role["messages"][1]["role"] = "robot"
    path = tmp_path / "bad.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                json.dumps(native(1)).encode(),
                json.dumps(bad_role).encode(),
                b"{not json",
                b"\xff\xfe\x00 binary",
                json.dumps(native(5, messages=[])).encode(),
                json.dumps(native(6, metadata=[1])).encode(),
                json.dumps(native(7)).encode(),
                b"[" * 200_000,
                json.dumps(native(9, flag={"flagged_at": "tomorrow"})).encode(),
                b'"just a string"',
            ]
        )
        + b"\n"
    )
    result = run_cli(app, "import", str(path))
    assert result.exit_code == 1
    report = summary(result)
    assert report["inserted"] == 2 and report["rejected"] == 8
    assert [e["line"] for e in report["errors"]] == [2, 3, 4, 5, 6, 8, 9, 10]
    assert report["errors"][0]["error"].startswith("messages[1].role: unknown role")
    assert "UTF-8" in report["errors"][2]["error"]
    assert report["errors"][3]["error"].startswith("messages:")
    assert "nested too deeply" in report["errors"][5]["error"]
    assert report["errors"][6]["error"].startswith("flag.flagged_at")
    assert all("file" not in e for e in report["errors"])
    assert count(Item) == 2


def test_strict_writes_nothing_on_any_bad_line(app, tmp_path) -> None:
    lines = [native(i) for i in range(2500)]
    lines[2300] = {"external_id": "x"}
    path = write(tmp_path / "strict.jsonl", lines)
    result = run_cli(app, "import", str(path), "--strict", "--batch-size", "1000")
    assert result.exit_code == 1
    report = summary(result)
    assert report["rejected"] == 1 and report["errors"][0]["line"] == 2301
    assert report["inserted"] == 0
    assert count(Item) == 0 and count(Flag) == 0
    good = write(tmp_path / "good.jsonl", [native(i) for i in range(2500)])
    result = run_cli(app, "import", str(good), "--strict", "--batch-size", "1000")
    assert result.exit_code == 0 and summary(result)["inserted"] == 2500
    assert count(Item) == 2500


def test_several_files_name_the_file_in_each_error(app, tmp_path) -> None:
    a = write(tmp_path / "a.jsonl", [native(1), {"messages": "no"}])
    b = write(tmp_path / "b.jsonl", ["oops", native(2)])
    result = run_cli(app, "import", str(a), str(b))
    assert result.exit_code == 1
    assert summary(result)["errors"] == [
        {"file": str(a), "line": 2, "error": summary(result)["errors"][0]["error"]},
        {"file": str(b), "line": 1, "error": summary(result)["errors"][1]["error"]},
    ]
    assert count(Item) == 2


def test_labeled_lines_become_decisions_and_unknown_labels_are_per_line(app, tmp_path) -> None:
    path = write(
        tmp_path / "labels.jsonl",
        [
            native(1, label="factual_error"),
            native(2, label="invented_kind"),
            native(3, label="no_error"),
            native(4),
        ],
    )
    result = run_cli(app, "import", str(path), "--labeled")
    assert result.exit_code == 1
    report = summary(result)
    assert report["inserted"] == 3 and [e["line"] for e in report["errors"]] == [2]
    assert "unknown category 'invented_kind'" in report["errors"][0]["error"]
    rows = db.session.execute(
        sa.select(Item.external_id, Item.final_label).where(Item.status == ItemStatus.DECIDED)
    )
    decided = {external_id: label for external_id, label in rows}
    assert decided == {"syn-1": "factual_error", "syn-3": "no_error"}
    assert count(Decision) == 2

    created = run_cli(app, "import", str(path), "--labeled", "--create-categories")
    assert created.exit_code == 0, created.output
    assert summary(created)["inserted"] == 1
    assert db.session.scalar(sa.select(Category.name).where(Category.slug == "invented_kind"))
    bad_slug = write(tmp_path / "slug.jsonl", [native(9, label="Not A Slug")])
    refused = run_cli(app, "import", str(bad_slug), "--labeled", "--create-categories")
    assert refused.exit_code == 1 and "valid category slug" in refused.stdout


def test_labels_are_ignored_without_labeled(app, tmp_path) -> None:
    path = write(tmp_path / "l.jsonl", [native(1, label="anything at all")])
    assert run_cli(app, "import", str(path)).exit_code == 0
    assert count(Decision) == 0


def test_a_huge_line_is_skipped_with_bounded_reads(app, tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "FLAGQ_LIMITS", {"max_line_bytes": 10_000})
    path = tmp_path / "long.jsonl"
    with path.open("wb") as f:
        f.write((json.dumps(native(1)) + "\n").encode())
        f.write(b'{"external_id": "big", "pad": "' + b"x" * 3_000_000 + b'"}\n')
        f.write(b"y" * 50_000)  # a last line without a newline, longer than the limit too
        f.write(b"\n" + json.dumps(native(4)).encode())  # and a last line with no newline
    result = run_cli(app, "import", str(path))
    report = summary(result)
    assert result.exit_code == 1
    assert [(e["line"], e["error"]) for e in report["errors"]] == [
        (2, "line: longer than 10000 bytes"),
        (3, "line: longer than 10000 bytes"),
    ]
    assert report["inserted"] == 2


def test_truncated_gzip_is_an_error_not_a_crash(app, tmp_path) -> None:
    whole = gzip.compress("".join(json.dumps(native(i)) + "\n" for i in range(2000)).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])
    result = run_cli(app, "import", str(path))
    assert result.exit_code == 1
    assert "cannot be read further" in summary(result)["errors"][-1]["error"]


def test_missing_file_is_a_usage_error(app, tmp_path) -> None:
    assert run_cli(app, "import", str(tmp_path / "nope.jsonl")).exit_code == 2
    assert run_cli(app, "import").exit_code == 2


def _env(app, tmp_path: Path) -> dict[str, str]:
    return script_env(app.config["DATABASE_URL"], tmp_path)


@pytest.fixture
def big(app):
    """Clear a big import quickly afterwards (the shared wipe is slow on large SQLite tables)."""
    yield
    db.session.rollback()
    url = sa.make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        # A plain sqlite3 connection has foreign keys off: no per-row reference checks.
        with closing(sqlite3.connect(url.database, timeout=30)) as conn:
            conn.executescript(
                "DELETE FROM predictions; DELETE FROM decisions; DELETE FROM flags;"
                "DELETE FROM items; DELETE FROM audit_events;"
            )


def test_killed_import_loses_at_most_a_batch_and_a_rerun_completes(app, big, tmp_path) -> None:
    db.session.commit()
    total = 30_000
    path = write(tmp_path / "big.jsonl", [native(i) for i in range(total)])
    env = _env(app, tmp_path)
    command = [FLAGQ, "import", str(path), "--batch-size", "1000"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while committed_rows(Flag) < 1000 and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.01)
        assert process.poll() is None, "the import finished before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
        process.stdout.close()
        process.stderr.close()
    committed = committed_rows(Flag)
    assert 1000 <= committed < total and committed % 1000 == 0
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["inserted"] == total - committed and report["duplicates"] == committed
    assert count(Item) == total and count(Flag) == total
    distinct = db.session.scalar(sa.select(sa.func.count(sa.distinct(Item.external_id))))
    assert distinct == total


def test_two_overlapping_imports_at_once(app, big, tmp_path) -> None:
    db.session.commit()
    # Overlapping ids in opposite orders, and shared conversations under new ids.
    first = write(tmp_path / "one.jsonl", [native(i) for i in range(0, 6000)])
    second = write(
        tmp_path / "two.jsonl",
        [native(i) for i in reversed(range(3000, 9000))]
        + [native(i, external_id=f"copy-{i}") for i in range(0, 300)],
    )
    env = _env(app, tmp_path)
    processes = [
        subprocess.Popen(
            [FLAGQ, "import", str(p), "--batch-size", "500"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in (first, second)
    ]
    outputs = [p.communicate(timeout=300) for p in processes]
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    reports = [json.loads(out) for out, _ in outputs]
    assert sum(r["inserted"] for r in reports) == 9300
    assert sum(r["duplicates"] for r in reports) == 3000
    assert count(Item) == 9300 and count(Flag) == 9300
    assert db.session.scalar(sa.select(sa.func.count(sa.distinct(Item.external_id)))) == 9300
    copies = db.session.scalars(sa.select(Item).where(Item.external_id.like("copy-%"))).all()
    assert len(copies) == 300


def test_gzip_on_stdin_through_the_console_script(app, tmp_path) -> None:
    db.session.commit()
    packed = gzip.compress("".join(json.dumps(native(i)) + "\n" for i in range(10)).encode())
    result = subprocess.run(
        [FLAGQ, "import", "-"],
        input=packed,
        env=_env(app, tmp_path),
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["inserted"] == 10
    assert result.stderr == b""  # no progress bar when stderr is not a terminal


@pytest.mark.parametrize("flagged_at", ["2026-11-20T14:03:00Z", None])
def test_the_same_line_twice_in_a_file_is_one_flag(app, tmp_path, flagged_at) -> None:
    line = native(1, flag={"reason": "r", "flagged_at": flagged_at})
    path = write(tmp_path / "twice.jsonl", [line, line])
    report = summary(run_cli(app, "import", str(path)))
    assert (report["inserted"], report["duplicates"]) == (1, 1)

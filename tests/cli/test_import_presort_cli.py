"""flagq import with an active model: the pre-sort helper process and what the import does
when it is late, wrong or gone. The results must not depend on it."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from classifiers import training as classifier
from models import AuditEvent, Decision, Flag, Item, Prediction
from review.cli import ahead
from review.cli import ingest as ingest_cli
from review.extensions import db
from review.services import presort
from review.services.flagformat import Limits, parse_line

from factories import FLAGQ, active_version, committed_rows, run_cli, script_env

TOPICS = ["soup", "the moon", "tax forms", "a bike", "python", "knitting", "rent", "a cold"]


def line(i: int) -> dict:
    topic = TOPICS[i % len(TOPICS)]
    return {
        "external_id": f"pre-{i}",
        "messages": [
            {"role": "user", "content": f"How do I deal with {topic}? Case {i}."},
            {"role": "assistant", "content": f"<b>Step {i % 5}</b>: ignore {topic} entirely."},
        ],
        "flag": {"reason": ["wrong", "rude", "unsafe"][i % 3]},
    }


def write(path: Path, n: int, start: int = 0) -> Path:
    path.write_text("".join(json.dumps(line(i)) + "\n" for i in range(start, start + n)))
    return path


@pytest.fixture
def model(app):
    """An active classifier version, trained on decided demo flags."""
    return active_version(db.session, seed=5)


@pytest.fixture
def helper_anywhere(monkeypatch):
    """Let the helper run whatever the machine's core count."""
    monkeypatch.setattr(ahead, "usable", lambda paths: "-" not in paths)


@pytest.fixture
def helpers(helper_anywhere, monkeypatch) -> list[ahead.PredictionsAhead]:
    """Every helper the imports start, in order."""
    started: list[ahead.PredictionsAhead] = []

    class Recorded(ahead.PredictionsAhead):
        def __init__(self, *args) -> None:
            super().__init__(*args)
            started.append(self)

    monkeypatch.setattr(ahead, "PredictionsAhead", Recorded)
    return started


def predictions(version_id: int) -> dict[str, tuple]:
    """Return each imported item's stored prediction: label, confidence, queue, scores."""
    db.session.rollback()
    rows = db.session.execute(
        sa.select(
            Item.external_id,
            Item.predicted_label,
            Item.predicted_confidence,
            Item.queue_category,
            Prediction.scores,
        )
        .join(Prediction, Prediction.item_id == Item.id)
        .where(Prediction.version_id == version_id, Item.external_id.like("pre-%"))
    )
    return {external_id: tuple(rest) for external_id, *rest in rows}


def forget_imports() -> None:
    db.session.rollback()
    imported = sa.select(Item.id).where(Item.external_id.like("pre-%"))
    for model in (Prediction, Decision, Flag):
        db.session.execute(sa.delete(model).where(model.item_id.in_(imported)))
    db.session.execute(sa.delete(Item).where(Item.external_id.like("pre-%")))
    db.session.execute(sa.delete(AuditEvent))
    db.session.commit()


def test_the_helpers_predictions_are_those_the_import_makes_itself(
    app, model, helpers, tmp_path, monkeypatch
) -> None:
    # Two files, the second named twice: the helper keys its answers by file and line.
    files = [str(write(tmp_path / "a.jsonl", 1300)), str(write(tmp_path / "b.jsonl", 1300, 1300))]
    paths = [*files, files[1]]
    result = run_cli(app, "import", *paths, "--no-predict-ahead", "--batch-size", "700")
    assert result.exit_code == 0, result.output
    own = predictions(model.id)
    assert len(own) == 2600
    forget_imports()

    monkeypatch.setattr(presort, "_model_cache", {})
    result = run_cli(app, "import", *paths, "--batch-size", "700")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["duplicates"] == 1300
    assert len(helpers) == 1 and helpers[0].failure is None
    # Every prediction came from the helper: this process never loaded the model.
    assert presort._model_cache == {}
    assert predictions(model.id) == own


def test_while_the_helper_is_behind_the_import_reads_ahead_and_still_commits_by_batch(
    app, model, helper_anywhere, tmp_path, monkeypatch
) -> None:
    # A helper that never seems ready: batches wait until READ_AHEAD_BATCHES are read.
    monkeypatch.setattr(ahead.PredictionsAhead, "answered", lambda self, through: False)
    queued = []
    flush = ingest_cli.Importer.flush

    def recorded(self) -> None:
        queued.append(len(self.batch))
        flush(self)

    monkeypatch.setattr(ingest_cli.Importer, "flush", recorded)
    path = write(tmp_path / "flags.jsonl", 2300)
    result = run_cli(app, "import", str(path), "--batch-size", "300")
    # Memory stays bounded: a batch is stored once READ_AHEAD_BATCHES batches wait.
    assert max(queued) == 300 * ingest_cli.READ_AHEAD_BATCHES
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["inserted"] == 2300
    assert len(predictions(model.id)) == 2300
    batches = db.session.scalars(
        sa.select(AuditEvent.changes).where(AuditEvent.action == "flags.ingest")
    ).all()
    imported = sorted(b["flags"] for b in batches if b["source"] == "import")
    assert imported == [200] + [300] * 7


def test_strict_stops_the_helper_at_the_first_bad_line_and_writes_nothing(
    app, model, helpers, tmp_path
) -> None:
    path = write(tmp_path / "flags.jsonl", 1500)
    with path.open("a") as f:
        f.write("{not json\n")
    write(tmp_path / "more.jsonl", 500, 1500)
    result = run_cli(
        app, "import", str(path), str(tmp_path / "more.jsonl"), "--strict", "--batch-size", "400"
    )
    assert result.exit_code == 1
    assert json.loads(result.stdout)["inserted"] == 0
    assert predictions(model.id) == {}
    assert len(helpers) == 1 and not helpers[0].running


def test_a_helper_that_fails_leaves_the_predicting_to_the_import(
    app, model, helper_anywhere, tmp_path, monkeypatch
) -> None:
    class Broken(ahead.PredictionsAhead):
        def __init__(self, paths, limits, version_id, artifact) -> None:
            super().__init__(paths, limits, version_id, b"not a model")

    monkeypatch.setattr(ahead, "PredictionsAhead", Broken)
    path = write(tmp_path / "flags.jsonl", 1200)
    result = run_cli(app, "import", str(path), "--batch-size", "500")
    assert result.exit_code == 0, result.output
    assert "pre-sort helper stopped" in result.stderr
    assert "this process predicts the rest" in result.stderr
    assert json.loads(result.stdout)["inserted"] == 1200
    assert len(predictions(model.id)) == 1200


def test_lines_the_helper_did_not_see_as_they_are_now_are_not_taken(app, model, tmp_path) -> None:
    path = write(tmp_path / "flags.jsonl", 50)
    artifact = presort.artifact(db.session, model.id, model.created_at)
    helper = ahead.PredictionsAhead([str(path)], Limits(), model.id, artifact)
    try:
        raw = path.read_bytes().splitlines(keepends=True)
        lines = [(0, n, ahead.crc(text)) for n, text in enumerate(raw, start=1)]
        wrong = [(0, 7, ahead.crc(b"another line\n")), lines[10]]
        got = helper.get(model.id, wrong)
        assert got[0] is None and got[1] is not None
        assert helper.get(model.id + 1, lines[:3]) == [None, None, None]  # another version
        answered = helper.get(model.id, lines)
    finally:
        helper.close()
    own = classifier.predict(
        presort.active_model(db.session).model,
        [presort.example_of(parse_line(text)) for text in raw],
    )
    assert answered == own
    assert helper.failure is None


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
def test_a_killed_import_takes_its_helper_with_it(app, model, tmp_path) -> None:
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("the helper runs on two or more cores only")
    # Far more lines than the helper predicts within the deadline below, so a helper that
    # outlived the import could not pass by simply finishing its work.
    path = write(tmp_path / "flags.jsonl", 200_000)
    process = subprocess.Popen(
        [FLAGQ, "import", str(path)],
        env=script_env(app.config["DATABASE_URL"], tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Killed once a batch is stored, i.e. once the helper is answering.
        deadline = time.monotonic() + 120
        while committed_rows(Item) < 1000 and time.monotonic() < deadline:
            assert process.poll() is None, "the import ended before it stored a batch"
            time.sleep(0.05)
        children = _children(process.pid)
        assert children, "no helper process runs"
        assert not any(_gone(pid) for pid in children)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    # Its next answer meets a closed pipe: well under a second on an idle machine. The bound
    # leaves room for a loaded one (a starved helper was seen to need more than 3 s); finishing
    # would take far longer, and the helper may run at most 30 frames ahead of a dead reader.
    deadline = time.monotonic() + 10
    while not all(_gone(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_gone(pid) for pid in children)

"""flagq train / classify / models through the command group."""

import json
from pathlib import Path

from review.extensions import db
from review.services import demo

from factories import TRAIN_REPORT_KEYS, run_cli


def _seed() -> None:
    demo.add_demo_flags(db.session, None, count=240, seed=11, decided_share=1.0)
    db.session.commit()


def test_train_prints_metrics_and_models_list_shows_it(app) -> None:
    _seed()
    result = run_cli(app, "train")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["version"] == 1 and report["activated"] is True
    assert set(report) >= TRAIN_REPORT_KEYS
    matrix = report["confusion_matrix"]
    assert len(matrix["matrix"]) == len(matrix["labels"])
    listed = json.loads(run_cli(app, "models", "list").stdout)
    assert [v["version"] for v in listed] == [1] and listed[0]["active"] is True
    shown = json.loads(run_cli(app, "models", "show", "1").stdout)
    assert shown["metrics"]["macro_f1"] == report["macro_f1"]
    assert run_cli(app, "models", "show", "7").exit_code == 1


def test_train_without_decisions_fails_clearly(app) -> None:
    result = run_cli(app, "train")
    assert result.exit_code == 1
    assert "cannot train yet" in result.output


def test_activate_rolls_back(app) -> None:
    _seed()
    run_cli(app, "train")
    run_cli(app, "train", "--force", "--seed", "4")
    result = run_cli(app, "models", "activate", "1")
    assert result.exit_code == 0, result.output
    listed = {v["version"]: v["active"] for v in json.loads(run_cli(app, "models", "list").stdout)}
    assert listed == {1: True, 2: False}
    assert run_cli(app, "models", "activate", "9").exit_code == 1


def test_classify_output_shape_and_bad_lines(app, tmp_path: Path) -> None:
    _seed()
    run_cli(app, "train")
    lines = [
        json.dumps(
            {
                "external_id": "a",
                "messages": [
                    {"role": "user", "content": "When did the Berlin Wall fall?"},
                    {"role": "assistant", "content": "The Berlin Wall fell in 1975."},
                ],
            }
        ),
        "{not json",
        json.dumps({"messages": [{"role": "user", "content": "hello"}]}),
        json.dumps({"external_id": "b", "messages": [{"role": "robot", "content": "x"}]}),
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    result = run_cli(app, "classify", str(source))
    assert result.exit_code == 1
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert len(out) == 4  # one line out per line in, errors included
    first = out[0]
    assert first["external_id"] == "a"
    assert abs(sum(first["scores"].values()) - 1) < 1e-3
    assert first["label"] is None or first["label"] in first["scores"]
    assert 0 <= first["confidence"] <= 1
    assert out[1]["error"] and out[1]["line"] == 2
    assert out[2]["external_id"].startswith("sha256:")
    assert "messages[0].role" in out[3]["error"] and out[3]["line"] == 4
    assert "line 2" in result.stderr


def test_classify_without_model(app, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("{}\n")
    result = run_cli(app, "classify", str(source))
    assert result.exit_code == 1 and "no active classifier" in result.output

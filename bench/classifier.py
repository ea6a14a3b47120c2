"""Print the classifier's quality next to a plain baseline, and its speed, on the dev data.

Usage: .venv/bin/python bench/classifier.py [DEV_DIR] [--train-n 50000] [--predict-n 20000]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Before any other import: the project root replaces this script's folder, whose other scripts
# would shadow stdlib modules (bench/queue.py is not the queue module, which sklearn imports).
sys.path[0] = str(Path(__file__).resolve().parent.parent)

# One core for every BLAS/OpenMP pool, set before numpy loads, so the speed figures mean
# "conversations per second per core".
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from classifiers.features import Example, example_from_flag  # noqa: E402
from classifiers.metrics import expected_calibration_error  # noqa: E402
from classifiers.persistence import dumps, loads  # noqa: E402
from classifiers.training import fit, predict, train  # noqa: E402


def read(path: Path) -> tuple[list[dict], list[Example], list[str]]:
    """Return the lines of a labelled JSONL file, their Examples and their labels."""
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return lines, [example_from_flag(line) for line in lines], [line["label"] for line in lines]


def baseline(lines: list[dict], labels: list[str], test: list[int]) -> tuple[float, float, float]:
    """Return macro-F1, accuracy and ECE of the README's reference model on the same split."""
    texts = ["\n".join(f"{m['role']}: {m['content']}" for m in line["messages"]) for line in lines]
    held_out = set(test)
    train_idx = [i for i in range(len(lines)) if i not in held_out]
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(max_iter=1000)
    )
    model.fit([texts[i] for i in train_idx], [labels[i] for i in train_idx])
    proba = model.predict_proba([texts[i] for i in test])
    pred = model.classes_[proba.argmax(axis=1)]
    truth = np.array([labels[i] for i in test], dtype=object)
    return (
        float(f1_score(truth, pred, average="macro", zero_division=0.0)),
        float(accuracy_score(truth, pred)),
        expected_calibration_error(proba.max(axis=1), pred == truth),
    )


def main() -> None:
    """Run the quality table, then the speed figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dev_dir", nargs="?", default="/work/shared/data/dev", type=Path)
    parser.add_argument("--train-n", type=int, default=50_000)
    parser.add_argument("--predict-n", type=int, default=20_000)
    args = parser.parse_args()

    files = sorted(args.dev_dir.glob("*.jsonl"))
    if not files:
        parser.error(f"no *.jsonl files in {args.dev_dir}")
    print("quality: stratified 70/30 split, seed 0; abstentions count as wrong")
    header = f"{'file':<26} {'model':<9} {'macro-F1':>8} {'accuracy':>8} {'ECE':>6} {'abstain':>7}"
    print(header)
    print("-" * len(header))
    everything: list[Example] = []
    all_labels: list[str] = []
    for path in files:
        lines, examples, labels = read(path)
        everything += examples
        all_labels += labels
        trained = train(examples, labels)
        m = trained.metrics
        f1, acc, ece = baseline(lines, labels, trained.test_indices)
        print(
            f"{path.name:<26} {'flagq':<9} {m['macro_f1']:>8.3f} {m['accuracy']:>8.3f} "
            f"{m['ece']:>6.3f} {m['abstained']:>7d}"
        )
        print(f"{'':<26} {'plain LR':<9} {f1:>8.3f} {acc:>8.3f} {ece:>6.3f} {'-':>7}")

    with threadpool_limits(limits=1):
        model = fit(everything, all_labels)
        batch = list(itertools.islice(itertools.cycle(everything), args.predict_n))
        start = time.perf_counter()
        predict(model, batch)
        per_second = len(batch) / (time.perf_counter() - start)

        big = list(itertools.islice(itertools.cycle(everything), args.train_n))
        big_labels = list(itertools.islice(itertools.cycle(all_labels), args.train_n))
        start = time.perf_counter()
        trained = train(big, big_labels)
        train_seconds = time.perf_counter() - start
        start = time.perf_counter()
        artifact = dumps(trained.model)
        loads(artifact)
        roundtrip = time.perf_counter() - start

    print()
    print("speed (one thread)")
    print(f"  predict(): {per_second:,.0f} conversations/s ({len(batch):,} items)")
    print(f"  train(): {train_seconds:.1f} s on {args.train_n:,} items (dev lines cycled)")
    print(f"  artifact: {len(artifact) / 1e6:.1f} MB, dumps+loads {roundtrip:.2f} s")


if __name__ == "__main__":
    main()

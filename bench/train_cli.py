"""Time `flagq train` on N decisions against fitting the same pipeline on in-memory lists,
and `flagq classify` throughput on one core.

Usage: .venv/bin/python bench/train_cli.py [--decisions 50000] [--classify 20000]
       [--database-url URL] [--dev-dir /work/shared/data/dev]
Dev lines are cycled with fresh external ids; the database is a temporary SQLite file unless
--database-url is given (its tables are dropped and re-made first).
"""

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# bench/queue.py would shadow the standard library queue module that sklearn needs.
sys.path[:] = [p for p in sys.path if Path(p).resolve() != ROOT / "bench"]
FLAGQ = str(Path(sys.executable).with_name("flagq"))
ONE_CORE = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def cycled_lines(dev_dir: Path, count: int, prefix: str) -> list[str]:
    """Return count dev lines with fresh external ids and contents, cycling through the files."""
    source = [
        line
        for path in sorted(dev_dir.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line
    ]
    out = []
    for n, line in zip(range(count), itertools.cycle(source), strict=False):
        row = json.loads(line)
        row["external_id"] = f"{prefix}-{n}"
        # A distinct conversation per line: otherwise import links the repeats as duplicates
        # of the first copy and `flagq train` would see only the distinct dev conversations.
        row["messages"][-1]["content"] += f" [{prefix}-{n}]"
        out.append(json.dumps(row))
    return out


def run(args: list[str], env: dict[str, str], stdin: str | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        ["taskset", "-c", "0", FLAGQ, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"flagq {' '.join(args)} failed: {done.stderr[-2000:]}")
    return elapsed, done.stdout


def in_memory_fit(lines: list[str]) -> float:
    """Fit the same pipeline (train() with its split) on in-memory lists; return seconds."""
    sys.path.insert(0, str(ROOT))
    from classifiers.features import example_from_flag
    from classifiers.training import train

    rows = [json.loads(x) for x in lines]
    examples = [example_from_flag(r) for r in rows]
    labels = [r["label"] for r in rows]
    start = time.perf_counter()
    train(examples, labels)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=50_000)
    parser.add_argument("--classify", type=int, default=20_000)
    parser.add_argument("--database-url")
    parser.add_argument("--dev-dir", type=Path, default=Path("/work/shared/data/dev"))
    args = parser.parse_args()
    os.environ.update(ONE_CORE)
    os.sched_setaffinity(0, {0})  # the in-memory fit gets the same one core as the CLI
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        env = {**os.environ, "DATABASE_URL": url, "FLAGQ_INSTANCE": tmp, **ONE_CORE}
        if args.database_url:
            import sqlalchemy as sa

            engine = sa.create_engine(url)
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
                conn.exec_driver_sql("CREATE SCHEMA public")
            engine.dispose()
        subprocess.run([FLAGQ, "db", "upgrade"], env=env, check=True, capture_output=True)
        lines = cycled_lines(args.dev_dir, args.decisions, "bench")
        data = Path(tmp) / "decisions.jsonl"
        data.write_text("\n".join(lines) + "\n")
        subprocess.run(
            [FLAGQ, "import", str(data), "--labeled"], env=env, check=True, capture_output=True
        )

        train_s, out = run(["train"], env)
        report = json.loads(out)
        trained_on = report["n_train"] + report["n_test"]
        if trained_on != args.decisions:
            sys.exit(f"flagq train saw {trained_on} decisions, not {args.decisions}")
        memory_s = in_memory_fit(lines)

        to_classify = "\n".join(cycled_lines(args.dev_dir, args.classify, "cls")) + "\n"
        classify_s, out = run(["classify", "-"], env, stdin=to_classify)
        startup_s, _ = run(["models", "list"], env)  # process start-up and model-free work
        assert len(out.splitlines()) == args.classify

    print(f"engine: {url.split(':')[0]}   decisions: {args.decisions:,}")
    print(
        f"flagq train (one core, incl. start-up and DB read): {train_s:7.1f} s  "
        f"macro-F1 {report['macro_f1']:.3f}"
    )
    print(f"same pipeline on in-memory lists:                  {memory_s:7.1f} s")
    print(f"ratio train/in-memory: {train_s / memory_s:.2f}x (target <= 2x)")
    per_s = args.classify / classify_s
    net = args.classify / max(classify_s - startup_s, 1e-9)
    print(
        f"flagq classify: {per_s:,.0f} conversations/s end to end on one core "
        f"({net:,.0f}/s without the {startup_s:.1f} s process start-up; target >= 2,000)"
    )


if __name__ == "__main__":
    main()

"""Print export speed (rows/s per format) and peak memory on synthetic reviewed items.

Each export runs in a subprocess of its own, so its peak RSS is its own; next to it, in the same
run, a raw streamed SELECT of the same item rows plus json.dumps per row (the floor to compare
jsonl with). SQLite always (a temporary file); PostgreSQL too with --database-url, whose schema
is DROPPED and rebuilt (use a scratch database such as test_exports).

Usage: .venv/bin/python bench/export.py [--quick] [--sizes 100000,1000000]
       [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test_exports]
"""

from __future__ import annotations

import sys

# sys.path[0] is bench/, which holds scripts named like stdlib modules (queue.py).
sys.path.pop(0)

import argparse
import json
import os
import resource
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from models import Decision, DecisionKind, Flag, Item, ItemStatus
from review import create_app
from review.extensions import alembic, db
from review.services import exports

LABELS = ["factual_error", "harmful_advice", "bias", "low_quality", "other", "no_error"]
CHUNK = 5000


def make_app(url: str, instance: str) -> Any:
    return create_app(
        {"DATABASE_URL": url, "SECRET_KEY": "bench-" + "x" * 40, "INSTANCE_PATH": instance}
    )


def setup(url: str, n: int, instance: str) -> None:
    """Create an empty schema and bulk-insert n reviewed items with flags and decisions."""
    if url.startswith("postgresql"):
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()
    app = make_app(url, instance)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with app.app_context():
        alembic.upgrade()
        with db.engine.begin() as conn:
            for low in range(0, n, CHUNK):
                ids = range(low + 1, min(n, low + CHUNK) + 1)
                items, flags, decisions = [], [], []
                for i in ids:
                    label = LABELS[i % len(LABELS)]
                    at = start + timedelta(seconds=i)
                    items.append(
                        {
                            "id": i,
                            "external_id": f"bench-{i:08d}",
                            "messages": [
                                {"role": "user", "content": f"Question number {i}: " + "why " * 30},
                                {"role": "assistant", "content": f"Answer {i}. " + "because " * 30},
                            ],
                            "meta": {"model": "chat-v7", "surface": "web"},
                            "content_hash": f"{i:064x}",
                            "status": ItemStatus.DECIDED,
                            "final_label": label,
                            "decided_at": at,
                            "first_flagged_at": at,
                            "created_at": at,
                            "flag_count": 1,
                            "priority": 0.0,
                        }
                    )
                    flags.append(
                        {
                            "item_id": i,
                            "reason": "the answer is wrong",
                            "category": label,
                            "flagged_at": at,
                            "message_index": 1,
                            "source": "bench",
                            "fingerprint": f"{i:064x}",
                            "created_at": at,
                        }
                    )
                    decisions.append(
                        {
                            "item_id": i,
                            "label": label,
                            "kind": DecisionKind.FIRST,
                            "note": "",
                            "corrected_response": None if i % 3 else f"A better answer {i}.",
                            "decided_at": at,
                            "taxonomy_version": 1,
                            "sensitive": False,
                        }
                    )
                conn.execute(sa.insert(Item), items)
                conn.execute(sa.insert(Flag), flags)
                conn.execute(sa.insert(Decision), decisions)
        db.engine.dispose()


def worker(url: str, instance: str, fmt: str) -> None:
    """Run one export (or the raw baseline) to /dev/null; print rows, seconds and peak RSS."""
    app = make_app(url, instance)
    with app.app_context(), open(os.devnull, "wb") as sink:
        began = time.perf_counter()
        rows = 0
        if fmt in ("raw", "raw-joined"):
            columns = [
                Item.id,
                Item.external_id,
                Item.messages,
                Item.meta.label("meta"),
                Item.final_label,
                Item.decided_at,
                Item.prediction_version_id,
            ]
            query = sa.select(*columns)
            if fmt == "raw-joined":
                # The same rows the export reads: each item with its flag and its decision.
                query = (
                    sa.select(
                        *columns,
                        Flag.reason,
                        Flag.category,
                        Flag.flagged_at,
                        Flag.message_index,
                        Decision.label,
                        Decision.kind,
                        Decision.note,
                        Decision.corrected_response,
                        Decision.decided_at.label("decision_at"),
                        Decision.taxonomy_version,
                    )
                    .join(Flag, Flag.item_id == Item.id)
                    .join(Decision, Decision.item_id == Item.id)
                )
            query = query.where(Item.status == ItemStatus.DECIDED).order_by(Item.external_id)
            with db.engine.connect() as conn:
                result = conn.execution_options(stream_results=True, yield_per=1000).execute(query)
                for row in result:
                    record = row._asdict()
                    sink.write(
                        (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode()
                    )
                    rows += 1
        else:
            stream = exports.stream_export(db.session, None, fmt, exports.ExportFilters())
            for chunk in stream.chunks(db.session):
                sink.write(chunk)
            rows = stream.stats.rows
        seconds = time.perf_counter() - began
        db.engine.dispose()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_mib": peak_kib / 1024}))


def run_worker(url: str, instance: str, fmt: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", fmt, "--database-url", url, "--instance", instance],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10k and 100k items")
    parser.add_argument("--sizes", help="comma-separated item counts (default 100000,1000000)")
    parser.add_argument("--database-url", help="PostgreSQL scratch database (schema is dropped)")
    parser.add_argument("--formats", default=",".join(exports.FORMATS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--instance", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.database_url, args.instance, args.worker)
        return
    sizes = [
        int(s)
        for s in (args.sizes or ("10000,100000" if args.quick else "100000,1000000")).split(",")
    ]
    formats = ["raw", "raw-joined", *args.formats.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="flagq-bench-export-"))
    engines = [("sqlite", f"sqlite:///{tmp / 'bench.db'}")]
    if args.database_url:
        engines.append(("postgresql", args.database_url))
    results: dict[tuple[str, int, str], dict[str, Any]] = {}
    print(
        f"{'engine':<11}{'items':>9}  {'format':<12}{'rows':>9}{'rows/s':>10}"
        f"{'vs raw':>8}{'peak MiB':>10}"
    )
    for engine, url in engines:
        for n in sizes:
            if engine == "sqlite":
                (tmp / "bench.db").unlink(missing_ok=True)
            began = time.perf_counter()
            setup(url, n, str(tmp))
            print(
                f"# {engine}: {n} items inserted in {time.perf_counter() - began:.0f}s",
                file=sys.stderr,
            )
            for fmt in formats:
                r = run_worker(url, str(tmp), fmt)
                results[(engine, n, fmt)] = r
                rate = r["rows"] / r["seconds"]
                raw = results[(engine, n, "raw-joined")] if fmt != "raw" else r
                ratio = rate / (raw["rows"] / raw["seconds"])
                print(
                    f"{engine:<11}{n:>9}  {fmt:<12}{r['rows']:>9}{rate:>10.0f}"
                    f"{ratio:>7.2f}x{r['peak_mib']:>10.0f}",
                    flush=True,
                )
    print()
    small, large = sizes[0], sizes[-1]
    for engine, _url in engines:
        for fmt in formats:
            ratio = (
                results[(engine, large, fmt)]["peak_mib"]
                / results[(engine, small, fmt)]["peak_mib"]
            )
            print(f"peak RSS {engine} {fmt}: {large} items / {small} items = {ratio:.2f}x")


if __name__ == "__main__":
    main()

"""Print ingest speed and memory: flagq import and the API against a raw insert of the same rows.

Usage: .venv/bin/python bench/ingest.py [--database-url URL] [--lines 100000] [--quick]

Lines are real dev lines (DEV_DIR, read by path, never copied) cycled with fresh ids and a
per-line suffix on the last message, so every line is a new conversation. The raw rate is the
floor any importer pays: json.loads each line, json.dumps its JSON columns, and one executemany
(SQLite) or COPY (PostgreSQL) for items, a select of their ids, then the same for flags.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Before any other import: the project root replaces this script's folder, whose other scripts
# would shadow stdlib modules (bench/queue.py is not the queue module).
ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import sqlalchemy as sa  # noqa: E402

BIN = Path(sys.executable).parent
DEV_DIR = Path("/work/shared/data/dev")
API_BATCH = 500
API_WORKERS = 4


def dev_lines() -> list[dict]:
    lines = []
    for path in sorted(DEV_DIR.glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            lines += [json.loads(line) for line in f if line.strip()]
    return lines


def synthetic(base: list[dict], n: int, tag: str) -> Iterator[dict]:
    """Yield n lines cycled from base, each with a fresh id and a distinct conversation."""
    for i in range(n):
        line = base[i % len(base)]
        messages = [dict(m) for m in line["messages"]]
        messages[-1]["content"] += f" [{tag}-{i}]"
        yield {
            "external_id": f"{tag}-{i}",
            "messages": messages,
            "flag": {"reason": "bench", "category": line.get("label")},
            "metadata": line.get("metadata", {}),
        }


def write_file(path: Path, base: list[dict], n: int, tag: str) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for line in synthetic(base, n, tag):
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    return path


def env_for(url: str, instance: Path) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": url, "FLAGQ_INSTANCE": str(instance)}
    env.pop("SECRET_KEY", None)
    return env


def fresh_database(url: str, instance: Path) -> None:
    """Empty the database and migrate it."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
    else:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()
    subprocess.run(
        [str(BIN / "flagq"), "db", "upgrade"],
        env=env_for(url, instance),
        check=True,
        capture_output=True,
    )


def raw_insert(url: str, path: Path) -> float:
    """Return seconds to store the file's rows directly (executemany or COPY)."""
    now = datetime.now(UTC)
    start = time.perf_counter()
    items, flags = [], []
    with path.open(encoding="utf-8") as f:
        for text in f:
            line = json.loads(text)
            digest = hashlib.sha256(
                json.dumps([[m["role"], m["content"]] for m in line["messages"]]).encode()
            ).hexdigest()
            items.append(
                (
                    line["external_id"],
                    json.dumps(line["messages"]),
                    json.dumps(line["metadata"]),
                    digest,
                )
            )
            flag = line["flag"]
            flags.append((line["external_id"], flag["reason"], flag["category"], digest))
    engine = sa.create_engine(url)
    stamp = now if engine.dialect.name == "postgresql" else now.replace(tzinfo=None)
    with engine.begin() as conn:
        dbapi = conn.connection.dbapi_connection
        cursor = dbapi.cursor()
        columns = (
            "external_id, messages, metadata, content_hash, status, priority, "
            "flag_count, first_flagged_at, created_at"
        )
        flag_columns = "item_id, reason, category, flagged_at, source, fingerprint, created_at"
        item_rows = [(*row, "open", 0.0, 1, stamp, stamp) for row in items]
        if engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY items ({columns}) FROM STDIN") as copy:
                for row in item_rows:
                    copy.write_row(row)
        else:
            cursor.executemany(
                f"INSERT INTO items ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                item_rows,
            )
        cursor.execute("SELECT external_id, id FROM items")
        ids = dict(cursor.fetchall())
        flag_rows = [(ids[e], r, c, stamp, "import", d, stamp) for e, r, c, d in flags]
        if engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY flags ({flag_columns}) FROM STDIN") as copy:
                for row in flag_rows:
                    copy.write_row(row)
        else:
            cursor.executemany(
                f"INSERT INTO flags ({flag_columns}) VALUES (?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                flag_rows,
            )
    engine.dispose()
    return time.perf_counter() - start


def timed_import(url: str, instance: Path, path: Path) -> tuple[float, int, dict]:
    """Run flagq import in a child; return (seconds, peak RSS in KiB, summary)."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "t = time.perf_counter() - t\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(t, rss, p.returncode); print(p.stdout.strip()); print(p.stderr[-2000:])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(BIN / "flagq"), "import", str(path)],
        env=env_for(url, instance),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    seconds, rss, code = out[0].split()
    if code != "0":
        raise SystemExit(f"flagq import failed: {out[1:]}")
    return float(seconds), int(rss), json.loads(out[1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api_run(url: str, instance: Path, path: Path) -> float:
    """POST the file in batches of API_BATCH to gunicorn (4 workers); return seconds."""
    env = env_for(url, instance)
    flagq = str(BIN / "flagq")
    subprocess.run(
        [flagq, "users", "create", "bench-bot", "--role", "integration"],
        env=env,
        check=True,
        capture_output=True,
    )
    token = subprocess.run(
        [flagq, "tokens", "create", "--user", "bench-bot"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", "4", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)  # noqa: S310
                break
            except OSError:
                time.sleep(0.1)
        bodies = []
        with path.open(encoding="utf-8") as f:
            batch: list[str] = []
            for text in f:
                batch.append(text.rstrip("\n"))
                if len(batch) == API_BATCH:
                    bodies.append(('{"flags": [' + ",".join(batch) + "]}").encode())
                    batch = []
            if batch:
                bodies.append(('{"flags": [' + ",".join(batch) + "]}").encode())

        def post(body: bytes) -> int:
            request = urllib.request.Request(  # noqa: S310
                f"{base}/api/v1/flags",
                data=body,
                method="POST",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310
                return response.status

        start = time.perf_counter()
        with ThreadPoolExecutor(API_WORKERS) as pool:
            statuses = list(pool.map(post, bodies))
        seconds = time.perf_counter() - start
        if set(statuses) != {201}:
            raise SystemExit(f"API answered {set(statuses)}")
        return seconds
    finally:
        server.terminate()
        server.wait(timeout=30)


def activate_model(url: str, base: list[dict], n_train: int) -> None:
    """Train a small model on dev lines and store it as the active classifier version."""
    from classifiers import features, persistence, training
    from models import ClassifierVersion

    sample = base[:: max(1, len(base) // n_train)][:n_train]
    trained = training.train(
        [features.example_from_flag(line) for line in sample], [line["label"] for line in sample]
    )
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(ClassifierVersion.__table__),
            [
                {
                    "artifact": persistence.dumps(trained.model),
                    "metrics": {},
                    "labels": trained.model.labels,
                    "active": True,
                    "created_at": datetime.now(UTC),
                    "taxonomy_version": 1,
                    "data_fingerprint": "bench",
                    "activated_at": datetime.now(UTC),
                }
            ],
        )
    engine.dispose()


def bench(url: str, n: int, base: list[dict], work: Path, rss_lines: int, train: bool) -> None:
    instance = work / "instance"
    instance.mkdir(exist_ok=True)
    name = sa.make_url(url).get_backend_name()
    path = write_file(work / "lines.jsonl", base, n, "b")
    print(f"\n== {name}: {n} lines ({path.stat().st_size / 1e6:.0f} MB)")

    fresh_database(url, instance)
    raw = n / raw_insert(url, path)
    print(f"raw insert ({'COPY' if name == 'postgresql' else 'executemany'}): {raw:,.0f} lines/s")

    fresh_database(url, instance)
    empty = write_file(work / "empty.jsonl", base, 0, "e")
    startup, _, _ = timed_import(url, instance, empty)
    seconds, rss_small, report = timed_import(url, instance, path)
    rate = n / (seconds - startup)
    print(
        f"flagq import, no pre-sort: {rate:,.0f} lines/s ({seconds:.1f} s incl. "
        f"{startup:.1f} s start-up; inserted {report['inserted']}) -> {rate / raw:.2f}x raw "
        f"(target >= 0.5x)"
    )
    again, _, report = timed_import(url, instance, path)
    print(
        f"re-import of the same file: {n / (again - startup):,.0f} lines/s, inserted "
        f"{report['inserted']}, duplicates {report['duplicates']}"
    )

    if train:
        fresh_database(url, instance)
        activate_model(url, base, 3000)
        seconds, _, report = timed_import(url, instance, path)
        rate = n / (seconds - startup)
        print(
            f"flagq import, pre-sort (active model): {rate:,.0f} lines/s "
            f"-> {rate / raw:.2f}x raw (target >= 0.3x)"
        )

    fresh_database(url, instance)
    seconds = api_run(url, instance, path)
    rate = n / seconds
    print(
        f"API, batches of {API_BATCH}, {API_WORKERS} clients, gunicorn 4 workers: "
        f"{rate:,.0f} lines/s -> {rate / raw:.2f}x raw"
    )

    if rss_lines:
        big = write_file(work / "big.jsonl", base, rss_lines, "r")
        fresh_database(url, instance)
        _, rss_big, report = timed_import(url, instance, big)
        big.unlink()
        print(
            f"peak RSS: {n} lines {rss_small / 1024:.0f} MiB, {rss_lines} lines "
            f"{rss_big / 1024:.0f} MiB -> {rss_big / rss_small:.2f}x (target <= 1.25x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        action="append",
        help="an engine to measure (repeatable; default: a temporary SQLite)",
    )
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument(
        "--rss-lines",
        type=int,
        default=None,
        help="lines for the memory run (default 10x --lines; 0 to skip)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="10k lines, memory at 100k, on the first engine only"
    )
    parser.add_argument("--no-train", action="store_true", help="skip the pre-sort run")
    args = parser.parse_args()
    base = dev_lines()
    work = Path(tempfile.mkdtemp(prefix="flagq-bench-"))
    urls = args.database_url or [f"sqlite:///{work / 'bench.db'}"]
    n = 10_000 if args.quick else args.lines
    rss = args.rss_lines if args.rss_lines is not None else n * 10
    try:
        for index, url in enumerate(urls):
            bench(url, n, base, work, rss if index == 0 else 0, not args.no_train)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

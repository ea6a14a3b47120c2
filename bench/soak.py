"""Soak: reviewers claim and decide through gunicorn + PostgreSQL while the database and the
workers are knocked down; print throughput, latency and whether anything was lost or doubled.

Usage: .venv/bin/python bench/soak.py [--database-url URL] [--reviewers 50] [--seconds 300]
                                      [--think 0.5] [--terminate-every 30] [--kill-at 0.5]
                                      [--workers 4] [--items 30000]

The database named by the URL (default test_soak on the local server) is created if missing and
emptied. Each simulated reviewer has its own token and keep-alive connection and loops: claim,
think (an exponential pause of mean --think seconds), decide. Every --terminate-every seconds
every backend connected to that database (and no other) is terminated; once, at --kill-at of
the run, one gunicorn worker is SIGKILLed. A request cut off with its connection (the killed
worker's) is sent again, as a client would. At the end it checks: no 5xx, and every item
decided exactly once (one decision row per decided item, none claimed twice). Exit status 1 if
a check fails. `make soak` runs it with the defaults; SOAK_ARGS overrides them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

# bench/ holds a queue.py: keep the folder off the path, or it shadows the standard library's
# queue module, which psycopg imports when the first engine is made.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
SECRET = "soak-secret-" + "s" * 40
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test_soak"
LABELS = ["factual_error", "bias", "privacy", "low_quality", "no_error"]


def prepare(url: str, instance: Path, reviewers: int, items: int) -> list[str]:
    """Create (or empty) the database, migrate it, add reviewers and open items; return tokens."""
    from models import Role, User
    from review import create_app
    from review.extensions import alembic, db
    from review.services import accounts

    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise SystemExit("soak: needs a PostgreSQL --database-url")
    server = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        exists = conn.scalar(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
        )
        if not exists:
            conn.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
    server.dispose()
    raw = sa.create_engine(url)
    with raw.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    raw.dispose()
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(instance)})
    with app.app_context():
        alembic.upgrade()
        users = [
            User(username=f"soak{i}", password_hash="!", role=Role.REVIEWER)  # noqa: S106
            for i in range(reviewers)
        ]
        db.session.add_all(users)
        db.session.flush()
        tokens = [accounts.create_token(db.session, None, u, "soak").secret for u in users]
        messages = [
            {"role": "user", "content": "Which planet is largest?"},
            {"role": "assistant", "content": "Saturn is the largest planet."},
        ]
        now = datetime.now(UTC)
        db.session.execute(
            sa.text(
                "INSERT INTO items (external_id, messages, metadata, content_hash, status, "
                "priority, queue_category, flag_count, first_flagged_at, created_at, "
                "second_review) VALUES (:e, CAST(:m AS jsonb), '{}'::jsonb, :h, 'open', :p, "
                ":c, 1, :t, :t, false)"
            ),
            [
                {
                    "e": f"soak-{i}",
                    "m": json.dumps(messages),
                    "h": f"{i:064x}",
                    "p": (i * 7919 % 10007) / 1000,
                    "c": LABELS[i % 4],
                    "t": now,
                }
                for i in range(items)
            ],
        )
        db.session.commit()
        db.engine.dispose()
    return tokens


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(url: str, instance: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": SECRET, "FLAGQ_INSTANCE": str(instance)}
    command = [
        str(BIN / "gunicorn"),
        *("--workers", str(workers), "--worker-class", "gthread", "--threads", "16"),
        *("--bind", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"),
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return process
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise RuntimeError("gunicorn did not start")


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.latency: dict[str, list[float]] = {"claim": [], "decide": []}
        self.resent = 0  # requests cut off with their connection and sent again
        self.decided = 0

    def add(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.statuses[(kind, status)] += 1
            self.latency[kind].append(seconds)
            if kind == "decide" and status == 200:
                self.decided += 1


class Reviewer:
    """One simulated reviewer on one keep-alive connection."""

    def __init__(self, port: int, token: str, stats: Stats) -> None:
        self.port, self.stats = port, stats
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def send(self, kind: str, path: str, body: dict[str, object] | None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else b""
        for attempt in range(5):
            started = time.perf_counter()
            try:
                self.conn.request("POST", path, body=data, headers=self.headers)
                response = self.conn.getresponse()
                payload = response.read()
            except (http.client.HTTPException, ConnectionError, TimeoutError):
                # A closed keep-alive connection or a killed worker: reconnect and send again.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                with self.stats.lock:
                    self.stats.resent += 1
                time.sleep(0.05 * (attempt + 1))
                continue
            self.stats.add(kind, response.status, time.perf_counter() - started)
            return response.status, payload
        raise RuntimeError(f"{path}: no answer after 5 attempts")

    def run(self, until: float, think: float, rng: random.Random) -> None:
        while time.monotonic() < until:
            status, payload = self.send("claim", "/api/v1/queue/claim", None)
            if status == 204:
                return  # the queue is empty
            if status != 200:
                time.sleep(0.1)
                continue
            item = json.loads(payload)["id"]
            time.sleep(rng.expovariate(1 / think) if think > 0 else 0)
            self.send("decide", f"/api/v1/flags/{item}/decision", {"label": rng.choice(LABELS)})


def chaos(
    url: str, server: subprocess.Popen[bytes], args: argparse.Namespace, until: float, log: list
) -> None:
    """Terminate the database's backends every so often, and SIGKILL one worker once."""
    name = sa.make_url(url).database
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    start = time.monotonic()
    next_terminate = start + args.terminate_every
    kill_at = start + args.kill_at * args.seconds
    killed = False
    while time.monotonic() < until:
        now = time.monotonic()
        if now >= next_terminate:
            with admin.connect() as conn:
                # Only this soak's database: never another developer's connections.
                ended = conn.scalar(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
            log.append(f"{now - start:6.1f}s terminated {ended} backends")
            next_terminate += args.terminate_every
        if not killed and now >= kill_at:
            children = subprocess.run(
                ["pgrep", "-P", str(server.pid)], capture_output=True, text=True, check=False
            ).stdout.split()
            if children:
                os.kill(int(children[0]), signal.SIGKILL)
                log.append(f"{now - start:6.1f}s SIGKILLed worker {children[0]}")
            killed = True
        time.sleep(0.2)
    admin.dispose()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def verify(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        result = {
            "decisions": conn.scalar(sa.text("SELECT count(*) FROM decisions")),
            "decided_items": conn.scalar(
                sa.text("SELECT count(*) FROM items WHERE status = 'decided'")
            ),
            "items_decided_twice": conn.scalar(
                sa.text(
                    "SELECT count(*) FROM (SELECT item_id FROM decisions GROUP BY item_id "
                    "HAVING count(*) > 1) AS twice"
                )
            ),
            "decided_without_decision": conn.scalar(
                sa.text(
                    "SELECT count(*) FROM items i WHERE i.status = 'decided' AND NOT EXISTS "
                    "(SELECT 1 FROM decisions d WHERE d.item_id = i.id)"
                )
            ),
        }
    engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("SOAK_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--reviewers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--think", type=float, default=0.5, help="mean think time (s)")
    parser.add_argument("--terminate-every", type=float, default=30)
    parser.add_argument("--kill-at", type=float, default=0.5, help="share of the run")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--items", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="flagq-soak-"))
    tokens = prepare(args.database_url, instance, args.reviewers, args.items)
    port = free_port()
    server = start_gunicorn(args.database_url, instance, port, args.workers)
    stats, log = Stats(), []
    try:
        started = time.monotonic()
        until = started + args.seconds
        reviewers = [
            threading.Thread(
                target=Reviewer(port, token, stats).run,
                args=(until, args.think, random.Random(args.seed + n)),
            )
            for n, token in enumerate(tokens)
        ]
        chaos_thread = threading.Thread(
            target=chaos, args=(args.database_url, server, args, until, log)
        )
        for thread in [*reviewers, chaos_thread]:
            thread.start()
        for thread in [*reviewers, chaos_thread]:
            thread.join()
        elapsed = time.monotonic() - started
    finally:
        server.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    checks = verify(args.database_url)
    errors = sum(n for (_, status), n in stats.statuses.items() if status >= 500)
    print("\n".join(log))
    print(
        f"soak: {args.reviewers} reviewers, {elapsed:.0f} s, think {args.think} s, "
        f"{args.workers} workers; backends terminated every {args.terminate_every:g} s, "
        f"one worker SIGKILLed"
    )
    print(f"decisions: {stats.decided} answered 200, {stats.decided / elapsed:.1f}/s")
    for kind, latencies in stats.latency.items():
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        print(f"{kind}: p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    print("statuses:", dict(sorted((f"{k} {s}", n) for (k, s), n in stats.statuses.items())))
    print(f"requests sent again after a cut connection: {stats.resent}")
    print("database:", checks)
    ok = (
        errors == 0
        and checks["items_decided_twice"] == 0
        and checks["decided_without_decision"] == 0
        and checks["decisions"] == checks["decided_items"]
    )
    print(f"5xx: {errors}; every item decided exactly once: {ok and errors == 0}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

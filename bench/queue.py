"""Print the review queue's claim+decide throughput and claim latency through the API.

Usage: .venv/bin/python bench/queue.py [--database-url URL] [--quick] [--engines postgresql,sqlite]
                                       [--sizes 10000,1000000] [--clients 1,8,32] [--seconds 6]

For each engine and queue size (open items bulk-loaded with executemany / COPY), gunicorn serves
the app (4 workers) and 1, 8 and 32 client threads, each a different reviewer with its own
keep-alive connection, loop POST /queue/claim then POST /flags/{id}/decision. On PostgreSQL the
same client counts also run the bare loop the API cannot beat (the ceiling): one psycopg
connection per thread, UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING, then
an UPDATE marking the item decided, each in its own transaction. The "floor" rows send two
GET /healthz per pair through the same server: the cost of any two requests on this stack,
which bounds every API built on it. Between cells the consumed
items go back to the queue, so every cell sees the same queue size. EXPLAIN of the claim query
is printed per engine and size (it must walk an index, not sort the open items).
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named queue.py: keep its folder off the path, or it shadows the standard library's
# queue module (which psycopg imports).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import http.client  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

import sqlalchemy as sa  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
SECRET = "bench-secret-" + "q" * 40
CATEGORIES = ["factual_error", "bias", "privacy", "self_harm", "low_quality", ""]
MESSAGES = json.dumps(
    [
        {"role": "user", "content": "What is the capital of Australia?"},
        {"role": "assistant", "content": "The capital of Australia is Sydney."},
    ]
)
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test_queue"


@dataclass
class Cell:
    engine: str
    size: int
    mode: str  # "api", "floor" (two GET /healthz per pair) or "ceiling"
    clients: int
    pairs: int = 0
    seconds: float = 0.0
    claim_ms: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def rate(self) -> float:
        return self.pairs / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.claim_ms:
            return float("nan")
        ordered = sorted(self.claim_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- setup -----------------------------------------------------------------------------------


def _app(url: str, instance: Path):  # type: ignore[no-untyped-def]
    from review import create_app

    return create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(instance)})


def _psycopg_url(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def prepare(url: str, instance: Path, size: int, reviewers: int) -> list[str]:
    """Migrate an empty database, load size open items and reviewers; return their tokens."""
    from models import Role, User
    from review.extensions import alembic, db
    from review.services import accounts

    engine = sa.make_url(url).get_backend_name()
    if engine == "postgresql":
        raw = sa.create_engine(url)
        with raw.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        raw.dispose()
    app = _app(url, instance)
    with app.app_context():
        alembic.upgrade()
        users = [
            User(username=f"bench{i}", password_hash="!", role=Role.REVIEWER)  # noqa: S106
            for i in range(reviewers)
        ]
        db.session.add_all(users)
        db.session.flush()
        tokens = [accounts.create_token(db.session, None, u, "bench").secret for u in users]
        db.session.commit()
        db.engine.dispose()
    started = time.perf_counter()
    if engine == "postgresql":
        _load_postgres(url, size)
    else:
        _load_sqlite(url, size)
    print(f"  loaded {size:,} items in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return tokens


def _rows(size: int):  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    for i in range(size):
        category = CATEGORIES[i % len(CATEGORIES)]
        # Spread priorities like the real formula does: many distinct values, some ties.
        yield (
            f"bench-{i}",
            MESSAGES,
            "{}",
            f"{i:064x}",
            "open",
            round((i * 7919 % 10007) / 1000, 3),
            category or None,
            1,
            now,
            now,
        )


COLUMNS = (
    "external_id, messages, metadata, content_hash, status, priority, queue_category, "
    "flag_count, first_flagged_at, created_at"
)


def _load_postgres(url: str, size: int) -> None:
    import psycopg

    with psycopg.connect(_psycopg_url(url)) as conn:
        with conn.cursor() as cur, cur.copy(f"COPY items ({COLUMNS}) FROM STDIN") as copy:
            for row in _rows(size):
                copy.write_row(row)
        conn.execute("ANALYZE items")


def _load_sqlite(url: str, size: int) -> None:
    import sqlite3

    path = sa.make_url(url).database
    assert path
    conn = sqlite3.connect(path)
    batch: list[tuple[object, ...]] = []
    placeholders = ", ".join("?" * len(COLUMNS.split(",")))
    insert = f"INSERT INTO items ({COLUMNS}) VALUES ({placeholders})"  # noqa: S608  (constants)
    for row in _rows(size):
        batch.append((*row[:8], row[8].replace(tzinfo=None), row[9].replace(tzinfo=None)))
        if len(batch) == 50_000:
            conn.executemany(insert, batch)
            batch.clear()
    if batch:
        conn.executemany(insert, batch)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def explain(url: str, instance: Path) -> str:
    """Return the plan of the claim UPDATE the service runs (with an exclusion, no category)."""
    from models import Item, ItemStatus, User
    from review.extensions import db
    from review.services import queue

    app = _app(url, instance)
    with app.app_context():
        user = db.session.scalar(sa.select(User).limit(1))
        assert user is not None
        now = datetime.now(UTC)
        lines = []
        for category in (None, "bias"):
            target = queue.next_item_query(user, category, {"violence"}, 60, now)
            statement = (
                sa.update(Item)
                .where(Item.id == target.scalar_subquery())
                .values(status=ItemStatus.CLAIMED, claimed_by_id=user.id, claimed_at=now)
                .returning(Item.id)
            )
            compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
            prefix = "EXPLAIN QUERY PLAN " if db.engine.dialect.name == "sqlite" else "EXPLAIN "
            plan = db.session.connection().exec_driver_sql(prefix + str(compiled)).all()
            text = "\n".join(str(row[-1]) for row in plan)
            db.session.rollback()
            lines.append(
                f"  -- category={category}\n" + "\n".join(f"  {p}" for p in text.split("\n"))
            )
        db.engine.dispose()
    return "\n".join(lines)


def reset_queue(url: str) -> None:
    """Put every item consumed by the last cell back in the queue, as it was."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for table in ("decisions", "work_intervals", "skips"):
            conn.exec_driver_sql(f"DELETE FROM {table}")  # noqa: S608  (constants)
        conn.exec_driver_sql("DELETE FROM audit_events WHERE action <> 'token.create'")
        conn.exec_driver_sql(
            "UPDATE items SET status = 'open', claimed_by_id = NULL, claimed_at = NULL, "
            "lease_expires_at = NULL, final_label = NULL, decided_at = NULL "
            "WHERE status <> 'open'"
        )
    engine.dispose()


# -- the API run ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(url: str, instance: Path, port: int, threads: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET,
        "FLAGQ_INSTANCE": str(instance),
    }
    # gthread keeps client connections alive between requests (sync workers close them).
    command = [
        str(BIN / "gunicorn"),
        "--workers",
        "4",
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "wsgi:app",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("gunicorn did not start")


class Client:
    """One reviewer on one keep-alive connection."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str) -> tuple[int, bytes]:
        return self.post(path, method="GET")

    def post(
        self, path: str, body: dict[str, object] | None = None, method: str = "POST"
    ) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else b""
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=self.headers)
                response = self.conn.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, ConnectionError):
                # The server closed an idle keep-alive connection: reconnect once.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def run_api(cell: Cell, port: int, tokens: list[str], seconds: float) -> None:
    """Claim and decide through the API; in mode "floor", two GET /healthz per pair instead.

    The floor is what any two requests cost through this server: Flask, gunicorn, the HTTP
    client and one SELECT 1 each. No claim+decide API on this stack can beat it.
    """
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    barrier = threading.Barrier(cell.clients + 1)

    def work(token: str) -> None:
        client = Client(port, token)
        pairs, errors, latencies = 0, 0, []
        barrier.wait()
        while time.monotonic() < stop:
            started = time.perf_counter()
            if cell.mode == "floor":
                status, body = client.get("/healthz")
            else:
                status, body = client.post("/api/v1/queue/claim")
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200:
                errors += status != 204
                break
            if cell.mode == "floor":
                status, _ = client.get("/healthz")
            else:
                item = json.loads(body)["id"]
                status, _ = client.post(f"/api/v1/flags/{item}/decision", {"label": "bias"})
            if status == 200:
                pairs += 1
            else:
                errors += 1
        with lock:
            cell.pairs += pairs
            cell.errors += errors
            cell.claim_ms.extend(latencies)

    threads = [threading.Thread(target=work, args=(t,)) for t in tokens[: cell.clients]]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    cell.seconds = time.perf_counter() - started


CEILING_CLAIM = (
    "UPDATE items SET status = 'claimed', claimed_by_id = %s, claimed_at = now(), "
    "lease_expires_at = now() + interval '10 minutes' WHERE id = ("
    "SELECT id FROM items WHERE status = 'open' ORDER BY priority DESC, id DESC "
    "LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id"
)
CEILING_DECIDE = (
    "UPDATE items SET status = 'decided', final_label = 'bias', decided_at = now(), "
    "claimed_by_id = NULL, claimed_at = NULL, lease_expires_at = NULL WHERE id = %s"
)


def run_ceiling(cell: Cell, url: str, user_ids: list[int], seconds: float) -> None:
    import psycopg

    lock = threading.Lock()
    stop = time.monotonic() + seconds
    barrier = threading.Barrier(cell.clients + 1)

    def work(user_id: int) -> None:
        pairs, latencies = 0, []
        with psycopg.connect(_psycopg_url(url), autocommit=True) as conn:
            barrier.wait()
            while time.monotonic() < stop:
                started = time.perf_counter()
                row = conn.execute(CEILING_CLAIM, (user_id,)).fetchone()
                latencies.append((time.perf_counter() - started) * 1000)
                if row is None:
                    break
                conn.execute(CEILING_DECIDE, (row[0],))
                pairs += 1
        with lock:
            cell.pairs += pairs
            cell.claim_ms.extend(latencies)

    threads = [threading.Thread(target=work, args=(u,)) for u in user_ids[: cell.clients]]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    cell.seconds = time.perf_counter() - started


# -- main -------------------------------------------------------------------------------------


def bench_engine(
    engine: str, url: str, sizes: list[int], clients: list[int], seconds: float
) -> list[Cell]:
    cells: list[Cell] = []
    for size in sizes:
        instance = Path(tempfile.mkdtemp(prefix="flagq-bench-"))
        if engine == "sqlite":
            url = f"sqlite:///{instance / 'bench.db'}"
        print(f"{engine}, {size:,} open items:", file=sys.stderr)
        tokens = prepare(url, instance, size, max(clients))
        print(explain(url, instance), file=sys.stderr)
        port = free_port()
        server = start_gunicorn(url, instance, port, threads=max(8, max(clients) // 4))
        try:
            for mode in ("api", "floor"):
                for n in clients:
                    reset_queue(url)
                    cell = Cell(engine, size, mode, n)
                    run_api(cell, port, tokens, seconds)
                    cells.append(cell)
                    print(f"  {mode:<8} {n:>2} clients: {cell.rate:8.1f}/s", file=sys.stderr)
        finally:
            server.terminate()
            server.wait(30)
        if engine == "postgresql":
            engine_ = sa.create_engine(url)
            with engine_.connect() as conn:
                user_ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM users ORDER BY id")]
            engine_.dispose()
            for n in clients:
                reset_queue(url)
                cell = Cell(engine, size, "ceiling", n)
                run_ceiling(cell, url, user_ids, seconds)
                cells.append(cell)
                print(f"  ceiling  {n:>2} clients: {cell.rate:8.1f}/s", file=sys.stderr)
    return cells


def report(cells: list[Cell]) -> str:
    out = io.StringIO()
    header = (
        f"{'engine':<10} {'open items':>10} {'mode':<8} {'clients':>7} {'pairs/s':>9} "
        f"{'claim p50 ms':>12} {'claim p99 ms':>12} {'errors':>6} {'vs ceiling':>10}"
    )
    print(header, file=out)
    print("-" * len(header), file=out)
    ceilings = {(c.engine, c.size, c.clients): c.rate for c in cells if c.mode == "ceiling"}
    for c in cells:
        ceiling = ceilings.get((c.engine, c.size, c.clients))
        ratio = f"{c.rate / ceiling:.2f}x" if c.mode != "ceiling" and ceiling else ""
        print(
            f"{c.engine:<10} {c.size:>10,} {c.mode:<8} {c.clients:>7} {c.rate:>9.1f} "
            f"{c.pct(0.50):>12.2f} {c.pct(0.99):>12.2f} {c.errors:>6} {ratio:>10}",
            file=out,
        )
    sizes = sorted({c.size for c in cells})
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        print(f"\np99 claim latency at {large:,} / at {small:,} (target <= 1.5):", file=out)
        for c in cells:
            if c.size != large:
                continue
            base = next(
                (
                    b
                    for b in cells
                    if (b.engine, b.mode, b.clients, b.size) == (c.engine, c.mode, c.clients, small)
                ),
                None,
            )
            if base is not None:
                print(
                    f"  {c.engine:<10} {c.mode:<8} {c.clients:>2} clients: "
                    f"{c.pct(0.99) / base.pct(0.99):.2f}",
                    file=out,
                )
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--sizes", default=None, help="open items, comma-separated")
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--seconds", type=float, default=None, help="per cell")
    parser.add_argument("--quick", action="store_true", help="2k and 50k items, 3 s per cell")
    args = parser.parse_args()
    sizes = [
        int(s) for s in (args.sizes or ("2000,50000" if args.quick else "10000,1000000")).split(",")
    ]
    seconds = args.seconds or (3.0 if args.quick else 6.0)
    clients = [int(c) for c in args.clients.split(",")]
    started = time.monotonic()
    cells: list[Cell] = []
    for engine in args.engines.split(","):
        cells += bench_engine(engine, args.database_url, sizes, clients, seconds)
    print(report(cells))
    print(f"(total {timedelta(seconds=round(time.monotonic() - started))}, {seconds:g} s per cell)")


if __name__ == "__main__":
    main()

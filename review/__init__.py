"""flagq: the review queue for flagged chatbot conversations."""

import contextlib
import inspect
import os
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, g, has_request_context, jsonify, render_template, request
from werkzeug.routing import IntegerConverter

from review import config as config_module
from review.errors import DomainError, Invalid
from review.extensions import alembic, csrf, db, login_manager

# Defaults an operator may override through config (see README, "Configuration").
DEFAULTS: dict[str, Any] = {
    "FLAGQ_ENV": "development",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,  # tokens live as long as the session
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    # A pooled PostgreSQL connection idle this long is pinged before use (see _ping_idle).
    "DATABASE_PING_IDLE_SECONDS": 10.0,
}

# The largest id an id column holds: INTEGER is 32 bits on PostgreSQL.
MAX_ROW_ID = 2**31 - 1

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class App(Flask):
    """Flask, retrying once a request whose database connection died before any commit.

    A connection dies when the database restarts, fails over or ends a backend. If nothing of
    the request was committed, its transaction is gone whole and running the request again on
    a fresh connection is safe; the pool was invalidated by the error, so the retry connects
    anew. On PostgreSQL each COMMIT is preceded by asking for the transaction's id (which also
    finds a dead line before COMMIT is sent); if the line dies during COMMIT, a fresh
    connection asks the server whether that transaction committed. A request with a commit
    that did (or, on SQLite, may have) happened is not retried, and neither is a streamed body
    (the response has begun): those end in 503. Side effects outside the database before the
    failure (flashed messages, session keys) may happen twice; request bodies are kept for the
    retry (review.api.json_body caches them).
    """

    def full_dispatch_request(self) -> Response:
        g.pop(COMMITS, None)
        try:
            return super().full_dispatch_request()
        except sa.exc.DBAPIError as error:
            if not retryable(error):
                raise
        db.session.rollback()
        self.logger.warning("database connection lost before commit; retrying %s", request.path)
        g.flagq_retried = True
        g.pop(COMMITS, None)
        return super().full_dispatch_request()


# A flask.g key: the id of each transaction the request sent COMMIT for (None: it wrote
# nothing; UNKNOWN: an engine that cannot tell).
COMMITS = "flagq_commits"
UNKNOWN = "unknown"


def _note_commit(connection: sa.Connection) -> None:
    if not has_request_context():
        return
    xid: str | None = UNKNOWN
    if connection.dialect.name == "postgresql":
        xid = connection.exec_driver_sql("SELECT pg_current_xact_id_if_assigned()::text").scalar()
    g.setdefault(COMMITS, []).append(xid)


def retryable(error: sa.exc.DBAPIError) -> bool:
    """Whether the request may run again: its connection died, nothing committed, first time."""
    if not error.connection_invalidated or g.get("flagq_retried"):
        return False
    xids = [x for x in g.get(COMMITS, []) if x is not None]
    if UNKNOWN in xids:
        return False
    if not xids:
        return True
    try:
        with db.engine.connect() as connection:
            states = [
                connection.scalar(sa.text("SELECT pg_xact_status(CAST(:x AS xid8))"), {"x": x})
                for x in xids
            ]
    except sa.exc.DBAPIError:
        return False
    return "committed" not in states


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Assemble the app from config (read from the environment when not given)."""
    settings = config if config is not None else config_module.from_environment()
    app = App(__name__, instance_path=settings.get("INSTANCE_PATH"))
    # Every <int:...> in a route is a row id: past what the id columns hold it is 404.
    app.url_map.converters["int"] = RowId
    app.config.update(DEFAULTS)
    app.config.update(settings)
    if not app.config.get("SECRET_KEY"):
        raise config_module.ConfigError("SECRET_KEY is required")
    app.config["SQLALCHEMY_ENGINES"] = {"default": engine_options(app.config["DATABASE_URL"])}
    app.config["ALEMBIC"] = {"script_location": str(Path(__file__).parent / "migrations")}

    db.init_app(app)
    # flagq has no async engines; drop the extension's async teardown so that no
    # request needs an event loop (asgiref refuses to run beside a running one).
    app.teardown_appcontext_funcs[:] = [
        f for f in app.teardown_appcontext_funcs if not inspect.iscoroutinefunction(f)
    ]
    alembic.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in."
    csrf.init_app(app)
    with app.app_context():
        sa.event.listen(db.engine, "commit", _note_commit)
        if db.engine.dialect.name == "sqlite":
            _tune_sqlite(db.engine)
        else:
            _ping_idle(db.engine, float(app.config["DATABASE_PING_IDLE_SECONDS"]))

    app.before_request(_refuse_nul_fields)
    _register_blueprints(app)
    _register_error_handlers(app)
    app.after_request(_security_headers)
    return app


class RowId(IntegerConverter):
    """An <int:...> URL part no larger than an id column holds (a 32-bit INTEGER)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(url_map, *args, **kwargs)


def engine_options(url: str) -> dict[str, Any]:
    """Return create_engine options for url: pool sizing per engine."""
    options: dict[str, Any] = {"url": url}
    if sa.make_url(url).get_backend_name() == "postgresql":
        options.update(pool_size=10, max_overflow=10)
    return options


def _ping_idle(engine: sa.Engine, idle_seconds: float) -> None:
    """Check a pooled connection that sat idle for idle_seconds before handing it out.

    A connection the server dropped meanwhile (a restart, an idle timeout) is replaced
    instead of failing the request. Connections in steady use skip the ping: with
    pool_pre_ping every request would pay one more round trip to the server.
    """

    @sa.event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool discards this connection and hands out a fresh one.
            raise sa.exc.DisconnectionError(str(error)) from error


def _tune_sqlite(engine: sa.Engine) -> None:
    """Make SQLite safe for several workers: WAL, a busy timeout, write-locking BEGIN.

    Every transaction takes the write lock up front (BEGIN IMMEDIATE), so two
    workers never both read and then fail to upgrade to a write; SQLite has one
    writer at a time anyway, and WAL keeps plain reads going meanwhile.
    """

    @sa.event.listens_for(engine, "do_connect")
    def _create_private(_dialect: Any, _record: Any, _cargs: Any, _cparams: Any) -> None:
        # The database holds user conversations: a new file is readable by its owner only
        # (SQLite gives its -wal and -shm files the same mode).
        path = engine.url.database
        if path and path != ":memory:" and not path.startswith("file:"):
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # A long read (an export) asks for a plain BEGIN so it holds no write lock.
        if connection.get_execution_options().get("read_only"):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _register_blueprints(app: Flask) -> None:
    from review.api import bp as api_bp
    from review.ui import register_nav
    from review.ui.audit import bp as audit_bp
    from review.ui.auth import bp as auth_bp
    from review.ui.exports import bp as exports_bp
    from review.ui.queue import bp as queue_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(queue_bp)
    app.register_blueprint(exports_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    csrf.exempt(api_bp)
    register_nav(app)

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        try:
            db.session.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return jsonify(status="error", database="unreachable"), 503
        return jsonify(status="ok", database="ok"), 200


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _register_error_handlers(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(DomainError)
    def _domain(error: DomainError) -> tuple[Any, int]:
        db.session.rollback()
        if _wants_json():
            return jsonify(error.to_json()), error.status
        return render_template(
            "errors/error.html", code=error.status, message=str(error)
        ), error.status

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> tuple[Any, int]:
        message = "The form expired or was sent from elsewhere; reload the page and try again."
        if _wants_json():
            return jsonify(error=message, details=[{"field": "csrf_token"}]), 400
        return render_template("errors/error.html", code=400, message=message), 400

    @app.errorhandler(sa.exc.DBAPIError)
    def _database(error: sa.exc.DBAPIError) -> Any:
        # A lost connection that could not be retried: the database is (briefly) away.
        if not error.connection_invalidated or retryable(error):
            raise error  # a bug (500), or App.full_dispatch_request runs the request again
        db.session.rollback()
        app.logger.warning(
            "database connection lost, not retried (commits: %s, retried: %s): %s",
            g.get(COMMITS),
            bool(g.get("flagq_retried")),
            str(error.orig).strip().splitlines()[0] if error.orig else error,
        )
        message = "The database connection was lost; try again."
        if _wants_json():
            return jsonify(error=message, details=[]), 503
        return render_template("errors/error.html", code=503, message=message), 503

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Any:
        code = error.code or 500
        # Keep what the error says beyond its body, e.g. a 405's Allow header.
        headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
        if _wants_json():
            return jsonify(error=error.description or error.name, details=[]), code, headers
        page = render_template("errors/error.html", code=code, message=error.description)
        return page, code, headers


def _refuse_nul_fields() -> None:
    """Refuse a query or form field holding a NUL character (422 naming it), on every route.

    No engine stores NUL in text (PostgreSQL refuses it outright), and no person types one.
    URL and form decoding never yield an unpaired surrogate; JSON bodies are checked field by
    field (review.services.flagformat.check_text).
    """
    for fields in (request.args, request.form):
        for name, value in fields.items(multi=True):
            if "\x00" in name or "\x00" in value:
                raise Invalid.field(name.replace("\x00", "\\0"), "contains a NUL character")


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint not in (None, "static"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response

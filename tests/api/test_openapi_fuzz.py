"""schemathesis over the OpenAPI document with every check and every phase, on both engines.

The run is bounded (tests/api/schemathesis.toml: a fixed seed, 10 examples per operation) and
made as an admin, who may call every route. Any failure of any check fails the test, listed
with the request that caused it.
"""

from pathlib import Path

import pytest
import schemathesis
from schemathesis.engine import events
from schemathesis.transport.wsgi import WSGITransport

from models import Role

from factories import make_token, make_user

CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture
def wsgi_probes(monkeypatch) -> None:
    # schemathesis 4.32's WSGI transport passes requests-only options to werkzeug when a check
    # (ignored_auth) sends a probe without a session; drop them as it does with one.
    send = WSGITransport.send

    def without_socket_options(self, case, *, session=None, **kwargs):
        for name in ("max_redirects", "verify", "cert", "proxies"):
            kwargs.pop(name, None)
        return send(self, case, session=session, **kwargs)

    monkeypatch.setattr(WSGITransport, "send", without_socket_options)


def test_the_api_conforms_to_its_document(app, monkeypatch, wsgi_probes) -> None:
    monkeypatch.setenv("FLAGQ_FUZZ_TOKEN", make_token(make_user(Role.ADMIN, "fuzz")))
    config = schemathesis.config.SchemathesisConfig.from_path(CONFIG)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=config)
    failures: set[str] = set()
    operations = 0
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.NonFatalError | events.FatalError):
            failures.add(f"error: {getattr(event, 'info', event)}")
        if isinstance(event, events.ScenarioFinished) and event.recorder is not None:
            operations += 1
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        failures.add(
                            f"{event.recorder.label}: {check.name}: {failure.title} "
                            f"({failure.message.splitlines()[0] if failure.message else ''}) "
                            f"{check.failure_info.code_sample[:300]}"
                        )
    assert sorted(failures) == [], "\n".join(sorted(failures))
    assert operations >= 18  # every operation ran (several phases each)


def test_the_document_lists_exactly_the_routes_served(app, client) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    documented = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule.removeprefix("/api/v1")
        for argument in rule.arguments:
            path = path.replace(f"<int:{argument}>", "{id}")
        served |= {f"{m} {path}" for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert sorted(served - documented) == [], "served but not documented"
    assert sorted(documented - served) == [], "documented but not served"

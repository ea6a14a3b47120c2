"""Run-time settings: defaults, changes, and the per-worker cache of what was read."""

import sqlalchemy as sa

from models import Setting
from review.services import sampling, settings


def test_default_until_changed_and_a_change_is_seen_at_once(session) -> None:
    assert settings.get(session, "lease_minutes") == 10
    settings.put(session, None, "lease_minutes", 3)
    assert settings.get(session, "lease_minutes") == 3
    session.commit()
    assert settings.get(session, "lease_minutes") == 3


def test_a_rolled_back_change_is_not_kept(session) -> None:
    settings.put(session, None, "lease_minutes", 3)
    assert settings.get(session, "lease_minutes") == 3
    session.rollback()
    assert settings.get(session, "lease_minutes") == 10


def test_a_change_by_another_worker_is_seen_once_the_cache_ages(session, monkeypatch) -> None:
    assert settings.get(session, "break_after_minutes") == 50
    # Another worker's change: written straight to the table, behind this process's back.
    session.execute(sa.insert(Setting).values(key="break_after_minutes", value={"value": 20}))
    session.commit()
    assert settings.get(session, "break_after_minutes") == 50  # still within CACHE_SECONDS
    monkeypatch.setattr(settings, "CACHE_SECONDS", 0.0)
    assert settings.get(session, "break_after_minutes") == 20


def test_dict_settings_merge_defaults_and_are_not_shared(session) -> None:
    settings.put(session, None, "sampling", {"bias": 0.5})
    first = settings.get(session, "sampling")
    assert first == {"all": 0.0, "bias": 0.5}
    first["bias"] = 0.9
    assert settings.get(session, "sampling")["bias"] == 0.5


def test_a_rate_change_builds_on_the_rates_stored_now_not_on_a_cached_read(session) -> None:
    assert sampling.rates(session) == {"all": 0.0}  # read, and cached, by this worker
    # Meanwhile another worker sets a rate: written straight to the table.
    session.execute(
        sa.insert(Setting).values(key="sampling", value={"value": {"all": 0.0, "bias": 0.5}})
    )
    session.commit()
    assert sampling.set_rate(session, None, "privacy", 0.2) == {
        "all": 0.0,
        "bias": 0.5,
        "privacy": 0.2,
    }
    session.commit()
    assert sampling.rates(session)["bias"] == 0.5


def test_defaults_handed_out_are_copies(session) -> None:
    weights = settings.get(session, "priority")
    weights["severity"] = 99.0
    assert (
        settings.get(session, "priority")["severity"] == settings.DEFAULTS["priority"]["severity"]
    )
    assert settings.DEFAULTS["priority"]["severity"] != 99.0

"""Migrations: from an empty database, and in step with the models."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata

from models import Base
from review import create_app
from review.extensions import alembic, db

from factories import POSTGRES_URL, app_config, reset_postgres


@pytest.fixture
def empty_url(engine_name: str, tmp_path: Path, database_url: str) -> str:
    if engine_name == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    # A separate schema-free database would need CREATE DATABASE; reuse the test
    # database and restore it afterwards by migrating again.
    assert POSTGRES_URL
    reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


def test_upgrade_from_empty_creates_schema_and_default_taxonomy(
    empty_url: str, tmp_path: Path
) -> None:
    app = create_app(app_config(empty_url, tmp_path))
    with app.app_context():
        alembic.upgrade()
        tables = set(sa.inspect(db.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        slugs = db.session.scalars(sa.text("SELECT slug FROM categories ORDER BY position")).all()
        assert slugs[0] == "factual_error" and slugs[-1] == "no_error" and len(slugs) == 13
        db.session.close()
        # Models and migrations agree: autogenerate would find nothing to do.
        with db.engine.connect() as conn:
            from alembic.runtime.migration import MigrationContext

            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        alembic.downgrade("base")
        assert "items" not in sa.inspect(db.engine).get_table_names()
        alembic.upgrade()
        db.engine.dispose()

"""The smaller findings of the robustness review: CSV formulas, the CSV header, metadata size,
a BOM, what a non-object line is blamed on, start-up without a key, the SQLite file's mode."""

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from models import Role
from review import create_app
from review.errors import Invalid
from review.extensions import db
from review.services.exports import neutralise
from review.services.flagformat import Limits, parse_flag

from factories import FLAGQ, TEST_SECRET, bearer, make_token, make_user, run_cli, script_env


@pytest.mark.parametrize(
    ("cell", "inert"),
    [
        (" =1+1", "' =1+1"),
        ("\u00a0@SUM(A1)", "'\u00a0@SUM(A1)"),
        ("\uff1dcmd|' /C calc'!A0", "'\uff1dcmd|' /C calc'!A0"),
        ("\uff0b1", "'\uff0b1"),
        ("\u22121", "'\u22121"),  # the minus sign
        ("\u2013 a dash", "\u2013 a dash"),
        ("a;=cmd|' /C calc'!A0", "a;'=cmd|' /C calc'!A0"),
        ("x, -2+3", "x, '-2+3"),
        ("=1;=2", "'=1;'=2"),
        ("plain text, 3+4; a=b", "plain text, 3+4; a=b"),
    ],
)
def test_csv_neutralises_look_alikes_blanks_and_separators(cell: str, inert: str) -> None:
    assert neutralise(cell) == inert


def test_csv_export_names_its_charset_once(client) -> None:
    token = make_token(make_user(Role.TRAINER, "tess"))
    response = client.get("/api/v1/export?format=csv", headers=bearer(token), buffered=True)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"


def test_metadata_size_counts_the_serialised_json() -> None:
    raw = {
        "external_id": "big-numbers",
        "messages": [{"role": "user", "content": "hi"}],
        "metadata": {"n": [10**4000 + i for i in range(100)]},
    }
    with pytest.raises(Invalid) as error:
        parse_flag(raw)
    assert error.value.details[0]["field"] == "metadata"
    # Multi-byte text counts in bytes, as stored.
    wide = {**raw, "metadata": {"t": "\u00e9" * 40_000}}
    with pytest.raises(Invalid, match="larger than 65536 bytes"):
        parse_flag(wide)
    assert parse_flag({**raw, "metadata": {"t": "e" * 60_000}}, Limits()).metadata


def test_import_accepts_a_bom_and_blames_non_objects_on_the_line(app, tmp_path: Path) -> None:
    flag = {"external_id": "bom-1", "messages": [{"role": "user", "content": "hi"}]}
    path = tmp_path / "flags.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(flag).encode() + b'\n[1, 2]\nnull\n"text"\n')
    result = run_cli(app, "import", str(path))
    summary = json.loads(result.stdout)
    assert summary["inserted"] == 1
    assert [e["line"] for e in summary["errors"]] == [2, 3, 4]
    for error in summary["errors"]:
        assert error["error"].startswith("line: must be a JSON object"), error


def test_production_without_a_key_says_one_line(tmp_path: Path, database_url: str) -> None:
    env = script_env(database_url, tmp_path)
    env["FLAGQ_ENV"] = "production"
    result = subprocess.run(
        [FLAGQ, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "flagq: SECRET_KEY must be set when FLAGQ_ENV=production"
    ]


def test_a_new_sqlite_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{path}",
            "SECRET_KEY": TEST_SECRET,
            "INSTANCE_PATH": str(tmp_path),
        }
    )
    old_umask = os.umask(0o022)
    try:
        with app.app_context():
            db.session.execute(sa.text("CREATE TABLE t (x)"))
            db.session.commit()
            db.engine.dispose()
    finally:
        os.umask(old_umask)
    for name in ("new.db", "new.db-wal", "new.db-shm"):
        if (tmp_path / name).exists():
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name

"""Shared fixtures: databases (SQLite and PostgreSQL), the real data folder, the CLI.

``--db`` selects the backends the database tests run on: ``all`` (default,
SQLite and PostgreSQL, as ``make test`` and CI run them), ``sqlite`` or
``postgresql``. PostgreSQL tests each get a fresh schema in the database named
by ``LANTIAN_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``)
and fail — not skip — when it cannot be reached.
"""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
# LANTIAN_SHARED_DATA overrides it (e.g. a missing folder, to run as on a machine without it).
SHARED_DATA = Path(os.environ.get("LANTIAN_SHARED_DATA")
                   or ROOT.parent / "shared" / "data").resolve()
TEST_DATA = Path(__file__).resolve().parent / "data"
# Dashboard sessions are signed with this in tests (never a key in the home folder).
os.environ.setdefault("LANTIAN_SECRET_KEY", "lantian-tests-only-" + uuid.uuid4().hex)
POSTGRES_URL = os.environ.get("LANTIAN_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/test")


def pytest_configure(config):
    """Nothing a test runs (in-process or the installed ``lantian``) writes into the user's
    data directory: the session gets a data directory of its own."""
    if not os.environ.get("LANTIAN_DATA_DIR"):
        import tempfile
        os.environ["LANTIAN_DATA_DIR"] = tempfile.mkdtemp(prefix="lantian-test-data-")


def pytest_addoption(parser):
    parser.addoption("--db", default=os.environ.get("LANTIAN_TEST_DB", "all"),
                     choices=("all", "sqlite", "postgresql"),
                     help="database backends for database tests (default: all)")


def pytest_generate_tests(metafunc):
    if "db_backend" in metafunc.fixturenames:
        choice = metafunc.config.getoption("--db")
        backends = ["sqlite", "postgresql"] if choice == "all" else [choice]
        metafunc.parametrize("db_backend", backends, scope="function")


def _psycopg_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


@contextmanager
def postgres_schema():
    """A URL to a fresh, empty schema of the test PostgreSQL database (dropped after)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_psycopg_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{_psycopg_url(POSTGRES_URL)}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def db_url(db_backend, tmp_path):
    """A URL to an empty database of the selected backend."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'lantian-test.sqlite'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def engine(db_url):
    """A migrated, empty database engine."""
    from store.db import make_engine, migrate
    eng = make_engine(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def cli(db_url, monkeypatch, tmp_path):
    """Run ``lantian`` in-process against the test database: ``cli("status")`` → Result."""
    from typer.testing import CliRunner

    from lantian.cli import app
    monkeypatch.setenv("LANTIAN_DATABASE_URL", db_url)
    monkeypatch.setenv("LANTIAN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LANTIAN_SETTINGS", "")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    return run


@pytest.fixture
def lantian_on(monkeypatch, tmp_path):
    """``lantian_on(url, *args)``: ``lantian *args`` in-process against the database ``url``
    (a wide terminal, a data directory of the test's own) → click's Result."""
    from typer.testing import CliRunner

    from lantian.cli import app

    def run(url, *args):
        monkeypatch.setenv("LANTIAN_DATABASE_URL", url)
        monkeypatch.setenv("LANTIAN_SETTINGS", "")
        monkeypatch.setenv("LANTIAN_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("COLUMNS", "240")
        return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    return run


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip with a clear message when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (it sits beside the project "
                    "checkout as ../shared/data); skipping tests on the real data")
    return SHARED_DATA


BEIJING_SITES = ROOT / "config" / "sites" / "beijing.yaml"
YANGQUAN_SITES = ROOT / "config" / "sites" / "yangquan.yaml"


def _lantian(url: str, *args) -> None:
    """Run the installed ``lantian`` command against ``url`` (as a user would)."""
    import subprocess
    import sys
    env = {**os.environ, "LANTIAN_DATABASE_URL": url, "LANTIAN_SETTINGS": ""}
    done = subprocess.run([str(Path(sys.executable).with_name("lantian")), *map(str, args)],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="session")
def beijing_db_url(shared_data, tmp_path_factory) -> str:
    """A SQLite database holding the whole real Beijing set (12 stations, 2013-03 … 2017-02).

    Built once per test session with the CLI (about 5 s); tests must not write to it.
    """
    url = f"sqlite:///{tmp_path_factory.mktemp('beijing') / 'beijing.sqlite'}"
    _lantian(url, "init", "--sites", BEIJING_SITES)
    _lantian(url, "ingest", "prsa", shared_data / "beijing-multisite", "--quiet")
    return url


@pytest.fixture(scope="session")
def demo_db_url(tmp_path_factory) -> str:
    """A SQLite database with the SYNTHETIC demo city (2024-01-01 … 2025-06-30).

    Built once per test session with the CLI; tests must not write to it.
    """
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite'}"
    _lantian(url, "init", "--sites", YANGQUAN_SITES)
    _lantian(url, "demo", "--until", "2025-06-30", "--quiet")
    return url


@pytest.fixture(scope="session")
def beijing_app(beijing_db_url):
    """The dashboard on the real Beijing database (one app per session)."""
    from dashboard.app import create_app
    return create_app(beijing_db_url, cache_url="")


@pytest.fixture(scope="session")
def demo_app(demo_db_url):
    """The dashboard on the SYNTHETIC demo database (one app per session)."""
    from dashboard.app import create_app
    return create_app(demo_db_url, cache_url="")

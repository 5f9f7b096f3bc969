"""Engines, migrations and small helpers shared by ingest and the dashboard."""
from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Engine

from . import schema

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL and their folder created."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:" and not path.startswith("file:"):  # not a URI (?mode=ro)
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA cache_size=-65536")
            cur.close()
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    # pool_pre_ping: a pooled connection that a server restart killed is replaced on
    # checkout, so the first request after the restart works (tests/test_faults.py).
    return create_engine(url, pool_pre_ping=True)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic autogenerate filter: the yearly partitions of ``hourly`` (PostgreSQL,
    ``hourly_y2015`` …) are made by the writer, not by the schema: not a difference."""
    return not (type_ == "table" and reflected and compare_to is None
                and re.fullmatch(r"hourly_y\d{4}", name or "") is not None)


# Alembic is imported only to migrate (``lantian init``): every other command only checks
# the revision, which needs no Alembic (its import is a tenth of a second of each command).

def alembic_config(engine: Engine):
    from alembic.config import Config as AlembicConfig
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> str:
    """Create or upgrade the schema to the newest migration; returns its revision."""
    from alembic import command
    from alembic.script import ScriptDirectory
    cfg = alembic_config(engine)
    command.upgrade(cfg, "head")
    return ScriptDirectory.from_config(cfg).get_current_head()


_REVISION = re.compile(r"""^revision\s*(?::[^=]*)?=\s*['"]([^'"]+)['"]""", re.M)
_DOWN_REVISION = re.compile(r"""^down_revision\s*(?::[^=]*)?=\s*(?:['"]([^'"]+)['"]|None)\s*$""",
                            re.M)


def head_revision() -> str:
    """The newest migration's revision: read from the migration files when their history
    is one line (it is), else as Alembic reads it."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(source), _DOWN_REVISION.findall(source)
        if len(revision) != 1 or len(down) != 1:
            return _alembic_head()
        revisions.add(revision[0])
        parents.add(down[0])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else _alembic_head()


def _alembic_head() -> str:
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision (None: never initialised)."""
    from sqlalchemy import inspect
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        if len(rows) <= 1:
            return rows[0] if rows else None
        from alembic.runtime.migration import MigrationContext
        return MigrationContext.configure(conn).get_current_revision()   # raises: several heads


def require_schema(engine: Engine) -> None:
    """Raise a clear error when the database was never initialised or is outdated."""
    head = head_revision()
    current = current_revision(engine)
    if current != head:
        from config import ConfigError
        state = "is not initialised" if current is None else f"is at schema {current}, not {head}"
        raise ConfigError(engine.url.render_as_string(hide_password=True), "database", state,
                          "run 'lantian init --sites <site file>' first")


def data_version(conn) -> int:
    row = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == "data_version")).first()
    return int(row[0]) if row else 0


def bump_data_version(conn) -> int:
    """Increase the data version (dashboard caches key on it) inside ``conn``'s transaction."""
    version = data_version(conn) + 1
    updated = conn.execute(schema.meta.update().where(schema.meta.c.key == "data_version")
                           .values(value=str(version)))
    if updated.rowcount == 0:
        conn.execute(schema.meta.insert().values(key="data_version", value=str(version)))
    return version


def dialect_name(engine_or_conn) -> str:
    return engine_or_conn.dialect.name


__all__ = ["make_engine", "migrate", "require_schema", "data_version", "bump_data_version",
           "current_revision", "text"]


def lock_for_writing(conn) -> None:
    """Make ``conn``'s transaction the only one writing readings until it ends.

    A load compares the file with what is stored, then inserts what is new: two loads of
    the same new readings at once would both insert them, and the second would fail on
    the unique key (a raw driver error: the bulk writes use the driver's connection).
    With this lock the second waits for the first to commit and then finds the readings
    stored (nothing new). PostgreSQL: a transaction-scoped advisory lock per schema;
    SQLite: ``BEGIN IMMEDIATE`` (the database's write lock, waited for up to the
    engine's busy timeout), unless the transaction has already begun.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('lantian ingest ' || "
                             "current_schema()))")
    elif conn.dialect.name == "sqlite" and not conn.connection.driver_connection.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class JobBusy(Exception):
    """Another process holds the job lock (:func:`job_lock`)."""


@contextmanager
def job_lock(engine, name: str):
    """Run the block as the only holder of job ``name`` (e.g. ``weekly report beijing``)
    among every process using this database, or raise :class:`JobBusy` at once.

    For jobs that must not run twice at the same time but last too long for a
    transaction lock (a report run waits on the mail server): two ``--send`` runs at once
    would both find a recipient not yet sent and both send. PostgreSQL: a session
    advisory lock on a connection of its own; SQLite: an exclusive ``flock`` on a file
    beside the database file (the processes of one SQLite database share its machine).
    """
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            key = f"lantian job {name}"
            got = conn.execute(text("SELECT pg_try_advisory_lock(hashtext(:k || "
                                    "current_schema()))"), {"k": key}).scalar()
            conn.commit()
            if not got:
                raise JobBusy(name)
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k || "
                                  "current_schema()))"), {"k": key})
                conn.commit()
        return
    import fcntl
    import hashlib
    import tempfile
    database = engine.url.database
    folder = (Path(database).parent if database and database != ":memory:"
              else Path(tempfile.gettempdir()))
    stem = Path(database).name if database and database != ":memory:" else "memory"
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
    path = folder / f".{stem}.job-{digest}.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JobBusy(name) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

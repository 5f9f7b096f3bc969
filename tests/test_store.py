"""Schema, migrations and site-file storage on SQLite and PostgreSQL."""
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select, text

from config.sites import load_site_config
from store import schema
from store.db import current_revision, make_engine, migrate, require_schema
from store.sites import sync_site_config
from tests.conftest import BEIJING_SITES, YANGQUAN_SITES


def newest_migration() -> str:
    """The revision of the newest file in migrations/versions (files are numbered)."""
    from store.db import MIGRATIONS_DIR
    return sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("0*.py"))[-1][:4]


def test_migrations_match_the_schema(engine):
    assert current_revision(engine) == newest_migration()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                schema.metadata)
    assert diff == []


def test_migrate_is_idempotent(engine):
    assert migrate(engine) == newest_migration()
    require_schema(engine)


def test_uninitialised_database_is_a_clear_error(tmp_path):
    import pytest

    from config import ConfigError
    eng = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    with pytest.raises(ConfigError, match="not initialised.*lantian init"):
        require_schema(eng)


def test_sqlite_uses_wal(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'sub' / 'w.sqlite'}")
    with eng.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_site_sync_is_idempotent_and_updates(engine):
    site = load_site_config(BEIJING_SITES)
    for _ in range(2):
        with engine.begin() as conn:
            sync_site_config(conn, site)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.stations)).scalar() == 12
        assert conn.execute(select(func.count()).select_from(schema.districts)).scalar() == 8
        row = conn.execute(select(schema.stations.c.role, schema.districts.c.code)
                           .join(schema.districts,
                                 schema.districts.c.id == schema.stations.c.district_id)
                           .where(schema.stations.c.code == "1002A")).one()
        assert tuple(row) == ("background", "changping")
        first_id = conn.execute(select(schema.stations.c.id)
                                .where(schema.stations.c.code == "1003A")).scalar()
    yq = load_site_config(YANGQUAN_SITES)
    for _ in range(2):
        with engine.begin() as conn:
            sync_site_config(conn, yq)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.targets)).scalar() == 12
        assert conn.execute(select(func.count()).select_from(schema.cities)).scalar() == 2
        assert conn.execute(select(schema.stations.c.id)
                            .where(schema.stations.c.code == "1003A")).scalar() == first_id
        synthetic = conn.execute(select(schema.stations.c.code)
                                 .where(schema.stations.c.synthetic.is_(True))).scalars().all()
        assert sorted(synthetic) == [f"SYN0{i}" for i in range(1, 10)]

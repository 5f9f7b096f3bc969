"""The schema check of every command needs no Alembic (store/db.py: head_revision)."""
from __future__ import annotations

import subprocess
import sys

from store.db import _alembic_head, current_revision, head_revision, make_engine, migrate


def test_head_revision_is_alembics():
    assert head_revision() == _alembic_head()


def test_current_revision_of_a_new_and_a_migrated_database(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert current_revision(engine) is None
    assert migrate(engine) == head_revision() == current_revision(engine)
    engine.dispose()


def test_checking_the_schema_does_not_import_alembic(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    migrate(engine)
    engine.dispose()
    code = ("import sys; import lantian.cli; from store.db import make_engine, require_schema; "
            f"require_schema(make_engine({url!r})); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"

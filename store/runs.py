"""The ingest runs table: which file a reader has loaded, and under which name."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from . import schema

#: Run statuses after which the file counts as loaded (an undone run still counts).
LOADED = ("ok", "unchanged")


def options_text(options: dict) -> str:
    """The reader options as a run records them (compared as text, so one spelling)."""
    return json.dumps(options, sort_keys=True, ensure_ascii=False, default=str)


def last_loaded_run(conn, checksum: str, reader: str, options: dict) -> int | None:
    """The newest run (ok or unchanged) that loaded the file of ``checksum`` with this
    ``reader`` and these ``options``; None when there is none."""
    r = schema.ingest_runs.c
    return conn.execute(select(func.max(r.id)).where(
        r.checksum == checksum, r.reader == reader, r.options == options_text(options),
        r.status.in_(LOADED))).scalar()


def rename_run_file(conn, old: str, new: str) -> None:
    """Record the runs of file ``old`` under the name ``new``."""
    conn.execute(schema.ingest_runs.update().where(schema.ingest_runs.c.file == old)
                 .values(file=new))

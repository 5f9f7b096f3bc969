"""One data version for a whole request or command, and the memo every evaluation uses.

A :class:`Snapshot` is an engine with its data version read once: every evaluation
called with it (and every evaluation those call) keys its result on that version, so
the numbers of one page or one command never mix two loads. The memo is pluggable: the
dashboard passes its shared cache (``dashboard.cache.cached``), the CLI and the reports
a dictionary that lives as long as the command.
"""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

#: (name, version, parts, compute) → value: ``compute()`` or a stored result of it.
Memo = Callable[[str, int, tuple, Callable[[], Any]], Any]


class LocalMemo:
    """A memo held in a dictionary (one command's lifetime)."""

    def __init__(self):
        self.values: dict = {}

    def __call__(self, name: str, version: int, parts: tuple, compute):
        key = (name, version, repr(parts))
        if key not in self.values:
            self.values[key] = compute()
        return self.values[key]


@dataclass(frozen=True)
class Snapshot:
    """An engine, the data version its evaluations are pinned to, and their memo."""

    engine: Any
    version: int
    memo: Memo = field(default_factory=LocalMemo, compare=False, repr=False)

    @property
    def url(self) -> str:
        return str(self.engine.url)

    def connect(self):
        return self.engine.connect()


def snapshot(engine, memo: Memo | None = None, version: int | None = None) -> Snapshot:
    """A snapshot of ``engine`` at its current data version (read once, here)."""
    if version is None:
        from store.db import data_version
        with engine.connect() as conn:
            version = data_version(conn)
    return Snapshot(engine, int(version), memo or LocalMemo())


def evaluated(fn):
    """Memoise ``fn(snap, *args)`` under the snapshot's version and the arguments' repr
    (arguments are plain values, tuples or frozen dataclasses)."""
    name = fn.__name__
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(snap: Snapshot, *args, **kwargs):
        bound = signature.bind(snap, *args, **kwargs)
        bound.apply_defaults()
        values = bound.args[1:]
        return snap.memo(name, snap.version, (snap.url, *values), lambda: fn(snap, *values))
    wrapper.uncached = fn
    return wrapper

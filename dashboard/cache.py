"""The dashboard's cache: computed frames keyed by the database's data version.

Ingest bumps ``meta.data_version`` in the same transaction that writes
readings (``store.db.bump_data_version``); every cache key here carries that
version, so a load makes all earlier entries unreachable at once and no view
ever mixes old and new data. Entries are whole results (catalogues, a city's
daily values for a year, a period's statistics), never half-built ones.

Backend (``config.settings``): an in-process cache by default (one web
process, the embedded database), or Redis when ``cache_url`` is set, so that
several gunicorn workers and web servers share one cache.

Public pages (:func:`cache_routed_page`) are also kept as whole answers of the
Dash Pages router, the JSON the browser receives, per URL and data version:
the public page is the most visited one, and rebuilding and serialising its
answer (figures included) cost 13 ms a visit, 20 times what serving it whole does.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import threading
from typing import Callable, TypeVar

from flask import g, has_request_context
from flask_caching import Cache

log = logging.getLogger(__name__)
T = TypeVar("T")

cache = Cache()
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def init_cache(server, cache_url: str = "", *, timeout: int = 24 * 3600) -> None:
    """Attach the cache to a Flask server (in-process, or Redis at ``cache_url``)."""
    if cache_url:
        config = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": cache_url,
                  "CACHE_KEY_PREFIX": "lantian:"}
    else:
        # Bounded: a city-year of daily values is a few MB; old versions age out.
        config = {"CACHE_TYPE": "SimpleCache", "CACHE_THRESHOLD": 256}
    config["CACHE_DEFAULT_TIMEOUT"] = timeout
    cache.init_app(server, config=config)
    install_answer_cache(server)


def _key(name: str, version: int, parts: tuple) -> str:
    raw = repr(parts).encode("utf-8")
    return f"{name}:v{version}:{hashlib.sha1(raw).hexdigest()[:20]}"


def _lock_for(key: str) -> threading.Lock:
    with _locks_guard:
        if len(_locks) > 1024:
            _locks.clear()
        return _locks.setdefault(key, threading.Lock())


def cached(name: str, version: int, parts: tuple, compute: Callable[[], T]) -> T:
    """``compute()``'s result, from the cache when this (name, version, parts) was seen.

    Concurrent requests for the same missing entry in one process compute it
    once (a per-key lock); a failing cache backend (Redis down) degrades to
    computing, it never breaks a page.
    """
    key = _key(name, version, parts)
    memo = g.setdefault("_lantian_memo", {}) if has_request_context() else {}
    if key in memo:
        return memo[key]
    try:
        value = cache.get(key)
    except Exception:  # noqa: BLE001 - a cache outage must not take the dashboard down
        log.warning("cache get failed for %s", key, exc_info=True)
        value = None
    if value is None:
        with _lock_for(key):
            try:
                value = cache.get(key)
            except Exception:  # noqa: BLE001
                value = None
            if value is None:
                value = compute()
                try:
                    cache.set(key, value)
                except Exception:  # noqa: BLE001
                    log.warning("cache set failed for %s", key, exc_info=True)
    memo[key] = value
    return value


class _LocalLRU:
    """A small in-process LRU of objects kept as they are (not pickled)."""

    def __init__(self, size: int):
        from collections import OrderedDict
        self.size = size
        self.items: "OrderedDict[str, object]" = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        return None

    def put(self, key: str, value) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


_pages = _LocalLRU(96)


def cached_local(name: str, version: int, parts: tuple, compute: Callable[[], T]) -> T:
    """Like :func:`cached`, but in this process only and without pickling.

    For rendered page bodies: Dash components and Plotly figures survive a
    pickle only in a re-encoded form (typed arrays become base64 ``bdata``),
    and a page rebuilt from the shared data cache costs little next to
    sending it; keeping the objects themselves makes a revisited view free.
    """
    key = _key(name, version, parts)
    value = _pages.get(key)
    if value is None:
        with _lock_for(key):
            value = _pages.get(key)
            if value is None:
                value = compute()
                _pages.put(key, value)
                keep_out_of_gc()
    return value


def keep_out_of_gc() -> None:
    """Move what is alive now (the caches' page trees and frames) out of the cyclic
    garbage collector's sight (``gc.freeze``).

    Why: a cached page body is thousands of Dash components, and a full collection
    walks every one of them: with a few dozen national pages cached that is
    100–200 ms, taken by whichever request happens to trigger it (measured: every
    third first visit of the national overview). Frozen objects are still freed
    by reference counting when the cache drops them (no reference cycles in
    component trees or frames); only cycles among them would wait for a process
    restart. The same is done once before gunicorn forks its workers (dashboard/wsgi.py).
    """
    import gc
    gc.freeze()


# -- whole router answers of public pages ---------------------------------------------------

ROUTER_OUTPUT = ".._pages_content.children..._pages_store.data.."
_routed_pages: set[str] = set()
_answers = _LocalLRU(64)


def cache_routed_page(path: str) -> None:
    """Keep the router's answers for the page at ``path`` whole, per URL and data version.

    Only for a page whose answer is a function of its URL and the data alone —
    the same for every visitor, logged in or not (the public page). A revisit
    then costs a data-version query instead of rebuilding the page around its
    cached body and serialising it (≈ 13 ms for ``/public`` on Beijing, about
    half of it the JSON of the figures; 0.7 ms from here).
    """
    _routed_pages.add(path.strip("/"))


def _answer_key() -> str | None:
    """The cache key of this request's answer, or None when it is not a cached page.

    Taken from the request as matched to the router's declaration by the access
    check (``g.callback_call``, :mod:`dashboard.dispatch`): the pathname the router
    function receives, by position, and every argument in canonical form. A
    request that was not matched (or not of the router) is never cached.
    """
    if not _routed_pages:
        return None
    call = g.get("callback_call")
    if call is None or call.output != ROUTER_OUTPUT:
        return None
    import dash
    pathname = call.value_of("_pages_location", "pathname")
    if not isinstance(pathname, str) or dash.strip_relative_path(pathname) not in _routed_pages:
        return None
    from .context import current_engine
    from .queries import current_version
    engine = current_engine()
    return _key(f"answer:{engine.url}", current_version(engine), (call.key(),))


def install_answer_cache(server) -> None:
    """Serve the router answers of :func:`cache_routed_page` pages from :data:`_answers`.

    Wraps the view of ``/_dash-update-component``, so it runs after every
    ``before_request`` hook (access control included). Answers are kept only
    when they rendered (status 200, no error banner); anything unusual (no
    database, a body that is not a router call) goes to Dash unchanged.
    """
    endpoint = next((e for e in server.view_functions
                     if e.endswith("_dash-update-component")), None)
    if endpoint is None or getattr(server.view_functions[endpoint], "answer_cache", False):
        return
    view = server.view_functions[endpoint]

    @functools.wraps(view)
    def dispatch(*args, **kwargs):
        try:
            key = _answer_key()
        except Exception:  # noqa: BLE001 - no key (database down …): Dash answers as usual
            log.debug("answer cache: no key", exc_info=True)
            key = None
        if key is None:
            return view(*args, **kwargs)
        hit = _answers.get(key)
        if hit is not None:
            data, mimetype = hit
            return server.response_class(data, status=200, mimetype=mimetype)
        response = server.make_response(view(*args, **kwargs))
        data = response.get_data()
        if (response.status_code == 200 and "Set-Cookie" not in response.headers
                and b'"page-error"' not in data and b'"page-db-error"' not in data):
            _answers.put(key, (data, response.mimetype))
        return response

    dispatch.answer_cache = True
    server.view_functions[endpoint] = dispatch

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

One version per request, and the last complete one while a load runs
(:func:`request_version`): every lookup of a request uses the data version read at
its first lookup, so one answer never combines entries of two versions, and a
result whose computation saw the version move (a load committed a file meanwhile)
is not stored. While an ingest run is in progress, page answers (the pages router's,
whose layouts only read) come from the last version this process completed when
every entry the answer needs is cached under it (otherwise, :class:`StaleMiss`, the
request is answered again at the newest version); once the load is over, the
process replays those answers to itself in one background thread to compute them
at the newest version, and switches when they are done. At most :data:`STALE_SECONDS` after the process
first saw newer data, and visibly: ``X-Lantian-Stale: <served>; newest=<newest>``
and, on a page, a notice (:data:`STALE_NOTICE`). Every callback answer carries
``X-Lantian-Data-Version``. Why: a load bumps the version once per file (12 times
for the Beijing set), and recomputing every view at each of them, in each worker,
next to the load itself, made page answers during a reload 2–8 s at p95
(``benchmarks/dashboard_during_load.py``).
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import threading
import time
from typing import Callable, TypeVar

from flask import g, has_request_context, request
from flask_caching import Cache
from .i18n import normalize_lang

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
        _no_stale_miss(name)
        with _lock_for(key):
            try:
                value = cache.get(key)
            except Exception:  # noqa: BLE001
                value = None
            if value is None:
                value = compute()
                if _settled(version):
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
_kept: dict[str, _LocalLRU] = {}


def cached_kept(name: str, version: int, parts: tuple, compute: Callable[[], T],
                keep: int) -> T:
    """:func:`cached`, with the last ``keep`` results of ``name`` also held in this process
    as they are, for as long as the shared cache still has them (a cleared or evicted
    entry is computed anew). For results that are slow to unpickle: a nation's city-year
    (1,700 stations) is 320 MB and 0.1-0.2 s to unpickle on every request."""
    key = _key(name, version, parts)
    with _locks_guard:
        kept = _kept.setdefault(name, _LocalLRU(keep))
    hit = kept.get(key)
    if hit is not None:
        try:
            hit = hit if cache.has(key) else None
        except Exception:  # noqa: BLE001 - no cache to ask: compute as cached() would
            hit = None
    if hit is None:
        hit = cached(name, version, parts, compute)
        kept.put(key, hit)
    return hit


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
        _no_stale_miss(name)
        with _lock_for(key):
            value = _pages.get(key)
            if value is None:
                value = compute()
                if _settled(version):
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


# -- one data version per request; the last complete one while a load runs ----------------

def _seconds_from_env(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        log.warning("%s=%r is not a number of seconds; using %.0f", name,
                    os.environ.get(name), default)
        return default


#: At most this many seconds after a process first sees newer data does it answer
#: from the last version it completed (during a load, and after it while it computes
#: the newest in the background); ``LANTIAN_STALE_SECONDS=0`` turns it off.
STALE_SECONDS = _seconds_from_env("LANTIAN_STALE_SECONDS", 120.0)
#: A run seen in progress this recently still counts as a load in progress (the
#: instant between one file's run and the next one's).
RUN_GAP_SECONDS = 2.0
#: The page notice of an answer from the last complete version (``X-Lantian-Stale``).
STALE_NOTICE_ID = "page-stale-notice"
STALE_NOTICE = {
    "zh": "数据正在更新：此页显示的是本次导入前最近一次完整的数据（版本 {served}），"
          "新数据准备好后（最多约两分钟）刷新页面即可看到。",
    "en": "Data are being updated: this page shows the last complete data from before the "
          "current load (version {served}); reload the page in a minute or two to see the "
          "new data.",
}


class StaleMiss(BaseException):
    """A request answered from the last complete version needs an entry that version
    does not have cached: :func:`install_answer_cache` answers it again at the newest
    version. A ``BaseException``, so that page code turning an ``Exception`` into an
    error banner lets it through (nothing catches it but that wrapper)."""


class _Track:
    """Per process and database: the version answers come from while a load runs, and
    the background computation of the newest one once the load is over."""

    def __init__(self):
        self.settled: int | None = None       # the last version this process completed
        self.newer_since: float | None = None  # when it first saw a newer one (monotonic)
        self.running_seen = float("-inf")      # when it last saw an ingest run in progress
        self.target: int | None = None        # the newest version, computed in the background
        self.target_since = 0.0
        self.pending: set = set()             # answers queued to be computed at ``target``
        self.done: set = set()                # … and those computed
        self.busy = False
        self.stale_served = False             # answered from ``settled`` during a load


_tracks: dict[str, _Track] = {}
_tracks_guard = threading.Lock()
#: Environ key of a request the server replays to itself to compute the newest version
#: (a client cannot set it: HTTP headers become ``HTTP_*`` keys).
REVALIDATE_ENVIRON = "lantian.revalidate"
#: At most this many answers wait to be computed at the newest version per process.
REVALIDATE_QUEUE = 256


def _loading(engine, track: _Track, now: float) -> bool:
    """True while an ingest run is in progress (or was, a moment ago)."""
    from store.queries import run_in_progress
    try:
        with engine.connect() as conn:
            running = run_in_progress(conn)
    except Exception:  # noqa: BLE001 - cannot tell: answer fresh
        return False
    if running:
        track.running_seen = now
        return True
    return now - track.running_seen < RUN_GAP_SECONDS


def request_version(engine, read: Callable[[], int]) -> int:
    """The data version every cache lookup of this request uses (``read()`` reads the
    newest from the database, once per request and database).

    Outside a request: ``read()``. A page answer of the pages router
    (:func:`install_answer_cache` allows it; no other callback, no other route) may be
    answered from the last version this process completed when the
    database holds a newer one: while an ingest run is in progress, and after it while
    this process computes the newest version of the answers it gave meanwhile in the
    background (replaying them to itself, one at a time), for at most
    :data:`STALE_SECONDS` since it first saw the newer data. Every lookup then has to
    hit (:class:`StaleMiss`).
    """
    if not has_request_context():
        return read()
    pins = g.setdefault("_lantian_versions", {})
    url = str(engine.url)
    if url in pins:
        return pins[url][0]
    newest = read()
    version = newest
    if g.get("_lantian_may_be_stale") and STALE_SECONDS > 0:
        version = _choose(engine, url, newest)
    pins[url] = (version, newest, engine, read)
    if version != newest:
        g._lantian_stale = (version, newest)
    return version


def _choose(engine, url: str, newest: int) -> int:
    now = time.monotonic()
    with _tracks_guard:
        track = _tracks.setdefault(url, _Track())
        if track.settled is None or newest <= track.settled:
            _settle(track, newest)
            return newest
        if track.newer_since is None:
            track.newer_since = now
        if now - track.newer_since >= STALE_SECONDS:
            _settle(track, newest)                  # bounded: the newest, computed or not
            return newest
        settled = track.settled
    if _loading(engine, track, now):
        track.stale_served = True
        return settled                              # the last complete version
    with _tracks_guard:                             # no load (any more)
        if track.settled is None or newest <= track.settled:
            return newest
        if not track.stale_served:
            _settle(track, newest)                  # a change seen after it was made
            return newest
        if track.target != newest:
            track.target, track.target_since = newest, now
            track.pending, track.done, track.busy = set(), set(), False
        elif not track.pending and not track.busy and (
                track.done or now - track.target_since >= RUN_GAP_SECONDS):
            _settle(track, newest)                  # its answers are computed: switch
            return newest
    g._lantian_revalidate = (url, newest)           # compute this answer anew meanwhile
    return settled


def _settle(track: _Track, version: int) -> None:
    track.settled, track.newer_since, track.target = version, None, None
    track.pending, track.done, track.busy = set(), set(), False
    track.stale_served = False


_jobs: "queue.Queue | None" = None
_jobs_pid: int | None = None


def _schedule_revalidation(server, url: str, target: int) -> None:
    """Queue this (stale) answer to be computed at ``target`` in the background: the same
    request (path, body, the client's own headers and session), replayed to this server
    by one thread of this process and marked fresh (:data:`REVALIDATE_ENVIRON`)."""
    global _jobs, _jobs_pid
    from flask_login import current_user
    who = current_user.get_id() if current_user and current_user.is_authenticated else ""
    body = request.get_data(cache=True)
    key = (request.path, hashlib.sha1(body).hexdigest(), str(who).split(":", 1)[0])
    with _tracks_guard:
        track = _tracks.get(url)
        if track is None or track.target != target or key in track.pending \
                or key in track.done or len(track.pending) >= REVALIDATE_QUEUE:
            return
        track.pending.add(key)
        if _jobs is None or _jobs_pid != os.getpid():   # a forked worker starts its own
            import queue
            _jobs, _jobs_pid = queue.Queue(), os.getpid()
            threading.Thread(target=_revalidate_forever, args=(_jobs,), daemon=True,
                             name="lantian-revalidate").start()
    headers = [(k, v) for k, v in request.headers.items()
               if k.lower() not in ("content-length", "accept-encoding", "connection")]
    _jobs.put((server, url, target, key, request.path, body, headers,
               request.environ.get("REMOTE_ADDR", "127.0.0.1")))


def _revalidate_forever(jobs) -> None:
    while True:
        server, url, target, key, path, body, headers, remote = jobs.get()
        with _tracks_guard:
            track = _tracks.get(url)
            if track is None or track.target != target:
                continue
            track.busy = True
        try:
            t0 = time.perf_counter()
            answered = server.test_client(use_cookies=False).open(
                path, method="POST", data=body, headers=headers,
                environ_overrides={"REMOTE_ADDR": remote, REVALIDATE_ENVIRON: True})
            log.debug("computed %s at data version %s in the background: %s in %.2f s",
                      path, target, answered.status_code, time.perf_counter() - t0)
        except Exception:  # noqa: BLE001 - the answer is then computed on demand
            log.warning("computing %s at data version %s in the background failed", path,
                        target, exc_info=True)
        finally:
            with _tracks_guard:
                if track.target == target:
                    track.pending.discard(key)
                    track.done.add(key)
                track.busy = False


def _no_stale_miss(name: str) -> None:
    """Raise :class:`StaleMiss` when this request answers from the last complete
    version (which must not be computed now: the database holds newer data)."""
    if has_request_context() and g.get("_lantian_stale") is not None:
        raise StaleMiss(name)


def _settled(version: int) -> bool:
    """True when a result computed for ``version`` may be kept: the database still holds
    that version (outside a request, or when the request pinned nothing: True)."""
    if not has_request_context():
        return True
    for pinned, _newest, _engine, read in g.get("_lantian_versions", {}).values():
        if pinned != version:
            continue
        try:
            now = read()
        except Exception:  # noqa: BLE001 - cannot tell: do not keep it
            now = None
        if now != version:
            g._lantian_unsettled = True
            return False
    return True


def _mark_stale(response, served: int, newest: int) -> None:
    """Headers (and, on a page, a visible notice) on an answer from an older version."""
    response.headers["X-Lantian-Stale"] = f"{served}; newest={newest}"
    if response.status_code != 200 or response.mimetype != "application/json":
        return
    try:
        body = json.loads(response.get_data())
        page = body["response"]["_pages_content"]["children"]
        children = page["props"]["children"]
        lang = normalize_lang(page["props"].get("lang"))
        notice = {"type": "P", "namespace": "dash_html_components",
                  "props": {"id": STALE_NOTICE_ID, "className": "lt-note lt-stale",
                            "role": "status",
                            "children": STALE_NOTICE[lang].format(served=served)}}
        children.insert(1 if children else 0, notice)
    except (ValueError, KeyError, TypeError, AttributeError):
        return                      # not a page answer: the header says it
    response.set_data(json.dumps(body, ensure_ascii=False, separators=(",", ":")))


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

    def answer(*args, **kwargs):
        try:
            key = _answer_key()
        except Exception:  # noqa: BLE001 - no key (database down …): Dash answers as usual
            log.debug("answer cache: no key", exc_info=True)
            key = None
        if key is None:
            return server.make_response(view(*args, **kwargs))
        hit = _answers.get(key)
        if hit is not None:
            data, mimetype = hit
            return server.response_class(data, status=200, mimetype=mimetype)
        response = server.make_response(view(*args, **kwargs))
        data = response.get_data()
        if (response.status_code == 200 and "Set-Cookie" not in response.headers
                and b'"page-error"' not in data and b'"page-db-error"' not in data
                and not g.get("_lantian_unsettled")):
            _answers.put(key, (data, response.mimetype))
        return response

    @functools.wraps(view)
    def dispatch(*args, **kwargs):
        # Page answers (the pages router: page layouts only read) may come from the last
        # complete version while a load runs; not the server's own replays (they compute
        # the newest), and never another callback: one that writes (an upload, an admin
        # action) must run once, at the newest version, not be answered again or replayed.
        call = g.get("callback_call")
        g._lantian_may_be_stale = (call is not None and call.output == ROUTER_OUTPUT
                                   and not request.environ.get(REVALIDATE_ENVIRON))
        try:
            response = answer(*args, **kwargs)
        except StaleMiss as miss:
            log.debug("answering at the newest version: %s is not cached under the last "
                      "complete one", miss)
            g._lantian_may_be_stale = False
            for name in ("_lantian_stale", "_lantian_versions", "_lantian_revalidate"):
                g.pop(name, None)
            response = answer(*args, **kwargs)
        revalidate = g.get("_lantian_revalidate")
        if revalidate is not None and response.status_code == 200:
            try:
                _schedule_revalidation(server, *revalidate)
            except Exception:  # noqa: BLE001 - the answer is then computed on demand
                log.warning("could not queue an answer for the background", exc_info=True)
        pins = list(g.get("_lantian_versions", {}).values())
        if pins:
            response.headers["X-Lantian-Data-Version"] = str(pins[0][0])
        if g.get("_lantian_unsettled"):
            # computed while a load committed newer data: answered, but kept nowhere
            response.headers["X-Lantian-Unsettled"] = "1"
        stale = g.get("_lantian_stale")
        if stale is not None:
            _mark_stale(response, *stale)
        return response

    dispatch.answer_cache = True
    server.view_functions[endpoint] = dispatch

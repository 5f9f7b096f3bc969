"""The dashboard as a WSGI application, for gunicorn (or any WSGI server).

    gunicorn --workers 2 --threads 4 --preload --no-control-socket \\
        --bind 127.0.0.1:8050 'dashboard.wsgi:server'

or, with the same settings and nothing else to configure, ``lantian serve
--workers 2`` (:mod:`lantian.cli`, which runs gunicorn with this module).

The first use of ``server`` (``app``, ``application``) builds the app from the
settings of the environment
(``LANTIAN_DATABASE_URL``, ``LANTIAN_CACHE_URL``, ``LANTIAN_SETTINGS`` …,
:mod:`config.settings`) and warms the caches of the default views
(:func:`warm`): the first computation of a city-year costs 0.3–2 s, which
would otherwise fall on the first visitor after every start. With
``--preload`` (what ``lantian serve`` does) the master process builds and
warms once and the workers inherit the warm in-process cache when they fork;
without it each worker warms its own. Warming is bounded by
``LANTIAN_WARM_SECONDS`` (default 60; ``0`` turns it off), logged, and never
fails the start: a view that cannot be computed is logged and left cold.

The database connections opened while warming are closed before the workers
fork (a connection must never be shared between processes).
"""
from __future__ import annotations

import logging
import os
import time

log = logging.getLogger("lantian.wsgi")

#: Default time budget of :func:`warm` [s].
WARM_SECONDS = 60.0
#: At most this many cities are warmed (the first ones in display order).
WARM_CITIES = 20


def router_payload(path: str, search: str) -> dict:
    """The Dash Pages router call the browser sends when it opens ``path`` + ``search``."""
    return {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"},
                        {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": search}],
            "changedPropIds": ["_pages_location.pathname"], "state": []}


def warm(app, budget: float = WARM_SECONDS) -> dict:
    """Compute the default views of every city (up to :data:`WARM_CITIES`) into the caches.

    Per city, in display order: the city-year of its default period
    (:func:`dashboard.state.default_period_of`, what every staff page opens on),
    that period's statistics, and the public page (``/public?city=…``, through
    the app's own router as a browser asks for it; for the default city also
    plain ``/public``). Stops starting new work once ``budget`` seconds have
    passed. Never raises: returns ``{"done": [...], "failed": [...], "seconds": s}``.
    """
    from .context import engine_of
    from .pages import public
    from .queries import catalog, city_year, period_stats
    from .state import resolve

    started = time.perf_counter()
    done: list[str] = []
    failed: list[str] = []
    server = app.server
    engine = engine_of(server)
    try:
        with server.app_context():
            cat = catalog(engine)
            cities = [c for c in cat.city_ids() if c in cat.spans][:WARM_CITIES]
            default = cat.default_city()
    except Exception as exc:  # noqa: BLE001 - warming must never stop the server from starting
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        log.warning("warm: reading the catalogue failed (%s: %s); starting cold",
                    type(exc).__name__, first)
        return {"done": done, "failed": ["catalog"], "seconds": time.perf_counter() - started}
    client = server.test_client()
    for city in cities:
        view = resolve({"city": city}, cat.city_ids(), cat.spans, city)
        # (label, function, needs an app context: the router request brings its own)
        steps = [(f"{city} {view.year} city-year",
                  lambda v=view: city_year(engine, v.city, v.year), True),
                 (f"{city} {view.period} {view.year} statistics",
                  lambda v=view: period_stats(engine, v), True)]
        for search in [f"?city={city}"] + ([""] if city == default else []):
            steps.append((f"{public.PATH}{search}",
                          lambda s=search: _route(client, public.PATH, s), False))
        for label, step, needs_context in steps:
            if time.perf_counter() - started > budget:
                log.info("warm: budget of %.0f s used up; %d views warm, the rest stay cold",
                         budget, len(done))
                return {"done": done, "failed": failed, "seconds": time.perf_counter() - started}
            t0 = time.perf_counter()
            try:
                if needs_context:
                    with server.app_context():
                        step()
                else:
                    step()
            except Exception:  # noqa: BLE001
                failed.append(label)
                log.warning("warm: %s failed; left cold", label, exc_info=True)
                continue
            done.append(label)
            log.debug("warm: %s in %.2f s", label, time.perf_counter() - t0)
    seconds = time.perf_counter() - started
    log.info("warm: %d views of %d cities in %.1f s%s", len(done), len(cities), seconds,
             f" ({len(failed)} failed: {', '.join(failed)})" if failed else "")
    return {"done": done, "failed": failed, "seconds": seconds}


def _route(client, path: str, search: str) -> None:
    response = client.post("/_dash-update-component", json=router_payload(path, search))
    if response.status_code != 200:
        raise RuntimeError(f"router answered {response.status_code} for {path}{search}")
    body = response.get_data()
    if b'"page-error"' in body or b'"page-db-error"' in body:
        raise RuntimeError(f"{path}{search} rendered an error banner")


def build(budget: float | None = None):
    """The app of the configured database, its caches warmed, its connections closed."""
    from .app import create_app
    from .context import engine_of

    if not log.handlers and not logging.getLogger().handlers:
        # gunicorn configures only its own loggers: give the warm-up lines the same form
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] "
                                               "%(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    if budget is None:
        try:
            budget = float(os.environ.get("LANTIAN_WARM_SECONDS", WARM_SECONDS))
        except ValueError:
            log.warning("LANTIAN_WARM_SECONDS=%r is not a number; using %.0f",
                        os.environ.get("LANTIAN_WARM_SECONDS"), WARM_SECONDS)
            budget = WARM_SECONDS
    dash_app = create_app()
    if budget > 0:
        warm(dash_app, budget)
    # Forked workers must open their own connections: close the ones warming opened.
    engine_of(dash_app.server).dispose()
    # What the master built stays as it is in every worker: out of the collector's sight,
    # a collection neither walks it nor touches its pages (which would copy them per
    # worker); see dashboard.cache.keep_out_of_gc
    from .cache import keep_out_of_gc
    keep_out_of_gc()
    return dash_app


#: gunicorn's access log line: client, time, request, status, size, duration, worker pid.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms %(p)s "%(a)s"'


def run(*, host: str = "127.0.0.1", port: int = 8050, workers: int = 2, threads: int = 4,
        timeout: int = 120, access_log: str | None = None) -> None:
    """Serve :data:`server` with gunicorn (its arbiter runs in this process until stopped).

    The app is built and warmed once in this (master) process (``preload_app``),
    then ``workers`` processes fork from it, each with ``threads`` threads
    (``gthread``; ``threads=1``: the ``sync`` worker). ``timeout``: seconds a
    request may take before its worker is replaced. ``access_log``: a file,
    ``"-"`` for stderr, or None (no access log). SIGTERM stops gracefully
    (running requests may finish within ``timeout``), SIGHUP restarts the
    workers (they fork again from the warmed master: a new version of the code
    needs a restart of the service).
    """
    from gunicorn.app.base import BaseApplication

    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "timeout": timeout,
        "graceful_timeout": min(timeout, 30),
        "preload_app": True,
        "accesslog": access_log,
        "access_log_format": ACCESS_LOG_FORMAT,
        "errorlog": "-",
        "proc_name": "lantian-web",
        # gunicorn ≥ 25 opens a control socket at a fixed path per user: two servers on
        # one machine (a test beside a service) would fight over it
        "control_socket_disable": True,
    }

    class _Gunicorn(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return _built("server")

    _Gunicorn(prog="lantian serve").run()


def __getattr__(name: str):
    """``app``, ``server`` and ``application`` are built on first use (``gunicorn
    'dashboard.wsgi:server'`` asks for one), so :func:`run` can be imported cheaply."""
    if name in ("app", "server", "application"):
        return _built(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _built(name: str):
    if "app" not in globals():
        dash_app = build()
        globals().update(app=dash_app, server=dash_app.server, application=dash_app.server)
    return globals()[name]

"""The dashboard's cache: keyed by the data version that ingest bumps; Redis when configured."""
from __future__ import annotations

import pandas as pd
import pytest

from dashboard.app import create_app, engine_of
from dashboard.cache import cache, cached
from dashboard.queries import catalog, current_version
from ingest.loader import LoadResult, finish_run, load_frame, start_run
from tests.test_dashboard import _frame, _sync
from tests.conftest import YANGQUAN_SITES


def _load(engine, series, name, start="2026-11-01 00:00"):
    result = LoadResult(file=name, reader="test")
    result.run_id, result.same_as_run = start_run(engine, "test", name, name, {})
    with engine.begin() as conn:
        load_frame(conn, _frame(series, start=start), result)
    finish_run(engine, result)


def test_a_load_makes_cached_results_stale(engine, db_url):
    app = create_app(db_url, cache_url="")
    try:
        _sync(engine, YANGQUAN_SITES)
        _load(engine, {("SYN01", "PM2.5"): [30] * 24}, "a.csv")
        with app.server.test_request_context():
            before = catalog(engine_of(app.server))
        with app.server.test_request_context():
            assert catalog(engine_of(app.server)) is not None   # served from the cache
            v1 = current_version(engine)
        _load(engine, {("SYN05", "PM2.5"): [30] * 24}, "b.csv", start="2026-11-05 00:00")
        with app.server.test_request_context():
            after = catalog(engine_of(app.server))
            assert current_version(engine) > v1
        # the load bumped the version: the catalogue was read again and sees the new day
        assert str(before.spans["yangquan-demo"][1]) == "2026-11-01"
        assert str(after.spans["yangquan-demo"][1]) == "2026-11-05"
        assert after.version > before.version
    finally:
        engine_of(app.server).dispose()


def test_cached_computes_once_per_version_and_key(db_url):
    app = create_app(db_url, cache_url="")
    calls = []

    def compute():
        calls.append(1)
        return pd.DataFrame({"x": [len(calls)]})
    try:
        for _ in range(3):
            with app.server.test_request_context():
                got = cached("probe", 7, ("a",), compute)
        assert len(calls) == 1 and got["x"].tolist() == [1]
        with app.server.test_request_context():
            cached("probe", 8, ("a",), compute)      # new data version
            cached("probe", 7, ("b",), compute)      # other key
        assert len(calls) == 3
    finally:
        engine_of(app.server).dispose()


def test_redis_backend_is_shared_between_apps(db_url):
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/14"
    try:
        redis.Redis.from_url(url).flushdb()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    first, second = create_app(db_url, cache_url=url), create_app(db_url, cache_url=url)
    calls = []

    def compute():
        calls.append(1)
        return pd.DataFrame({"x": [1, 2, 3]})
    try:
        with first.server.test_request_context():
            cached("shared", 1, ("k",), compute)
        with second.server.test_request_context():
            got = cached("shared", 1, ("k",), compute)   # another "process": from Redis
        assert len(calls) == 1 and got["x"].tolist() == [1, 2, 3]
        assert any(k.startswith(b"lantian:") for k in redis.Redis.from_url(url).keys())
    finally:
        redis.Redis.from_url(url).flushdb()
        for a in (first, second):
            engine_of(a.server).dispose()


def test_cache_outage_degrades_to_computing(db_url, monkeypatch):
    app = create_app(db_url, cache_url="")

    def broken(*_a, **_k):
        raise ConnectionError("cache down")
    monkeypatch.setattr(cache, "get", broken)
    monkeypatch.setattr(cache, "set", broken)
    try:
        with app.server.test_request_context():
            assert cached("x", 1, (), lambda: 42) == 42
    finally:
        engine_of(app.server).dispose()


def test_comparison_profiles_share_the_default_days(engine, db_url, monkeypatch):
    """WHO and EU bring limits only: their days are the default's (one computation);
    a Chinese profile and the US EPA (its own AQI) keep entries of their own."""
    from dashboard import queries
    app = create_app(db_url, cache_url="")
    computed = []
    real = queries._memo

    def counting(name, version, parts, compute):
        def count():
            if name == "_city_year":
                computed.append(parts[-1])           # (url, city, year, profile)
            return compute()
        return real(name, version, parts, count)
    monkeypatch.setattr(queries, "_memo", counting)
    try:
        _sync(engine, YANGQUAN_SITES)
        _load(engine, {("SYN01", "PM2.5"): [30] * 24}, "a.csv")
        with app.server.test_request_context():
            default = queries.city_year(engine, "yangquan-demo", 2026)
            for profile in ("who-2021", "eu-2030"):
                assert queries.city_year(engine, "yangquan-demo", 2026, profile) is default
            us = queries.city_year(engine, "yangquan-demo", 2026, "us-epa-2024")
            cn = queries.city_year(engine, "yangquan-demo", 2026, "cn-2012")
        assert computed == [None, "us-epa-2024", "cn-2012"]
        assert us is not default and cn is not default
        assert queries.daily_profile("who-2021") is None
        assert queries.daily_profile("us-epa-2024") == "us-epa-2024"
    finally:
        engine_of(app.server).dispose()

"""While a load runs, callbacks are answered from the last complete data version
(dashboard/cache.py: request_version); never a mix of versions, and visibly so."""
from __future__ import annotations

import json
import time

from dashboard.app import create_app, engine_of
from dashboard.cache import STALE_NOTICE_ID, cache, cached
from dashboard.queries import current_version, load_overview_cached
from ingest.loader import LoadResult, finish_run, load_frame, start_run
from store.db import bump_data_version
from tests.conftest import YANGQUAN_SITES
from tests.dash_helpers import router_payload, staff_client
from tests.test_dashboard import _frame, _sync

DAY = {("SYN01", "PM2.5"): [30] * 24, ("SYN02", "PM2.5"): [40] * 24}


def _start(engine, name: str, series: dict, start: str) -> LoadResult:
    """A load whose readings are committed (the version bumped) but whose run is still
    going, as between two files of ``lantian ingest``."""
    result = LoadResult(file=name, reader="test")
    result.run_id, result.same_as_run = start_run(engine, "test", name, name, {})
    with engine.begin() as conn:
        load_frame(conn, _frame(series, start=start), result)
    return result


def _ask(client, path: str, search: str = ""):
    response = client.post("/_dash-update-component", json=router_payload(path, search))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response


def _without_notice(response) -> str:
    body = response.get_json()
    page = body["response"]["_pages_content"]["children"]
    page["props"]["children"] = [c for c in page["props"]["children"]
                                 if not (isinstance(c, dict)
                                         and c.get("props", {}).get("id") == STALE_NOTICE_ID)]
    return json.dumps(body, sort_keys=True)


def test_a_load_in_progress_is_answered_from_the_last_complete_version(engine, db_url):
    app = create_app(db_url, cache_url="")
    try:
        _sync(engine, YANGQUAN_SITES)
        first = _start(engine, "a.csv", DAY, "2026-11-01 00:00")
        finish_run(engine, first)
        client = staff_client(app)
        client.get("/")
        before = _ask(client, "/ranking")
        v1 = int(before.headers["X-Lantian-Data-Version"])
        assert "X-Lantian-Stale" not in before.headers

        # a file of a load committed (newer version), the load goes on
        running = _start(engine, "b.csv", {("SYN01", "PM2.5"): [90] * 24}, "2026-11-02 00:00")
        with engine.connect() as conn:
            from store.db import data_version
            v2 = data_version(conn)
        assert v2 > v1
        during = _ask(client, "/ranking")
        assert during.headers["X-Lantian-Stale"] == f"{v1}; newest={v2}"
        assert during.headers["X-Lantian-Data-Version"] == str(v1)
        assert STALE_NOTICE_ID in during.get_data(as_text=True)
        assert _without_notice(during) == _without_notice(before)   # the whole v1 answer

        # a view never computed at v1 cannot be answered from it: the newest, whole
        other = _ask(client, "/district")
        assert "X-Lantian-Stale" not in other.headers
        assert other.headers["X-Lantian-Data-Version"] == str(v2)
        assert STALE_NOTICE_ID not in other.get_data(as_text=True)

        # the load ends: the newest answers are computed in the background, then served
        finish_run(engine, running)
        deadline = time.monotonic() + 60
        while True:
            after = _ask(client, "/ranking")
            if "X-Lantian-Stale" not in after.headers:
                break
            assert time.monotonic() < deadline, "still answering from the old version"
            time.sleep(0.2)
        assert after.headers["X-Lantian-Data-Version"] == str(v2)
        assert STALE_NOTICE_ID not in after.get_data(as_text=True)

        # a change made while nobody was looking (no load seen in progress): at once
        _start_and_finish = _start(engine, "c.csv", {("SYN02", "PM2.5"): [70] * 24},
                                   "2026-11-03 00:00")
        finish_run(engine, _start_and_finish)
        fresh = _ask(client, "/ranking")
        assert "X-Lantian-Stale" not in fresh.headers
        assert int(fresh.headers["X-Lantian-Data-Version"]) > v2
    finally:
        engine_of(app.server).dispose()


def test_pages_and_exports_outside_callbacks_always_read_the_newest(engine, db_url):
    app = create_app(db_url, cache_url="")
    try:
        _sync(engine, YANGQUAN_SITES)
        finish_run(engine, _start(engine, "a.csv", DAY, "2026-11-01 00:00"))
        with app.server.test_request_context():
            v1 = current_version(engine)
        _start(engine, "b.csv", {("SYN01", "PM2.5"): [90] * 24}, "2026-11-02 00:00")
        with app.server.test_request_context():
            assert current_version(engine) > v1        # not a callback: never stale
    finally:
        engine_of(app.server).dispose()


def test_a_result_computed_while_the_version_moved_is_not_kept(engine, db_url):
    app = create_app(db_url, cache_url="")
    try:
        _sync(engine, YANGQUAN_SITES)

        def compute():
            with engine.begin() as conn:           # a load commits meanwhile
                bump_data_version(conn)
            return "half old, half new"
        with app.server.test_request_context():
            version = current_version(engine)
            assert cached("probe", version, ("x",), compute) == "half old, half new"
            # one version per request: the lookups of this request keep using it
            assert current_version(engine) == version
        key = [k for k in cache.cache._cache if k.startswith(f"probe:v{version}:")]
        assert key == []
        with app.server.test_request_context():
            v2 = current_version(engine)
            assert v2 == version + 1
            assert cached("probe", v2, ("x",), lambda: "whole") == "whole"
        assert [k for k in cache.cache._cache if k.startswith(f"probe:v{v2}:")]
    finally:
        engine_of(app.server).dispose()


def test_the_data_overview_is_not_recomputed_for_each_run(engine, db_url, monkeypatch):
    import dashboard.queries as queries
    scans = []
    real = queries.status_frame
    monkeypatch.setattr(queries, "status_frame", lambda conn: scans.append(1) or real(conn))
    app = create_app(db_url, cache_url="")
    try:
        _sync(engine, YANGQUAN_SITES)
        finish_run(engine, _start(engine, "a.csv", DAY, "2026-11-01 00:00"))
        with app.server.test_request_context():
            before = load_overview_cached(engine, runs=10)
        # a run that stores nothing new (same readings): no new version, a new run row
        again = _start(engine, "a-again.csv", DAY, "2026-11-01 00:00")
        with app.server.test_request_context():
            during = load_overview_cached(engine, runs=10)
        finish_run(engine, again)
        with app.server.test_request_context():
            after = load_overview_cached(engine, runs=10)
        assert len(scans) == 1                    # one scan of the readings per version
        assert during.status.equals(before.status) and after.status.equals(before.status)
        assert during.runs["status"].tolist()[0] == "running"
        assert after.runs["file"].tolist()[0] == "a-again.csv"
        assert after.runs["status"].tolist()[0] == "unchanged"
    finally:
        engine_of(app.server).dispose()

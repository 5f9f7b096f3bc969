"""Two web servers behind a load balancer: one PostgreSQL database, one Redis cache.

Two ``lantian serve --workers 1`` processes (gunicorn) share the database, the
Redis cache (``LANTIAN_CACHE_URL``) and the session key (``LANTIAN_SECRET_KEY``),
as the README's deployment section says to run them:

- a session signed in on one server is valid on the other (a load balancer
  may send any request anywhere), and a password change made once ends it on both;
- a load of new readings is seen by both at once (the caches key on the
  database's data version), and both fill the one Redis cache.
Data: the SYNTHETIC demo city.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.conftest import YANGQUAN_SITES, postgres_schema
from tests.dash_helpers import router_payload as router

LANTIAN = str(Path(sys.executable).with_name("lantian"))
REDIS_URL = os.environ.get("LANTIAN_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
PASSWORD = "two servers one database"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(env: dict, *args, stdin: str | None = None) -> str:
    done = subprocess.run([LANTIAN, *map(str, args)], env=env, capture_output=True, text=True,
                          input=stdin)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    import redis
    cache = redis.Redis.from_url(REDIS_URL)
    try:
        cache.ping()
    except redis.exceptions.ConnectionError:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} (it runs on every machine here)")
    cache.flushdb()
    database = postgres_schema()
    url = database.__enter__()
    folder = tmp_path_factory.mktemp("balanced")
    env = {**os.environ, "LANTIAN_DATABASE_URL": url, "LANTIAN_CACHE_URL": REDIS_URL,
           "LANTIAN_SETTINGS": "", "LANTIAN_SECRET_KEY": "shared-" + uuid.uuid4().hex,
           "LANTIAN_WARM_SECONDS": "0"}
    _run(env, "init", "--sites", YANGQUAN_SITES)
    _run(env, "demo", "--until", "2024-02-29", "--quiet")
    _run(env, "users", "add", "ops", "--role", "analyst", "--password-stdin",
         stdin=PASSWORD + "\n")
    servers, logs = [], []
    for name in ("a", "b"):
        port = _free_port()
        log = open(folder / f"{name}.log", "w+", encoding="utf-8")
        proc = subprocess.Popen(
            [LANTIAN, "serve", "--workers", "1", "--threads", "2", "--host", "127.0.0.1",
             "--port", str(port)],
            env={**env, "LANTIAN_DATA_DIR": str(folder / name)}, stdout=log,
            stderr=subprocess.STDOUT)
        servers.append((proc, f"http://127.0.0.1:{port}"))
        logs.append(log)
    for proc, base in servers:
        deadline = time.time() + 60
        while True:
            assert proc.poll() is None, "a server exited"
            assert time.time() < deadline, "a server did not answer within 60 s"
            try:
                if requests.get(base + "/login", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
    yield {"env": env, "bases": [b for _p, b in servers], "cache": cache, "folder": folder}
    for proc, _base in servers:
        proc.terminate()
        proc.wait(timeout=20)
    for log in logs:
        log.seek(0)
        assert "Traceback" not in log.read()
        log.close()
    database.__exit__(None, None, None)
    cache.flushdb()


def sign_in(base: str, password: str = PASSWORD) -> requests.Session:
    session = requests.Session()
    form = session.get(base + "/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    answer = session.post(base + "/login", data={"username": "ops", "password": password,
                                                "csrf_token": token, "next": "/"},
                          allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text[:300]
    return session


def call(session: requests.Session, base: str, path: str, search: str = ""):
    return session.post(base + "/_dash-update-component", json=router(path, search),
                        headers={"X-CSRFToken": session.cookies.get("_csrf_token", "")},
                        timeout=60)


def test_a_session_from_one_server_is_valid_on_the_other(cluster):
    a, b = cluster["bases"]
    session = sign_in(a)
    for base in (a, b):
        answer = call(session, base, "/ranking", "?city=yangquan-demo")
        assert answer.status_code == 200, (base, answer.text[:300])
        assert "lt-page-ranking" in answer.text
        assert session.get(base + "/export/ranking.csv?city=yangquan-demo",
                           timeout=60).status_code == 200
    anonymous = requests.post(b + "/_dash-update-component", json=router("/ranking"),
                              timeout=10)
    assert anonymous.status_code == 401


def test_new_readings_reach_both_servers_through_the_shared_cache(cluster):
    a, b = cluster["bases"]
    session = sign_in(b)
    search = "?city=yangquan-demo&station=SYN01&period=month&year=2024&month=3"
    before = [call(session, base, "/station", search).text for base in (a, b)]
    assert all("lt-page-station" in page for page in before)
    # both servers put their results into the one Redis cache
    assert len(cluster["cache"].keys("*")) > 0
    # a load of March 2024 (one more month of SYNTHETIC demo data) through the CLI
    _run(cluster["env"], "demo", "--until", "2024-03-31", "--quiet")
    after = [call(session, base, "/station", search).text for base in (a, b)]
    assert after[0] != before[0] and after[1] != before[1]
    # both now show March's readings of SYN01: the period ends on 2024-03-31
    for page in after:
        assert "2024-03-31" in page


def test_a_password_change_ends_the_session_on_both_servers(cluster):
    a, b = cluster["bases"]
    session = sign_in(a)
    assert call(session, b, "/ranking").status_code == 200
    _run(cluster["env"], "users", "passwd", "ops", "--password-stdin",
         stdin=PASSWORD + " (new)\n")
    for base in (a, b):
        assert call(session, base, "/ranking").status_code == 401
    assert sign_in(b, PASSWORD + " (new)") is not None
    _run(cluster["env"], "users", "passwd", "ops", "--password-stdin", stdin=PASSWORD + "\n")

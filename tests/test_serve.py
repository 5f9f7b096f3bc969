"""``lantian serve --workers 2``: the dashboard on gunicorn, as a real process.

One server on the SYNTHETIC demo database, on a free local port: both worker
processes answer ``/public``, the page's router callback answers with the
page, and SIGTERM stops the master and its workers cleanly (the last test).
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dashboard.wsgi import router_payload

LANTIAN = str(Path(sys.executable).with_name("lantian"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _workers(pid: int) -> set[int]:
    """The child processes of ``pid`` (gunicorn's workers)."""
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        children.update(int(c) for c in task.read_text().split())
    return children


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode("utf-8")


def _post(url: str, payload: dict) -> tuple[int, str]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode("utf-8"),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read().decode("utf-8")


@pytest.fixture(scope="module")
def server(demo_db_url, tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve")
    port = _free_port()
    env = {**os.environ, "LANTIAN_DATABASE_URL": demo_db_url, "LANTIAN_CACHE_URL": "",
           "LANTIAN_SETTINGS": "", "LANTIAN_DATA_DIR": str(folder)}
    access = folder / "access.log"
    log = open(folder / "serve.log", "w+", encoding="utf-8")  # a file: a pipe would fill up
    proc = subprocess.Popen([LANTIAN, "serve", "--workers", "2", "--host", "127.0.0.1",
                             "--port", str(port), "--access-log", str(access)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        assert proc.poll() is None, f"lantian serve exited: {log.seek(0) or log.read()[-3000:]}"
        assert time.time() < deadline, "lantian serve did not answer within 60 s"
        try:
            if _get(base + "/public")[0] == 200 and len(_workers(proc.pid)) == 2:
                break
        except OSError:
            pass
        time.sleep(0.2)
    yield {"proc": proc, "base": base, "access": access, "log": log}
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    log.close()


def test_public_answers_from_both_workers(server):
    proc = server["proc"]
    workers = _workers(proc.pid)
    assert len(workers) == 2, workers
    log = server["log"]
    log.seek(0)
    startup = log.read()
    assert "Using worker: gthread" in startup and "warm: " in startup, startup[-2000:]

    def visit(_):
        return _get(server["base"] + "/public?city=yangquan-demo")

    seen: set[int] = set()
    deadline = time.time() + 15
    while seen != workers and time.time() < deadline:
        with ThreadPoolExecutor(8) as pool:
            for status, html in pool.map(visit, range(32)):
                assert status == 200
                assert "公众 · 蓝天 Lantian" in html and 'id="react-entry-point"' in html
        time.sleep(0.2)             # the access log is written after the answer
        lines = [line for line in server["access"].read_text().splitlines()
                 if '"GET /public?city=yangquan-demo HTTP/1.1" 200' in line]
        seen = {int(m.group(1)) for line in lines if (m := re.search(r" <(\d+)> ", line))}
    assert seen == workers, f"answered by {seen}, workers {workers}"


def test_public_router_callback_answers(server):
    status, body = _post(server["base"] + "/_dash-update-component",
                         router_payload("/public", "?city=yangquan-demo"))
    assert status == 200
    answer = json.loads(body)["response"]
    assert answer["_pages_store"]["data"]["title"] == "公众 · 蓝天 Lantian"
    page = json.dumps(answer["_pages_content"]["children"], ensure_ascii=False)
    assert "空气质量公众信息" in page and "SYNTHETIC" in page
    assert '"public-today"' in page
    assert "page-error" not in page and "page-db-error" not in page
    # the answer is served again from the cache, identical
    assert _post(server["base"] + "/_dash-update-component",
                 router_payload("/public", "?city=yangquan-demo")) == (status, body)


def test_sigterm_stops_master_and_workers(server):
    proc = server["proc"]
    workers = _workers(proc.pid)
    assert len(workers) == 2
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    deadline = time.time() + 5
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "a worker outlived SIGTERM"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(server["base"].rsplit(":", 1)[1])),
                                 timeout=1).close()
    log = server["log"]
    log.seek(0)
    text = log.read()
    assert "Shutting down: Master" in text, text[-2000:]
    assert "Traceback" not in text, text[-3000:]

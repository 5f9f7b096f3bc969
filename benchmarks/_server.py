"""``lantian serve`` in a child process for the benchmarks that measure it over HTTP
(``dashboard_during_load.py``, ``public_load.py``): start on a free port, wait until
``/public`` answers, stop gracefully."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

LANTIAN = str(Path(sys.executable).with_name("lantian"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict, workers: int, threads: int, log) -> tuple:
    """(process, base address, command) of ``lantian serve`` with ``env`` added to the
    environment; exits the benchmark with the server's log when it does not come up."""
    port = free_port()
    command = [LANTIAN, "serve", "--workers", str(workers), "--threads", str(threads),
               "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(command, env={**os.environ, "LANTIAN_SETTINGS": "", **env},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            sys.exit(f"lantian serve exited with {proc.returncode}:\n{log.read()[-3000:]}")
        try:
            with urllib.request.urlopen(base + "/public", timeout=2) as response:
                if response.status == 200:
                    return proc, base, command
        except (OSError, urllib.error.URLError):
            time.sleep(0.3)
    stop_server(proc)
    sys.exit("lantian serve did not answer within 180 s")


def stop_server(proc) -> int:
    """SIGTERM (gunicorn's graceful stop), then SIGKILL after 40 s; the exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode

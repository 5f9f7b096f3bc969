"""Load on the public page: ``lantian serve --workers 2`` (gunicorn) under ``wrk``.

Builds the Beijing database from the real data (``<data>/beijing-multisite``,
about 5 s; or ``--db URL`` reuses one), starts ``lantian serve --workers 2``
on 127.0.0.1 on a free port as a subprocess, waits until ``/public`` answers,
then loads ``/public`` once in Debian's headless Chromium (Playwright, the PyPI
package, with ``/usr/bin/chromium``: nothing downloads a browser) and records
every request the page makes. The recorded requests to the app — the page,
``/_dash-layout``, ``/_dash-dependencies`` and each ``POST
/_dash-update-component`` with the exact JSON body and headers the browser
sent — are replayed with ``wrk`` (a generated Lua script), each scenario for
``--duration`` seconds:

* **page**: ``GET /public`` (the HTML);
* **callbacks**: the Dash requests the page makes: ``/_dash-layout``,
  ``/_dash-dependencies`` and every callback POST, in the browser's order;
* **visit**: the page and then its Dash requests, in the browser's order (what
  one visit costs the server; the static JS/CSS bundles are fingerprinted and
  cached by browsers, so they are listed but not replayed).

Before the load every replayed request is checked once (status 200/204; the
router's answer holds the page body and no error banner). Printed per scenario:
the exact ``wrk`` command, requests/s, latency p50/p90/p99, errors (socket
errors and non-2xx/3xx answers), and PASS/FAIL against the targets: **at least
300 requests/s with p99 under 250 ms and no error, with 2 gunicorn workers**.
Wall-clock figures: wrk runs on the same machine as the server (on the 2-core
development machine they share both cores); the load average is printed.

    apt-get install -y wrk chromium      # Debian packages (wrk 4.1)
    .venv/bin/python benchmarks/public_load.py [--db URL] [--duration 20]
        [--connections 16] [--workers 2] [--threads 4] [--redis] [--data ../shared/data]

Exit status 0 when every scenario passes, 1 otherwise. About 1.5 minutes with
the defaults.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from _server import start_server, stop_server
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
# this folder holds a script named like the dashboard package: keep it off the path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

LANTIAN = str(Path(sys.executable).with_name("lantian"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
REDIS_URL = "redis://127.0.0.1:6379/15"
TARGET_RPS = 300.0
TARGET_P99_MS = 250.0
#: Request headers replayed as the browser sent them (the rest are per-connection).
REPLAYED_HEADERS = ("accept", "accept-encoding", "accept-language", "content-type", "origin",
                    "referer", "user-agent")


# -- the server -------------------------------------------------------------------------

def build_db(data: Path, folder: Path) -> str:
    """The Beijing database, built with the CLI as ``benchmarks/dashboard.py`` does."""
    spec = importlib.util.spec_from_file_location("_bench_dashboard", HERE / "dashboard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_db(data, folder)


def worker_count(pid: int) -> int:
    """Child processes of the gunicorn master (its workers)."""
    children = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        children.update(task.read_text().split())
    return len(children)


# -- what the browser asks for ------------------------------------------------------------

def capture(base: str) -> list[dict]:
    """Every request Chromium makes to the server while it opens ``/public``."""
    from playwright.sync_api import sync_playwright

    seen: list[dict] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()

        def record(request):
            if not request.url.startswith(base):
                return
            headers = request.all_headers()
            seen.append({"method": request.method, "path": request.url[len(base):],
                         "body": request.post_data or "",
                         "headers": {k: v for k, v in headers.items()
                                     if k in REPLAYED_HEADERS}})

        page.on("request", record)
        page.goto(base + "/public", wait_until="networkidle")
        page.wait_for_selector("#page-body", timeout=30000)
        page.wait_for_load_state("networkidle")
        browser.close()
    return seen


def is_app_request(r: dict) -> bool:
    """The requests the app computes: the page, the Dash layout/dependencies, callbacks."""
    path = urlsplit(r["path"]).path
    return (path == "/public" or path in ("/_dash-layout", "/_dash-dependencies")
            or path == "/_dash-update-component")


def label(r: dict) -> str:
    path = urlsplit(r["path"]).path
    if path != "/_dash-update-component":
        return f"{r['method']} {path}"
    body = json.loads(r["body"])
    search = [i.get("value") for i in body.get("inputs", []) if isinstance(i, dict)
              and i.get("property") == "search"]
    output = body["output"]
    name = ("router" if output.startswith(".._pages_content") else
            "nav links" if "app-nav-link" in output else
            "controls → URL" if output.startswith("_pages_location.search") else output[:40])
    return f"POST callback {name}" + (f" (search {search[0]!r})" if search else "")


def check(base: str, r: dict) -> str | None:
    """Send ``r`` once; None when the answer is right, else what is wrong."""
    headers = {k: v for k, v in r["headers"].items() if k != "accept-encoding"}
    data = r["body"].encode("utf-8") if r["method"] == "POST" else None
    request = urllib.request.Request(base + r["path"], data=data, headers=headers,
                                     method=r["method"])
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return f"status {exc.code}"
    if status not in (200, 204):
        return f"status {status}"
    if "router" in label(r) and ('"page-body"' not in body or '"page-error"' in body
                                 or '"page-db-error"' in body):
        return "the router's answer has no page body, or an error banner"
    if r["path"] == "/public" and "<title>" not in body:
        return "no HTML page"
    return None


# -- wrk ---------------------------------------------------------------------------------

def lua_string(text: str) -> str:
    """A Lua string literal of ``text`` (UTF-8 bytes, escaped)."""
    safe = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,:{}[]._-/?=&;()")
    return '"' + "".join(chr(b) if b in safe else f"\\{b}" for b in text.encode("utf-8")) + '"'


def lua_script(requests: list[dict]) -> str:
    """A wrk script that sends ``requests`` in turn and prints its figures as JSON."""
    items = []
    for r in requests:
        headers = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}"
                            for k, v in r["headers"].items())
        body = lua_string(r["body"]) if r["method"] == "POST" else "nil"
        items.append(f"  {{{lua_string(r['method'])}, {lua_string(r['path'])}, {{{headers}}}, "
                     f"{body}}},")
    return "\n".join([
        "-- generated by benchmarks/public_load.py: replays requests recorded from Chromium",
        "local recorded = {", *items, "}",
        "local formatted = {}",
        "local next_index = 1",
        "init = function(args)",
        "  for i, r in ipairs(recorded) do formatted[i] = wrk.format(r[1], r[2], r[3], r[4]) end",
        "end",
        "request = function()",
        "  local r = formatted[next_index]",
        "  next_index = next_index % #formatted + 1",
        "  return r",
        "end",
        "done = function(summary, latency, requests)",
        "  local e = summary.errors",
        '  io.write(string.format("WRK_JSON {\\"requests\\": %d, \\"duration_us\\": %d, '
        '\\"p50_us\\": %d, \\"p90_us\\": %d, \\"p99_us\\": %d, \\"max_us\\": %d, '
        '\\"connect\\": %d, \\"read\\": %d, \\"write\\": %d, \\"status\\": %d, '
        '\\"timeout\\": %d}\\n", summary.requests, summary.duration, '
        "latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, "
        "e.connect, e.read, e.write, e.status, e.timeout))",
        "end",
        ""])


def run_wrk(base: str, requests: list[dict], name: str, duration: int, connections: int,
            threads: int, folder: Path) -> dict:
    script = folder / f"{name}.lua"
    script.write_text(lua_script(requests), encoding="utf-8")
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
               "--timeout", "10s", "-s", str(script), base + "/public"]
    print(f"\n== {name}: {len(requests)} request(s) in turn: "
          + "; ".join(label(r) for r in requests))
    print("$ " + " ".join(command))
    done = subprocess.run(command, capture_output=True, text=True)
    lines = done.stdout.splitlines()
    print("\n".join("  " + line for line in lines if not line.startswith("WRK_JSON")))
    if done.returncode != 0:
        sys.exit(f"wrk failed ({done.returncode}):\n{done.stderr}")
    figures = json.loads(next(line for line in lines if line.startswith("WRK_JSON"))[9:])
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["errors"] = sum(figures[k] for k in ("connect", "read", "write", "status",
                                                 "timeout"))
    figures["command"] = " ".join(command)
    return figures


def verdict(f: dict) -> bool:
    return f["rps"] >= TARGET_RPS and f["p99_us"] / 1000 < TARGET_P99_MS and f["errors"] == 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", help="database URL with the Beijing set (default: build one)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--duration", type=int, default=20, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--redis", action="store_true",
                        help=f"share the cache in Redis ({REDIS_URL}, flushed first)")
    args = parser.parse_args(argv)
    for tool, hint in (("wrk", "apt-get install -y wrk"), (CHROMIUM, "apt-get install -y chromium")):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: {hint}")

    cache_url = ""
    if args.redis:
        import redis
        redis.Redis.from_url(REDIS_URL).flushdb()
        cache_url = REDIS_URL
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lantian-load-") as tmp, \
            open(Path(tmp) / "serve.log", "w+") as log:
        folder = Path(tmp)
        db_url = args.db
        if not db_url:
            if not (args.data / "beijing-multisite").is_dir():
                sys.exit(f"{args.data / 'beijing-multisite'} not found: pass --data or --db")
            t0 = time.perf_counter()
            db_url = build_db(args.data, folder)
            print(f"built the Beijing database in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        proc, base, command = start_server({"LANTIAN_DATABASE_URL": db_url,
                                             "LANTIAN_CACHE_URL": cache_url},
                                            args.workers, args.threads, log)
        try:
            print(f"$ {' '.join(command)}  (LANTIAN_DATABASE_URL={db_url} "
                  f"LANTIAN_CACHE_URL={cache_url or '(in-process)'})")
            print(f"answering after {time.perf_counter() - t0:.1f} s; {worker_count(proc.pid)} "
                  f"worker processes; {os.cpu_count()} CPUs, load average "
                  f"{os.getloadavg()[0]:.1f}")
            seen = capture(base)
            replay = [r for r in seen if is_app_request(r)]
            print(f"\nChromium opening /public made {len(seen)} requests; replayed: "
                  f"{len(replay)} (the other {len(seen) - len(replay)} are static files):")
            for r in replay:
                print(f"  {label(r)}  [{len(r['body'])} B body]" if r["body"] else
                      f"  {label(r)}")
            problems = [(label(r), check(base, r)) for r in replay]
            problems = [(name, p) for name, p in problems if p]
            if problems:
                for name, problem in problems:
                    print(f"check failed: {name}: {problem}")
                return 1
            page = [r for r in replay if urlsplit(r["path"]).path == "/public"][:1]
            dash_requests = [r for r in replay if urlsplit(r["path"]).path != "/public"]
            scenarios = {"page": page, "callbacks": dash_requests, "visit": page + dash_requests}
            results = {}
            for name, requests in scenarios.items():
                results[name] = run_wrk(base, requests, name, args.duration, args.connections,
                                        args.wrk_threads, folder)
            load = os.getloadavg()[0]
        finally:
            code = stop_server(proc)
        log.seek(0)
        server_log = log.read()
    tracebacks = server_log.count("Traceback")

    print(f"\nResults ({args.workers} gunicorn workers × {args.threads} threads, "
          f"{args.connections} connections, {args.duration} s each; load average after "
          f"{load:.1f}; cache {'Redis' if cache_url else 'in-process'}):")
    print(f"{'scenario':<11}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"{'requests':>10}{'errors':>8}  verdict")
    ok = True
    for name, f in results.items():
        passed = verdict(f)
        ok &= passed
        print(f"{name:<11}{f['rps']:>9.0f}{f['p50_us'] / 1000:>9.1f}{f['p90_us'] / 1000:>9.1f}"
              f"{f['p99_us'] / 1000:>9.1f}{f['max_us'] / 1000:>9.1f}{f['requests']:>10}"
              f"{f['errors']:>8}  {'PASS' if passed else 'FAIL'}")
    print(f"targets: ≥ {TARGET_RPS:.0f} requests/s, p99 < {TARGET_P99_MS:.0f} ms, no error "
          f"(socket errors, non-2xx/3xx): {'PASS' if ok else 'FAIL'}")
    print(f"server stopped with SIGTERM: exit status {code}; {tracebacks} traceback(s) in its "
          f"log")
    if tracebacks or code != 0:
        print(server_log[-3000:])
        ok = False
    print(f"(total {time.perf_counter() - started:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Faults, each a test: the database restarted, killed ingests, a full or read-only
database, the SMTP server down. Real servers and real processes throughout.

- PostgreSQL runs as a **private cluster** made for this module (``initdb`` into a
  temporary folder, ``pg_ctl`` on a free port, as the ``postgres`` OS user), never
  the machine's shared server: the tests stop, start and fill it. They skip with
  a message when the PostgreSQL binaries (``/usr/lib/postgresql/*/bin``) or
  ``runuser`` are absent.
- Disk full is a real ENOSPC: the SQLite file, or a PostgreSQL tablespace, on a
  small tmpfs mounted for the test (root only; skipped with a message otherwise).
- The data are the real Beijing Multi-Site files (``lantian ingest prsa``) when
  ``../shared/data`` is present, else SYNTHETIC long CSV files generated here
  (``SYNTHETIC_<station>.csv``, ``lantian ingest csv``).
- Every count is compared with a clean load of the same files (``clean``).

Slow: the whole module takes 75-95 s on the shared 2-core machine (``pytest
tests/test_faults.py``); the slowest are the SMTP test (~14 s: three report runs,
each drawing its charts), the dashboard restart (~12 s: gunicorn with 2 workers)
and the SIGKILL tests (~8 s each). ``--db=sqlite`` leaves out the PostgreSQL ones.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sqlalchemy import create_engine, text

from tests.conftest import BEIJING_SITES, SHARED_DATA

LANTIAN = str(Path(sys.executable).with_name("lantian"))
COLUMNS = ["so2", "no2", "co", "o3", "pm10", "pm25"]
HOST = socket.gethostname()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lantian_env(url: str, **extra) -> dict:
    env = {**os.environ, "LANTIAN_DATABASE_URL": url, "LANTIAN_SETTINGS": "",
           "LANTIAN_CACHE_URL": "", "COLUMNS": "400"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def lantian(url: str, *args, env: dict | None = None, input: str | None = None,
            cwd=None) -> subprocess.CompletedProcess:
    """Run the installed ``lantian`` command as a user would."""
    return subprocess.run([LANTIAN, *map(str, args)], env=env or lantian_env(url), input=input,
                          capture_output=True, text=True, timeout=300, cwd=cwd)


def ok(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def one_error_line(done: subprocess.CompletedProcess) -> str:
    """The command failed with exit status 1 and said so in exactly one line, no traceback."""
    assert done.returncode == 1, (done.returncode, done.stderr[-3000:])
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def sa_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1] if url.startswith("postgresql://") \
        else url


# ----------------------------------------------------------------------------- PostgreSQL

class PrivateCluster:
    """A PostgreSQL cluster of this test module only: initdb in a temporary folder, served
    on a free port of 127.0.0.1 (trust authentication), run as the ``postgres`` OS user."""

    def __init__(self, bindir: Path):
        self.bin = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="lantian-faults-pg-"))
        shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self.port = free_port()
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        self.start()

    def _run(self, program: str, *args) -> str:
        done = subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / program),
                               *map(str, args)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{program}: {done.stdout}{done.stderr}"
        return done.stdout

    def start(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-l", self.dir / "server.log", "-w", "-t", "60",
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                        "-c fsync=off -c full_page_writes=off", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, *statements: str, database: str = "postgres") -> None:
        engine = create_engine(sa_url(self.url(database)), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                for statement in statements:
                    conn.execute(text(statement))
        finally:
            engine.dispose()

    def new_database(self, name: str, *options: str) -> str:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                   f'CREATE DATABASE "{name}" {" ".join(options)}')
        return self.url(name)

    def close(self) -> None:
        try:
            self.stop("immediate")
        except AssertionError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_cluster(pytestconfig):
    if pytestconfig.getoption("--db") == "sqlite":
        pytest.skip("PostgreSQL fault tests left out by --db=sqlite")
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if not found:
        pytest.skip("PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb, pg_ctl) are "
                    "absent: apt-get install postgresql to run the PostgreSQL fault tests")
    if shutil.which("runuser") is None or os.geteuid() != 0:
        pytest.skip("the private PostgreSQL cluster runs as the 'postgres' OS user through "
                    "runuser: run the fault tests as root")
    cluster = PrivateCluster(Path(found[-1]).parent)
    yield cluster
    cluster.close()


@pytest.fixture
def fault_url(db_backend, request, tmp_path) -> str:
    """An empty database of the backend: a SQLite file, or a new database of the private
    cluster (never the shared PostgreSQL server)."""
    if db_backend == "sqlite":
        return f"sqlite:///{tmp_path / 'faults.sqlite'}"
    cluster = request.getfixturevalue("pg_cluster")
    return cluster.new_database(re.sub(r"\W", "_", request.node.name)[:50].lower())


# ----------------------------------------------------------------------------- tmpfs

class Tmpfs:
    """A tmpfs of ``size`` mounted on a temporary folder (a small disk that can fill up)."""

    def __init__(self, size: str, owner: str | None = None):
        self.path = Path(tempfile.mkdtemp(prefix="lantian-faults-disk-"))
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                               str(self.path)], capture_output=True, text=True)
        if done.returncode != 0:
            self.path.rmdir()
            pytest.skip(f"cannot mount a tmpfs to fill up ({done.stderr.strip()}): the disk "
                        "full and read-only mount tests need root")
        if owner:
            shutil.chown(self.path, owner)

    def remount(self, options: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{options}", str(self.path)], check=True)

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)
        shutil.rmtree(self.path, ignore_errors=True)


@pytest.fixture
def tmpfs():
    made: list[Tmpfs] = []

    def mount(size: str, owner: str | None = None) -> Tmpfs:
        made.append(Tmpfs(size, owner))
        return made[-1]
    yield mount
    for disk in made:
        disk.close()


# ----------------------------------------------------------------------------- the data

@dataclass
class Source:
    """What to ingest: the reader, its files (one station each) and what the data are."""
    reader: str
    files: list[Path]
    stations: list[str]                   # station code of each file
    label: str
    folder: Path
    extra: list[str] = field(default_factory=list)

    def ingest(self, files=None) -> list[str]:
        """The command loading ``files`` (default: all, as the folder: ``ingest prsa`` takes
        one file or one folder)."""
        paths = [self.folder] if files is None else list(files)
        assert self.reader != "prsa" or len(paths) == 1
        return ["ingest", self.reader, *map(str, paths), *self.extra, "--quiet"]


FILES = 5          # stations (files) loaded: enough for "some stored, one cut, some not yet"
COLUMN_OF = {"SO2": "so2", "NO2": "no2", "CO": "co", "O3": "o3", "PM10": "pm10", "PM2.5": "pm25"}


def synthetic_files(folder: Path) -> list[Path]:
    """SYNTHETIC long CSV files (station,time,pollutant,value,unit), one per Beijing station
    code, four years of hours like the real files: generated numbers, not measurements."""
    rng = np.random.default_rng(20240601)
    hours = pd.date_range("2013-03-01", "2017-02-28 23:00", freq="h")
    scale = {"SO2": 15, "NO2": 50, "CO": 1.2, "O3": 60, "PM10": 100, "PM2.5": 70}
    out = []
    for code in [f"10{i:02d}A" for i in range(1, FILES + 1)]:
        parts = []
        for pollutant, s in scale.items():
            value = np.round(rng.gamma(2.0, s / 2.0, len(hours)), 1 if pollutant == "CO" else 0)
            keep = rng.random(len(hours)) > 0.03                       # 3 % missing
            parts.append(pd.DataFrame({"station": code, "time": hours[keep].strftime(
                "%Y-%m-%d %H:%M"), "pollutant": pollutant, "value": value[keep],
                "unit": "mg/m3" if pollutant == "CO" else "ug/m3"}))
        path = folder / f"SYNTHETIC_{code}.csv"
        pd.concat(parts).to_csv(path, index=False)
        out.append(path)
    return out


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Source:
    """The first five real Beijing files (a folder of links to them: ``ingest prsa`` takes a
    file or a folder), else five SYNTHETIC files."""
    real = SHARED_DATA / "beijing-multisite"
    files = sorted(real.glob("PRSA_Data_*.csv.gz"))[:FILES] if real.is_dir() else []
    folder = tmp_path_factory.mktemp("source")
    if files:
        from ingest.prsa import PRSA_STATIONS
        links = []
        for f in files:
            links.append(folder / f.name)
            links[-1].symlink_to(f)
        codes = [PRSA_STATIONS[f.name.split("_")[2]] for f in files]
        return Source("prsa", links, codes, "real Beijing Multi-Site files", folder)
    files = synthetic_files(folder)
    return Source("csv", files, [f.stem.split("_")[1] for f in files],
                  f"SYNTHETIC CSV files ({SHARED_DATA} is absent)", folder, ["--strict"])


def raw_counts(source: Source) -> pd.DataFrame:
    """Readings per station and pollutant counted straight from the files."""
    rows = {}
    for code, path in zip(source.stations, source.files):
        raw = pd.read_csv(path)
        if source.reader == "prsa":
            rows[code] = {c: int(raw[p].notna().sum()) for p, c in COLUMN_OF.items()}
        else:
            n = raw.dropna(subset=["value"]).groupby("pollutant").size()
            rows[code] = {c: int(n.get(p, 0)) for p, c in COLUMN_OF.items()}
    return pd.DataFrame.from_dict(rows, orient="index")[COLUMNS].sort_index()


def snapshot(url: str) -> dict:
    """What a database holds: per station the hourly rows, readings per pollutant, QC-flagged
    readings and daily rows; duplicate and orphan rows; the ingest runs."""
    engine = create_engine(sa_url(url))
    counts = ", ".join(f"COUNT(h.{c}) AS {c}" for c in COLUMNS)
    flagged = " + ".join(f"SUM(CASE WHEN h.{c}_flag > 1 THEN 1 ELSE 0 END)" for c in COLUMNS)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":     # no temporary files on a full disk
                conn.execute(text("SET work_mem = '256MB'"))
            per_station = pd.DataFrame(conn.execute(text(
                f"SELECT s.code, COUNT(*) AS hours, {counts}, {flagged} AS flagged "
                "FROM hourly h JOIN stations s ON s.id = h.station_id GROUP BY s.code")).all(),
                columns=["station", "hours", *COLUMNS, "flagged"])
            daily = dict(conn.execute(text(
                "SELECT s.code, COUNT(*) FROM station_daily d JOIN stations s "
                "ON s.id = d.station_id GROUP BY s.code")).all())
            duplicates = conn.execute(text(
                "SELECT COUNT(*) FROM (SELECT station_id, ts FROM hourly GROUP BY station_id, ts "
                "HAVING COUNT(*) > 1) d")).scalar()
            orphans = conn.execute(text(
                "SELECT COUNT(*) FROM hourly h LEFT JOIN stations s ON s.id = h.station_id "
                "LEFT JOIN ingest_runs r ON r.id = h.run_id WHERE s.id IS NULL OR r.id IS NULL"
            )).scalar()
            daily_orphans = conn.execute(text(
                "SELECT COUNT(*) FROM station_daily d LEFT JOIN stations s "
                "ON s.id = d.station_id WHERE s.id IS NULL")).scalar()
            runs = pd.DataFrame(conn.execute(text(
                "SELECT r.id, r.file, r.status, r.message, (SELECT COUNT(*) FROM hourly h "
                "WHERE h.run_id = r.id) AS stored FROM ingest_runs r ORDER BY r.id")).all(),
                columns=["id", "file", "status", "message", "stored"])
    finally:
        engine.dispose()
    per_station["daily"] = per_station["station"].map(daily).fillna(0).astype(int)
    per_station = per_station.set_index("station").sort_index().astype(int)
    return {"stations": per_station, "duplicates": int(duplicates), "orphans": int(orphans),
            "daily_orphans": int(daily_orphans), "runs": runs}


@pytest.fixture(scope="module")
def clean(source, tmp_path_factory) -> pd.DataFrame:
    """Per-station counts of a clean load of every file (SQLite, one uninterrupted run),
    checked against the readings counted in the files themselves."""
    url = f"sqlite:///{tmp_path_factory.mktemp('clean') / 'clean.sqlite'}"
    ok(lantian(url, "init", "--sites", BEIJING_SITES))
    ok(lantian(url, *source.ingest()))
    snap = snapshot(url)
    assert snap["duplicates"] == 0 and snap["orphans"] == 0
    expected = raw_counts(source)
    pd.testing.assert_frame_equal(snap["stations"][COLUMNS], expected, check_names=False)
    return snap["stations"]


def assert_all_or_nothing(snap: dict, clean: pd.DataFrame) -> None:
    """After an interrupted load: each station (file) is either complete or absent, and every
    stored row belongs to a run that exists; nothing is duplicated."""
    assert snap["duplicates"] == 0 and snap["orphans"] == 0 and snap["daily_orphans"] == 0
    for code, row in snap["stations"].iterrows():
        assert row.equals(clean.loc[code]), (code, row.to_dict(), clean.loc[code].to_dict())


def assert_complete(snap: dict, clean: pd.DataFrame) -> None:
    """Exactly the clean load: same stations, hours, readings, flags and daily rows."""
    assert snap["duplicates"] == 0 and snap["orphans"] == 0 and snap["daily_orphans"] == 0
    pd.testing.assert_frame_equal(snap["stations"], clean)
    assert not (snap["runs"]["status"] == "running").any(), snap["runs"]


def initialised(url: str) -> str:
    ok(lantian(url, "init", "--sites", BEIJING_SITES))
    return url


# ----------------------------------------------------------------------------- watching a load

class Watch:
    """Looks into a database from outside while another process loads into it."""

    def __init__(self, url: str):
        self.url = url
        self.engine = create_engine(sa_url(url), isolation_level="AUTOCOMMIT") \
            if url.startswith("postgresql") else None
        self.sqlite = None
        if url.startswith("sqlite"):
            import sqlite3
            self.sqlite = sqlite3.connect(url.split("///", 1)[1], timeout=0,
                                          isolation_level=None)

    def runs(self) -> list[tuple[int, str]]:
        sql = "SELECT id, status FROM ingest_runs ORDER BY id"
        if self.sqlite is not None:
            return self.sqlite.execute(sql).fetchall()
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql)).all()]

    def writing(self) -> bool:
        """A load transaction has written rows it has not committed yet.

        PostgreSQL: a session of this database holds a transaction id (it wrote) and its
        statement is about the readings (COPY into ``hourly``, the daily statistics).
        SQLite: another connection holds the write lock (``BEGIN IMMEDIATE`` is refused).
        """
        if self.sqlite is not None:
            import sqlite3
            try:
                self.sqlite.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                return "locked" in str(exc)
            self.sqlite.execute("ROLLBACK")
            return False
        with self.engine.connect() as conn:
            return bool(conn.execute(text(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL "
                "AND (query ILIKE '%hourly%' OR query ILIKE '%station_daily%')")).scalar())

    def close(self) -> None:
        if self.sqlite is not None:
            self.sqlite.close()
        if self.engine is not None:
            self.engine.dispose()


def interrupt_mid_file(url: str, source: Source, fault, *, after_files: int = 2) -> dict:
    """Start ``lantian ingest`` of every file, wait until at least ``after_files`` files are
    stored and the next one is being written (uncommitted rows), then call ``fault(proc)``.
    Returns what was seen: the running run's id, the process and its output."""
    proc = subprocess.Popen([LANTIAN, *source.ingest()], env=lantian_env(url),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watch = Watch(url)
    seen = None
    try:
        deadline = time.monotonic() + 120
        streak = 0
        while time.monotonic() < deadline and proc.poll() is None:
            runs = watch.runs()
            done = sum(1 for _, status in runs if status in ("ok", "unchanged"))
            running = [run_id for run_id, status in runs if status == "running"]
            if done >= after_files and running and watch.writing():
                streak += 1
                if streak >= 2:          # twice in a row: inside the load, not a short update
                    seen = running[-1]
                    fault(proc)
                    break
            else:
                streak = 0
            time.sleep(0.003)
    finally:
        watch.close()
    stdout, stderr = proc.communicate(timeout=120)
    assert seen is not None, ("the ingest ended before it could be interrupted mid-file: "
                              f"{proc.returncode} {stderr[-2000:]}")
    return {"run": seen, "returncode": proc.returncode, "stderr": stderr, "stdout": stdout}


# ========================================================================== 1. PostgreSQL restart

class Dashboard:
    """``lantian serve --workers 2`` (gunicorn, as in production) and a signed-in browser
    session (requests): pages are asked for as the browser does (index, then the router)."""

    USER, PASSWORD = "faults-admin", "faults admin password"

    def __init__(self, url: str, log: Path):
        import requests
        ok(lantian(url, "users", "add", self.USER, "--role", "admin", "--password-stdin",
                   input=self.PASSWORD + "\n"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(log, "w+")
        self.proc = subprocess.Popen(
            [LANTIAN, "serve", "--port", str(self.port), "--workers", "2", "--threads", "2"],
            env=lantian_env(url), stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 60
        try:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                    break
                except OSError:
                    assert self.proc.poll() is None and time.monotonic() < deadline, \
                        self.server_log()
                    time.sleep(0.2)
            self.http = requests.Session()
            assert self.sign_in().status_code == 302
        except BaseException:
            self.close()
            raise

    def sign_in(self):
        page = self.http.get(self.base + "/login", timeout=30)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        response = self.http.post(self.base + "/login", timeout=30, allow_redirects=False,
                                  data={"username": self.USER, "password": self.PASSWORD,
                                        "csrf_token": token, "next": "/"})
        if response.status_code == 302:
            self.http.headers["X-CSRFToken"] = self.http.cookies.get("_csrf_token", "")
        return response

    def index(self, path: str = "/"):
        return self.http.get(self.base + path, timeout=60, allow_redirects=False)

    def router(self, path: str, search: str = ""):
        from dashboard.wsgi import router_payload
        return self.http.post(self.base + "/_dash-update-component", timeout=60,
                              json=router_payload(path, search))

    def server_log(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-3000:]

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def rendered(response) -> bool:
    """A router answer that drew a page without an error box."""
    return (response.status_code == 200 and "page-db-error" not in response.text
            and "page-error" not in response.text and '"lt-page' in response.text)


def test_dashboard_says_database_down_and_recovers_after_postgresql_restart(
        pg_cluster, source, tmp_path):
    """PostgreSQL restarted under a running dashboard (gunicorn, 2 workers). A restart between
    two requests is invisible (pool_pre_ping: the first request after it works). While the
    server is down: no 500 and no traceback anywhere; the public page shows the database
    error box; a signed-in staff request answers 503 "the database cannot be read" (a page
    that retries by itself; a callback gets JSON), not "sign in", and signing in says the
    account database cannot be read (503). Once it is back the same signed-in session
    sees its pages again, with nothing restarted."""
    url = initialised(pg_cluster.new_database("dashboard"))
    ok(lantian(url, *source.ingest(source.files[:1])))
    staff_view = ("/", "?year=2015")
    board = Dashboard(url, tmp_path / "serve.log")
    try:
        assert board.index("/?year=2015").status_code == 200
        assert rendered(board.router(*staff_view)), board.server_log()
        assert rendered(board.router("/public"))

        pg_cluster.restart()                        # no request while it was down
        for _ in range(6):                          # both workers, every pooled connection
            first = board.index("/?year=2015")
            assert first.status_code == 200, (first.status_code, first.headers)
            assert rendered(board.router(*staff_view)), board.server_log()

        pg_cluster.stop()
        answers = [board.index("/?year=2015"), board.router(*staff_view),
                   board.router("/public"), board.index("/public")]
        for response in answers:
            assert response.status_code != 500 and "Traceback" not in response.text, \
                (response.status_code, response.text[:500])
        # a signed-in session is told the database is down (503), not sent to sign in
        assert answers[0].status_code == 503 and answers[1].status_code == 503
        assert "暂时无法读取数据库" in answers[0].text and answers[0].headers["Retry-After"]
        assert answers[1].json()["reason"] == "database"
        public = board.router("/public")
        assert public.status_code == 200 and "page-db-error" in public.text
        shown = json.dumps(public.json(), ensure_ascii=False)
        assert "无法读取数据库" in shown                          # "The database cannot be read"
        page = board.http.get(board.base + "/login", timeout=30)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        login = board.http.post(board.base + "/login", timeout=30, allow_redirects=False,
                                data={"username": board.USER, "password": board.PASSWORD,
                                      "csrf_token": token, "next": "/"})
        assert login.status_code == 503 and "无法读取账号数据库" in login.text

        pg_cluster.start()
        for _ in range(4):
            again = board.index("/?year=2015")
            assert again.status_code == 200, (again.status_code, again.headers)
            assert rendered(board.router(*staff_view)), board.server_log()
            assert rendered(board.router("/public"))
        assert board.proc.poll() is None                             # never restarted
    finally:
        board.close()


def test_ingest_interrupted_by_postgresql_restart_fails_cleanly_and_reruns_exactly(
        pg_cluster, source, clean):
    """PostgreSQL restarted while a load is writing its third file: the command stops with one
    line naming the database, the file's transaction is rolled back (files stored before it
    are complete, nothing of it is stored), and running the same command again stores exactly
    what a clean load stores."""
    url = initialised(pg_cluster.new_database("restart_ingest"))
    seen = interrupt_mid_file(url, source, lambda proc: pg_cluster.restart())
    assert seen["returncode"] == 1
    line = one_error_line(subprocess.CompletedProcess([], 1, seen["stdout"], seen["stderr"]))
    assert re.fullmatch(
        rf"error: \S+: lost the connection to database {re.escape(url)} \(.+\); nothing of the "
        r"interrupted write was stored: run the command again once the server is back", line), line
    snap = snapshot(url)
    assert_all_or_nothing(snap, clean)
    runs = snap["runs"].set_index("id")
    assert runs.loc[seen["run"], "stored"] == 0
    assert runs.loc[seen["run"], "status"] in ("failed", "running")   # running: see below
    assert 2 <= len(snap["stations"]) < len(source.files)

    ok(lantian(url, *source.ingest()))
    snap = snapshot(url)
    assert_complete(snap, clean)
    run = snap["runs"].set_index("id").loc[seen["run"]]
    # Recorded as failed by the load itself when the server was back in time to take the
    # update, else closed as interrupted by the next run (its process had ended).
    assert run["status"] == "failed"
    assert re.match(r"(AdminShutdown|OperationalError): |interrupted: its process", run["message"])


# ===================================================================================== 2. SIGKILL

def test_ingest_killed_mid_file_leaves_a_consistent_database_and_reruns_exactly(
        fault_url, source, clean):
    """``kill -9`` of ``lantian ingest`` while it writes a file (rows written, not committed):
    the files before it are complete, nothing of it is stored, no orphan row; its run stays
    'running' until the next ingest, which closes it as interrupted (its process is gone)
    and stores exactly what a clean load stores."""
    url = initialised(fault_url)
    seen = interrupt_mid_file(url, source, lambda proc: proc.send_signal(signal.SIGKILL))
    assert seen["returncode"] == -signal.SIGKILL
    snap = snapshot(url)
    assert_all_or_nothing(snap, clean)
    runs = snap["runs"].set_index("id")
    assert runs.loc[seen["run"], "status"] == "running"
    assert re.fullmatch(rf"running: pid \d+ on {re.escape(HOST)}", runs.loc[seen["run"], "message"])
    assert runs.loc[seen["run"], "stored"] == 0
    assert list(runs["status"]).count("running") == 1
    assert 2 <= len(snap["stations"]) < len(source.files)

    ok(lantian(url, *source.ingest()))
    snap = snapshot(url)
    assert_complete(snap, clean)
    killed = snap["runs"].set_index("id").loc[seen["run"]]
    assert killed["status"] == "failed"
    assert re.fullmatch(rf"interrupted: its process \(\d+ on {re.escape(HOST)}\) ended before the "
                        r"run finished \(killed, crashed or the database failed\); nothing of it "
                        r"was stored: load the file again", killed["message"]), killed["message"]
    status = ok(lantian(url, "status", "--runs", "30")).stdout
    assert "interrupted" in status


# ============================================================================= 3. full, read-only

def test_disk_full_is_one_line_nothing_half_written_and_reruns_exactly(
        db_backend, request, tmpfs, source, clean):
    """A real full disk (ENOSPC on a small tmpfs): the SQLite file, or a PostgreSQL database
    whose tablespace is on it. The load stops at the file that does not fit with one line
    naming the database and the fix; that file's transaction is rolled back and its run
    recorded as failed; files stored before it are complete. With room again, the same
    command stores exactly what a clean load stores."""
    if db_backend == "sqlite":
        disk = tmpfs("1m")
        url = initialised(f"sqlite:///{disk.path / 'lantian.sqlite'}")
    else:
        cluster = request.getfixturevalue("pg_cluster")
        disk = tmpfs("24m", owner="postgres")
        cluster.admin("DROP DATABASE IF EXISTS full_disk WITH (FORCE)",
                      "DROP TABLESPACE IF EXISTS small_disk",
                      f"CREATE TABLESPACE small_disk LOCATION '{disk.path}'")
        request.addfinalizer(lambda: cluster.admin(
            "DROP DATABASE IF EXISTS full_disk WITH (FORCE)",
            "DROP TABLESPACE IF EXISTS small_disk"))
        url = initialised(cluster.new_database("full_disk", "TABLESPACE small_disk"))
    before = snapshot(url)
    assert before["stations"].empty

    line = one_error_line(lantian(url, *source.ingest()))
    snap = snapshot(url)
    failed = snap["runs"][snap["runs"]["status"] == "failed"]
    assert len(failed) == 1, snap["runs"]
    file = failed["file"].iloc[0]
    detail = failed["message"].iloc[0].split(": ", 1)[1]
    assert line == (f"error: {file}: database {url} is full ({detail}): "
                    "free space on the disk that holds it, then run the command again; nothing "
                    "of the interrupted write was stored"), line
    assert re.fullmatch(r"OperationalError: database or disk is full|DiskFull: could not extend "
                        r"file .*No space left on device.*", failed["message"].iloc[0])
    assert int(failed["stored"].iloc[0]) == 0
    assert not (snap["runs"]["status"] == "running").any()
    assert_all_or_nothing(snap, clean)
    assert len(snap["stations"]) < len(source.files)

    disk.remount("size=1g")
    ok(lantian(url, *source.ingest()))
    assert_complete(snapshot(url), clean)


@pytest.mark.parametrize("kind", ["sqlite-uri", "sqlite-mount", "postgresql"])
def test_read_only_database_is_one_line_and_nothing_is_written(kind, request, tmpfs, tmp_path,
                                                               source, clean):
    """A read-only database: SQLite opened with ``?mode=ro``, SQLite on a read-only mount,
    PostgreSQL with ``default_transaction_read_only = on``. The ingest says so in one line
    naming the database and the fix (exit 1) and writes nothing, not even its ingest run
    (that is the first write it tries). Made writable again, it loads exactly."""
    files = source.files[:1]
    if kind == "postgresql":
        cluster = request.getfixturevalue("pg_cluster")
        url = initialised(cluster.new_database("read_only"))
        cluster.admin("ALTER DATABASE read_only SET default_transaction_read_only = on")
        bad, fix = url, ("is read-only (cannot execute INSERT in a read-only transaction): point "
                         "LANTIAN_DATABASE_URL at a writable (primary) server, or ALTER DATABASE "
                         "… SET default_transaction_read_only = off; nothing of the interrupted "
                         "write was stored")
        make_writable = lambda: cluster.admin(  # noqa: E731
            "ALTER DATABASE read_only SET default_transaction_read_only = off")
    elif kind == "sqlite-uri":
        path = tmp_path / "lantian.sqlite"
        url = initialised(f"sqlite:///{path}")
        bad = f"sqlite:///file:{path}?mode=ro&uri=true"
        fix = ("is read-only (attempt to write a readonly database): let the account running "
               "lantian write the file and its folder (and take mode=ro out of "
               "LANTIAN_DATABASE_URL); nothing of the interrupted write was stored")
        make_writable = lambda: None  # noqa: E731
    else:
        disk = tmpfs("64m")
        url = initialised(f"sqlite:///{disk.path / 'lantian.sqlite'}")
        disk.remount("ro")
        bad = url
        fix = ("is read-only (unable to open database file: its file or folder cannot be "
               "written, and SQLite writes its -wal and -shm files beside it): let the account "
               "running lantian write both (permissions, a read-only mount)")
        make_writable = lambda: disk.remount("rw")  # noqa: E731
    from sqlalchemy.engine import make_url
    shown = make_url(bad).render_as_string(hide_password=True)
    line = one_error_line(lantian(bad, *source.ingest(files), cwd=tmp_path))
    assert line == f"error: database {shown} {fix}"
    assert not any(p.name.startswith("file:") for p in tmp_path.iterdir())   # no stray folder
    make_writable()
    snap = snapshot(url)
    assert snap["runs"].empty and snap["stations"].empty                     # nothing written
    ok(lantian(url, *source.ingest(files)))
    snap = snapshot(url)
    code = source.stations[0]
    pd.testing.assert_frame_equal(snap["stations"], clean.loc[[code]])


# =================================================================================== 4. SMTP down

def test_smtp_down_then_back_retried_never_marked_sent_next_run_sends(tmp_path, source):
    """The weekly report with the SMTP server down, then started (a real aiosmtpd server on
    127.0.0.1). Down: one line, exit 1, nothing marked sent. Started while a run waits
    between attempts: that run's retry delivers it (attempts > 1) and it is marked sent.
    The next run sends nothing twice.

    tests/test_reports.py covers the neighbours: 451 refusals retried
    (test_refused_attempts_are_retried_with_backoff), failed after every retry then sent by
    the next run (test_failure_after_all_retries_is_reported_never_marked_sent), an
    unreachable server as one line
    (test_unreachable_smtp_server_is_one_line_and_nothing_marked_sent).
    """
    if shutil.which("chromium") is None and not os.environ.get("BROWSER_PATH"):
        pytest.skip("the report's charts need Chromium (apt-get install chromium)")
    from aiosmtpd.controller import Controller

    dongsi = source.files[source.stations.index("1003A")]          # a Dongcheng station
    url = initialised(f"sqlite:///{tmp_path / 'report.sqlite'}")
    ok(lantian(url, *source.ingest([dongsi])))
    data = yaml.safe_load(BEIJING_SITES.read_text(encoding="utf-8"))
    data["recipients"] = {"districts": {"dongcheng": [{"email": "dongcheng@example.org"}]}}
    sites = tmp_path / "beijing-one-recipient.yaml"
    sites.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    week = "2015-W02"
    port = free_port()
    args = ["report", "weekly", "--week", week, "--district", "dongcheng", "--send",
            "--sites", sites]

    def env(attempts: int, backoff: float) -> dict:
        return lantian_env(url, LANTIAN_SMTP_HOST="127.0.0.1", LANTIAN_SMTP_PORT=port,
                           LANTIAN_SMTP_TLS="none", LANTIAN_MAIL_FROM="lantian@example.org",
                           LANTIAN_MAIL_ATTEMPTS=attempts, LANTIAN_MAIL_BACKOFF=backoff)

    def deliveries() -> pd.DataFrame:
        engine = create_engine(url)
        with engine.connect() as conn:
            rows = pd.read_sql(text("SELECT recipient, status, attempts FROM report_deliveries "
                                    "ORDER BY id"), conn)
        engine.dispose()
        return rows

    # 1. down for the whole run
    down = lantian(url, *args, "--quiet", env=env(2, 0.1))
    line = one_error_line(down)
    assert line.startswith(f"error: SMTP server 127.0.0.1:{port} (none) unreachable after 2 "
                           "attempts: ConnectionRefusedError"), line
    assert "the deliveries not attempted will go out on the next run" in line
    assert "sent" not in set(deliveries()["status"])

    # 2. down, then started between two attempts of the same run
    class Inbox:
        def __init__(self):
            self.received: list[list[str]] = []

        async def handle_DATA(self, server, session, envelope):
            self.received.append(list(envelope.rcpt_tos))
            return "250 Message accepted"

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    proc = subprocess.Popen([LANTIAN, *map(str, args)], env=env(5, 1.0), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: list[str] = []
    started = threading.Event()

    def read_stderr():
        for err_line in proc.stderr:
            lines.append(err_line)
            if "attempt 1 failed" in err_line and not started.is_set():
                controller.start()                     # the server comes back
                started.set()
    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        stdout = proc.stdout.read()
        proc.wait(timeout=180)
        reader.join(timeout=10)
        assert started.is_set(), "".join(lines)[-2000:]
        assert proc.returncode == 0, "".join(lines)[-2000:]
        assert f"{week}" in stdout and "1 sent, 0 failed, 0 already sent" in stdout, stdout
        assert any("dongcheng@example.org: attempt 1 failed (ConnectionRefusedError" in x
                   for x in lines), lines
        assert inbox.received == [["dongcheng@example.org"]]
        rows = deliveries()
        sent = rows[rows["status"] == "sent"]
        assert list(sent["recipient"]) == ["dongcheng@example.org"]
        assert int(sent["attempts"].iloc[0]) >= 2          # delivered by a retry

        # 3. the next run sends nothing twice
        again = ok(lantian(url, *args, "--quiet", env=env(2, 0.1)))
        assert "0 sent, 0 failed, 1 already sent" in again.stdout
        assert inbox.received == [["dongcheng@example.org"]]
    finally:
        if proc.poll() is None:
            proc.kill()
        if started.is_set():
            controller.stop()

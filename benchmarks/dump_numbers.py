"""Dump every number the CLI and the dashboard's query layer give, for a byte-for-byte
comparison before and after a refactoring (every number must stay the same).

    python benchmarks/dump_numbers.py OUT_DIR [--db-dir DIR]

Builds (or reuses, with ``--db-dir``) two SQLite databases: the real Beijing set
(``../shared/data/beijing-multisite``) and the SYNTHETIC demo city to 2025-06-30, then
writes one CSV per export and per query result into OUT_DIR. Compare two dumps with
``diff -r``. Floats are written with ``repr`` precision, so any change shows.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# this folder holds a script named dashboard.py: the package must win
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
LANTIAN = str(Path(sys.executable).with_name("lantian"))


def lantian(url: str, *args, out: Path | None = None) -> None:
    env = {**os.environ, "LANTIAN_DATABASE_URL": url, "LANTIAN_SETTINGS": ""}
    done = subprocess.run([LANTIAN, *map(str, args)], env=env, capture_output=True, text=True)
    if out is not None:
        out.write_text(f"exit {done.returncode}\n{done.stdout}", encoding="utf-8")
    elif done.returncode != 0:
        sys.exit(f"lantian {' '.join(map(str, args))} failed:\n{done.stderr[-2000:]}")


def build(db_dir: Path) -> dict[str, str]:
    urls = {}
    beijing = db_dir / "beijing.sqlite"
    urls["beijing"] = f"sqlite:///{beijing}"
    if not beijing.exists():
        lantian(urls["beijing"], "init", "--sites", ROOT / "config/sites/beijing.yaml")
        lantian(urls["beijing"], "ingest", "prsa", SHARED / "beijing-multisite", "--quiet")
    demo = db_dir / "demo.sqlite"
    urls["yangquan"] = f"sqlite:///{demo}"
    if not demo.exists():
        lantian(urls["yangquan"], "init", "--sites", ROOT / "config/sites/yangquan.yaml")
        lantian(urls["yangquan"], "demo", "--until", "2025-06-30", "--quiet")
    return urls


def dump_cli(out: Path, city: str, url: str, years) -> None:
    for y in years:
        for level in ("district", "station", "city"):
            lantian(url, "stats", "annual", "--year", y, "--level", level, "--city", city,
                    out=out / f"cli-{city}-{y}-annual-{level}.csv")
        lantian(url, "stats", "daily", "--from", f"{y}-01-01", "--to", f"{y}-12-31",
                "--level", "district", "--city", city,
                out=out / f"cli-{city}-{y}-daily.csv")
        for level, by in (("district", "composite"), ("district", "PM2.5"),
                          ("station", "composite"), ("district", "O3")):
            lantian(url, "rank", "--year", y, "--level", level, "--by", by, "--city", city,
                    "--format", "csv", out=out / f"cli-{city}-{y}-rank-{level}-{by}.csv")
        lantian(url, "targets", "--year", y, "--city", city, "--format", "csv",
                out=out / f"cli-{city}-{y}-targets.csv")
        lantian(url, "targets", "--year", y, "--city", city, "--until", f"{y}-06-15",
                "--format", "csv", out=out / f"cli-{city}-{y}-targets-ytd.csv")


def write(out: Path, name: str, value) -> None:
    import pandas as pd
    if value is None:
        text = "None\n"
    elif isinstance(value, pd.DataFrame):
        text = value.to_csv(index=False, lineterminator="\n") + "\n" + \
            "\n".join(f"{c}:{t}" for c, t in value.dtypes.items()) + "\n"
    else:
        text = repr(value) + "\n"
    (out / f"{name}.csv").write_text(text, encoding="utf-8")


def dump_queries(out: Path, city: str, url: str, years, station: str) -> None:
    from dataclasses import replace

    from dashboard import queries as q
    from dashboard.state import View, month_bounds
    from store.db import make_engine

    from dashboard.app import create_app
    app = create_app(url, cache_url="")
    with app.server.app_context():
        _dump_queries(out, city, make_engine(url), years, station, q, View, month_bounds,
                      replace)


def _dump_queries(out, city, engine, years, station, q, View, month_bounds, replace):
    cat = q.catalog(engine)
    for attr in ("cities", "districts", "stations"):
        write(out, f"q-{city}-catalog-{attr}", getattr(cat, attr))
    write(out, f"q-{city}-catalog-spans", sorted(cat.spans.items()))
    districts = tuple(cat.city_districts(city)["id"])
    stations = tuple(cat.city_stations(city)["code"])
    for y in years:
        views = {
            "year": View(city, "year", y, 1, date(y, 1, 1), date(y, 12, 31)),
            "month": View(city, "month", y, 3, *month_bounds(y, 3)),
            "ytd": View(city, "ytd", y, 1, date(y, 1, 1), date(y, 6, 15)),
            "range": View(city, "range", y, 1, date(y, 2, 10), date(y, 4, 20)),
        }
        for profile in ("", "cn-2026-final", "who-2021"):
            cy = q.city_year(engine, city, y, profile or None)
            write(out, f"q-{city}-{y}-{profile}-cityyear-daily", cy.daily)
            write(out, f"q-{city}-{y}-{profile}-cityyear-aqi", cy.aqi)
            write(out, f"q-{city}-{y}-{profile}-cityyear-meta",
                  (sorted(cy.grades.items()), cy.last_day))
        write(out, f"q-{city}-{y}-month-stats", q.month_stats(engine, city, y))
        for name, view in views.items():
            for profile in ("", "cn-2026-final"):
                v = replace(view, profile=profile)
                tag = f"q-{city}-{y}-{name}-{profile}"
                write(out, f"{tag}-period", q.period_stats(engine, v))
                write(out, f"{tag}-areas", q.period_stats(engine, v, areas_only=True))
                write(out, f"{tag}-change", q.stats_with_change(engine, v))
                write(out, f"{tag}-areachange", q.stats_with_change(engine, v, areas_only=True))
                write(out, f"{tag}-standing", q.standing_rows(engine, v))
                ex = q.exceedance_data(engine, v)
                for attr in ("days", "aqi", "rows", "targets"):
                    write(out, f"{tag}-exc-{attr}", getattr(ex, attr))
                write(out, f"{tag}-rank-composite",
                      q.ranking_rows(engine, v, "composite_index", "ALL", "district", districts))
                write(out, f"{tag}-rank-pm25-station",
                      q.ranking_rows(engine, v, "annual_mean" if name == "year" else
                                     "mean", "PM2.5", "station", stations))
                write(out, f"{tag}-latest-aqi", q.station_latest_aqi(engine, v))
                write(out, f"{tag}-station-stat",
                      q.station_statistic(engine, v, "PM2.5", "annual_mean", cy.grades))
                for other in ("who-2021", "cn-2012"):
                    write(out, f"{tag}-profile-{other}",
                          q.profile_rows(engine, v, other, "district", districts[0]))
            d, a = q.daily_between(engine, city, view.start, view.end)
            write(out, f"q-{city}-{y}-{name}-between-daily", d)
            write(out, f"q-{city}-{y}-{name}-between-aqi", a)
        write(out, f"q-{city}-{y}-station-hourly",
              q.station_hourly(engine, station, date(y, 3, 1), date(y, 3, 31)))
        write(out, f"q-{city}-{y}-station-readings",
              q.station_readings(engine, station, date(y, 3, 1), date(y, 3, 31)))


def dump_reports(out: Path, city: str, url: str, weeks) -> None:
    from reports.data import compute, load_inputs
    from reports.weeks import IsoWeek
    from store.db import make_engine
    engine = make_engine(url)
    for year, week in weeks:
        w = IsoWeek(year, week)
        inputs = load_inputs(engine, city, w)
        for scope, rep in sorted(compute(inputs, w).items()):
            for attr, value in sorted(vars(rep).items()):
                import pandas as pd
                if isinstance(value, pd.DataFrame):
                    write(out, f"r-{city}-{year}w{week}-{scope}-{attr}", value)
                elif attr not in ("area", "city"):
                    write(out, f"r-{city}-{year}w{week}-{scope}-{attr}", value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--db-dir", type=Path, default=None)
    parser.add_argument("--only", default="cli,queries,reports",
                        help="comma-separated parts to dump (cli, queries, reports)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    import tempfile
    db_dir = args.db_dir or Path(tempfile.mkdtemp(prefix="lantian-dump-"))
    db_dir.mkdir(parents=True, exist_ok=True)
    urls = build(db_dir)
    only = set(args.only.split(","))
    if "cli" in only:
        dump_cli(args.out, "beijing", urls["beijing"], (2014, 2015, 2016))
        dump_cli(args.out, "yangquan-demo", urls["yangquan"], (2024, 2025))
    if "queries" in only:
        dump_queries(args.out, "beijing", urls["beijing"], (2014, 2015, 2016), "1001A")
        dump_queries(args.out, "yangquan-demo", urls["yangquan"], (2024, 2025), "SYN01")
    if "reports" in only:
        dump_reports(args.out, "beijing", urls["beijing"], ((2015, 49), (2016, 10)))
        dump_reports(args.out, "yangquan-demo", urls["yangquan"], ((2025, 20),))
    print(f"{len(list(args.out.iterdir()))} files in {args.out} (databases in {db_dir})")


if __name__ == "__main__":
    main()

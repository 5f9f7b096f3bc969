"""Indicator speed: the whole Beijing set, a SYNTHETIC national network, a pandas baseline.

Prints, measured in one run:

(a) Beijing Multi-Site (12 stations, 2013-03 … 2017-02, real data): daily
    values of every station, district and the city, their daily AQI, and the
    year (and month) statistics with the composite index — wall time of the
    computation only (reading the files is ingest's job; printed apart).
(b) a SYNTHETIC national network (``benchmarks/_network.py``: 1,700 stations ×
    one year of hourly values × six pollutants ≈ 89 million readings, generated
    here, not data): the same full pipeline (station + 34 district + 1 city daily
    values, daily AQI, annual statistics + composite), wall time and peak memory.
(c) a straightforward pandas implementation (groupby + resample + rolling per
    station) on the same synthetic data as the baseline, and Lantian's engine
    doing the same work as the baseline (station daily means + MDA8 + annual
    means/percentiles; no areas, no AQI), so that the ratio is like for like;
    then, explicitly, the ratio of the baseline to Lantian's *full* pipeline of
    (b) (which does far more: areas, AQI, all statistics), target ≥ 10×.

Memory: the kernel's high-water mark of resident memory (``VmHWM``; the
``ru_maxrss`` of ``getrusage``) is reset before each measured step
(``/proc/self/clear_refs``), so "step peak" is the process peak during that
step (input frame included) and "over input" what the step added on top of the
resident memory it started with.

    .venv/bin/python benchmarks/indicators.py [--stations 1700] [--repeat 3]
        [--data ../shared/data] [--skip-beijing] [--skip-baseline]
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import resource
import statistics as stats_mod
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
# this script is named like the package it measures: keep its folder off the path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

from config.sites import load_site_config  # noqa: E402
from config.standards import load_profile, load_schedule  # noqa: E402
from indicators import averaging, pipeline, statistics  # noqa: E402
from indicators.frames import POLLUTANTS  # noqa: E402
from ingest.loader import POLLUTANT_ORDER, run_qc, to_batch  # noqa: E402
from ingest.prsa import files_in, read_prsa  # noqa: E402
from ingest.qc import load_rules  # noqa: E402


def _load_network():
    spec = importlib.util.spec_from_file_location("_network", HERE / "_network.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_network = _load_network()
synthetic_network, pandas_baseline = _network.synthetic_network, _network.pandas_baseline

SITES = ROOT / "config" / "sites" / "beijing.yaml"
TARGET_A_S = 3.0
TARGET_B_S = 60.0
TARGET_B_GB = 8.0
TARGET_RATIO = 10.0
MB = 1024 * 1024


# ----------------------------------------------------------------------------- memory

def _status_mb(key: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class Peak:
    """Peak resident memory of the process during a ``with`` block.

    Resets the kernel high-water mark (``VmHWM``) on entry where Linux allows it
    and reads it on exit; elsewhere samples ``VmRSS`` every 5 ms (may miss a
    short spike). ``process_peak_mb`` keeps the maximum over the whole run.
    """
    process_peak_mb = 0.0

    def __enter__(self):
        gc.collect()
        Peak._fold()
        self.start_mb = _status_mb("VmRSS") or 0.0
        self._sampler = None
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            self.method = "VmHWM"
        except OSError:
            self.method = "sampled VmRSS"
            self._max = self.start_mb
            self._stop = threading.Event()
            self._sampler = threading.Thread(target=self._sample, daemon=True)
            self._sampler.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self._max = max(self._max, _status_mb("VmRSS") or 0.0)

    def __exit__(self, *exc):
        if self._sampler is not None:
            self._stop.set()
            self._sampler.join()
            self.peak_mb = self._max
        else:
            self.peak_mb = _status_mb("VmHWM") or 0.0
        Peak.process_peak_mb = max(Peak.process_peak_mb, self.peak_mb)
        self.over_input_mb = max(0.0, self.peak_mb - self.start_mb)
        return False

    @staticmethod
    def _fold():
        hwm = _status_mb("VmHWM")
        if hwm is None:
            hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        Peak.process_peak_mb = max(Peak.process_peak_mb, hwm)


def _gb(mb: float) -> str:
    return f"{mb / 1024:.2f} GB"


# ----------------------------------------------------------------------------- helpers

class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        return False


def _median(xs):
    return stats_mod.median(xs)


def _runs(xs) -> str:
    return "" if len(xs) < 2 else "  (runs: " + ", ".join(f"{x:.2f}" for x in xs) + ")"


def full_pipeline(hourly, membership, grades, periods=("year",)):
    """Everything the CLI computes: daily values + AQI of all levels, period stats + composite."""
    times = {}
    with Timer() as t:
        daily, daily_aqi = pipeline.daily_and_aqi(hourly, membership)
    times["daily values + daily AQI"] = t.seconds
    tables = {}
    for period in periods:
        with Timer() as t:
            tables[period] = pipeline.period_table(daily, daily_aqi, period=period, grades=grades)
        times[f"{period} statistics + composite"] = t.seconds
    return daily, daily_aqi, tables, times


def like_for_like(hourly):
    """Lantian doing the baseline's work: station daily values, annual statistics."""
    daily = averaging.daily_values(hourly)
    return statistics.period_statistics(daily, period="year")


# ----------------------------------------------------------------------------- (a) Beijing

def beijing_inputs(folder: Path):
    """The hourly input frame (QC-excluded values as NaN) and membership, as the DB gives them."""
    config = load_site_config(SITES)
    aliases = config.station_by_alias()
    rules = load_rules()
    excluded = np.asarray(rules.excluded_codes)
    codes = [s.code for s in config.stations]
    station_ids = {c: i for i, c in enumerate(codes)}
    parts = []
    with Timer() as read_t:
        frames = [read_prsa(p, station_codes=aliases) for p in files_in(folder)]
    with Timer() as prep_t:
        for frame in frames:      # one batch and QC per file, as the loader does
            batch, present, _ = to_batch(frame, station_ids, "prsa")
            run_qc(batch, present, rules)
            values = np.where(np.isin(batch.flags, excluded), np.nan, batch.values)
            part = {"station": np.asarray(codes, dtype=object)[batch.station_id],
                    "time": batch.ts}
            for p in POLLUTANTS:
                part[p] = values[:, POLLUTANT_ORDER.index(p)]
            parts.append(pd.DataFrame(part))
        hourly = pd.concat(parts, ignore_index=True)
        hourly["station"] = hourly["station"].astype(str)
    readings = int(sum(len(f) for f in frames))
    # membership: evaluation stations of each district and of the city
    grade_of = {d.id: d.grade for d in config.districts}
    ev = [s for s in config.stations if s.is_evaluation]
    city_grade = "I" if ev and all(grade_of.get(s.district) == "I" for s in ev) else "II"
    rows = [("district", s.district, s.code, grade_of[s.district]) for s in ev if s.district]
    rows += [("city", config.city.id, s.code, city_grade) for s in ev]
    membership = pd.DataFrame(rows, columns=["level", "area", "station", "grade"])
    station_grades = {s.code: grade_of.get(s.district, "II") for s in config.stations}
    return hourly, membership, station_grades, readings, read_t.seconds, prep_t.seconds


def bench_beijing(folder: Path, repeat: int) -> float | None:
    print("(a) Beijing Multi-Site, real data")
    if not folder.is_dir():
        print(f"    {folder} is absent: skipped")
        return None
    hourly, membership, station_grades, readings, read_s, prep_s = beijing_inputs(folder)
    grades = pipeline.grades_of(membership, station_grades)
    days = hourly["time"].to_numpy().astype("datetime64[D]")
    print(f"    input: {hourly['station'].nunique()} stations, {len(hourly):,} station-hours, "
          f"{readings:,} readings, {days.min()} … {days.max()}; "
          f"{membership['area'].nunique()} areas "
          f"({(membership['level'] == 'district').sum()} district memberships, "
          f"{(membership['level'] == 'city').sum()} city)")
    print(f"    reading the 12 files (ingest.prsa, not timed below) : {read_s:6.2f} s")
    print(f"    to the hourly frame + QC (not timed below)          : {prep_s:6.2f} s")
    totals, year_only, parts_all = [], [], []
    for i in range(repeat):
        gc.collect()
        with Peak() as peak, Timer() as t:
            daily, daily_aqi, tables, parts = full_pipeline(hourly, membership, grades,
                                                            periods=("year", "month"))
        totals.append(t.seconds)
        year_only.append(t.seconds - parts["month statistics + composite"])
        parts_all.append(parts)
        if i < repeat - 1:
            del daily, daily_aqi, tables
    for name in parts_all[0]:
        print(f"      {name:<36}: {_median([p[name] for p in parts_all]):6.2f} s")
    years = sorted(tables["year"]["period"].astype(str).unique())
    print(f"    rows: {len(daily):,} daily values, {len(daily_aqi):,} daily AQI, "
          f"{len(tables['year']):,} year statistics ({', '.join(years)}), "
          f"{len(tables['month']):,} month statistics")
    print(f"    all daily + annual indicators (no months)           : "
          f"{_median(year_only):6.2f} s{_runs(year_only)}")
    print(f"    all daily + annual + monthly indicators             : "
          f"{_median(totals):6.2f} s{_runs(totals)}   peak {_gb(peak.peak_mb)} "
          f"(+{_gb(peak.over_input_mb)} over input)")
    del daily, daily_aqi, tables, hourly
    gc.collect()
    return _median(totals)


# ----------------------------------------------------------------------------- (b), (c)

def bench_network(n_stations: int, repeat: int, baseline: bool) -> dict:
    print(f"(b) SYNTHETIC national network (benchmarks/_network.py — generated, not data): "
          f"{n_stations:,} stations")
    with Peak() as gen_peak, Timer() as t:
        hourly, membership = synthetic_network(n_stations)
    n_readings = int(hourly[list(POLLUTANTS)].notna().to_numpy().sum())
    n_slots = len(hourly) * len(POLLUTANTS)
    input_mb = hourly.memory_usage(deep=True).sum() / MB
    n_areas = membership[["level", "area"]].drop_duplicates().shape[0]
    print(f"    generation (SYNTHETIC, not timed below)             : {t.seconds:6.2f} s, "
          f"peak {_gb(gen_peak.peak_mb)}")
    print(f"    input: {len(hourly):,} station-hours × 6 = {n_slots:,} values "
          f"({n_readings:,} non-missing), frame {input_mb / 1024:.2f} GB; {n_areas} areas")
    grades = pipeline.grades_of(membership)
    out = {}
    totals, peaks, parts_all = [], [], []
    for i in range(repeat):
        gc.collect()
        with Peak() as peak, Timer() as t:
            daily, daily_aqi, tables, parts = full_pipeline(hourly, membership, grades)
        totals.append(t.seconds)
        peaks.append(peak)
        parts_all.append(parts)
        if i < repeat - 1:
            del daily, daily_aqi, tables
    for name in parts_all[0]:
        print(f"      {name:<36}: {_median([p[name] for p in parts_all]):6.2f} s")
    print(f"    rows: {len(daily):,} daily values, {len(daily_aqi):,} daily AQI, "
          f"{len(tables['year']):,} year statistics")
    peak = max(peaks, key=lambda p: p.peak_mb)
    print(f"    full pipeline                                       : "
          f"{_median(totals):6.2f} s{_runs(totals)}")
    print(f"    peak memory during it: process {_gb(peak.peak_mb)} (input frame included), "
          f"engine {_gb(peak.over_input_mb)} over the {_gb(peak.start_mb)} resident at start "
          f"[{peak.method}]")
    out["full"] = _median(totals)
    out["peak_mb"] = peak.peak_mb
    out["over_mb"] = peak.over_input_mb
    year_table = tables["year"]
    del daily, daily_aqi, tables
    gc.collect()

    print("(c) baseline on the same SYNTHETIC data")
    ll_times, ll_peaks = [], []
    for i in range(repeat):
        gc.collect()
        with Peak() as ll_peak, Timer() as t:
            ll = like_for_like(hourly)
        ll_times.append(t.seconds)
        ll_peaks.append(ll_peak.peak_mb)
        if i < repeat - 1:
            del ll
    print(f"    Lantian, the baseline's work (station daily means, MDA8, annual means and "
          f"percentiles; no areas, no AQI)")
    print(f"                                                        : {_median(ll_times):6.2f} s"
          f"{_runs(ll_times)}, peak {_gb(max(ll_peaks))}")
    out["like"] = _median(ll_times)
    if not baseline:
        print("    pandas baseline: skipped (--skip-baseline)")
        return out
    bl_times, bl_peaks = [], []
    year = int(pd.Timestamp(hourly["time"].iloc[0]).year)
    for i in range(repeat):
        gc.collect()
        with Peak() as bl_peak, Timer() as t:
            base = pandas_baseline(hourly, year)
        bl_times.append(t.seconds)
        bl_peaks.append(bl_peak.peak_mb)
    print(f"    pandas baseline (groupby + resample + rolling per station)"
          f"\n                                                        : {_median(bl_times):6.2f} s"
          f"{_runs(bl_times)}, peak {_gb(max(bl_peaks))}")
    out["baseline"] = _median(bl_times)
    print(f"    ratio, pandas baseline / Lantian's full pipeline of (b): "
          f"{out['baseline']:.2f} s / {out['full']:.2f} s = "
          f"{out['baseline'] / out['full']:.1f}×  (target ≥ {TARGET_RATIO:g}×)")
    _cross_check(ll, base)
    del year_table
    return out


def _cross_check(ll: pd.DataFrame, base: pd.DataFrame) -> None:
    """Both compute the same station statistics: say how far apart they are.

    Lantian averages the *reported* (rounded) daily values (HJ 663), the baseline
    the unrounded ones, so the means differ by well under one unit of the last
    published decimal."""
    pick = {"SO2_mean": ("SO2", "annual_mean"), "PM2.5_mean": ("PM2.5", "annual_mean"),
            "CO_p95": ("CO", "p95_daily"), "O3_p90": ("O3", "p90_mda8")}
    lines = []
    for col, (p, s) in pick.items():
        sub = ll[(ll["level"] == "station") & (ll["pollutant"] == p) & (ll["statistic"] == s)]
        mine = pd.Series(sub["value"].to_numpy(), index=sub["area"].astype(str).to_numpy())
        theirs = pd.Series(base[col].to_numpy(), index=base["station"].astype(str).to_numpy())
        diff = (mine - theirs.reindex(mine.index)).abs().max()
        lines.append(f"{col} {diff:.3g}")
    print("    cross-check, max |Lantian − baseline| over stations: " + ", ".join(lines))
    print("      (Lantian averages the published daily values and counts MDA8 days with fewer"
          "\n       than 14 windows whose maximum exceeds the limit; the baseline does neither)")


# ----------------------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--stations", type=int, default=1700,
                        help="stations of the synthetic network (default 1700)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="repeat every timed step N times and print the median (default 3)")
    parser.add_argument("--skip-beijing", action="store_true")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    repeat = max(1, args.repeat)
    # the standard profiles are read once per process (cached): not part of any timing
    schedule = load_schedule()
    for pid in (*schedule.profiles, *schedule.comparison):
        load_profile(pid)
    print(f"{os.cpu_count()} CPUs; medians of {repeat} runs; the engine uses up to two threads")
    print()

    a = None if args.skip_beijing else bench_beijing(args.data / "beijing-multisite", repeat)
    print()
    b = bench_network(args.stations, repeat, not args.skip_baseline)
    Peak._fold()

    def verdict(ok):
        return "PASS" if ok else "MISS"

    print()
    print("Summary" + ("" if args.stations == 1700 else
                       f"  (synthetic network of {args.stations} stations, targets are "
                       "for 1,700)"))
    if a is not None:
        print(f"  (a) Beijing, all daily + annual (+ monthly) indicators : {a:7.2f} s   "
              f"target < {TARGET_A_S:g} s      {verdict(a < TARGET_A_S)}")
    print(f"  (b) synthetic network, full pipeline                  : {b['full']:7.2f} s   "
          f"target < {TARGET_B_S:g} s     {verdict(b['full'] < TARGET_B_S)}")
    print(f"      peak memory (process, input included)             : "
          f"{b['peak_mb'] / 1024:7.2f} GB  target < {TARGET_B_GB:g} GB    "
          f"{verdict(b['peak_mb'] / 1024 < TARGET_B_GB)}")
    if "baseline" in b:
        like = b["baseline"] / b["like"]
        full = b["baseline"] / b["full"]
        print(f"  (c) pandas baseline {b['baseline']:.2f} s vs Lantian doing the same work "
              f"{b['like']:.2f} s: {like:5.1f}×   target ≥ {TARGET_RATIO:g}×   "
              f"{verdict(like >= TARGET_RATIO)}")
        print(f"      pandas baseline vs Lantian's full pipeline (areas, AQI, all stats): "
              f"{full:5.1f}×   target ≥ {TARGET_RATIO:g}×   {verdict(full >= TARGET_RATIO)}")
    print(f"  process peak over the whole run (ru_maxrss / VmHWM, includes generation "
          f"and baseline): {_gb(Peak.process_peak_mb)}")


if __name__ == "__main__":
    main()

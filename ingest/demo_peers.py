"""Deterministic SYNTHETIC hourly readings for the cities of a peer group (issue 18).

Nothing here comes from an instrument. A peer ranking (``evaluation.peers``: the 168 key
cities) needs a value for every member; the demo has one real-shaped city (阳泉, from
``ingest.demo``), so this module gives every other member synthetic readings, in the
demo generator's shape (:mod:`ingest.demo`: its seasons, diurnal cycles, city weather
episodes, trend and defects — the same functions, called per station), with **levels
that differ between cities**:

* a province's levels (:data:`PROVINCE_FACTORS`, multiples of the demo's default
  levels, i.e. of a Shanxi coal city), loosely as the national reports show them:
  the North China Plain, Shanxi and the Fenwei plain worst, the north-east and the
  north-west middling (coarse dust in the north-west), the Yangtze delta and centre
  better, the south and the south-west best;
* a city factor around its province's (log-normal, a few per cent to ~15 %), and a
  station factor around its city's (centred, so the city mean is the city level).

Two uses:

* ``lantian demo --peers key-168``: one synthetic station per member city (code
  ``SYNP001`` …, name ``北京（合成）``, ``stations.synthetic`` true, ``list_city`` the
  member's name, origin ``demo``) with readings for the demo's years, without the long
  gaps a one-station city cannot hide (:func:`demo_peer_stations`,
  :func:`create_stations`, :func:`load_peers` with ``long_outages=False``);
* tests and the benchmark: readings for the **real** stations of the national station
  list (after ``lantian ingest stations NewSiteList.csv``): :func:`group_stations`
  picks a group's evaluation stations, :func:`load_peers` loads them as one ingest run
  labelled synthetic and marks those stations synthetic (``lantian status`` and the
  ranking then say so).

Determinism: as :mod:`ingest.demo`, every draw is seeded with ``(seed, stream, station
code or city name, calendar year)`` and covers whole calendar years (one warm-up year
in front), so the same stations, years, ``until`` and seed give the identical readings.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pandas as pd

from config.sites import POLLUTANTS

from . import demo
from .frame import long_from_wide

#: The reader name of the ingest runs this module records.
READER = "demo-peers"
#: Code prefix of the demo's synthetic peer stations (SYNP001 … by the member's place in
#: the group file).
CODE_PREFIX = "SYNP"
SPECIES = ("SO2", "NO2", "PM2.5", "COARSE", "CO", "O3")   # as ingest.demo (PM10 = PM2.5 + COARSE)

# Province → multiples of ingest.demo.DEFAULT_LEVELS (a Shanxi coal city) in REF_YEAR:
# (PM2.5, coarse PM, SO2, NO2, CO, O3). Loose, for a plausible synthetic spread only.
PROVINCE_FACTORS: dict[str, tuple[float, float, float, float, float, float]] = {
    "山西省": (1.00, 1.00, 1.00, 1.00, 1.00, 1.00),
    "河北省": (1.06, 1.00, 0.55, 1.02, 1.05, 1.03),
    "河南省": (1.06, 1.00, 0.45, 0.95, 0.95, 1.03),
    "山东省": (0.98, 1.00, 0.50, 0.95, 0.95, 1.04),
    "天津市": (0.96, 0.90, 0.35, 1.05, 1.00, 1.00),
    "陕西省": (1.02, 1.05, 0.35, 1.05, 0.95, 0.98),
    "北京市": (0.72, 0.75, 0.15, 0.85, 0.65, 1.00),
    "江苏省": (0.78, 0.75, 0.30, 0.85, 0.80, 1.00),
    "安徽省": (0.86, 0.80, 0.30, 0.80, 0.80, 0.98),
    "上海市": (0.64, 0.60, 0.22, 0.95, 0.65, 0.98),
    "浙江省": (0.62, 0.65, 0.25, 0.85, 0.70, 0.97),
    "湖北省": (0.86, 0.80, 0.30, 0.80, 0.90, 0.93),
    "湖南省": (0.84, 0.75, 0.30, 0.72, 0.90, 0.92),
    "江西省": (0.76, 0.75, 0.35, 0.70, 0.90, 0.95),
    "四川省": (0.82, 0.70, 0.30, 0.80, 0.80, 0.92),
    "重庆市": (0.76, 0.70, 0.30, 0.95, 0.80, 0.92),
    "广东省": (0.52, 0.60, 0.28, 0.80, 0.70, 0.97),
    "福建省": (0.46, 0.55, 0.25, 0.60, 0.60, 0.90),
    "广西壮族自治区": (0.66, 0.60, 0.35, 0.65, 0.90, 0.88),
    "海南省": (0.32, 0.45, 0.15, 0.35, 0.55, 0.80),
    "贵州省": (0.56, 0.60, 0.40, 0.55, 0.65, 0.82),
    "云南省": (0.50, 0.55, 0.35, 0.60, 0.70, 0.85),
    "西藏自治区": (0.32, 0.60, 0.25, 0.50, 0.60, 0.95),
    "辽宁省": (0.76, 0.80, 0.55, 0.85, 1.05, 0.90),
    "吉林省": (0.76, 0.80, 0.45, 0.80, 0.90, 0.85),
    "黑龙江省": (0.66, 0.75, 0.50, 0.70, 0.90, 0.82),
    "内蒙古自治区": (0.66, 1.00, 0.70, 0.85, 0.90, 0.95),
    "甘肃省": (0.70, 1.15, 0.60, 0.95, 0.90, 0.92),
    "青海省": (0.66, 1.20, 0.70, 0.85, 0.90, 0.92),
    "宁夏回族自治区": (0.70, 1.15, 0.75, 0.85, 0.95, 0.95),
    "新疆维吾尔自治区": (1.05, 1.30, 0.45, 1.05, 1.20, 0.80),
}
#: Any other province: a middling one.
DEFAULT_FACTORS = (0.80, 0.80, 0.40, 0.85, 0.85, 0.95)
# Log std of a city's factor around its province's (per species) and of a station's
# around its city's.
CITY_SPREAD = {"SO2": 0.20, "NO2": 0.10, "PM2.5": 0.09, "COARSE": 0.12, "CO": 0.10, "O3": 0.04}
STATION_SPREAD = 0.06


def city_levels(city: str, province: str, seed: int = 2021) -> dict[str, float]:
    """Annual means of a city in ``ingest.demo.REF_YEAR`` (µg/m³; CO mg/m³), keys
    :data:`SPECIES`: its province's factors × a city factor drawn from the city's name."""
    base = demo.DEFAULT_LEVELS
    f_pm, f_coarse, f_so2, f_no2, f_co, f_o3 = PROVINCE_FACTORS.get(province, DEFAULT_FACTORS)
    z = demo._rng(seed, "peer-city", city, 0).standard_normal(len(SPECIES) + 1)
    # one shared "dirtiness" draw moves the pollutants of a city together
    shared = 0.6 * z[-1]
    levels = {"SO2": base["SO2"] * f_so2, "NO2": base["NO2"] * f_no2,
              "PM2.5": base["PM2.5"] * f_pm,
              "COARSE": max(base["PM10"] - base["PM2.5"], 5.0) * f_coarse,
              "CO": base["CO"] * f_co, "O3": base["O3"] * f_o3}
    out = {}
    for i, sp in enumerate(SPECIES):
        s = CITY_SPREAD[sp]
        share = 0.0 if sp == "O3" else shared
        out[sp] = float(levels[sp] * np.exp(s * (share + 0.8 * z[i]) - 0.5 * s * s))
    return out


def _station_levels(codes: list[str], city: dict[str, float], seed: int,
                    scale: np.ndarray) -> dict[str, dict[str, float]]:
    """Each station: its city's levels × a centred station factor × its ``scale``."""
    offsets = np.array([demo._rng(seed, "peer-offset", c, 0).normal(0, STATION_SPREAD,
                                                                     len(SPECIES))
                        for c in codes])
    offsets -= offsets.mean(axis=0)
    return {c: {sp: city[sp] * float(np.exp(o)) * float(k) for sp, o in zip(SPECIES, off)}
            for c, off, k in zip(codes, offsets, scale)}


def _restore_long_gaps(natural: dict, values: dict, missing: dict, hours: int) -> None:
    """Undo the outages of ``hours`` or more of ``ingest.demo._defects`` (runs of missing
    hours of one analyser): the natural values are back, the other defects stay."""
    for p in POLLUTANTS:
        gap = missing[p]
        edges = np.flatnonzero(np.diff(np.concatenate([[0], gap.astype(np.int8), [0]])))
        for a, b in zip(edges[::2], edges[1::2]):
            if b - a >= hours:
                values[p][a:b] = natural[p][a:b]
                gap[a:b] = False


def generate_peers(stations: pd.DataFrame, until: dt.date, first_year: int | None = None,
                   seed: int = 2021, levels: dict | None = None,
                   long_outages: bool = True) -> Iterator[pd.DataFrame]:
    """SYNTHETIC hourly readings of ``stations``, one canonical long frame per city.

    Parameters
    ----------
    stations : DataFrame ``code``, ``city`` (the grouping: a city's stations share its
        levels and weather), ``province`` [, ``scale``: a multiple of the station's
        levels, default 1].
    until : date
        Last day (through 23:00).
    first_year : int, optional
        First year (from 1 January); default ``until.year - 2`` (as ``ingest.demo``).
    levels : dict, optional
        city → levels (:func:`city_levels` keys) instead of the drawn ones.
    long_outages : bool
        False: without the demo's gaps of five hours or more (a week-long outage per
        station and year, analyser outages, the longer transmission gaps — each fails a
        day's 20-hour or a month's 27-day rule): a city of **one** station keeps a valid
        year, as a city of several stations does. The other defects (scattered missing
        hours, short gaps, bad values for QC) stay.

    Every frame has ``attrs["synthetic"]`` True.
    """
    if isinstance(until, dt.datetime):
        until = until.date()
    first_year = until.year - 2 if first_year is None else int(first_year)
    cal = demo._Calendar(first_year - 1, until.year)       # a warm-up year in front
    start = np.datetime64(f"{first_year}-01-01T00", "h")
    end = np.datetime64(until.isoformat(), "D").astype("datetime64[h]") + 23
    keep = slice(int((start - cal.hours[0]).astype(int)),
                 int((end - cal.hours[0]).astype(int)) + 1)
    times = cal.hours[keep].astype("datetime64[s]")
    frame = stations.assign(code=stations["code"].astype(str), city=stations["city"].astype(str))
    if "scale" not in frame:
        frame = frame.assign(scale=1.0)
    for city, own in frame.groupby("city", sort=False):
        province = str(own["province"].iloc[0] or "")
        lv_city = (levels or {}).get(city) or city_levels(city, province, seed)
        codes = own["code"].tolist()
        per_station = _station_levels(codes, lv_city, seed, own["scale"].to_numpy(float))
        weather = demo._city_weather(cal, seed, "peer:" + city)
        parts = []
        for code in codes:
            lv = per_station[code]
            values = demo._round(demo._natural(cal, weather, lv, code, seed,
                                               demo._urban_factor(lv)))
            natural = None if long_outages else {p: v.copy() for p, v in values.items()}
            missing, non_numeric = demo._defects(cal, values, code, seed)
            if natural is not None:
                _restore_long_gaps(natural, values, missing, 5)
            parts.append({p: (values[p][keep], missing[p][keep], non_numeric[p][keep])
                          for p in POLLUTANTS})
        columns = {p: tuple(np.concatenate([v[p][i] for v in parts]) for i in range(3))
                   for p in POLLUTANTS}
        out = long_from_wide(np.tile(times, len(codes)), np.repeat(codes, len(times)), columns)
        out.attrs["rows_read"] = len(times) * len(codes)
        out.attrs["synthetic"] = True
        out.attrs["city"] = city
        yield out


# -- stations ------------------------------------------------------------------------------

def demo_peer_stations(group, exclude: set[str] | frozenset = frozenset()) -> pd.DataFrame:
    """One synthetic station per member of a city group, except the members in ``exclude``
    (the one the demo site claims): code ``SYNP<place in the group file>``, ``name_zh``
    ``北京（合成）``, ``name_en`` ``Beijing (synthetic)``, ``list_city`` and ``city`` the
    member's name, ``province``."""
    rows = [{"code": f"{CODE_PREFIX}{i:03d}", "name_zh": f"{m.name}（合成）",
             "name_en": f"{m.name_en} (synthetic)", "list_city": m.name, "city": m.name,
             "province": m.province}
            for i, m in enumerate(group.members, start=1) if m.name not in exclude]
    return pd.DataFrame(rows, columns=["code", "name_zh", "name_en", "list_city", "city",
                                       "province"])


def create_stations(conn, stations: pd.DataFrame) -> dict[str, int]:
    """Create (or bring back to what :func:`demo_peer_stations` says) the demo's synthetic
    peer stations: role evaluation, synthetic, origin ``demo``, no site-file city.
    Returns ``{"created": n, "updated": n}``."""
    from sqlalchemy import select

    from store import schema
    from store.db import bump_data_version

    s = schema.stations
    codes = stations["code"].astype(str).tolist()
    existing = {r.code: r for r in conn.execute(select(
        s.c.id, s.c.code, s.c.name_zh, s.c.name_en, s.c.list_city, s.c.province, s.c.role,
        s.c.synthetic, s.c.city_id).where(s.c.code.in_(codes)))} if codes else {}
    created = updated = 0
    for r in stations.itertuples(index=False):
        want = dict(name_zh=r.name_zh, name_en=r.name_en, list_city=r.list_city,
                    province=r.province, role="evaluation", synthetic=True)
        old = existing.get(r.code)
        if old is None:
            conn.execute(s.insert().values(code=r.code, city_id=None, district_id=None,
                                           network="", origin="demo", **want))
            created += 1
        elif any(getattr(old, k) != v for k, v in want.items()) or old.city_id is not None:
            conn.execute(s.update().where(s.c.id == old.id).values(city_id=None,
                                                                    district_id=None, **want))
            updated += 1
    if created or updated:
        bump_data_version(conn)
    return {"created": created, "updated": updated}


def group_stations(conn, group, year: int, exclude: set[str] | frozenset = frozenset(),
                   ) -> pd.DataFrame:
    """The evaluation stations of a city group's members (by the national station list's
    city, ``list_city``), not retired before 1 January of ``year``: code, city (the
    member), province (the member's); the members in ``exclude`` left out."""
    from store.places import listed_stations

    province = {m.name: m.province for m in group.members}
    st = listed_stations(conn)
    first = dt.date(int(year), 1, 1)
    retired = st["retired_on"].map(lambda d: d is not None and d == d and d <= first)
    st = st[(st["role"] == "evaluation") & ~retired.astype(bool)
            & st["list_city"].isin(set(province) - set(exclude))]
    return pd.DataFrame({"code": st["code"].astype(str), "city": st["list_city"].astype(str),
                         "province": st["list_city"].map(province)}).sort_values(
        ["city", "code"], kind="stable").reset_index(drop=True)


# -- loading ------------------------------------------------------------------------------

def load_peers(engine, stations: pd.DataFrame, until: dt.date, first_year: int | None = None,
               seed: int = 2021, *, label: str, options: dict | None = None,
               readings_per_step: int = 3_000_000, progress=None, levels: dict | None = None,
               long_outages: bool = True):
    """Generate and load SYNTHETIC readings for ``stations`` (:func:`generate_peers`) as
    one ingest run (reader :data:`READER`, file ``synthetic:<label> (first … last)``,
    checksum ``synthetic``), a few cities per transaction; the stations are marked
    synthetic (``long_outages``: see :func:`generate_peers`). ``progress(done, total)``
    after each step (cities). Returns the run's
    :class:`ingest.loader.LoadResult` (counts summed over the steps)."""
    from sqlalchemy import select

    from store import schema

    from .loader import LoadResult, finish_run, load_frame, start_run

    if isinstance(until, dt.datetime):
        until = until.date()
    first = until.year - 2 if first_year is None else int(first_year)
    name = f"synthetic:{label} ({first}-01-01 … {until:%Y-%m-%d})"
    total = LoadResult(file=name, reader=READER)
    opts = {"synthetic": True, "seed": int(seed), "stations": int(len(stations)),
            **(options or {})}
    total.run_id, total.same_as_run = start_run(engine, READER, name, "synthetic", opts)
    runs = schema.ingest_runs.c
    codes = stations["code"].astype(str).tolist()
    with engine.begin() as conn:
        from store.db import bump_data_version
        s = schema.stations
        marked = sum(conn.execute(s.update().where(s.c.code.in_(codes[lo:lo + 500]),
                                                   s.c.synthetic.is_(False))
                                  .values(synthetic=True)).rowcount
                     for lo in range(0, len(codes), 500))
        if marked:
            bump_data_version(conn)
    n_cities = stations["city"].nunique()
    hours = []
    pending: list[pd.DataFrame] = []

    def flush() -> None:
        if not pending:
            return
        frame = pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
        frame.attrs["rows_read"] = sum(f.attrs["rows_read"] for f in pending)
        pending.clear()
        step = LoadResult(file=name, reader=READER, run_id=total.run_id,
                          same_as_run=total.same_as_run)
        with engine.begin() as conn:
            load_frame(conn, frame, step, strict=True, synthetic=True)
            hours.append(conn.execute(select(runs.first_hour, runs.last_hour)
                                      .where(runs.id == total.run_id)).first())
        for field in ("rows_read", "readings_read", "readings_new", "readings_changed",
                      "readings_flagged", "readings_rejected", "duplicates_ignored"):
            setattr(total, field, getattr(total, field) + getattr(step, field))
        if step.status == "ok":
            total.status = "ok"

    try:
        done = 0
        size = 0
        for frame in generate_peers(stations, until, first, seed, levels, long_outages):
            pending.append(frame)
            size += len(frame)
            done += 1
            if size >= readings_per_step:
                flush()
                size = 0
            if progress is not None and not pending:
                progress(done, n_cities)
        flush()
        if progress is not None:
            progress(done, n_cities)
    except Exception as exc:
        total.status, total.message = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        finish_run(engine, total)
        raise
    if total.status == "running":
        total.status = "unchanged"
    spans = [h for h in hours if h is not None and h[0] is not None]
    total.message = f"SYNTHETIC readings ({label}): {n_cities} cities, {len(stations)} stations"
    finish_run(engine, total)
    if spans:
        with engine.begin() as conn:
            conn.execute(schema.ingest_runs.update().where(runs.id == total.run_id).values(
                first_hour=min(h[0] for h in spans), last_hour=max(h[1] for h in spans)))
    return total

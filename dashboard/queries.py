"""Database → DataFrames for the dashboard. Every function takes an engine or connection.

No Dash here: the pages call these and hand the frames to ``figures`` and
their own table builders, so all of it can be tested without a browser.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import pandas as pd
from sqlalchemy import text

from store.queries import recent_runs, status_frame

STATION_COLUMNS = ["code", "name_zh", "name_en", "role", "network", "synthetic", "city_id",
                   "city_zh", "city_en", "city_synthetic", "district_zh", "district_en"]
CITY_COLUMNS = ["id", "name_zh", "name_en", "synthetic"]


def stations_frame(conn) -> pd.DataFrame:
    """Every station with its city and district names (one row per station, by city then code)."""
    rows = conn.execute(text(
        "SELECT s.code, s.name_zh, s.name_en, s.role, s.network, s.synthetic, s.city_id, "
        "c.name_zh, c.name_en, c.synthetic, d.name_zh, d.name_en "
        "FROM stations s LEFT JOIN cities c ON c.id = s.city_id "
        "LEFT JOIN districts d ON d.id = s.district_id "
        "ORDER BY CASE WHEN s.city_id IS NULL THEN 1 ELSE 0 END, s.city_id, s.code")).fetchall()
    frame = pd.DataFrame(rows, columns=STATION_COLUMNS)
    for col in ("synthetic", "city_synthetic"):
        frame[col] = frame[col].astype("boolean").fillna(False).astype(bool)
    for col in ("name_zh", "name_en", "city_zh", "city_en", "district_zh", "district_en",
                "network"):
        frame[col] = frame[col].fillna("").astype(str)
    return frame


def cities_frame(conn) -> pd.DataFrame:
    rows = conn.execute(text(
        "SELECT id, name_zh, name_en, synthetic FROM cities ORDER BY id")).fetchall()
    frame = pd.DataFrame(rows, columns=CITY_COLUMNS)
    frame["synthetic"] = frame["synthetic"].astype("boolean").fillna(False).astype(bool)
    return frame


@dataclass
class Overview:
    """What is loaded: cities, stations, per station and pollutant counts, recent runs."""

    cities: pd.DataFrame
    stations: pd.DataFrame
    status: pd.DataFrame          # store.queries.status_frame
    runs: pd.DataFrame            # store.queries.recent_runs
    synthetic_cities: list[str] = field(default_factory=list)
    synthetic_stations: list[str] = field(default_factory=list)

    @property
    def is_synthetic(self) -> bool:
        """True when any city or station in the database holds synthetic (demo) data."""
        return bool(self.synthetic_cities or self.synthetic_stations)

    @property
    def has_readings(self) -> bool:
        return not self.status.empty

    def listed_stations(self) -> pd.DataFrame:
        """Stations worth listing: those of a city (site file) and those with readings.

        Stations known only from a national station list (no city, no readings)
        would bury the page; :meth:`unlisted_count` reports how many there are.
        """
        with_data = set(self.status["station"])
        keep = self.stations["city_id"].notna() | self.stations["code"].isin(with_data)
        return self.stations[keep].reset_index(drop=True)

    def unlisted_count(self) -> int:
        return len(self.stations) - len(self.listed_stations())


def load_overview_cached(engine, runs: int = 10) -> Overview:
    """:func:`load_overview`: what the data version covers (cities, stations and the
    per-station counts, a scan of every reading) cached under it, the recent runs read
    anew (runs that changed nothing, failed or are still going do not bump the version;
    keying the scan on them too made a reload of unchanged files rescan every reading
    at each of its runs: 6–10 s answers of /data during the reload)."""
    from .cache import cached

    stored = cached("load_overview", current_version(engine), (str(engine.url),),
                    lambda: load_overview(engine, runs=0))
    with engine.connect() as conn:
        recent = recent_runs(conn, runs)
    return replace(stored, runs=recent)


def load_overview(engine, runs: int = 10) -> Overview:
    """Read everything the overview page shows, in one connection."""
    with engine.connect() as conn:
        cities = cities_frame(conn)
        stations = stations_frame(conn)
        status = status_frame(conn)
        recent = recent_runs(conn, runs)
    synthetic_cities = cities.loc[cities["synthetic"], "id"].tolist()
    synthetic_stations = sorted(set(stations.loc[stations["synthetic"], "code"])
                                | set(status.attrs.get("synthetic_stations", [])))
    return Overview(cities=cities, stations=stations, status=status, runs=recent,
                    synthetic_cities=synthetic_cities, synthetic_stations=synthetic_stations)


# -- Staff pages: catalogue, daily values, statistics (cached by data version) ----------

@dataclass
class Catalog:
    """The cities, districts and stations of the database, and what data each city has."""

    version: int
    cities: pd.DataFrame          # id, name_zh, name_en, synthetic
    districts: pd.DataFrame       # city, id (code), name_zh, name_en, grade
    stations: pd.DataFrame        # code, name_zh, name_en, role, lon, lat, synthetic, city, district
    spans: dict                   # city id → (first day, last day) with hourly data
    #: (city, district) of a district-scoped account (dashboard/auth.py): this catalogue
    #: then holds only that city, district and its stations, so no page built on it
    #: can offer (or validate a URL into) anything else
    scope: tuple | None = None

    def scoped(self, scope: tuple | None) -> "Catalog":
        """This catalogue as a district-scoped account may see it (``None``: all of it)."""
        if scope is None:
            return self
        city, district = scope
        return Catalog(
            version=self.version, scope=(city, district),
            cities=self.cities[self.cities["id"] == city].reset_index(drop=True),
            districts=self.districts[(self.districts["city"] == city)
                                     & (self.districts["id"] == district)].reset_index(drop=True),
            stations=self.stations[(self.stations["city"] == city)
                                   & (self.stations["district"] == district)
                                   ].reset_index(drop=True),
            spans={c: span for c, span in self.spans.items() if c == city})

    def city_ids(self) -> list[str]:
        """Cities with data first (real before synthetic), then the others."""
        c = self.cities.assign(has=self.cities["id"].isin(list(self.spans)))
        c = c.sort_values(["has", "synthetic", "id"], ascending=[False, True, True])
        return c["id"].tolist()

    def default_city(self) -> str | None:
        ids_ = self.city_ids()
        return ids_[0] if ids_ else None

    def is_synthetic(self, city: str) -> bool:
        return city in self._synthetic_cities

    @cached_property
    def _synthetic_cities(self) -> frozenset:
        cities = set(self.cities.loc[self.cities["synthetic"], "id"])
        cities |= set(self.stations.loc[self.stations["synthetic"], "city"].dropna())
        return frozenset(cities)

    def city_districts(self, city: str) -> pd.DataFrame:
        return self.districts[self.districts["city"] == city].reset_index(drop=True)

    def city_stations(self, city: str) -> pd.DataFrame:
        return self.stations[self.stations["city"] == city].reset_index(drop=True)

    @cached_property
    def _names(self) -> dict:
        out = {}
        for level, (frame, key) in {"station": (self.stations, "code"),
                                    "district": (self.districts, "id"),
                                    "city": (self.cities, "id")}.items():
            for lang, (first, second) in {"zh": ("name_zh", "name_en"),
                                          "en": ("name_en", "name_zh")}.items():
                out[level, lang] = {k: (a or b or k) for k, a, b in
                                    zip(frame[key], frame[first], frame[second])}
        return out

    def name(self, level: str, area: str, lang: str = "zh") -> str:
        """Display name of a station, district or city (falls back to the id)."""
        return str(self._names[level, "en" if lang == "en" else "zh"].get(area, area))

    def names(self, level: str, lang: str = "zh") -> dict:
        return dict(self._names[level, "en" if lang == "en" else "zh"])


def current_version(engine) -> int:
    """The data version the caches key on: in a request, read once and the same for every
    lookup of the request (possibly the last complete one while a load runs:
    :func:`dashboard.cache.request_version`)."""
    from store.db import data_version

    from .cache import request_version

    def read() -> int:
        with engine.connect() as conn:
            return data_version(conn)
    return request_version(engine, read)


def _read_catalog(engine, version: int) -> Catalog:
    from store.daily import station_spans
    from store.frames import station_table
    with engine.connect() as conn:
        cities = cities_frame(conn)
        districts = pd.DataFrame(conn.execute(text(
            "SELECT city_id, code, name_zh, name_en, grade FROM districts ORDER BY city_id, id"
        )).fetchall(), columns=["city", "id", "name_zh", "name_en", "grade"])
        stations = station_table(conn)
        spans_rows = station_spans(conn)      # index probes per station, no scan of readings
    stations = stations[stations["city"].notna()].reset_index(drop=True)
    stations["synthetic"] = stations["synthetic"].astype("boolean").fillna(False).astype(bool)
    for col in ("name_zh", "name_en"):
        stations[col] = stations[col].fillna("").astype(str)
    spans: dict = {}
    if spans_rows:
        sp = pd.DataFrame(spans_rows, columns=["id", "first", "last"])
        sp["first"] = pd.to_datetime(sp["first"]).dt.date
        sp["last"] = pd.to_datetime(sp["last"]).dt.date
        sp = sp.merge(stations[["id", "city"]], on="id")
        for city, rows in sp.groupby("city"):
            spans[city] = (rows["first"].min(), rows["last"].max())
    return Catalog(version=version, cities=cities, districts=districts,
                   stations=stations.drop(columns=["id"]), spans=spans)


def catalog(engine) -> Catalog:
    from .cache import cached
    version = current_version(engine)
    return cached("catalog", version, (str(engine.url),), lambda: _read_catalog(engine, version))


@dataclass
class CityYear:
    """Daily values and daily AQI of every station, district and the city for one year."""

    city: str
    year: int
    daily: pd.DataFrame           # indicators.frames.DAILY_COLUMNS
    aqi: pd.DataFrame             # indicators.aqi daily AQI layout
    membership: pd.DataFrame
    grades: dict
    last_day: object              # last day with any hourly value (date) or None

    @property
    def empty(self) -> bool:
        return self.daily.empty


def _compute_city_year(engine, city: str, year: int, profile: str | None) -> CityYear:
    import numpy as np

    from indicators import pipeline
    from store import daily as station_daily
    from store.frames import hourly_frame, membership, station_table

    start, end = pipeline.year_bounds(year)
    with engine.connect() as conn:
        members = membership(conn, city)
        stations = station_table(conn)
        codes = stations.loc[stations["city"] == city, "code"]
        # the daily rows (store/daily.py: the same numbers), the hours only until it is built
        days = station_daily.station_days(conn, stations[stations["city"] == city], start, end)
        hourly = hourly_frame(conn, stations=codes, start=start, end=end) if days is None \
            else None
    grades = pipeline.grades_of(members, dict(zip(stations["code"], stations["grade"].fillna("II"))))
    if days.empty if days is not None else hourly.empty:
        from indicators.frames import DAILY_COLUMNS
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in DAILY_COLUMNS})
        return CityYear(city, year, empty, pd.DataFrame(columns=["level", "area", "date", "aqi"]),
                        members, grades, None)
    if days is not None:
        daily, aqi = station_daily.daily_and_aqi(days, members, profile=profile)
        return CityYear(city, year, daily, aqi, members, grades, days.last_day)
    daily, aqi = pipeline.daily_and_aqi(hourly, members, profile=profile)
    last_day = pd.Timestamp(np.datetime64(hourly["time"].max(), "D")).date()
    return CityYear(city, year, daily, aqi, members, grades, last_day)


def daily_profile(profile: str | None) -> str | None:
    """The profile that shapes daily values and their AQI: a Chinese profile (its daily
    rules and AQI), the US EPA (its own AQI); a comparison profile that only brings limits
    (WHO, EU) gives the same days as the default (``indicators.pipeline.split_profile``)."""
    if profile is None:
        return None
    from config.standards import load_profile
    return profile if load_profile(profile).kind in ("cn", "us-aqi") else None


def city_year(engine, city: str, year: int, profile: str | None = None) -> CityYear:
    """Daily values and AQI of ``city`` for calendar ``year`` under ``profile`` (cached).

    Profiles with the same days share one entry (:func:`daily_profile`): WHO and EU
    views reuse the default's daily values and AQI.
    """
    from .cache import _LocalLRU, _key, cache, cached
    global _city_years
    profile = daily_profile(profile)
    version, parts = current_version(engine), (str(engine.url), city, int(year), profile)
    # The shared cache holds city-years pickled: a nation's (1,700 stations) is 320 MB and
    # 0.1-0.2 s to unpickle on every request; the last few stay here as they are, as long
    # as the shared cache still has them (a cleared or evicted entry is computed anew).
    if _city_years is None:
        _city_years = _LocalLRU(CITY_YEARS_IN_PROCESS)
    key = _key("city_year", version, parts)
    hit = _city_years.get(key)
    if hit is not None:
        try:
            hit = hit if cache.has(key) else None
        except Exception:  # noqa: BLE001 - no cache to ask: compute as cached() would
            hit = None
    if hit is None:
        hit = cached("city_year", version, parts,
                     lambda: _compute_city_year(engine, city, int(year), profile))
        _city_years.put(key, hit)
    return hit


CITY_YEARS_IN_PROCESS = 4
_city_years = None


def daily_between(engine, city: str, start, end, profile: str | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(daily values, daily AQI) of ``city`` from ``start`` to ``end`` inclusive (any years)."""
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    dailies, aqis = [], []
    for year in range(start.year, end.year + 1):
        cy = city_year(engine, city, year, profile)
        if cy.empty:
            continue
        dailies.append(cy.daily[(cy.daily["date"] >= start) & (cy.daily["date"] <= end)])
        aqis.append(cy.aqi[(cy.aqi["date"] >= start) & (cy.aqi["date"] <= end)])
    if not dailies:
        cy = city_year(engine, city, start.year, profile)
        return cy.daily.iloc[:0], cy.aqi.iloc[:0]
    return pd.concat(dailies, ignore_index=True), pd.concat(aqis, ignore_index=True)


def _compute_period_stats(engine, city, year, kind, label, ytd_end, profile,
                          areas_only: bool = False) -> pd.DataFrame:
    from indicators import pipeline

    cy = city_year(engine, city, year, profile)
    if cy.empty:
        from indicators.frames import STAT_COLUMNS
        return pd.DataFrame({c: pd.Series(dtype=object) for c in STAT_COLUMNS})
    daily, aqi = cy.daily, cy.aqi
    if areas_only:
        # an area's statistics come from its own daily values: the stations' rows (all
        # but ~1 % of a network's) are not needed for district and city figures
        daily = daily[daily["level"] != "station"]
        aqi = aqi[aqi["level"] != "station"]
    if kind == "ytd":
        cut = pd.Timestamp(ytd_end)
        daily, aqi = daily[daily["date"] <= cut], aqi[aqi["date"] <= cut]
    elif kind == "month":
        # each month is computed from its own days alone: one month's days, not the year's
        # (the same rows, tests/test_daily_store.py; 0.13 s instead of 0.8 s for a nation)
        first = pd.Timestamp(f"{label}-01")
        last = first + pd.offsets.MonthEnd(0)
        daily = daily[(daily["date"] >= first) & (daily["date"] <= last)]
        aqi = aqi[(aqi["date"] >= first) & (aqi["date"] <= last)]
    stats = pipeline.period_table(daily, aqi, period=kind, grades=cy.grades, profile=profile,
                                  ytd_end=ytd_end if kind == "ytd" else None)
    return stats[stats["period"].astype(str) == label].reset_index(drop=True)


def period_stats(engine, view, areas_only: bool = False) -> pd.DataFrame:
    """Period statistics (with the composite index) of every station, district and the
    city for the view's period; ``areas_only``: of the districts and the city only (the
    same rows, without computing the stations' — what the overview needs)."""
    from .cache import cached
    kind, label = view.stats_period, view.stats_label
    year = view.end.year if kind == "ytd" else view.year
    ytd_end = view.stats_end if kind == "ytd" else None
    parts = (str(engine.url), view.city, year, kind, label, str(ytd_end), view.profile_arg)
    return cached("area_stats" if areas_only else "period_stats", current_version(engine),
                  parts, lambda: _compute_period_stats(engine, view.city, year, kind, label,
                                                       ytd_end, view.profile_arg, areas_only))


def previous_stats(engine, view, areas_only: bool = False) -> pd.DataFrame | None:
    """The same period one year earlier, or None when that year has no data."""
    prev = view.previous_year()
    stats = period_stats(engine, prev, areas_only)
    return None if stats.empty else stats


def station_readings(engine, code: str, start, end) -> pd.DataFrame:
    """Stored hours of one station with values and QC flag names (flagged values kept).

    Columns: time, then per pollutant its value and ``<pollutant>_flag`` (ok,
    missing, negative, …). Used by the station page, which marks flagged values
    instead of hiding them.
    """
    import numpy as np

    from ingest.qc import FLAGS
    from store.frames import POLLUTANT_OF
    from store.writer import FLAG_COLUMNS, VALUE_COLUMNS, read_hourly

    with engine.connect() as conn:
        row = conn.execute(text("SELECT id FROM stations WHERE code = :c"), {"c": code}).first()
        if row is None:
            return pd.DataFrame(columns=["time"])
        raw = read_hourly(conn, [row[0]], np.datetime64(pd.Timestamp(start), "s"),
                          np.datetime64(pd.Timestamp(end) + pd.Timedelta(hours=23), "s"))
    names = dict(enumerate(FLAGS))
    out = {"time": pd.to_datetime(raw["ts"])}
    for col, flag in zip(VALUE_COLUMNS, FLAG_COLUMNS):
        p = POLLUTANT_OF[col]
        out[p] = pd.to_numeric(raw[col], errors="coerce").astype("float64")
        codes = raw[flag].astype("int64")
        out[f"{p}_flag"] = codes.map(names).fillna("unknown").astype(str)
    return pd.DataFrame(out)


def stats_with_change(engine, view, areas_only: bool = False) -> pd.DataFrame:
    """:func:`period_stats` with the change against the same period last year
    (``indicators.statistics.change_rate`` columns; NaN where last year has no data)."""
    from .cache import cached

    def compute():
        from indicators.statistics import change_rate
        stats = period_stats(engine, view, areas_only)
        previous = previous_stats(engine, view, areas_only)
        if stats.empty:
            return stats
        if previous is None:
            return stats.assign(previous_period=None, previous_reported=float("nan"),
                                change_valid=False, change_rate=float("nan"),
                                change_rate_reported=float("nan"), improved=pd.NA)
        return change_rate(stats, previous, profile=view.profile_arg)
    parts = (str(engine.url), view.city, view.stats_label, view.profile_arg, view.year)
    return cached("area_change" if areas_only else "stats_change", current_version(engine),
                  parts, compute)


def standing_rows(engine, view) -> pd.DataFrame:
    """Each district's targets (or, without one, its national limits) with the outlook
    for the view's period (``indicators.targets.standing``)."""
    from .cache import cached

    def compute():
        from config.sites import Target
        from indicators.targets import standing
        from store.frames import targets as stored_targets

        with engine.connect() as conn:
            rows = stored_targets(conn, view.city)
        year = view.end.year if view.stats_period == "ytd" else view.year
        objects = [Target(r.area, r.pollutant, r.statistic, float(r.value), r.unit,
                          None if pd.isna(r.first_year) else int(r.first_year),
                          None if pd.isna(r.last_year) else int(r.last_year), r.note or "")
                   for r in rows.itertuples(index=False)]
        cy = city_year(engine, view.city, year, view.profile_arg)
        districts = sorted(set(cy.membership.loc[cy.membership["level"] == "district", "area"]))
        return standing(period_stats(engine, view, areas_only=True), objects, cy.grades,
                        view.profile_arg,
                        year=year, period=view.stats_label, areas=districts)
    parts = (str(engine.url), view.city, view.stats_label, view.profile_arg, view.year)
    return cached("standing", current_version(engine), parts, compute)


# -- Exceedances page (超标): daily values against their daily limits -----------------

EXCEEDANCE_POLLUTANTS = ("SO2", "NO2", "PM10", "PM2.5", "CO", "O3")


@dataclass
class ExceedanceData:
    """The districts' and the city's days of a date range, against their daily limits.

    ``days``: level, area, date, pollutant (SO2, NO2, PM10, PM2.5, CO, O3 = the
    MDA8), reported (published daily value, NaN when not valid), valid,
    n_valid, n_required, limit (24-h / MDA8 limit of that day's profile and the
    area's grade, ``indicators.daily_limits``), exceeds (listed by
    ``indicators.statistics.exceedances``), multiple ((C − S)/S, NaN unless
    exceeds), profile. ``aqi``: level, area, date, aqi (Int64), category_zh,
    category_en, colour, primary. ``rows``: the ``exceedances`` rows themselves.
    ``targets``: the city's local targets (``store.frames.targets``).
    """

    days: pd.DataFrame
    aqi: pd.DataFrame
    rows: pd.DataFrame
    targets: pd.DataFrame
    grades: dict

    @property
    def empty(self) -> bool:
        return self.days.empty and self.aqi.empty


def _compute_exceedance_data(engine, city: str, start, end, profile: str | None
                             ) -> ExceedanceData:
    import numpy as np

    from indicators.daily_limits import DAILY_LIMIT_OF, daily_limits
    from indicators.statistics import exceedances
    from store.frames import targets as stored_targets

    daily, aqi = daily_between(engine, city, start, end, profile)
    grades = city_year(engine, city, pd.Timestamp(start).year, profile).grades
    with engine.connect() as conn:
        targets = stored_targets(conn, city)
    areas = ["district", "city"]
    daily = daily[daily["level"].isin(areas) & daily["pollutant"].isin(list(DAILY_LIMIT_OF))]
    aqi = aqi[aqi["level"].isin(areas)]
    rows = exceedances(daily, grades=grades, profile=profile)
    valid = daily["valid"].to_numpy(dtype=bool, na_value=False)
    days = pd.DataFrame({
        "level": daily["level"].astype(str).to_numpy(),
        "area": daily["area"].astype(str).to_numpy(),
        "date": pd.to_datetime(daily["date"]).to_numpy("datetime64[s]"),
        "pollutant": daily["pollutant"].astype(str).replace({"O3_MDA8": "O3"}).to_numpy(),
        "reported": np.where(valid, pd.to_numeric(daily["reported"]).to_numpy("float64",
                                                                                na_value=np.nan),
                             np.nan),
        "valid": valid,
        "n_valid": daily["n_valid"].to_numpy(),
        "n_required": daily["n_required"].to_numpy(),
        "limit": daily_limits(daily, grades=grades, profile=profile),
        "profile": (daily["profile"].astype(str).to_numpy() if profile is None
                    else np.full(len(daily), profile, dtype=object)),
    })
    keys = ["level", "area", "date", "pollutant"]
    listed = rows[keys + ["multiple"]].assign(
        level=rows["level"].astype(str), area=rows["area"].astype(str),
        date=pd.to_datetime(rows["date"]).to_numpy("datetime64[s]"),
        pollutant=rows["pollutant"].astype(str), exceeds=True)
    days = days.merge(listed, on=keys, how="left", validate="one_to_one")
    days["exceeds"] = days["exceeds"].astype("boolean").fillna(False).astype(bool)
    days["multiple"] = days["multiple"].astype("float64")
    keep = ["level", "area", "date", "aqi", "category_zh", "category_en", "colour", "primary"]
    aqi = aqi[[c for c in keep if c in aqi.columns]].assign(
        level=aqi["level"].astype(str), area=aqi["area"].astype(str),
        date=pd.to_datetime(aqi["date"]).to_numpy("datetime64[s]")).reset_index(drop=True)
    return ExceedanceData(days=days, aqi=aqi, rows=rows.reset_index(drop=True),
                          targets=targets, grades=grades)


def exceedance_data(engine, view) -> ExceedanceData:
    """:class:`ExceedanceData` of the view's city from ``view.start`` to ``view.end`` (cached)."""
    from .cache import cached
    parts = (str(engine.url), view.city, view.start.isoformat(), view.end.isoformat(),
             view.profile_arg)
    return cached("exceedance_data", current_version(engine), parts,
                  lambda: _compute_exceedance_data(engine, view.city, view.start, view.end,
                                                   view.profile_arg))


# -- District and station pages (appended) --------------------------------------------

def month_stats(engine, city: str, year: int, profile: str | None = None) -> pd.DataFrame:
    """Monthly period statistics of every area of ``city`` in ``year``
    (``pipeline.period_table(..., period="month")``, STAT_COLUMNS; cached)."""
    from .cache import cached

    def compute():
        from indicators import pipeline
        from indicators.frames import STAT_COLUMNS
        cy = city_year(engine, city, int(year), profile)
        if cy.empty:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in STAT_COLUMNS})
        return pipeline.period_table(cy.daily, cy.aqi, period="month", grades=cy.grades,
                                     profile=profile)
    return cached("month_stats", current_version(engine),
                  (str(engine.url), city, int(year), profile), compute)


def station_hourly(engine, code: str, start, end) -> pd.DataFrame:
    """One station's hourly values from ``start`` to ``end`` (days, inclusive) as the
    statistics see them (``store.frames.hourly_frame``: QC-excluded values NaN; cached)."""
    from .cache import cached

    def compute():
        import numpy as np

        from store.frames import hourly_frame
        first = np.datetime64(pd.Timestamp(start).date(), "s")
        last = np.datetime64(pd.Timestamp(end).date(), "s") + np.timedelta64(23 * 3600, "s")
        with engine.connect() as conn:
            return hourly_frame(conn, stations=[code], start=first, end=last)
    return cached("station_hourly", current_version(engine),
                  (str(engine.url), code, str(start), str(end)), compute)


def station_readings_cached(engine, code: str, start, end) -> pd.DataFrame:
    """:func:`station_readings` (values with QC flag names), cached by data version."""
    from .cache import cached
    return cached("station_readings", current_version(engine),
                  (str(engine.url), code, str(start), str(end)),
                  lambda: station_readings(engine, code, start, end))


def ranking_rows(engine, view, statistic: str, pollutant: str, level: str,
                 areas: tuple) -> pd.DataFrame:
    """:func:`indicators.ranking.rank` of ``areas`` (every district or station of the city)
    on one statistic of the view's period, with the change against the same period last
    year (cached). Empty when the period has no statistics."""
    from .cache import cached

    def compute():
        from indicators.ranking import rank

        def pick(stats):          # only the areas asked for (evaluation or background)
            return stats[(stats["statistic"] == statistic) & (stats["level"] == level)
                         & (stats["pollutant"] == pollutant) & stats["area"].isin(areas)]
        stats = period_stats(engine, view)
        if stats.empty:
            return pd.DataFrame()
        previous = previous_stats(engine, view)
        table = rank(pick(stats), by=statistic, pollutant=pollutant, level=level,
                     period=view.stats_label, areas=list(areas),
                     previous=None if previous is None else pick(previous))
        if previous is None:
            table = table.assign(previous_reported=float("nan"), change_rate=float("nan"),
                                 change_rate_reported=float("nan"),
                                 improved=pd.array([pd.NA] * len(table), dtype="boolean"))
        return table
    parts = (str(engine.url), view.city, view.stats_label, view.profile_arg, view.year,
             statistic, pollutant, level, tuple(areas))
    return cached("ranking_rows", current_version(engine), parts, compute)


def profile_rows(engine, view, profile: str, level: str, area: str) -> pd.DataFrame:
    """One area's period statistics under ``profile`` with that profile's limits and
    verdicts (:func:`indicators.comparison.against_limits`; cached). ``profile`` is
    forced (``dataclasses.replace(view, profile=…)``); empty without statistics."""
    from dataclasses import replace

    from .cache import cached

    def compute():
        from indicators.comparison import against_limits
        forced = replace(view, profile=profile)
        stats = period_stats(engine, forced)
        if stats.empty:
            return pd.DataFrame()
        rows = stats[(stats["level"] == level) & (stats["area"] == area)]
        year = view.end.year if view.stats_period == "ytd" else view.year
        grades = city_year(engine, view.city, year, profile).grades
        return against_limits(rows, profile, grades).assign(profile=profile) \
            .reset_index(drop=True)
    parts = (str(engine.url), view.city, view.stats_label, view.year, profile, level, area)
    return cached("profile_rows", current_version(engine), parts, compute)


# -- Map page (appended) ----------------------------------------------------------------

def station_latest_aqi(engine, view) -> pd.DataFrame:
    """Each station's daily AQI on ``view.end``, or, where that day has none, on its last
    day with a valid AQI from ``view.start`` on (cached).

    Columns: code, date (datetime.date), aqi (float), category_zh, category_en,
    primary — the indicators' daily AQI rows (``city_year(...).aqi``), one per station
    that has a valid AQI in the period.
    """
    from .cache import cached

    def compute():
        import numpy as np
        found, missing = [], None
        start, end = pd.Timestamp(view.start), pd.Timestamp(view.end)
        for year in range(end.year, start.year - 1, -1):
            aqi = city_year(engine, view.city, year, view.profile_arg).aqi
            if aqi.empty:
                continue
            rows = aqi[(aqi["level"] == "station") & (aqi["date"] >= start)
                       & (aqi["date"] <= end) & aqi["aqi"].notna()]
            if missing is not None:
                rows = rows[rows["area"].isin(list(missing))]
            if rows.empty:
                continue
            last = rows.sort_values("date", kind="stable").drop_duplicates("area", keep="last")
            found.append(last)
            have = set(last["area"].astype(str))
            stations = set(aqi.loc[aqi["level"] == "station", "area"].astype(str))
            missing = (stations if missing is None else missing) - have
            if not missing:
                break
        if not found:
            return pd.DataFrame({"code": pd.Series(dtype=str), "date": pd.Series(dtype=object),
                                 "aqi": pd.Series(dtype="float64"),
                                 "category_zh": pd.Series(dtype=str),
                                 "category_en": pd.Series(dtype=str),
                                 "primary": pd.Series(dtype=str)})
        rows = pd.concat(found, ignore_index=True)
        return pd.DataFrame({
            "code": rows["area"].astype(str).to_numpy(),
            "date": pd.to_datetime(rows["date"]).dt.date.to_numpy(),
            "aqi": rows["aqi"].astype("Float64").to_numpy("float64", na_value=np.nan),
            "category_zh": rows["category_zh"].astype(str).to_numpy(),
            "category_en": rows["category_en"].astype(str).to_numpy(),
            "primary": rows["primary"].fillna("").astype(str).to_numpy()})
    parts = (str(engine.url), view.city, view.start.isoformat(), view.end.isoformat(),
             view.profile_arg)
    return cached("station_latest_aqi", current_version(engine), parts, compute)


def station_statistic(engine, view, pollutant: str, statistic: str, grades: dict
                      ) -> pd.DataFrame:
    """One period statistic of every station of the view's city with the limit it is held
    to (:func:`indicators.comparison.against_limits` under the view's profile and the
    station's grade; cached).

    Columns: code, reported, valid, provisional (a year-to-date statistic, whose
    ``detail`` starts with "provisional"), detail, limit (NaN: the profile sets none).
    """
    from .cache import cached

    def compute():
        from indicators.comparison import against_limits
        stats = period_stats(engine, view)
        if stats.empty:
            return pd.DataFrame({"code": pd.Series(dtype=str),
                                 "reported": pd.Series(dtype="float64"),
                                 "valid": pd.Series(dtype=bool),
                                 "provisional": pd.Series(dtype=bool),
                                 "detail": pd.Series(dtype=str),
                                 "limit": pd.Series(dtype="float64")})
        rows = stats[(stats["level"] == "station") & (stats["pollutant"] == pollutant)
                     & (stats["statistic"] == statistic)].reset_index(drop=True)
        limits = against_limits(rows, view.profile_arg, grades)["limit"]
        detail = rows["detail"].fillna("").astype(str)
        valid = rows["valid"].astype(object)
        return pd.DataFrame({
            "code": rows["area"].astype(str).to_numpy(),
            "reported": rows["reported"].astype("float64").to_numpy(),
            "valid": valid.where(valid.notna(), False).astype(bool).to_numpy(),
            "provisional": detail.str.startswith("provisional").to_numpy(),
            "detail": detail.to_numpy(),
            "limit": limits.astype("float64").to_numpy()})
    parts = (str(engine.url), view.city, view.stats_label, view.year, view.profile_arg,
             pollutant, statistic, tuple(sorted(grades.items())))
    return cached("station_statistic", current_version(engine), parts, compute)

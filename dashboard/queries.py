"""The dashboard's query layer: what is loaded (``store``) and every number of the pages
(``evaluation``), cached under the request's data version.

No Dash and no SQL here: the pages call these and hand the frames to ``figures`` and
their own table builders, so all of it can be tested without a browser. Each
evaluation gets a :class:`evaluation.Snapshot` pinned to the version the request
reads once (:func:`current_version`) whose memo is the dashboard's cache
(:func:`dashboard.cache.cached`): nested evaluations of one request read one version.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import pandas as pd

from evaluation import Period, Snapshot, standings
from evaluation import city_year as years
from evaluation import exceedances as exceedance_eval
from evaluation import objectives as objective_eval
from evaluation import stations as station_eval
from evaluation.city_year import CityYear, daily_profile  # noqa: F401 - the pages' types
from evaluation.exceedances import ExceedanceData  # noqa: F401
from store.frames import station_directory
from store.queries import recent_runs, status_frame


def cities_frame(conn) -> pd.DataFrame:
    from store.frames import cities
    frame = cities(conn).drop(columns="site_file")
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
        stations = station_directory(conn)
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
    from store.frames import districts as district_rows
    from store.frames import station_table
    with engine.connect() as conn:
        cities = cities_frame(conn)
        districts = district_rows(conn).rename(columns={"code": "id"}) \
            .sort_values("city", kind="stable").reset_index(drop=True)
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


# -- the evaluations, under the request's data version ---------------------------------

#: City-years kept unpickled in this process (:func:`dashboard.cache.cached_kept`).
CITY_YEARS_IN_PROCESS = 4


def _memo(name: str, version: int, parts: tuple, compute):
    """The evaluations' memo: the dashboard cache; city-years also kept as they are."""
    from .cache import cached, cached_kept
    if name == "_city_year":
        return cached_kept(name, version, parts, compute, CITY_YEARS_IN_PROCESS)
    return cached(name, version, parts, compute)


def snapshot(engine) -> Snapshot:
    """The request's snapshot: its data version (read once per request) and the cache."""
    return Snapshot(engine, current_version(engine), _memo)


def period_of(view) -> Period:
    """The statistics period of a view."""
    if view.stats_period == "year":
        return Period.calendar_year(view.year)
    if view.stats_period == "month":
        return Period.month(view.year, view.month)
    if view.stats_period == "range":
        return Period.range(view.start, view.end)
    return Period.to_date(view.stats_end)


def city_year(engine, city: str, year: int, profile: str | None = None) -> CityYear:
    """Daily values and AQI of ``city`` for calendar ``year`` (:mod:`evaluation.city_year`)."""
    return years.city_year(snapshot(engine), city, int(year), profile)


def daily_between(engine, city: str, start, end, profile: str | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(daily values, daily AQI) of ``city`` from ``start`` to ``end`` inclusive (any years)."""
    return years.daily_between(snapshot(engine), city, start, end, profile)


def period_stats(engine, view, areas_only: bool = False) -> pd.DataFrame:
    """Period statistics (with the composite index) of every station, district and the
    city for the view's period; ``areas_only``: of the districts and the city only."""
    return years.period_stats(snapshot(engine), view.city, period_of(view), view.profile_arg,
                              bool(areas_only))


def previous_stats(engine, view, areas_only: bool = False) -> pd.DataFrame | None:
    """The same period one year earlier, or None when that year has no data."""
    return years.previous_stats(snapshot(engine), view.city, period_of(view),
                                view.profile_arg, bool(areas_only))


def stats_with_change(engine, view, areas_only: bool = False) -> pd.DataFrame:
    """:func:`period_stats` with the change against the same period last year."""
    return years.stats_with_change(snapshot(engine), view.city, period_of(view),
                                   view.profile_arg, bool(areas_only))


def month_stats(engine, city: str, year: int, profile: str | None = None) -> pd.DataFrame:
    """Monthly period statistics of every area of ``city`` in ``year``."""
    return years.month_stats(snapshot(engine), city, int(year), profile)


def standing_rows(engine, view) -> pd.DataFrame:
    """Each district's targets (or, without one, its national limits) with the outlook
    for the view's period (:func:`evaluation.standings.standing_rows`)."""
    return standings.standing_rows(snapshot(engine), view.city, period_of(view),
                                   view.profile_arg)


def objectives(engine, city: str, year: int) -> tuple[pd.DataFrame, object, bool]:
    """``city``'s action plan (its current site copy's ``plan:``) judged for ``year``:
    (one row per objective, last day evaluated, whether the year is still running), as
    :func:`evaluation.objectives.objectives_evaluation` (and ``lantian objectives``) give
    it. Raises :class:`evaluation.errors.NoDataError` (not cached) when the plan or the
    year's data are missing."""
    from config.groups import load_group

    from .cache import cached
    snap = snapshot(engine)
    plan = action_plan(engine, city)
    # rank objectives follow an edited peer-group file (config/groups/), as peer_ranking does
    groups = sorted({o.group for o in plan.objectives if o.kind == "rank"}) if plan else []
    return cached("objectives", snap.version,
                  (snap.url, str(city), int(year), tuple(load_group(g) for g in groups)),
                  lambda: objective_eval.objectives_evaluation(snap, int(year), str(city)))


def action_plan(engine, city: str):
    """``city``'s action plan (:class:`config.plan.Plan`: its first year and objectives)
    from its current site copy; None when the copy has no ``plan:`` section."""
    from evaluation.errors import NoDataError

    from .cache import cached
    snap = snapshot(engine)

    def read():
        try:
            return objective_eval.plan_of(snap, str(city))[1]
        except NoDataError:
            return False                  # (None is what the cache says for "not stored")
    return cached("action_plan", snap.version, (snap.url, str(city)), read) or None


def ranking_rows(engine, view, statistic: str, pollutant: str, level: str,
                 areas: tuple, valid_only: bool = False) -> pd.DataFrame:
    """``areas`` ranked on one statistic of the view's period, with the change against
    the same period last year (:func:`evaluation.standings.ranking_rows`; ``valid_only``:
    the strict order, valid statistics only)."""
    return standings.ranking_rows(snapshot(engine), view.city, period_of(view),
                                  view.profile_arg, statistic, pollutant, level, tuple(areas),
                                  bool(valid_only))


def peer_groups(engine, city: str) -> tuple:
    """The peer groups (``config/groups/``) that rank ``city`` or its districts
    (:func:`evaluation.peers.groups_of_city`)."""
    from config.groups import group_ids
    from evaluation import peers

    from .cache import cached
    snap = snapshot(engine)
    return cached("peer_groups", snap.version, (snap.url, str(city), tuple(group_ids())),
                  lambda: peers.groups_of_city(snap, str(city)))


def peer_ranking(engine, view, group_id: str, valid_only: bool = False):
    """Peer group ``group_id`` ranked by composite index over the view's period, with last
    year's places and the bottom-N line (:func:`evaluation.peers.peer_ranking`, as
    ``lantian rank --group`` prints it)."""
    from config.groups import load_group
    from evaluation import peers

    from .cache import cached
    snap, period = snapshot(engine), period_of(view)
    group = load_group(str(group_id))           # the key follows an edited group file
    return cached("peer_ranking", snap.version,
                  (snap.url, group, period, view.profile_arg, bool(valid_only)),
                  lambda: peers.peer_ranking(snap, group.id, period, view.profile_arg,
                                             bool(valid_only)))


def profile_rows(engine, view, profile: str, level: str, area: str) -> pd.DataFrame:
    """One area's period statistics under ``profile`` with that profile's limits and
    verdicts (:func:`evaluation.standings.profile_rows`)."""
    return standings.profile_rows(snapshot(engine), view.city, period_of(view), profile,
                                  level, area)


def exceedance_data(engine, view) -> ExceedanceData:
    """:class:`ExceedanceData` of the view's city from ``view.start`` to ``view.end``."""
    return exceedance_eval.exceedance_data(snapshot(engine), view.city, view.start, view.end,
                                           view.profile_arg)


def station_hourly(engine, code: str, start, end) -> pd.DataFrame:
    """One station's hourly values as the statistics see them (QC-excluded values NaN)."""
    return station_eval.station_hourly(snapshot(engine), code, str(start), str(end))


def station_readings(engine, code: str, start, end) -> pd.DataFrame:
    """Stored hours of one station with values and QC flag names (not cached)."""
    return station_eval.station_readings.uncached(snapshot(engine), code, start, end)


def station_readings_cached(engine, code: str, start, end) -> pd.DataFrame:
    """:func:`station_readings`, cached by data version."""
    return station_eval.station_readings(snapshot(engine), code, str(start), str(end))


def station_latest_aqi(engine, view) -> pd.DataFrame:
    """Each station's daily AQI on ``view.end`` or its last one from ``view.start`` on."""
    return station_eval.station_latest_aqi(snapshot(engine), view.city, view.start, view.end,
                                           view.profile_arg)


def station_statistic(engine, view, pollutant: str, statistic: str, grades: dict
                      ) -> pd.DataFrame:
    """One period statistic of every station of the view's city with its limit."""
    return station_eval.station_statistic(snapshot(engine), view.city, period_of(view),
                                          view.profile_arg, pollutant, statistic,
                                          tuple(sorted(grades.items())))

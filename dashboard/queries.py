"""Database → DataFrames for the dashboard. Every function takes an engine or connection.

No Dash here: the pages call these and hand the frames to ``figures`` and
their own table builders, so all of it can be tested without a browser.
"""
from __future__ import annotations

from dataclasses import dataclass, field

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
        frame[col] = frame[col].fillna(False).astype(bool)
    for col in ("name_zh", "name_en", "city_zh", "city_en", "district_zh", "district_en",
                "network"):
        frame[col] = frame[col].fillna("").astype(str)
    return frame


def cities_frame(conn) -> pd.DataFrame:
    rows = conn.execute(text(
        "SELECT id, name_zh, name_en, synthetic FROM cities ORDER BY id")).fetchall()
    frame = pd.DataFrame(rows, columns=CITY_COLUMNS)
    frame["synthetic"] = frame["synthetic"].fillna(False).astype(bool)
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

"""Peer-group rankings (issue 18): a city among the 168 key cities, a county among its
province's counties, by the composite index (standards §7, the national method).

* A **city group** (``config/groups/key-168.yaml``) ranks the cities of the national
  station list: a member's stations are the evaluation stations whose station-list city
  (``lantian ingest stations``) is the member's name, not retired before the period
  starts; a site-file city whose ``national_name`` is the member's name brings its own
  evaluation stations instead (the bureau's definition of its city). City values are
  the §7 area values of those stations, computed from ``station_daily``.
* A **county group** (``config/groups/shanxi-counties.yaml``) ranks the districts of the
  site-file cities whose ``province`` is the group's (their district values, as every
  other view shows them).

Every member with a value is ranked (§7), provisional when its composite index fails a
capture rule. A rank **among the group** needs every member's value: while only some
members are loaded the table ranks those (``complete`` is False) and says what to load;
and a rank is an annual rank only when every member's index is valid.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from config.errors import ConfigError
from config.groups import PeerGroup, group_ids, load_group
from indicators import pipeline
from indicators.ranking import rank

from .city_year import Period, period_stats, statistics_of
from .daily import daily_and_aqi
from .snapshot import Snapshot, evaluated

log = logging.getLogger(__name__)

COLUMNS = ["rank", "area", "name_zh", "name_en", "province", "city", "stations", "synthetic",
           "value", "reported", "valid", "status", "reason", "previous_rank",
           "previous_reported", "change", "change_kind", "in_bottom", "distance"]


@dataclass(frozen=True)
class PeerRanking:
    """One period's ranking of a peer group.

    ``table`` (:data:`COLUMNS`): every member, ranked ones first (as
    ``indicators.ranking.rank``), then those without a value. ``line_value`` is the
    composite index of the worst member still outside the bottom N (NaN unless
    ``complete``); ``distance`` = reported − line value: above 0, how much the index
    must fall to leave the bottom N; at or below 0, the headroom.
    """

    group: PeerGroup
    period: Period
    table: pd.DataFrame
    members_with_value: int
    complete: bool              # every member has a value
    annual: bool                # complete, and every member's index valid
    line_value: float
    previous_complete: bool = False     # the same period a year earlier had every member

    @property
    def line_rank(self) -> int:
        """The last place outside the bottom N (148 of 168 for the bottom 20)."""
        return self.group.size - self.group.bottom

    def line_for(self, bottom: int) -> tuple[int, float]:
        """(place, composite index) of the worst member still outside the bottom
        ``bottom``; the index is NaN unless the group is complete."""
        place = self.group.size - bottom
        return place, _line_value(self.table, place) if self.complete else np.nan

    def row(self, area: str) -> pd.Series | None:
        hit = self.table[self.table["area"] == area]
        return None if hit.empty else hit.iloc[0]

    def verdict(self, lang: str = "en") -> str:
        """What the ranking is worth: an annual rank, provisional, or incomplete."""
        g, n = self.group, self.members_with_value
        provisional = int((self.table["status"] == "provisional").sum())
        if not self.complete:
            # the loaded members' values may fail a capture rule as well: say so too
            if lang == "zh":
                return (f"{g.name_zh}：{g.size}个成员中仅{n}个有数据，名次仅在已导入的成员之间，"
                        f"不是组内排名；{self.missing_hint('zh')}"
                        + (f"；已有数据的成员中{provisional}个的综合指数数据不足（暂定），"
                           "数据不足以给出正式排名" if provisional else ""))
            return (f"{g.name_en}: only {n} of {g.size} members have data; ranks are among "
                    f"the loaded members only, not ranks in the group; "
                    f"{self.missing_hint('en')}"
                    + (f"; the composite index of {provisional} of the loaded members fails "
                       "a capture rule (provisional): the data are insufficient for a final "
                       "rank" if provisional else ""))
        if not self.annual:
            if lang == "zh":
                return (f"{g.name_zh}：{provisional}个成员的综合指数数据不足（暂定），"
                        "数据不足以给出正式排名")
            return (f"{g.name_en}: the composite index of {provisional} members fails a "
                    "capture rule (provisional): the data are insufficient for a final rank")
        return (f"{g.name_zh}：全部{g.size}个成员数据有效" if lang == "zh"
                else f"{g.name_en}: all {g.size} members valid")

    def missing_hint(self, lang: str = "en") -> str:
        """What to load for the members without a value."""
        names = "name_en" if lang == "en" else "name_zh"
        missing = self.table.loc[self.table["reported"].isna(), names].astype(str)
        sample = ("、" if lang == "zh" else ", ").join(missing.head(5)) + \
            ("…" if len(missing) > 5 else "")
        if self.group.level == "city":
            if lang == "zh":
                return (f"缺{len(missing)}个城市（{sample}）：请导入国家站点列表（lantian ingest "
                        "stations NewSiteList.csv）和这些城市站点的监测数据（lantian ingest cnemc …）")
            return (f"{len(missing)} cities missing ({sample}): load the national station list "
                    "(lantian ingest stations NewSiteList.csv) and their stations' readings "
                    "(lantian ingest cnemc …)")
        other = self.group.size - self.members_with_value
        if lang == "zh":
            return (f"缺{other}个县（市、区）：请为{self.group.province}其他城市建立站点文件"
                    "（含 province）并导入其监测数据")
        return (f"{other} counties missing: add a site file for each other city of the "
                f"province (its province: as in config/groups/{self.group.id}.yaml) and "
                "load its readings")


def peer_ranking(snap: Snapshot, group_id: str, period: Period, profile: str | None = None,
                 valid_only: bool = False) -> PeerRanking:
    """The ranking of peer group ``group_id`` over ``period`` by composite index, with each
    member's place in the same period of the year before."""
    group = load_group(group_id)
    current = _ranked(snap, group, period, profile, valid_only, True)
    previous = _ranked(snap, group, period.previous(), profile, valid_only, False)
    table = current.table.copy()
    before = previous.table.set_index("area")
    table["previous_rank"] = pd.array(table["area"].map(before["rank"]), dtype="Int64")
    return PeerRanking(group, period, table[COLUMNS], current.members_with_value,
                       current.complete, current.annual, current.line_value,
                       previous.complete)


def groups_of_city(snap: Snapshot, city: str) -> tuple[PeerGroup, ...]:
    """The peer groups that rank site-file city ``city`` (its id) or its districts: the
    city groups listing its ``national_name``, the county groups of its ``province``
    (in the order of :func:`config.groups.group_ids`). A group file that fails to load
    is left out (``lantian rank --group`` names its mistake)."""
    site = next((s for s in _site_cities(snap) if s.city.id == city), None)
    if site is None:
        return ()
    out = []
    for group_id in group_ids():
        try:
            group = load_group(group_id)
        except ConfigError as error:
            log.warning("peer group %s left out: %s", group_id, error)
            continue
        if group.level == "city":
            if site.city.national_name and \
                    any(m.name == site.city.national_name for m in group.members):
                out.append(group)
        elif site.city.province and group.province == site.city.province:
            out.append(group)
    return tuple(out)


@evaluated
def _group_stats(snap: Snapshot, group: PeerGroup, period: Period,
                 profile: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(members, their period statistics) of the group."""
    members = _city_members(snap, group) if group.level == "city" \
        else _county_members(snap, group)
    stats = (_city_stats(snap, members, period, profile) if group.level == "city"
             else _county_stats(snap, members, period, profile))
    return members, stats


@evaluated
def _ranked(snap: Snapshot, group: PeerGroup, period: Period, profile: str | None,
            valid_only: bool, with_change: bool) -> PeerRanking:
    """The period's ranking; ``with_change``: with the change of each member's index
    against the same period a year earlier (``indicators.ranking.change_rate``)."""
    members, stats = _group_stats(snap, group, period, profile)
    previous = _group_stats(snap, group, period.previous(), profile)[1] if with_change \
        else None
    return rank_members(group, period, stats, members, valid_only, previous)


def rank_members(group: PeerGroup, period: Period, stats: pd.DataFrame,
                 members: pd.DataFrame, valid_only: bool = False,
                 previous: pd.DataFrame | None = None) -> PeerRanking:
    """The ranking of ``members`` (area, name_zh, name_en, province, city [, stations,
    synthetic]) from their statistics (``STAT_COLUMNS``, the composite index rows of
    level city, or district for a county group): ranks, the bottom-N line and each
    member's distance to it; the change against ``previous`` statistics (the same
    period a year earlier) when given, else those columns NaN."""
    level = "city" if group.level == "city" else "district"
    ranked = rank(stats if len(stats) else _no_stats(), by="composite_index",
                  level=level, period=period.label, areas=members["area"].tolist(),
                  valid_only=valid_only,
                  previous=None if previous is None else
                  (previous if len(previous) else _no_stats()))
    table = ranked.merge(members.assign(_order=np.arange(len(members))), on="area",
                         how="left")
    # members without a rank keep the group file's order (not the order of their names)
    unranked = table["rank"].isna().to_numpy()
    table = pd.concat([table[~unranked], table[unranked].sort_values("_order", kind="stable")],
                      ignore_index=True).drop(columns="_order")
    with_value = int(table["reported"].notna().sum())
    complete = group.level == "city" and with_value == group.size or \
        group.level == "county" and with_value >= group.size
    if valid_only:
        # the strict order places only valid members: a place in the group needs them all
        complete = complete and bool(table["valid"].all())
    annual = complete and bool(table["valid"].all())
    line_value = _line_value(table, group.size - group.bottom) if complete else np.nan
    table["in_bottom"] = complete & table["rank"].notna().to_numpy() & \
        (table["rank"].fillna(0).to_numpy() > group.size - group.bottom)
    table["distance"] = np.round(table["reported"] - line_value, 2)
    table["previous_rank"] = np.nan
    if previous is None:
        for col in ("previous_reported", "change", "change_kind"):
            table[col] = np.nan
    return PeerRanking(group, period, table, with_value, complete, annual, line_value)


def _line_value(table: pd.DataFrame, place: int) -> float:
    """The composite index of the worst member ranked at or above ``place``."""
    inside = table.loc[table["rank"].notna() & (table["rank"].fillna(0) <= place), "reported"]
    return float(inside.max()) if len(inside) else np.nan


def _no_stats() -> pd.DataFrame:
    from indicators.frames import STAT_COLUMNS
    return pd.DataFrame({c: pd.Series(dtype=object) for c in STAT_COLUMNS})


def _city_members(snap: Snapshot, group: PeerGroup) -> pd.DataFrame:
    """One row per member: area (the member's name), names, province, city (the site-file
    city claiming it, or None), synthetic."""
    claims = {site.city.national_name: site for site in _site_cities(snap)
              if site.city.national_name}
    rows = []
    for m in group.members:
        site = claims.get(m.name)
        rows.append({"area": m.name, "name_zh": m.name, "name_en": m.name_en,
                     "province": m.province, "city": site.city.id if site else None})
    return pd.DataFrame(rows)


def _county_members(snap: Snapshot, group: PeerGroup) -> pd.DataFrame:
    """The districts of the site-file cities in the group's province (area ``city/district``)."""
    rows = []
    for site in _site_cities(snap):
        if site.city.province != group.province:
            continue
        for d in site.districts:
            rows.append({"area": f"{site.city.id}/{d.id}", "name_zh": d.name_zh,
                         "name_en": d.name_en, "province": site.city.province,
                         "city": site.city.id})
    return pd.DataFrame(rows, columns=["area", "name_zh", "name_en", "province", "city"])


@evaluated
def _site_cities(snap: Snapshot) -> tuple:
    """The current site copy of every city (``store.site_copies``)."""
    from store import site_copies

    with snap.connect() as conn:
        cities = site_copies.cities_with_copies(conn)
        versions = [site_copies.newest(conn, c) for c in cities]
    return tuple(site_copies.stored(v) for v in versions if v)


def _city_stations(snap: Snapshot, members: pd.DataFrame, period: Period) -> pd.DataFrame:
    """The evaluation stations of each member: id, code, area."""
    from store.places import listed_stations

    with snap.connect() as conn:
        st = listed_stations(conn)
    st = st[st["role"] == "evaluation"]
    start = pd.Timestamp(period.start or f"{period.year}-01-01").date()
    retired = st["retired_on"].map(lambda d: d is not None and d == d and d <= start)
    st = st[~retired.astype(bool)]
    claimed = members.dropna(subset=["city"])
    own = st[st["city"].isin(claimed["city"])].assign(
        area=lambda f: f["city"].map(dict(zip(claimed["city"], claimed["area"]))))
    listed = st[st["list_city"].isin(set(members["area"]) - set(claimed["area"]))
                & ~st["code"].isin(own["code"])].assign(area=lambda f: f["list_city"])
    return pd.concat([own, listed], ignore_index=True)[["id", "code", "area", "synthetic"]]


def _city_stats(snap: Snapshot, members: pd.DataFrame, period: Period,
                profile: str | None) -> pd.DataFrame:
    """City statistics of the members (§7 area values of their stations)."""
    from store import daily as station_daily

    stations = _city_stations(snap, members, period)
    members["stations"] = members["area"].map(stations.groupby("area").size()).fillna(0) \
        .astype(int)
    members["synthetic"] = members["area"].map(stations.groupby("area")["synthetic"].any()) \
        .fillna(False).astype(bool)
    if stations.empty:
        return pd.DataFrame()
    start, end = pipeline.year_bounds(period.year)
    if period.kind == "range":
        start = np.datetime64(period.start, "D")
    with snap.connect() as conn:
        days = station_daily.station_days(conn, stations, start, end)
    if days is None or days.empty:
        return pd.DataFrame()
    membership = pd.DataFrame({"level": "city", "area": stations["area"],
                               "station": stations["code"], "grade": "II"})
    daily, aqi = daily_and_aqi(days, membership, profile=profile)
    daily, aqi = daily[daily["level"] == "city"], aqi[aqi["level"] == "city"]
    return statistics_of(daily, aqi, period, pipeline.grades_of(membership), profile)


def _county_stats(snap: Snapshot, members: pd.DataFrame, period: Period,
                  profile: str | None) -> pd.DataFrame:
    """District statistics of the members' cities, keyed ``city/district``."""
    from store.frames import membership

    with snap.connect() as conn:
        m = membership(conn)
    counts = m[m["level"] == "district"].assign(
        key=lambda f: f["station"].map(_station_city(snap)) + "/" + f["area"])
    members["stations"] = members["area"].map(counts.groupby("key").size()).fillna(0) \
        .astype(int)
    synthetic = {site.city.id: site.city.synthetic for site in _site_cities(snap)}
    members["synthetic"] = members["city"].map(synthetic).fillna(False).astype(bool)
    frames = []
    for city in pd.unique(members["city"]):
        stats = period_stats(snap, city, period, profile, True)
        stats = stats[stats["level"] == "district"]
        frames.append(stats.assign(area=city + "/" + stats["area"].astype(str)))
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _station_city(snap: Snapshot) -> dict:
    from store.frames import station_table

    with snap.connect() as conn:
        st = station_table(conn)
    return dict(zip(st["code"], st["city"]))

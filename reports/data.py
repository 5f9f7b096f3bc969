"""The numbers of a weekly report: database → indicators → one ScopeReport per recipient group.

:func:`load_inputs` reads the database (``store.frames``); :func:`compute` is
pure (frames in, frames out) and does the whole city at once:

* the week's exceedances: ``indicators.statistics.exceedances`` on the district
  and city daily values of the 7 days — each day against the national 24-h
  limit (O3: the MDA8 limit) of the profile in force that day and the area's
  grade; multiple ``(C − S)/S`` to 0.01 as the spec says — with the day's AQI
  level beside it;
* the year to date (1 January of the year the week ends in, to the week's
  Sunday): ``pipeline.period_table(period="ytd")``; the standing against the
  local annual targets (national limits where a district has none) with "needs
  ≤ X for the rest of the year" from ``indicators.targets.standing``; the
  district rank by composite index from ``indicators.ranking.rank`` (every
  district with a value ranked, one whose index fails a capture rule marked
  provisional with the reason, standards.md §7);
* data-capture caveats: every (area, quantity, day) of the week without a valid
  daily value, for the area and its evaluation stations;
* the series the two charts draw (the week's daily values against the limits;
  the year-to-date running means against the annual targets).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from config.sites import Target
from config.standards import load_profile
from indicators import pipeline, ranking, statistics
from indicators.targets import standing
from indicators.targets import worst as worst_status

from evaluation.weekly import Area, CityInputs, city_inputs, city_row  # noqa: F401
from evaluation.weekly import week_objectives

from .errors import ReportError
from .weeks import IsoWeek

__all__ = ["Area", "CityInputs", "ScopeReport", "ReportError", "load_inputs", "load_objectives",
           "compute"]

#: Daily quantities judged against a daily limit, and the limit's averaging time.
QUANTITIES = ("SO2", "NO2", "PM10", "PM2.5", "CO", "O3_MDA8")
DAILY_LIMIT = {"SO2": "24h", "NO2": "24h", "PM10": "24h", "PM2.5": "24h", "CO": "24h",
               "O3_MDA8": "mda8"}
POLLUTANT_OF = {q: ("O3" if q == "O3_MDA8" else q) for q in QUANTITIES}
#: Pollutants whose year-to-date mean is drawn against the annual target.
PATH_POLLUTANTS = ("PM2.5", "PM10", "NO2", "SO2")
CITY_SCOPE = "city"


@dataclass
class ScopeReport:
    """Everything one report (a district's, or the city-wide summary) shows."""
    scope: str                     # district id or "city"
    area: Area
    city: Area
    synthetic: bool
    week: IsoWeek
    exceedances: pd.DataFrame      # date, pollutant, averaging, value, limit, multiple, profile, aqi, category_zh, category_en, colour
    week_values: pd.DataFrame      # date, quantity, reported, valid, limit, percent
    week_aqi: pd.DataFrame         # date, aqi, category_zh, category_en, colour, primary
    caveats: pd.DataFrame          # level, area, name_zh, name_en, quantity, n_days, dates
    standing: pd.DataFrame         # indicators.targets.standing rows of this area
    rank: dict | None              # rank, n_ranked, n_areas, reported, status, provisional, reason
    ranking: pd.DataFrame          # the whole district ranking (ytd composite index)
    ytd_path: pd.DataFrame         # date, pollutant, running_mean, target, percent
    ytd_start: date
    ytd_end: date
    profiles: list[str]
    overview: pd.DataFrame | None = None   # city scope: one row per district
    exceedance_days: int = 0
    main_pollutant: str | None = None
    unevaluated_days: int = 0
    #: the action plan's objectives shown (city: all; a district: its own and the city's),
    #: :func:`evaluation.weekly.week_objectives` rows; None when the city has no plan
    objectives: pd.DataFrame | None = None


# ----------------------------------------------------------------------------- database

def load_inputs(engine, city: str | None, week: IsoWeek) -> CityInputs:
    """The city's hourly values from 1 January (or the week's Monday, if earlier) to the
    week's Sunday, its membership, districts and targets
    (:func:`evaluation.weekly.city_inputs`)."""
    from evaluation import snapshot
    return city_inputs(snapshot(engine), city, week.start, week.end, week.label)


def load_objectives(engine, city: str, week: IsoWeek) -> pd.DataFrame | None:
    """The city's action-plan objectives judged for the year to date up to the week's
    Sunday (:func:`evaluation.weekly.week_objectives`); None when the city has no plan."""
    from evaluation import snapshot
    return week_objectives(snapshot(engine), city, week.end)


# ----------------------------------------------------------------------------- computation

def _plain(frame: pd.DataFrame, columns=("level", "area", "pollutant")) -> pd.DataFrame:
    """Categorical key columns as plain strings (so that filters and merges behave)."""
    out = frame.copy()
    for c in columns:
        if c in out.columns:
            out[c] = out[c].astype(str)
    out["date"] = pd.to_datetime(out["date"]).dt.normalize()
    return out


def _limits(rows: pd.DataFrame, grades: dict) -> np.ndarray:
    """The daily limit of each (quantity, profile, area grade) row."""
    keys = rows[["pollutant", "profile", "area"]].astype(str)
    keys = keys.assign(grade=keys["area"].map(lambda a: grades.get(a, "II")))
    combos = keys[["pollutant", "profile", "grade"]].drop_duplicates()
    lut = {}
    for q, pid, grade in combos.itertuples(index=False):
        lim = load_profile(pid).limit(POLLUTANT_OF[q], DAILY_LIMIT[q], grade)
        lut[(q, pid, grade)] = np.nan if lim is None else lim
    return np.array([lut[k] for k in zip(keys["pollutant"], keys["profile"], keys["grade"])],
                    dtype="float64")


def _caveats(daily: pd.DataFrame, aqi: pd.DataFrame, week: IsoWeek, keys: pd.DataFrame,
             names: dict) -> pd.DataFrame:
    """(level, area, quantity) with the days of the week without a valid daily value."""
    days = pd.to_datetime(pd.Series(week.days))
    grid = keys.merge(pd.DataFrame({"quantity": list(QUANTITIES) + ["AQI"]}), how="cross")
    grid = grid.merge(pd.DataFrame({"date": days}), how="cross")
    valid = daily.loc[daily["valid"].astype(bool) & daily["pollutant"].isin(QUANTITIES),
                      ["level", "area", "pollutant", "date"]].rename(columns={"pollutant": "quantity"})
    valid_aqi = aqi.loc[aqi["aqi"].notna(), ["level", "area", "date"]].assign(quantity="AQI")
    ok = pd.concat([valid, valid_aqi], ignore_index=True).assign(_ok=True)
    grid = grid.merge(ok.drop_duplicates(["level", "area", "quantity", "date"]),
                      on=["level", "area", "quantity", "date"], how="left")
    missing = grid[grid["_ok"].isna()]
    if missing.empty:
        return pd.DataFrame(columns=["level", "area", "name_zh", "name_en", "quantity", "n_days",
                                     "dates"])
    out = (missing.groupby(["level", "area", "quantity"], sort=False)["date"]
           .agg(n_days="size", dates=lambda d: [x.date() for x in sorted(d)]).reset_index())
    out["name_zh"] = [names.get((lv, a), (a, a))[0] for lv, a in zip(out["level"], out["area"])]
    out["name_en"] = [names.get((lv, a), (a, a))[1] for lv, a in zip(out["level"], out["area"])]
    order = {q: i for i, q in enumerate(list(QUANTITIES) + ["AQI"])}
    level_order = {"city": 0, "district": 1, "station": 2}
    out = out.assign(_l=out["level"].map(level_order), _q=out["quantity"].map(order))
    out = out.sort_values(["_l", "area", "_q"], kind="stable").drop(columns=["_l", "_q"])
    return out[["level", "area", "name_zh", "name_en", "quantity", "n_days", "dates"]] \
        .reset_index(drop=True)


def _main_pollutant(exc: pd.DataFrame) -> str | None:
    """The pollutant with the most exceedance days (ties: the larger largest multiple)."""
    if exc.empty:
        return None
    g = exc.groupby("pollutant").agg(n=("date", "nunique"), m=("multiple", "max")).reset_index()
    g = g.sort_values(["n", "m", "pollutant"], ascending=[False, False, True], kind="stable")
    return str(g["pollutant"].iloc[0])


def _ytd_path(daily: pd.DataFrame, level: str, area: str, start: date, end: date,
              stand: pd.DataFrame) -> pd.DataFrame:
    """Running mean of the valid published daily values since 1 January, % of the target."""
    rows = daily[(daily["level"] == level) & (daily["area"] == area)
                 & daily["pollutant"].isin(PATH_POLLUTANTS)
                 & (daily["date"] >= pd.Timestamp(start)) & (daily["date"] <= pd.Timestamp(end))]
    targets = stand[stand["statistic"] == "annual_mean"].set_index("pollutant")
    parts = []
    all_days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D")
    for p in PATH_POLLUTANTS:
        if p not in targets.index or pd.isna(targets.loc[p, "target"]):
            continue
        r = rows[rows["pollutant"] == p].drop_duplicates("date").set_index("date")
        r = r.reindex(all_days)
        x = r["reported"].where(r["valid"].fillna(False).astype(bool))
        total, count = x.fillna(0).cumsum(), x.notna().cumsum()
        mean = (total / count.where(count > 0)).to_numpy(dtype="float64")
        target = float(targets.loc[p, "target"])
        parts.append(pd.DataFrame({"date": all_days, "pollutant": p, "running_mean": mean,
                                   "target": target, "percent": mean / target * 100,
                                   "basis": targets.loc[p, "basis"]}))
    if not parts:
        return pd.DataFrame(columns=["date", "pollutant", "running_mean", "target", "percent",
                                     "basis"])
    return pd.concat(parts, ignore_index=True)


def compute(inputs: CityInputs, week: IsoWeek, scopes: list[str] | None = None,
            objectives: pd.DataFrame | None = None) -> dict[str, ScopeReport]:
    """One :class:`ScopeReport` per scope (district ids and ``"city"``; default all);
    ``objectives`` (:func:`load_objectives`, None: no plan) are shown whole to the city and
    as the district's own plus the city's to a district."""
    members = inputs.membership
    known = [d.id for d in inputs.districts]
    if scopes is None:
        scopes = known + [CITY_SCOPE]
    unknown = [s for s in scopes if s != CITY_SCOPE and s not in known]
    if unknown:
        raise ReportError(f"unknown district {', '.join(unknown)} in city {inputs.city.id!r}; "
                          f"known: {', '.join(known)} (or 'city' for the city-wide summary)")
    daily, daily_aqi = pipeline.daily_and_aqi(inputs.hourly, members)
    daily, daily_aqi = _plain(daily), _plain(daily_aqi, ("level", "area"))
    grades = pipeline.grades_of(members, inputs.station_grades)
    week_start, week_end = pd.Timestamp(week.start), pd.Timestamp(week.end)
    in_week = (daily["date"] >= week_start) & (daily["date"] <= week_end)
    areas_daily = daily[daily["level"].isin(["district", "city"])]
    areas_aqi = daily_aqi[daily_aqi["level"].isin(["district", "city"])]

    # the week: exceedances with the day's AQI level, and every daily value with its limit
    wk = areas_daily[in_week.loc[areas_daily.index]]
    exc = statistics.exceedances(wk, grades=grades)
    exc = exc.assign(level=exc["level"].astype(str), area=exc["area"].astype(str),
                     date=pd.to_datetime(exc["date"]).dt.normalize())
    aqi_cols = ["level", "area", "date", "aqi", "category_zh", "category_en", "colour", "primary"]
    wk_aqi = areas_aqi[(areas_aqi["date"] >= week_start) & (areas_aqi["date"] <= week_end)]
    exc = exc.merge(wk_aqi[aqi_cols].drop(columns="primary"), on=["level", "area", "date"],
                    how="left")
    values = wk[wk["pollutant"].isin(QUANTITIES)].rename(columns={"pollutant": "quantity"})
    values = values.assign(limit=_limits(values.rename(columns={"quantity": "pollutant"}), grades))
    values = values.assign(percent=values["reported"].where(values["valid"].astype(bool))
                           / values["limit"] * 100)

    # the year to date
    y0 = date(week.end.year, 1, 1)
    ytd_daily = areas_daily[(areas_daily["date"] >= pd.Timestamp(y0))
                            & (areas_daily["date"] <= week_end)]
    ytd_aqi = areas_aqi[(areas_aqi["date"] >= pd.Timestamp(y0)) & (areas_aqi["date"] <= week_end)]
    stats = pipeline.period_table(ytd_daily, ytd_aqi, period="ytd", grades=grades,
                                  ytd_end=np.datetime64(week.end, "D"))
    stats = stats.assign(level=stats["level"].astype(str), area=stats["area"].astype(str))
    label = f"{week.end.year}-YTD-{week.end:%m-%d}"
    stats = stats[stats["period"].astype(str) == label]
    # (the year's daily values so far bound what "the rest of the year must average" can be)
    stand_d = standing(stats, inputs.targets, grades, year=week.end.year, period=label,
                       level="district", areas=known, daily=ytd_daily)
    stand_c = standing(stats, [], grades, year=week.end.year, period=label, level="city",
                       daily=ytd_daily,
                       areas=[inputs.city.id])
    ranked = ranking.rank(stats, by="composite_index", pollutant="ALL", level="district",
                          period=label, areas=known) if known else pd.DataFrame()
    # provisional ranks count: "rank 3 of 8 (provisional: …)"
    n_ranked = int(ranked["status"].isin(ranking.RANKED_STATUSES).sum()) if len(ranked) else 0

    names = {("city", inputs.city.id): (inputs.city.name_zh, inputs.city.name_en)}
    names.update({("district", d.id): (d.name_zh, d.name_en) for d in inputs.districts})
    st = inputs.stations
    names.update({("station", c): (f"{zh}（{c}）", f"{en or c} ({c})")
                  for c, zh, en in zip(st["code"], st["name_zh"], st["name_en"])})
    profiles = sorted(set(wk["profile"].astype(str))) or sorted(
        {str(load_profile_id(week.end))})

    district_of = members[members["level"] == "district"]
    out: dict[str, ScopeReport] = {}
    for scope in scopes:
        area = inputs.city if scope == CITY_SCOPE else next(d for d in inputs.districts
                                                             if d.id == scope)
        key = (exc["level"] == area.level) & (exc["area"] == area.id)
        e = exc[key].drop(columns=["level", "area"]).reset_index(drop=True)
        v = values[(values["level"] == area.level) & (values["area"] == area.id)]
        v = v[["date", "quantity", "reported", "valid", "limit", "percent"]].reset_index(drop=True)
        a = wk_aqi[(wk_aqi["level"] == area.level) & (wk_aqi["area"] == area.id)]
        a = a[aqi_cols[2:]].reset_index(drop=True)
        if scope == CITY_SCOPE:
            keys = pd.DataFrame({"level": ["city"] + ["district"] * len(known),
                                 "area": [area.id] + known})
        else:
            codes = sorted(district_of.loc[district_of["area"] == area.id, "station"].astype(str))
            keys = pd.DataFrame({"level": ["district"] + ["station"] * len(codes),
                                 "area": [area.id] + codes})
        cav = _caveats(daily[in_week], daily_aqi[(daily_aqi["date"] >= week_start)
                                                 & (daily_aqi["date"] <= week_end)], week, keys,
                       names)
        own = cav[(cav["level"] == area.level) & (cav["area"] == area.id)]
        unevaluated = len({d for ds in own["dates"] for d in ds})
        stand = (stand_c if scope == CITY_SCOPE else stand_d[stand_d["area"] == area.id])
        stand = stand.reset_index(drop=True)
        rank_info = None
        if scope != CITY_SCOPE and len(ranked):
            r = ranked[ranked["area"] == area.id].iloc[0]
            rank_info = {"rank": None if pd.isna(r["rank"]) else int(r["rank"]),
                         "n_ranked": n_ranked, "n_areas": len(ranked),
                         "reported": float(r["reported"]) if pd.notna(r["reported"]) else None,
                         "status": str(r["status"]),
                         "provisional": str(r["status"]) == ranking.PROVISIONAL,
                         "reason": str(r["reason"])}
        report = ScopeReport(
            scope=scope, area=area, city=inputs.city, synthetic=inputs.synthetic, week=week,
            exceedances=e, week_values=v, week_aqi=a, caveats=cav, standing=stand,
            rank=rank_info, ranking=ranked, ytd_path=_ytd_path(
                areas_daily, area.level, area.id, y0, week.end, stand),
            ytd_start=y0, ytd_end=week.end, profiles=profiles,
            exceedance_days=int(e["date"].nunique()), main_pollutant=_main_pollutant(e),
            unevaluated_days=unevaluated,
            objectives=None if objectives is None else (
                objectives if scope == CITY_SCOPE
                else objectives[objectives["scope"].isin([scope, CITY_SCOPE])]
            ).reset_index(drop=True))
        out[scope] = report
    if CITY_SCOPE in out:
        out[CITY_SCOPE].overview = _overview(exc, ranked, stand_d, inputs.districts)
    return out


def _overview(exc: pd.DataFrame, ranked: pd.DataFrame, stand: pd.DataFrame,
              districts: list[Area]) -> pd.DataFrame:
    """City scope: per district the week's exceedance days, main pollutant, rank, outlook."""
    rows = []
    for d in districts:
        e = exc[(exc["level"] == "district") & (exc["area"] == d.id)]
        r = ranked[ranked["area"] == d.id] if len(ranked) else ranked
        s = stand[stand["area"] == d.id]
        worst = worst_status(s["verdict"])        # indicators.targets.judge's words
        rows.append({"area": d.id, "name_zh": d.name_zh, "name_en": d.name_en,
                     "exceedance_days": int(e["date"].nunique()),
                     "main_pollutant": _main_pollutant(e.drop(columns=["level", "area"])),
                     "composite": float(r["reported"].iloc[0]) if len(r) and pd.notna(
                         r["reported"].iloc[0]) else None,
                     "rank": int(r["rank"].iloc[0]) if len(r) and pd.notna(r["rank"].iloc[0])
                     else None,
                     "reason": str(r["reason"].iloc[0]) if len(r) else "",
                     "provisional": bool(len(r)) and str(r["status"].iloc[0])
                     == ranking.PROVISIONAL,
                     "outlook": worst})
    out = pd.DataFrame(rows)
    if len(out):
        out = out.assign(_r=out["rank"].fillna(10 ** 6)).sort_values(["_r", "area"]).drop(
            columns="_r")
    return out.reset_index(drop=True)


def load_profile_id(day: date) -> str:
    from config.standards import load_schedule
    return load_schedule().at(day)

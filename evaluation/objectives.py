"""``lantian objectives``: a city's action plan (the site file's ``plan:``) judged for a year.

The plan is read from the city's **current site copy** in the database (the version
``lantian init --sites FILE`` or the dashboard's editor saved last,
``store.site_copies.newest``), so the command judges the plan that is in force for the
city, not whatever file happens to lie on disk. One row per objective:

* ``value`` / ``grade`` / ``composite_max``: the statistic against its figure through
  ``indicators.targets.target_table`` (the same comparison and status words as
  ``lantian targets``: met / not met / insufficient data for an ended year; on track /
  at risk / already exceeded for a year to date, with what the rest of the year must
  average for an annual mean);
* ``change``: the change against the same period of the previous year
  (``indicators.statistics.change.change_rate``: % for a concentration, percentage
  points for a ratio, days for a count); a running year is on track while the change so
  far goes the planned way, at risk otherwise, and already exceeded when a count that
  must fall (heavy days) already reaches the whole previous year's;
* ``rank``: the area's place in its peer group (``evaluation.peers``) this year, against
  the bottom-N line or last year's place; ``no data`` (saying what to load) until every
  member of the group has a value, ``insufficient data`` while some member's composite
  index fails a capture rule (provisional ranks) in an ended year.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from config.groups import load_group
from config.plan import Objective, Plan
from config.sites import SiteConfig, Target
from config.standards import profile_for_period_end
from config.vocabulary import UNIT_OF
from indicators import pipeline
from indicators.ranking import change_kind
from indicators.statistics.change import change_rate
from indicators.targets import (AT_RISK, ENDED, EXCEEDED, INSUFFICIENT, LIMIT_AVERAGING, MET,
                                NOT_MET, ON_TRACK, RUNNING, target_table)

from .city_year import Period
from .errors import NoDataError
from .exports import indicator_inputs
from .peers import PeerRanking, peer_ranking
from .snapshot import Snapshot

NO_DATA = "no data"
#: (zh, en) of the status ``no data`` (the other words: ``indicators.targets.STATUS_TEXT``).
NO_DATA_TEXT = ("无数据", "no data")
COLUMNS = ["id", "scope", "area", "name_zh", "name_en", "kind", "pollutant", "statistic",
           "text_zh", "text_en", "period", "period_kind", "value", "target", "margin", "unit",
           "status", "reason", "reason_zh"]

_STAT = {"annual_mean": ("年均浓度", "annual mean"), "p98_daily": ("日均值第98百分位数", "P98 of daily means"),
         "p95_daily": ("日均值第95百分位数", "P95 of daily means"),
         "p90_mda8": ("日最大8小时平均第90百分位数", "P90 of MDA8"),
         "good_day_ratio": ("优良天数比例", "good-day ratio"), "good_days": ("优良天数", "good days"),
         "heavy_days": ("重污染天数", "heavy-pollution days"),
         "exceedance_days": ("超标天数", "exceedance days"),
         "composite_index": ("综合指数", "composite index")}
_UNIT_ZH = {"µg/m³": "微克/立方米", "mg/m³": "毫克/立方米", "%": "%", "points": "个百分点",
            "days": "天", "": ""}


def plan_of(snap: Snapshot, city: str) -> tuple[SiteConfig, Plan]:
    """The city's site configuration and plan from its current site copy."""
    from store import site_copies

    with snap.connect() as conn:
        version = site_copies.newest(conn, city)
    if version is None:
        raise NoDataError(f"no site copy of city {city!r}; load its site file with "
                          "'lantian init --sites FILE'")
    site = site_copies.stored(version)
    if site.plan is None:
        raise NoDataError(f"the site file of city {city!r} has no plan: section; add "
                          "'plan: {year: 2021, objectives: [...]}' (see README, Action plan) "
                          "and load it with 'lantian init --sites FILE'")
    return site, site.plan


def _stats(snap: Snapshot, city: str, year: int, ytd_end):
    """(period statistics, daily values, grades) of the city's year (to ``ytd_end`` when
    given: a year to date); None when the year has no data."""
    try:
        hourly, members, station_grades = indicator_inputs(snap, *pipeline.year_bounds(year),
                                                           city)
    except NoDataError:
        return None
    if ytd_end is not None:
        hourly = hourly[hourly["time"] < ytd_end + np.timedelta64(1, "D")]
        if hourly.empty:
            return None
    daily, daily_aqi = pipeline.daily_and_aqi(hourly, members)
    grades = pipeline.grades_of(members, station_grades)
    stats = pipeline.period_table(daily, daily_aqi, period="ytd" if ytd_end is not None
                                  else "year", grades=grades, ytd_end=ytd_end)
    return stats, daily, grades


def _unit(o: Objective) -> str:
    if o.kind == "change":
        return {"percent": "%", "points": "points", "days": "days"}[change_kind(o.statistic)]
    if o.statistic in ("good_day_ratio",):
        return "%"
    if o.statistic in ("good_days", "heavy_days", "exceedance_days"):
        return "days"
    return UNIT_OF.get(o.pollutant, "")


def _figure(o: Objective, year: int) -> float | None:
    """The figure of a value / grade / composite objective."""
    if o.kind == "grade":
        prof = profile_for_period_end(date(year, 12, 31))
        return prof.limit(o.pollutant, LIMIT_AVERAGING[o.statistic], o.grade)
    return o.max if o.max is not None else o.min


def objective_text(o: Objective, area_zh: str, area_en: str, figure) -> tuple[str, str]:
    """(Chinese, English) of an objective, e.g. "城区NO2年均浓度≤37微克/立方米"."""
    unit = _unit(o)
    fig = "" if figure is None or figure != figure else f"{figure:g}"
    stat_zh, stat_en = _STAT.get(o.statistic, (o.statistic, o.statistic))
    what_zh = f"{area_zh}{'' if o.pollutant in ('AQI', 'ALL', '') else o.pollutant}{stat_zh}"
    what_en = f"{area_en} {'' if o.pollutant in ('AQI', 'ALL', '') else o.pollutant + ' '}{stat_en}"
    if o.kind == "grade":
        g = "一级" if o.grade == "I" else "二级"
        return (f"{what_zh}达到{g}标准（≤{fig}{_UNIT_ZH.get(unit, unit)}）",
                f"{what_en} meets Grade {o.grade} (≤ {fig} {unit})")
    if o.kind in ("value", "composite_max"):
        op = "≤" if o.max is not None else "≥"
        return (f"{what_zh}{op}{fig}{_UNIT_ZH.get(unit, unit)}", f"{what_en} {op} {fig} {unit}".rstrip())
    if o.kind == "change":
        up = o.direction == "up"
        by_zh = f"{o.by:g}{_UNIT_ZH[unit]}" if o.by else ""
        by_en = f" by at least {o.by:g} {unit}" if o.by else ""
        return (f"{what_zh}同比{'上升' if up else '下降'}{by_zh}",
                f"{what_en} {'up' if up else 'down'} vs the previous year{by_en}")
    group = load_group(o.group)
    if o.outside_bottom is not None:
        return (f"{area_zh}综合指数在{group.name_zh}中退出后{o.outside_bottom}名",
                f"{area_en} out of the bottom {o.outside_bottom} of the {group.name_en} "
                "(composite index)")
    return (f"{area_zh}综合指数在{group.name_zh}中排名好于上年",
            f"{area_en} ranks higher among the {group.name_en} than last year (composite index)")


def objectives_evaluation(snap: Snapshot, year: int, city: str, until: date | None = None):
    """(table of :data:`COLUMNS`, last day evaluated, in progress) of ``city``'s plan for
    ``year`` (a year to date when its data end before 31 December, or up to ``until``)."""
    site, plan = plan_of(snap, city)
    if not plan.applies_to(year):
        raise NoDataError(f"the plan of city {city!r} starts in {plan.year}; choose --year "
                          f"{plan.year} or later")
    hourly, _members, _ = indicator_inputs(snap, *pipeline.year_bounds(year), city)
    last_day = np.datetime64(hourly["time"].max(), "D")
    ytd_end = np.datetime64(until, "D") if until else last_day
    in_progress = bool(ytd_end < np.datetime64(f"{year}-12-31"))
    current = _stats(snap, city, year, ytd_end if in_progress else None)
    if current is None:
        raise NoDataError(f"no data for city {city!r} in {year} up to {ytd_end}")
    stats, daily, grades = current
    prev_end = None
    if in_progress:
        d = pd.Timestamp(ytd_end).date()
        day = 28 if (d.month, d.day) == (2, 29) else d.day        # 29 Feb → 28 Feb
        prev_end = np.datetime64(date(year - 1, d.month, day), "D")
    previous = _stats(snap, city, year - 1, prev_end)
    previous_full = _stats(snap, city, year - 1, None) if in_progress else previous

    names = {"city": (site.city.name_zh, site.city.name_en)}
    names.update({d.id: (d.name_zh, d.name_en) for d in site.districts})
    rows = []
    for o in plan.objectives:
        level, area = ("city", city) if o.scope == "city" else ("district", o.scope)
        zh, en = names.get(o.scope, (o.scope, o.scope))
        figure = _figure(o, year) if o.kind in ("value", "grade", "composite_max") else None
        text_zh, text_en = objective_text(o, "全市" if level == "city" else zh,
                                          "City" if level == "city" else en, figure)
        row = {"id": o.id, "scope": o.scope, "area": area, "name_zh": zh, "name_en": en,
               "kind": o.kind, "pollutant": o.pollutant, "statistic": o.statistic,
               "text_zh": text_zh, "text_en": text_en,
               "period": f"{year}-YTD-{str(ytd_end)[5:]}" if in_progress else str(year),
               "period_kind": RUNNING if in_progress else ENDED, "value": np.nan,
               "target": np.nan if figure is None else float(figure), "margin": np.nan,
               "unit": _unit(o), "status": NO_DATA, "reason": "", "reason_zh": ""}
        if o.kind == "rank":
            peer_area = site.city.national_name if level == "city" else f"{city}/{o.scope}"
            period = Period.to_date(pd.Timestamp(ytd_end).date()) if in_progress \
                else Period.calendar_year(year)
            row.update(rank_row(o, peer_ranking(snap, o.group, period), peer_area,
                                in_progress))
        elif o.kind == "change":
            row.update(_change_row(o, level, area, stats, previous, previous_full, in_progress))
        elif figure is None:
            row.update(reason=f"the profile in force sets no grade {o.grade} limit for "
                       f"{o.pollutant} {o.statistic}", reason_zh="标准无此限值")
        else:
            row.update(_figure_row(o, level, area, float(figure), stats, daily, grades, year))
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS), ytd_end, in_progress


def _figure_row(o: Objective, level: str, area: str, figure: float, stats, daily, grades,
                year: int) -> dict:
    """A value / grade / composite objective through ``target_table`` (as ``lantian
    targets``): its ``verdict_target`` is the status."""
    t = Target(area, o.pollutant, o.statistic, figure, UNIT_OF.get(o.pollutant, ""), None, None)
    lv_daily = daily[daily["level"] == level] if daily is not None else None
    table = target_table(stats, [t], grades, year=year, level=level, daily=lv_daily)
    if table.empty:
        return {"reason": "no statistic", "reason_zh": "无统计值"}
    r = table.iloc[0]
    status = str(r["verdict_target"])
    reported = float(r["reported"]) if pd.notna(r["reported"]) else np.nan
    reason, reason_zh = "", ""
    if status == INSUFFICIENT:
        reason = str(r["detail"] or "no statistic")
        reason_zh = "数据不足：" + reason
    elif r["needed_status"]:
        # what the rest of the year must average, against the objective's own figure
        reason, reason_zh = str(r["needed_en"]), str(r["needed_zh"])
    return {"value": reported, "margin": round(reported - figure, 6) if reported == reported
            else np.nan, "status": status, "reason": reason, "reason_zh": reason_zh}


def _change_row(o: Objective, level: str, area: str, stats, previous, previous_full,
                running: bool) -> dict:
    """A change objective against the same period of the previous year."""
    if previous is None:
        return {"status": INSUFFICIENT,
                "reason": "no data for the previous year", "reason_zh": "上年无数据"}
    key = ((stats["level"] == level) & (stats["area"] == area)
           & (stats["pollutant"] == o.pollutant) & (stats["statistic"] == o.statistic))
    cur = stats[key]
    if cur.empty:
        return {"status": INSUFFICIENT, "reason": "no statistic", "reason_zh": "无统计值"}
    ch = change_rate(cur, previous[0]).iloc[0]
    change = float(ch["change"]) if pd.notna(ch["change"]) else np.nan
    by = float(o.by or 0.0)
    target = by if o.direction == "up" else (-by if by else 0.0)
    if change != change or (not running and not bool(ch["change_valid"])):
        detail = str(ch.get("detail") or "") or "the change is not valid (a year's statistic is not)"
        return {"value": change, "target": target, "status": INSUFFICIENT, "reason": detail,
                "reason_zh": "数据不足"}
    ok = (change >= by if by else change > 0) if o.direction == "up" else \
        (change <= -by if by else change < 0)
    margin = round(change - target, 6)
    if not running:
        return {"value": change, "target": target, "margin": margin,
                "status": MET if ok else NOT_MET,
                "reason": f"{ch['reported']:g} vs {ch['previous_reported']:g} the year before",
                "reason_zh": f"本年{ch['reported']:g}，上年{ch['previous_reported']:g}"}
    status = ON_TRACK if ok else AT_RISK
    reason = f"{ch['reported']:g} so far vs {ch['previous_reported']:g} by the same day last year"
    reason_zh = f"今年至今{ch['reported']:g}，上年同期{ch['previous_reported']:g}"
    if (o.direction == "down" and change_kind(o.statistic) == "days"
            and previous_full is not None):
        full = previous_full[0]
        whole = full[(full["level"] == level) & (full["area"] == area)
                     & (full["pollutant"] == o.pollutant) & (full["statistic"] == o.statistic)]
        # a count only grows: at or above the whole previous year's (less ``by``), the
        # year can no longer come out lower
        if len(whole) and pd.notna(whole["reported"].iloc[0]) and \
                float(ch["reported"]) >= float(whole["reported"].iloc[0]) - by:
            status = EXCEEDED
            reason += f"; the whole previous year had {whole['reported'].iloc[0]:g}"
            reason_zh += f"；上年全年{whole['reported'].iloc[0]:g}"
    return {"value": change, "target": target, "margin": margin, "status": status,
            "reason": reason, "reason_zh": reason_zh}


def rank_row(o: Objective, ranking: PeerRanking, area: str, running: bool) -> dict:
    """A rank objective: ``value`` = the area's place, ``target`` = the place to reach
    (the last one outside the bottom N, or one better than last year's)."""
    g = ranking.group
    if not area:
        return {"status": NO_DATA,
                "reason": "the site file gives the city no national_name: add its name in the "
                          "national station list (e.g. national_name: 阳泉) and run lantian init",
                "reason_zh": "站点文件未给出城市的 national_name（国家站点列表中的城市名，"
                             "如 national_name: 阳泉），请补充后运行 lantian init"}
    row = ranking.row(area)
    if row is None:
        return {"status": NO_DATA, "reason": f"{area} is not a member of {g.name_en}",
                "reason_zh": f"{area}不是{g.name_zh}的成员"}
    if not ranking.complete:
        n, size = ranking.members_with_value, g.size
        return {"status": NO_DATA,
                "reason": f"{n} of {size} members have data; {ranking.missing_hint('en')}",
                "reason_zh": f"{size}个成员中{n}个有数据；{ranking.missing_hint('zh')}"}
    place = row["rank"]
    if pd.isna(place):
        return {"status": NO_DATA, "reason": f"{area} has no composite index",
                "reason_zh": f"{area}无综合指数"}
    place, index = int(place), float(row["reported"])
    if o.outside_bottom is not None:
        line_place, line_value = ranking.line_for(o.outside_bottom)
        target, ok = line_place, place <= line_place
        gap = round(index - line_value, 2)
        en = (f"composite index {index:.2f}, place {place} of {g.size}; "
              + (f"{-gap:.2f} below the bottom-{o.outside_bottom} line ({line_value:.2f})"
                 if ok else f"must fall by {gap:.2f} to the bottom-{o.outside_bottom} line "
                 f"({line_value:.2f})"))
        zh = (f"综合指数{index:.2f}，第{place}名（共{g.size}个）；"
              + (f"低于后{o.outside_bottom}名线（{line_value:.2f}）{-gap:.2f}" if ok
                 else f"需下降{gap:.2f}才能到后{o.outside_bottom}名线（{line_value:.2f}）"))
    else:
        before = row["previous_rank"]
        # a place among only the members loaded a year earlier is not last year's place
        if pd.isna(before) or not ranking.previous_complete:
            return {"value": float(place), "status": NO_DATA,
                    "reason": "last year's ranking is incomplete: " + _previous_hint(ranking, "en"),
                    "reason_zh": "上年排名不完整：" + _previous_hint(ranking, "zh")}
        target, ok = int(before) - 1, place < int(before)
        en = f"place {place} of {g.size} vs {int(before)} the year before"
        zh = f"第{place}名（共{g.size}个），上年第{int(before)}名"
    margin = float(place - target)
    if not running and not ranking.annual:
        return {"value": float(place), "target": float(target), "margin": margin,
                "status": INSUFFICIENT, "reason": en + "; " + ranking.verdict("en"),
                "reason_zh": zh + "；" + ranking.verdict("zh")}
    status = (MET if ok else NOT_MET) if not running else (ON_TRACK if ok else AT_RISK)
    return {"value": float(place), "target": float(target), "margin": margin,
            "status": status, "reason": en, "reason_zh": zh}


def _previous_hint(ranking: PeerRanking, lang: str) -> str:
    return ("load the members' data for the year before" if lang == "en"
            else "请导入组内成员上年的数据")

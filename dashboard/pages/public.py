"""Page ``/public`` — 公众 / Public: the air today and this year, for citizens and the press.

No staff controls: only the city and the language; the page always shows the
latest data. First "now": the latest hour's hourly AQI (HJ 633 real-time AQI,
``dashboard.realtime_queries.city_now``) of the city and every district with
level colour, category, primary pollutant and health advice, the last 24 hours
as a strip per district and a station map coloured by the hour's AQI (stations
without one grey, with the time of their last); an hour is labelled by its end,
as published ("2022-01-06 00:00 发布（2022-01-05 23:00–24:00）"). Below, the daily
view: the latest complete day's AQI per district with its HJ
633 level, category and the standard's health advice; the city's year-to-date
good-day ratio, heavy-pollution days and PM2.5 against the same period last
year (the ratio's change in percentage points, heavy days' in days, PM2.5's in
%); the districts' composite-index ranking (latest complete month and year to
date; every district with a value ranked, one whose index fails a capture rule
marked 暂定/provisional, standards.md §7); PM2.5 per district against the national
limit and the WHO guideline; a 30-day AQI strip per district. Nothing staff-only is shown (no
station codes, validity ledgers, raw readings or local targets), and every
figure is marked provisional (real-time data, not audited).

Its own simple frame (not ``layout.staff_page``): the city dropdown sits in
``#page-controls`` and writes ``city`` into the URL through the shared
control callback. Nothing is computed here: statistics come from
``dashboard.queries`` (indicators).
"""
from __future__ import annotations

import logging
from datetime import date, timedelta

import dash
import pandas as pd
from dash import html
from sqlalchemy.exc import SQLAlchemyError

from config.standards import profile_for_period_end, public_guideline
from indicators.advice import ADVICE, advice  # HJ 633 表 2, shared with the alert emails
from indicators.ranking import PROVISIONAL, RANKED, change_kind, change_text

from .. import ids
from ..cache import cache_routed_page, cached_local
from ..context import current_engine
from ..figures import AQI_LEVELS
from ..figures.public import aqi_strip, pm25_bars
from ..i18n import HTML_LANG, SYNTHETIC_BANNER, normalize_lang, t
from ..layout import (banner, card, city_label, dropdown, empty_state, graph, page_head,
                      stat_tile, synthetic_title)
from ..queries import catalog, city_year, daily_between, period_stats, ranking_rows, \
    stats_with_change
from ..realtime_queries import STRIP_HOURS, city_now
from ..state import month_bounds, resolve

log = logging.getLogger(__name__)

ACCESS = "public"          # no login: dashboard/auth.py lets anyone open it
PATH = "/public"
NAME = "公众"
NAME_EN = "Public"
TITLE = "公众 · 蓝天 Lantian"
STRIP_DAYS = 30
# The same page for everyone, a function of the URL and the data: the router's answer is
# kept whole (the most visited page; rebuilding and serialising it cost 13 ms a visit).
cache_routed_page(PATH)


# level number (1–6) → names and colours, from the one AQI level table
CATEGORIES = {i + 1: (lv[3], lv[4]) for i, lv in enumerate(AQI_LEVELS)}
COLOURS = {i + 1: (lv[1], lv[2]) for i, lv in enumerate(AQI_LEVELS)}

def _ranges(levels) -> dict:
    """Level number → its AQI range ("0–50", "51–100" … "> 300")."""
    out, low = {}, 0
    for i, (upper, *_rest) in enumerate(levels, start=1):
        if upper == float("inf"):
            out[i] = f"> {low - 1}"
        else:
            out[i] = f"{low}–{upper:g}"
            low = int(upper) + 1
    return out


RANGES = _ranges(AQI_LEVELS)


def layout(**query) -> html.Div:
    lang = normalize_lang(query.get("lang"))
    try:
        engine = current_engine()
        cat = catalog(engine)
    except SQLAlchemyError:
        log.exception("public: reading the database failed")
        return _frame(lang, None, [banner("error", t("dberror.title", lang),
                                          t("dberror.public_hint", lang), id=ids.PAGE_DB_ERROR)])
    if cat.cities.empty:
        return _frame(lang, None, [banner("info", t("page.no_city", lang), id=ids.PAGE_EMPTY)])
    city = query.get("city")
    city = city if city in cat.city_ids() else cat.default_city() or cat.city_ids()[0]
    children: list = []
    if cat.is_synthetic(city):
        children.append(banner("synthetic", SYNTHETIC_BANNER, t("synthetic.city", lang),
                               id=ids.PAGE_SYNTHETIC_BANNER))
    cities = [{"label": city_label(cat, c, lang), "value": c} for c in cat.city_ids()]
    children.append(html.Div(id=ids.PAGE_CONTROLS, className="lt-controls", children=[
        dropdown("city", cities, city, t("ctl.city", lang), width=280)]))
    if city not in cat.spans:
        children.append(html.Div(id=ids.PAGE_EMPTY, children=empty_state(
            t("page.no_data", lang))))
        return _frame(lang, city, children)
    try:
        content = cached_local("page:public", cat.version, (str(engine.url), city, lang),
                               lambda: body(city, lang, cat, engine))
    except SQLAlchemyError:
        log.exception("public: reading the database failed")
        content = [banner("error", t("dberror.title", lang), t("dberror.public_hint", lang),
                          id=ids.PAGE_DB_ERROR)]
    except Exception:  # noqa: BLE001 - a page must say it failed, not show a traceback
        log.exception("public: rendering failed for %s", city)
        content = [banner("error", t("page.error", lang), t("page.error_hint", lang),
                          id=ids.PAGE_ERROR)]
    children.append(html.Div(id=ids.PAGE_BODY, children=content))
    return _frame(lang, city, children)


def _frame(lang: str, city: str | None, children: list) -> html.Div:
    query = {"city": city} if city else {}
    if lang == "zh":
        query["lang"] = "en"
    search = "&".join(f"{k}={v}" for k, v in query.items())
    switch = dash.get_relative_path(PATH + (f"?{search}" if search else ""))
    head = page_head(t("pub.title", lang), t("pub.subtitle", lang), lang, switch)
    return html.Div(id=ids.PAGE, lang=HTML_LANG[lang], className="lt-page lt-page-public",
                    children=[head, *children])


# -- the data ---------------------------------------------------------------------------

def latest_complete_day(aqi: pd.DataFrame, city: str, last: date, look_back: int = 7):
    """The latest day, up to the data's last day, with a valid daily AQI of the city (a day
    still being measured has no valid AQI yet); None when the last days have none."""
    rows = aqi[(aqi["level"] == "city") & (aqi["area"] == city) & aqi["aqi"].notna()]
    rows = rows[(rows["date"] <= pd.Timestamp(last))
                & (rows["date"] > pd.Timestamp(last - timedelta(days=look_back)))]
    return None if rows.empty else rows["date"].max().date()


def latest_complete_month(day: date, first: date) -> tuple[int, int] | None:
    """(year, month) of the latest calendar month complete by ``day`` (within the data)."""
    if month_bounds(day.year, day.month)[1] == day:
        year, month = day.year, day.month
    else:
        prev = day.replace(day=1) - timedelta(days=1)
        year, month = prev.year, prev.month
    return None if date(year, month, 1) < first.replace(day=1) else (year, month)


def day_rows(engine, city: str, day: date) -> pd.DataFrame:
    """The day's AQI rows of the districts and the city."""
    aqi = city_year(engine, city, day.year).aqi
    return aqi[(aqi["date"] == pd.Timestamp(day)) & aqi["level"].isin(["district", "city"])]


def body(city: str, lang: str, cat, engine) -> list:
    first, last = cat.spans[city]
    synthetic = cat.is_synthetic(city)
    names = cat.names("district", lang)
    districts = cat.city_districts(city)["id"].tolist()
    names = {a: names.get(a, a) for a in districts}
    aqi = city_year(engine, city, last.year).aqi
    day = latest_complete_day(aqi, city, last)
    if day is None and last.month == 1 and last.day < 8:
        day = latest_complete_day(city_year(engine, city, last.year - 1).aqi, city, last)
    # "now" first: the latest hour (real time), then the daily view
    out = now_sections(engine, cat, city, names, synthetic, lang)
    out.append(banner("info", t("pub.status", lang),
                      t("pub.latest", lang, day=(day or last).isoformat()),
                      id=ids.PUBLIC_STATUS))
    out.append(today_section(engine, city, day, names, lang))
    view = resolve({"city": city, "period": "ytd", "year": str(last.year), "lang": lang},
                   cat.city_ids(), cat.spans, city)
    out.append(ytd_section(engine, view, lang))
    out.append(ranking_section(engine, cat, city, view, day or last, names, lang))
    out.append(pm25_section(engine, view, names, synthetic, lang))
    start = (day or last) - timedelta(days=STRIP_DAYS - 1)
    _daily, strip = daily_between(engine, city, start, day or last)
    out.append(card(None, graph(aqi_strip(
        strip[strip["area"].isin(districts)], names, lang,
        synthetic_title(t("pub.strip", lang, n=STRIP_DAYS), synthetic, lang),
        t("pub.no_strip", lang)), id=ids.PUBLIC_STRIP, height=80 + 30 * max(len(names), 2)),
        legend(lang)))
    return out


#: The station map's height: the staff map's, so that a crowded city centre gets the same
#: enlarged panel (``figures.map.core_of`` judges crowding at this height).
NOW_MAP_HEIGHT = 640


def now_sections(engine, cat, city: str, names: dict, synthetic: bool, lang: str) -> list:
    """The latest hour: AQI tiles of the city and its districts with the health advice of
    their levels, the last 24 hours as a strip per district, and a station map coloured
    by the hour's AQI (stations without one grey, with the time of their last)."""
    from ..figures.map import station_map
    from ..figures.realtime import aqi_hour_strip, hourly_points, published_at

    now = city_now(engine, city)
    title = synthetic_title(t("pub.now.title", lang), synthetic, lang)
    if now.empty:
        return [card(title, empty_state(t("pub.now.none", lang)), id=ids.PUBLIC_NOW)]
    label = published_at(now.hour, lang)
    status = html.P(id=ids.PUBLIC_NOW_STATUS, className="lt-pub-now-status", children=[
        html.Strong(t("pub.now.status", lang)), " · ", html.Span(label)])
    rows = pd.concat([now.area_rows("city"), now.area_rows("district")], ignore_index=True)
    by_area = {r.area: r for r in rows.itertuples(index=False)}
    tiles = [aqi_tile(t("pub.city_aqi", lang), by_area.get(city), lang, city=True)]
    tiles += [aqi_tile(name, by_area.get(area), lang) for area, name in names.items()]
    out = [card(title, status,
                html.Div(tiles, id=ids.PUBLIC_NOW_TILES, className="lt-pub-tiles"),
                html.H3(t("pub.now.advice", lang), className="lt-pub-h3"),
                html.Div(advice_blocks(by_area, names, lang), id=ids.PUBLIC_NOW_ADVICE),
                html.P(t("pub.now.explain", lang), className="lt-note"), id=ids.PUBLIC_NOW)]
    first = now.hour - pd.Timedelta(hours=STRIP_HOURS - 1)
    strip_names = {city: t("pub.city_aqi", lang), **names}
    strip = aqi_hour_strip(now.areas, [city, *names], strip_names, lang=lang,
                           title=synthetic_title(t("pub.now.strip", lang, n=STRIP_HOURS),
                                                 synthetic, lang),
                           first=first, last=now.hour, empty_message=t("pub.now.no_strip", lang))
    out.append(card(None, graph(strip, id=ids.PUBLIC_NOW_STRIP,
                                height=90 + 28 * max(len(strip_names), 2)), legend(lang)))
    texts = {"district": t("pub.now.district", lang), "primary": t("pub.primary", lang),
             "last": t("pub.now.last", lang), "none": t("pub.now.never", lang),
             "no_aqi_now": t("pub.now.no_aqi_now", lang), "published": ""}
    points = hourly_points(now.stations, lang=lang, public=True,
                           names=cat.names("station", lang),
                           district_names=cat.names("district", lang),
                           role_names={r: t(f"role.{r}", lang) for r in
                                       ("evaluation", "background", "excluded")},
                           texts=texts)
    if not points.empty:
        fig = station_map(points, mode="aqi", lang=lang, height=NOW_MAP_HEIGHT,
                          title=synthetic_title(t("pub.now.map", lang, label=label), synthetic,
                                                lang),
                          legend_labels={k: t(f"pub.now.legend.{k}", lang) for k in
                                         ("evaluation", "background", "no_data", "inset")})
        # on a phone the map keeps its width and scrolls sideways in its card
        out.append(card(None, html.Div(graph(fig, id=ids.PUBLIC_NOW_MAP,
                                             height=NOW_MAP_HEIGHT), className="lt-pub-map"),
                        html.P(t("pub.now.map_note", lang), className="lt-note")))
    return out


def advice_blocks(by_area: dict, names: dict, lang: str) -> list:
    """One block per AQI level present among ``by_area``'s rows (area → row with
    ``level_no``): the level, the areas at it, the HJ 633 health effects and measures."""
    levels = sorted({int(r.level_no) for r in by_area.values() if pd.notna(r.level_no)})
    blocks = []
    colon = "：" if lang == "zh" else ": "
    for level in levels:
        effects, measures = advice(level, lang)
        bg, fg = COLOURS[level]
        who = [names.get(r.area, t("pub.city_aqi", lang)) for r in by_area.values()
               if pd.notna(r.level_no) and int(r.level_no) == level]
        blocks.append(html.Div(className="lt-pub-advice", children=[
            html.Div(f"{CATEGORIES[level][lang == 'en']} (AQI {RANGES[level]})",
                     className="lt-pub-advice-level",
                     style={"background": bg, "color": fg}),
            html.P("、".join(who) if lang == "zh" else ", ".join(who), className="lt-muted"),
            html.P([html.Strong(t("pub.effects", lang) + colon), effects]),
            html.P([html.Strong(t("pub.measures", lang) + colon), measures])]))
    return blocks


def today_section(engine, city: str, day, names: dict, lang: str) -> html.Section:
    if day is None:
        return card(None, empty_state(t("pub.no_day", lang)), id=ids.PUBLIC_TODAY)
    rows = day_rows(engine, city, day)
    by_area = {r.area: r for r in rows.itertuples(index=False)}
    tiles = [aqi_tile(t("pub.city_aqi", lang), by_area.get(city), lang, city=True)]
    tiles += [aqi_tile(name, by_area.get(area), lang) for area, name in names.items()]
    return card(t("pub.today", lang, day=day.isoformat()),
                html.Div(tiles, className="lt-pub-tiles"),
                html.H3(t("pub.advice", lang), className="lt-pub-h3"),
                html.Div(advice_blocks(by_area, names, lang), id=ids.PUBLIC_ADVICE),
                id=ids.PUBLIC_TODAY)


def aqi_tile(name: str, row, lang: str, city: bool = False) -> html.Div:
    cls = "lt-pub-aqi" + (" lt-pub-aqi-city" if city else "")
    if row is None or pd.isna(row.aqi):
        return html.Div(className=cls + " lt-pub-aqi-none", children=[
            html.Div(name, className="lt-pub-aqi-name"), html.Div("—", className="lt-pub-aqi-value"),
            html.Div(t("pub.no_aqi", lang), className="lt-pub-aqi-cat")])
    level = int(row.level_no)
    bg, fg = COLOURS[level]
    primary = ", ".join(dict.fromkeys(p for p in str(row.primary or "").replace("_8h", "")
                                      .replace("_1h", "").split(",") if p))
    children = [html.Div(name, className="lt-pub-aqi-name"),
                html.Div(str(int(row.aqi)), className="lt-pub-aqi-value"),
                html.Div(CATEGORIES[level][lang == "en"], className="lt-pub-aqi-cat")]
    if primary:
        children.append(html.Div(f"{t('pub.primary', lang)}: {primary}",
                                 className="lt-pub-aqi-primary"))
    return html.Div(className=cls, style={"background": bg, "color": fg}, children=children)


def _city_row(stats: pd.DataFrame, city: str, pollutant: str, statistic: str):
    rows = stats[(stats["level"] == "city") & (stats["area"] == city)
                 & (stats["pollutant"] == pollutant) & (stats["statistic"] == statistic)]
    return None if rows.empty else rows.iloc[0]


def _num(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:g}"


def ytd_section(engine, view, lang: str) -> html.Section:
    stats = stats_with_change(engine, view, areas_only=True)
    title = t("pub.ytd", lang, year=view.year, end=f"{view.end:%m-%d}")
    if stats.empty:
        return card(title, empty_state(t("table.empty", lang)), id=ids.PUBLIC_YTD)
    tiles = []
    for key, pollutant, statistic, unit in (
            ("pub.good_ratio", "AQI", "good_day_ratio", "%"),
            ("pub.heavy", "AQI", "heavy_days", t("pub.days", lang)),
            ("pub.pm25", "PM2.5", "annual_mean", " µg/m³")):
        row = _city_row(stats, view.city, pollutant, statistic)
        value = None if row is None else row["reported"]
        prev = None if row is None else row.get("previous_reported")
        # the change in its unit (standards.md §7): percentage points for the good-day
        # ratio, days for heavy days, % for PM2.5
        change = None if row is None else row.get("change")
        kind = None if row is None else row.get("change_kind")
        kind = kind if isinstance(kind, str) else change_kind(statistic)
        if prev is None or pd.isna(prev):
            note = t("pub.no_prev", lang)
        else:
            note = t("pub.last_year", lang, value=_num(prev))
            if change is not None and pd.notna(change):
                note += t("pub.change", lang,
                          change=change_text(change, kind, lang, arrow=True))
        tiles.append(stat_tile(_num(value), t(key, lang), unit, note))
    return card(title, html.Div(tiles, className="lt-summary lt-pub-summary"),
                id=ids.PUBLIC_YTD)


def ranking_section(engine, cat, city: str, ytd_view, day: date, names: dict,
                    lang: str) -> html.Section:
    first = cat.spans[city][0]
    areas = tuple(names)
    tables = []
    month = latest_complete_month(day, first)
    if month is None:
        tables.append(html.Div([html.H3("—", className="lt-pub-h3"),
                                empty_state(t("pub.no_month", lang))]))
    else:
        mview = resolve({"city": city, "period": "month", "year": str(month[0]),
                         "month": str(month[1]), "lang": lang}, cat.city_ids(), cat.spans, city)
        label = f"{month[0]} 年 {month[1]} 月" if lang == "zh" else f"{month[0]}-{month[1]:02d}"
        tables.append(rank_table(ranking_rows(engine, mview, "composite_index", "ALL",
                                              "district", areas), names, label, lang,
                                 ids.PUBLIC_RANK_MONTH))
    tables.append(rank_table(ranking_rows(engine, ytd_view, "composite_index", "ALL",
                                          "district", areas), names,
                             t("pub.rank_ytd", lang, year=ytd_view.year), lang,
                             ids.PUBLIC_RANK_YTD))
    return card(t("pub.ranking", lang), html.Div(tables, className="lt-pub-ranks"),
                html.P(t("pub.rank_note", lang), className="lt-note"),
                html.P(t("pub.prov_note", lang), className="lt-note"))


def rank_table(table: pd.DataFrame, names: dict, label: str, lang: str, id) -> html.Div:
    if table.empty:
        return html.Div([html.H3(label, className="lt-pub-h3"),
                         empty_state(t("table.empty", lang))], id=id)
    head = html.Tr([html.Th(t(f"pub.col.{c}", lang)) for c in ("rank", "district", "index",
                                                             "change")])
    rows = []
    # every district with a value is ranked (standards.md §7); one whose index fails a
    # capture rule is marked provisional (暂定), without the staff-only validity ledger
    for r in table.itertuples(index=False):
        ranked = r.status in (RANKED, PROVISIONAL) and pd.notna(r.rank)
        provisional = r.status == PROVISIONAL
        kind = getattr(r, "change_kind", None)
        kind = kind if isinstance(kind, str) else change_kind("composite_index")
        change = getattr(r, "change", None)
        shown_change = change_text(change, kind, lang, arrow=True) if ranked else "—"
        rank_cell = [str(int(r.rank))] if ranked else ["—"]
        if provisional:
            rank_cell.append(html.Span(t("pub.prov", lang), className="lt-pub-prov",
                                       title=t("pub.prov_why", lang)))
        rows.append(html.Tr(className="lt-pub-row-prov" if provisional else None, children=[
            html.Td(rank_cell),
            html.Td(names.get(r.area, r.area)),
            # the composite index as published, to 0.01 (6.40, not 6.4)
            html.Td(f"{r.reported:.2f}" if ranked else t("pub.insufficient", lang)),
            html.Td(shown_change)]))
    return html.Div(id=id, children=[html.H3(label, className="lt-pub-h3"), html.Table(
        className="lt-pub-table", children=[html.Thead(head), html.Tbody(rows)])])


def pm25_section(engine, view, names: dict, synthetic: bool, lang: str) -> html.Section:
    stats = period_stats(engine, view)
    rows = stats[(stats["level"] == "district") & (stats["pollutant"] == "PM2.5")
                 & (stats["statistic"] == "annual_mean") & stats["area"].isin(list(names))]
    values = pd.DataFrame({"area": rows["area"].astype(str),
                           "reported": rows["reported"].astype("float64")})
    limit = profile_for_period_end(view.end).limit("PM2.5", "annual", "II")
    guideline = public_guideline()
    who = guideline.limit("PM2.5", "annual") if guideline is not None else None
    fig = pm25_bars(values, names, limit=limit, who=who, lang=lang,
                    title=synthetic_title(t("pub.pm25_chart", lang, year=view.year), synthetic,
                                          lang),
                    empty_message=t("pub.no_pm25", lang), limit_label=t("pub.limit", lang),
                    who_label=t("pub.who", lang))
    return card(None, graph(fig, id=ids.PUBLIC_PM25, height=140 + 34 * max(len(names), 2)))


def legend(lang: str) -> html.Div:
    return html.Div(className="lt-pub-legend", children=[
        html.Span(t("pub.legend", lang) + ":", className="lt-muted")] + [
        html.Span(f"{CATEGORIES[lv][lang == 'en']} {RANGES[lv]}", className="lt-pub-key",
                  style={"background": COLOURS[lv][0], "color": COLOURS[lv][1]})
        for lv in range(1, 7)] + [html.Span(t("pub.nodata", lang), className="lt-muted")])

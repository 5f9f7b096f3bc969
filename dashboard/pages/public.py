"""Page ``/public`` — 公众 / Public: the air today and this year, for citizens and the press.

No staff controls: only the city and the language; the page always shows the
latest data. It shows the latest complete day's AQI per district with its HJ
633 level, category and the standard's health advice; the city's year-to-date
good-day ratio, heavy-pollution days and PM2.5 against the same period last
year; the districts' composite-index ranking (latest complete month and year
to date); PM2.5 per district against the national limit and the WHO
guideline; a 30-day AQI strip per district. Nothing staff-only is shown (no
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

from config.standards import load_profile, profile_for_period_end

from .. import ids
from ..cache import cache_routed_page, cached_local
from ..context import current_engine
from ..figures import AQI_LEVELS
from ..figures.public import aqi_strip, pm25_bars
from ..i18n import HTML_LANG, SYNTHETIC_BANNER, normalize_lang, register, t
from ..layout import (banner, card, city_label, dropdown, empty_state, graph, page_head,
                      stat_tile, synthetic_title)
from ..queries import catalog, city_year, daily_between, period_stats, ranking_rows, \
    stats_with_change
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

#: HJ 633-2012 表 2: per AQI level (1–6), health effects and recommended measures,
#: the official Chinese texts and English translations.
ADVICE = {
    1: (("空气质量令人满意，基本无空气污染", "各类人群可正常活动"),
        ("Air quality is satisfactory; there is basically no air pollution.",
         "Everyone can carry on with normal activities.")),
    2: (("空气质量可接受，但某些污染物可能对极少数异常敏感人群健康有较弱影响",
         "极少数异常敏感人群应减少户外活动"),
        ("Air quality is acceptable, but some pollutants may have a weak effect on the health "
         "of a very small number of unusually sensitive people.",
         "A very small number of unusually sensitive people should reduce outdoor activity.")),
    3: (("易感人群症状有轻度加剧，健康人群出现刺激症状",
         "儿童、老年人及心脏病、呼吸系统疾病患者应减少长时间、高强度的户外锻炼"),
        ("Symptoms of susceptible people are mildly aggravated; healthy people show signs of "
         "irritation.",
         "Children, the elderly and people with heart or respiratory disease should reduce "
         "prolonged, strenuous outdoor exercise.")),
    4: (("进一步加剧易感人群症状，可能对健康人群心脏、呼吸系统有影响",
         "儿童、老年人及心脏病、呼吸系统疾病患者避免长时间、高强度的户外锻炼，一般人群适量减少户外运动"),
        ("Symptoms of susceptible people are further aggravated; the heart and respiratory "
         "system of healthy people may be affected.",
         "Children, the elderly and people with heart or respiratory disease should avoid "
         "prolonged, strenuous outdoor exercise; everyone else should reduce outdoor "
         "exercise somewhat.")),
    5: (("心脏病和肺病患者症状显著加剧，运动耐受力降低，健康人群普遍出现症状",
         "儿童、老年人和心脏病、肺病患者应停留在室内，停止户外运动，一般人群减少户外运动"),
        ("Symptoms of people with heart or lung disease are markedly aggravated and their "
         "exercise tolerance falls; healthy people commonly show symptoms.",
         "Children, the elderly and people with heart or lung disease should stay indoors and "
         "stop outdoor exercise; everyone else should reduce outdoor exercise.")),
    6: (("健康人群运动耐受力降低，有明显强烈症状，提前出现某些疾病",
         "儿童、老年人和病人应当留在室内，避免体力消耗，一般人群应避免户外活动"),
        ("Healthy people's exercise tolerance falls, with marked, strong symptoms; some "
         "diseases may appear early.",
         "Children, the elderly and the sick should stay indoors and avoid physical exertion; "
         "everyone else should avoid outdoor activity.")),
}


def advice(level_no: int, lang: str) -> tuple[str, str]:
    """(health effects, recommended measures) of an AQI level (1–6), HJ 633 表 2."""
    return ADVICE[int(level_no)][lang == "en"]


register({
    "pub.title": ("空气质量公众信息", "Air quality for the public"),
    "pub.subtitle": ("各区县最新空气质量指数、健康建议与今年以来的空气质量。",
                     "The latest air quality index of every district, health advice, and the "
                     "air quality so far this year."),
    "pub.status": ("实时监测数据，未经审核，仅供参考；以生态环境部门发布的审核数据为准。",
                   "Provisional real-time data, not audited, for reference only; the audited "
                   "data published by the ecology and environment authorities prevail."),
    "pub.latest": ("最新数据：{day}", "Latest data: {day}"),
    "pub.today": ("{day} 各区县空气质量指数（AQI）", "Air quality index (AQI) by district, {day}"),
    "pub.city_aqi": ("全市", "City"),
    "pub.primary": ("首要污染物", "Primary pollutant"),
    "pub.no_aqi": ("无有效数据", "no valid data"),
    "pub.no_day": ("最近几天没有完整的日数据。", "No complete day in the last few days."),
    "pub.advice": ("健康建议（HJ 633）", "Health advice (HJ 633)"),
    "pub.effects": ("健康影响", "Health effects"),
    "pub.measures": ("建议措施", "Recommended measures"),
    "pub.ytd": ("{year} 年初至 {end} 全市空气质量", "City air quality, {year} to {end}"),
    "pub.good_ratio": ("优良天数比例", "Good-day ratio"),
    "pub.heavy": ("重污染天数", "Heavy-pollution days"),
    "pub.pm25": ("PM2.5 平均浓度", "PM2.5 mean"),
    "pub.last_year": ("去年同期 {value}", "Same period last year {value}"),
    "pub.change": ("，变化 {arrow}{value}%", ", change {arrow}{value}%"),
    "pub.no_prev": ("去年同期无数据", "No data for last year"),
    "pub.days": ("天", " days"),
    "pub.ranking": ("各区县综合指数排名", "Districts ranked on the composite index"),
    "pub.rank_month": ("{label}", "{label}"),
    "pub.rank_ytd": ("{year} 年初至今", "{year} to date"),
    "pub.col.rank": ("排名", "Rank"),
    "pub.col.district": ("区县", "District"),
    "pub.col.index": ("综合指数", "Composite index"),
    "pub.col.change": ("同比", "vs last year"),
    "pub.insufficient": ("数据不足", "insufficient data"),
    "pub.no_month": ("没有完整月份的数据。", "No complete month of data."),
    "pub.rank_note": ("综合指数越小，空气质量越好；数值相同并列。",
                      "The lower the composite index, the better the air; equal values share "
                      "a rank."),
    "pub.pm25_chart": ("{year} 年初至今各区县 PM2.5 平均浓度", "PM2.5 mean by district, "
                       "{year} to date"),
    "pub.limit": ("国家二级标准", "National limit"),
    "pub.who": ("WHO 准则值", "WHO guideline"),
    "pub.no_pm25": ("没有 PM2.5 数据", "No PM2.5 data"),
    "pub.strip": ("最近 {n} 天各区县空气质量指数", "AQI by district, last {n} days"),
    "pub.no_strip": ("最近 30 天没有数据", "No data in the last 30 days"),
    "pub.legend": ("空气质量级别", "AQI levels"),
    "pub.nodata": ("空白：无有效数据", "blank: no valid data"),
})

# level number (1–6) → names and colours, from the one AQI level table
CATEGORIES = {i + 1: (lv[3], lv[4]) for i, lv in enumerate(AQI_LEVELS)}
COLOURS = {i + 1: (lv[1], lv[2]) for i, lv in enumerate(AQI_LEVELS)}
RANGES = {1: "0–50", 2: "51–100", 3: "101–150", 4: "151–200", 5: "201–300", 6: "> 300"}


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
    out = [banner("info", t("pub.status", lang),
                  t("pub.latest", lang, day=(day or last).isoformat()), id=ids.PUBLIC_STATUS)]
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


def today_section(engine, city: str, day, names: dict, lang: str) -> html.Section:
    if day is None:
        return card(None, empty_state(t("pub.no_day", lang)), id=ids.PUBLIC_TODAY)
    rows = day_rows(engine, city, day)
    by_area = {r.area: r for r in rows.itertuples(index=False)}
    tiles = [aqi_tile(t("pub.city_aqi", lang), by_area.get(city), lang, city=True)]
    tiles += [aqi_tile(name, by_area.get(area), lang) for area, name in names.items()]
    levels = sorted({int(r.level_no) for r in by_area.values() if pd.notna(r.level_no)})
    advice_blocks = []
    colon = "：" if lang == "zh" else ": "
    for level in levels:
        effects, measures = advice(level, lang)
        bg, fg = COLOURS[level]
        who = [names.get(r.area, t("pub.city_aqi", lang)) for r in by_area.values()
               if pd.notna(r.level_no) and int(r.level_no) == level]
        advice_blocks.append(html.Div(className="lt-pub-advice", children=[
            html.Div(f"{CATEGORIES[level][lang == 'en']} (AQI {RANGES[level]})",
                     className="lt-pub-advice-level",
                     style={"background": bg, "color": fg}),
            html.P("、".join(who) if lang == "zh" else ", ".join(who), className="lt-muted"),
            html.P([html.Strong(t("pub.effects", lang) + colon), effects]),
            html.P([html.Strong(t("pub.measures", lang) + colon), measures])]))
    return card(t("pub.today", lang, day=day.isoformat()),
                html.Div(tiles, className="lt-pub-tiles"),
                html.H3(t("pub.advice", lang), className="lt-pub-h3"),
                html.Div(advice_blocks, id=ids.PUBLIC_ADVICE), id=ids.PUBLIC_TODAY)


def aqi_tile(name: str, row, lang: str, city: bool = False) -> html.Div:
    cls = "lt-pub-aqi" + (" lt-pub-aqi-city" if city else "")
    if row is None or pd.isna(row.aqi):
        return html.Div(className=cls + " lt-pub-aqi-none", children=[
            html.Div(name, className="lt-pub-aqi-name"), html.Div("—", className="lt-pub-aqi-value"),
            html.Div(t("pub.no_aqi", lang), className="lt-pub-aqi-cat")])
    level = int(row.level_no)
    bg, fg = COLOURS[level]
    primary = str(row.primary or "").replace("_8h", "").replace("_1h", "")
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
        change = None if row is None else row.get("change_rate_reported")
        if prev is None or pd.isna(prev):
            note = t("pub.no_prev", lang)
        else:
            note = t("pub.last_year", lang, value=_num(prev))
            if change is not None and pd.notna(change):
                arrow = "▲" if change > 0 else ("▼" if change < 0 else "＝")
                note += t("pub.change", lang, arrow=arrow, value=f"{abs(change):g}")
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
                html.P(t("pub.rank_note", lang), className="lt-note"))


def rank_table(table: pd.DataFrame, names: dict, label: str, lang: str, id) -> html.Div:
    if table.empty:
        return html.Div([html.H3(label, className="lt-pub-h3"),
                         empty_state(t("table.empty", lang))], id=id)
    head = html.Tr([html.Th(t(f"pub.col.{c}", lang)) for c in ("rank", "district", "index",
                                                             "change")])
    rows = []
    for r in table.itertuples(index=False):
        ranked = r.status == "ranked"
        change = r.change_rate_reported
        change_text = "—" if pd.isna(change) or not ranked else (
            f"{'▲' if change > 0 else ('▼' if change < 0 else '＝')}{abs(change):g}%")
        rows.append(html.Tr([
            html.Td(str(int(r.rank)) if ranked and pd.notna(r.rank) else "—"),
            html.Td(names.get(r.area, r.area)),
            html.Td(_num(r.reported) if ranked else t("pub.insufficient", lang)),
            html.Td(change_text)]))
    return html.Div(id=id, children=[html.H3(label, className="lt-pub-h3"), html.Table(
        className="lt-pub-table", children=[html.Thead(head), html.Tbody(rows)])])


def pm25_section(engine, view, names: dict, synthetic: bool, lang: str) -> html.Section:
    stats = period_stats(engine, view)
    rows = stats[(stats["level"] == "district") & (stats["pollutant"] == "PM2.5")
                 & (stats["statistic"] == "annual_mean") & stats["area"].isin(list(names))]
    values = pd.DataFrame({"area": rows["area"].astype(str),
                           "reported": rows["reported"].astype("float64")})
    limit = profile_for_period_end(view.end).limit("PM2.5", "annual", "II")
    who = load_profile("who-2021").limit("PM2.5", "annual")
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

"""The words of the weekly report, Chinese and English (``t(key, lang)``)."""
from __future__ import annotations

from datetime import date

LANGS = ("zh", "en")

TEXT: dict[str, tuple[str, str]] = {
    "synthetic": ("合成演示数据", "SYNTHETIC DEMO DATA"),
    "synthetic_note": ("本邮件中的数据为程序生成的合成演示数据，并非真实监测数据。",
                       "The readings behind this email are generated demo data, not "
                       "measurements."),
    "subject": ("空气质量周报", "weekly air-quality report"),
    "subject_city": ("全市空气质量周报", "city-wide weekly air-quality report"),
    "week": ("周", "week"),
    "week_range": ("{start} 至 {end}", "{start} to {end}"),
    "summary_exc": ("本周超标 {n} 天，主要污染物 {main}", "{n} {days} exceeded this week, "
                    "mainly {main}"),
    "summary_none": ("本周无超标天", "No day exceeded a limit this week"),
    "summary_unevaluated": ("另有 {n} 天部分污染物无法评价（见数据说明）",
                            "{n} {days} could not be fully evaluated (see data caveats)"),
    "exc_title": ("本周超标日", "Exceedance days this week"),
    "exc_basis": ("本表将日均值（O₃ 为日最大8小时平均）与国家24小时标准限值（{grade}类区，{profiles}）"
                  "比较；本地目标为年均值，在下方“年初至今”部分比较。超标倍数 =（C − S）/ S。",
                  "Daily values (O₃: the daily maximum 8-hour mean) are compared with the "
                  "national 24-hour limits (Grade {grade}, {profiles}); the local targets are "
                  "annual means and are compared in the year-to-date section below. Multiple "
                  "= (C − S) / S."),
    "exc_none": ("本周没有日均值超过国家24小时标准限值。",
                 "No daily value exceeded its national 24-hour limit this week."),
    "col_date": ("日期", "Date"),
    "col_pollutant": ("污染物", "Pollutant"),
    "col_value": ("浓度", "Value"),
    "col_limit": ("标准限值", "Limit"),
    "col_multiple": ("超标倍数", "Multiple"),
    "col_aqi": ("AQI 级别", "AQI level"),
    "col_statistic": ("统计量", "Statistic"),
    "col_ytd": ("年初至今", "Year to date"),
    "col_capture": ("有效天数", "Valid days"),
    "col_target": ("目标", "Target"),
    "col_outlook": ("状态", "Status"),
    "col_margin": ("差值", "Margin"),
    "col_rest": ("全年达标所需", "For the year"),
    "col_district": ("区县", "District"),
    "col_exc_days": ("本周超标天数", "Exceedance days"),
    "col_main": ("主要污染物", "Main pollutant"),
    "col_composite": ("综合指数", "Composite index"),
    "col_rank": ("排名", "Rank"),
    "ytd_title": ("年初至今（{start} 至 {end}）达标进度", "Year to date ({start} to {end})"),
    "year_title": ("{year} 年全年（{start} 至 {end}）达标情况", "The year {year} ({start} to {end})"),
    "ytd_basis": ("与本地年度目标比较；未设本地目标的污染物以国家标准限值（{grade}类区）代替，标注“国标”。"
                  "目标宽于国家限值时，以较严的国家限值判定状态和“全年达标所需”。差值 = 年初至今数值 − 判定所用数值。"
                  "年初至今数值为暂定值；“已确保达标”表示剩余天数的均值即使高于今年以来最高的日均值和国家24小时限值，"
                  "全年仍能达标。",
                  "Compared with the local annual targets; where a pollutant has no local "
                  "target the national limit (Grade {grade}) stands in, marked “national”. "
                  "Where a target is looser than the national limit, the stricter limit "
                  "decides the status and what the year needs. Margin = year-to-date value − "
                  "the figure that decides. Year-to-date values are provisional; “already "
                  "secured” means the year meets it even if the remaining days average above "
                  "both the worst day so far this year and the national 24-hour limit."),
    "basis_national": ("国标", "national"),
    "binding_national": ("国标 {limit} 更严，按国标判定", "the national limit {limit} is "
                         "stricter and decides"),
    "each_status": ("对照目标：{st_target}；对照国标：{st_limit}",
                    "against the target: {st_target}; against the limit: {st_limit}"),
    "not_valid": ("有效性不足：", "not valid: "),
    "rank_title": ("区县排名", "Rank among districts"),
    "rank_line": ("年初至今综合指数 {value}，在 {n} 个区县中排第 {rank} 名（数值越小越好）。",
                  "Year-to-date composite index {value}: rank {rank} of {n} districts "
                  "(lower is better)."),
    "rank_line_prov": ("年初至今综合指数 {value}，在 {n} 个区县中排第 {rank} 名（暂定：{reason}），"
                       "数值越小越好。",
                       "Year-to-date composite index {value}: rank {rank} of {n} districts "
                       "(provisional: {reason}); lower is better."),
    "rank_prov": ("（暂定）", " (provisional)"),
    "rank_prov_note": ("标“暂定”的区县综合指数的部分分项未满足数据有效性要求，仍按数值参与排名。",
                       "A district marked \"provisional\" has composite-index inputs that fail "
                       "a data-capture rule; it is still ranked on its value."),
    "rank_none": ("年初至今综合指数暂无排名，{reason}。",
                  "No rank for the year-to-date composite index — {reason}."),
    "rank_city": ("各区县本周概况与年初至今综合指数排名（数值越小越好）",
                  "Districts this week and their year-to-date composite index rank "
                  "(lower is better)"),
    "insufficient": ("数据不足", "insufficient data"),
    "caveats_title": ("数据说明", "Data caveats"),
    "caveats_none": ("本周所有日均值均满足数据有效性要求。",
                     "Every daily value of the week met the data-capture rule."),
    "caveats_intro": ("以下日期因有效监测数据不足（日均值需至少20个有效小时值，O₃ 日最大8小时需至少14个有效"
                      "8小时值），无法评价：",
                      "These days could not be evaluated (a daily mean needs at least 20 valid "
                      "hours, the O₃ MDA8 at least 14 valid 8-hour windows):"),
    "caveat_line": ("{where} {pollutant}：{n} 天无法评价（{dates}）",
                    "{n} {days} could not be evaluated for {pollutant} at {where}: {dates}"),
    "station": ("站点", "station"),
    "district": ("区县", "district"),
    "city": ("全市", "city"),
    "chart_week": ("本周日均值占国家24小时标准限值的百分比", "This week's daily values, % of the "
                   "national 24-hour limit"),
    "chart_ytd": ("年初至今累计均值占年度目标的百分比", "Year-to-date running mean, % of the "
                  "annual target"),
    "chart_limit": ("标准限值", "limit"),
    "chart_no_data": ("无有效数据", "no valid data"),
    "chart_target": ("目标", "target"),
    "alt_week": ("柱状图：{area}本周各污染物日均值占国家24小时标准限值的百分比，100% 为限值。{detail}",
                 "Bar chart: {area}'s daily values this week as % of the national 24-hour "
                 "limits; 100% is the limit. {detail}"),
    "alt_week_exc": ("超过限值：{items}。", "Above the limit: {items}."),
    "alt_week_none": ("没有超过限值的日均值。", "No daily value above its limit."),
    "alt_ytd": ("折线图：{area}年初至今累计均值占年度目标的百分比，100% 为目标。截至 {end}：{items}。",
                "Line chart: {area}'s year-to-date running mean as % of the annual target; "
                "100% is the target. On {end}: {items}."),
    "footer": ("本邮件由蓝天空气质量达标监测系统根据数据库中的小时监测数据自动生成（{generated}），"
               "请勿直接回复。",
               "Generated automatically by Lantian (蓝天) from the hourly monitoring data in its "
               "database on {generated}. Please do not reply."),
    "no_value": ("—", "—"),
    "days_word": ("天", "days"),
    "day_word": ("天", "day"),
    "aqi_invalid": ("无有效 AQI", "no valid AQI"),
    "all_quantities": ("全部六项污染物及 AQI", "all six pollutants and the AQI"),
    "text_images": ("（图表见 HTML 版本）", "(charts in the HTML version)"),
    # the action plan's objectives (evaluation.objectives; the dashboard's 目标考核 page)
    "obj_title": ("目标考核", "Objectives"),
    "obj_period_ytd": ("行动计划目标 {year} 年年初至今（截至 {end}）的进展，为临时结果。",
                       "The action plan's objectives for {year}, year to date (to {end}); "
                       "provisional."),
    "obj_period_year": ("行动计划目标 {year} 年全年的考核结果。",
                        "The action plan's objectives for the whole year {year}."),
    "obj_scope_district": ("此处包括{district}的 {n_own} 项目标和全市的 {n_city} 项目标："
                           "全市的考核结果同样关系到{district}。",
                           "Shown: {district}'s {own} and the city's {city}, because the "
                           "city's standing concerns {district} too."),
    "obj_counts": ("{n} 项目标：{parts}", "{n} {objectives}: {parts}"),
    "obj_objective": ("项目标", "objective"),
    "obj_objectives": ("项目标", "objectives"),
    "obj_attention": ("需要关注的目标：", "Objectives needing attention:"),
    "obj_attention_none": ("目前没有需要关注的目标。", "No objective needs attention."),
    "obj_so_far": ("年初至今 {value}", "{value} so far"),
    "obj_year": ("全年 {value}", "{value} for the year"),
    "obj_change": ("同比变化 {value}", "change {value}"),
    "obj_target": ("目标 {target}", "target {target}"),
    "obj_place": ("目前第 {place} 名", "now place {place}"),
    "obj_place_target": ("目标第 {place} 名或更前", "target place {place} or better"),
    "obj_as_above": ("原因同上", "same as above"),
    "obj_dashboard": ("全部目标的完整清单见系统看板的“目标考核”页面（/objectives）。",
                      "The full list of objectives is on the dashboard's Objectives page "
                      "(目标考核, /objectives)."),
}

POLLUTANT = {
    "SO2": ("SO₂", "SO₂"), "NO2": ("NO₂", "NO₂"), "PM10": ("PM10", "PM10"),
    "PM2.5": ("PM2.5", "PM2.5"), "CO": ("CO", "CO"), "O3": ("O₃", "O₃"),
    "O3_MDA8": ("O₃ 日最大8小时", "O₃ MDA8"), "AQI": ("AQI", "AQI"), "ALL": ("综合", "all"),
}
STATISTIC = {
    "annual_mean": ("年均值", "mean"),
    "p98_daily": ("日均值第98百分位数", "98th percentile of daily means"),
    "p95_daily": ("日均值第95百分位数", "95th percentile of daily means"),
    "p90_mda8": ("日最大8小时第90百分位数", "90th percentile of MDA8"),
    "good_day_ratio": ("优良天数比例", "good-day ratio"),
    "composite_index": ("综合指数", "composite index"),
    "exceedance_days": ("超标天数", "exceedance days"),
    "heavy_days": ("重污染天数", "heavy-pollution days"),
}
UNIT = {"SO2": "µg/m³", "NO2": "µg/m³", "PM10": "µg/m³", "PM2.5": "µg/m³", "CO": "mg/m³",
        "O3": "µg/m³", "O3_MDA8": "µg/m³"}
WEEKDAY = (("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
           ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))


def _i(lang: str) -> int:
    if lang not in LANGS:
        raise ValueError(f"language must be one of {LANGS}, got {lang!r}")
    return LANGS.index(lang)


def t(key: str, lang: str, **values) -> str:
    text = TEXT[key][_i(lang)]
    return text.format(**values) if values else text


def pollutant(name: str, lang: str) -> str:
    return POLLUTANT.get(name, (name, name))[_i(lang)]


def statistic(name: str, lang: str) -> str:
    return STATISTIC.get(name, (name, name))[_i(lang)]


def status(code: str, lang: str) -> str:
    """The word of a status code (``indicators.targets.judge``: met, not met, on track …)."""
    from indicators.targets import status_text
    return status_text(code, LANGS[_i(lang)])


#: Units of an objective's value and target (``evaluation.objectives`` ``unit``): (zh, en,
#: en singular); concentrations as they are.
OBJECTIVE_UNIT = {"%": ("%", "%", "%"), "points": ("个百分点", "points", "point"),
                  "days": ("天", "days", "day")}


def objective_status(code: str, lang: str) -> str:
    """The word of an objective's status: :func:`status`, or ``no data``
    (``evaluation.objectives.NO_DATA``)."""
    from evaluation.objectives import NO_DATA, NO_DATA_TEXT
    return NO_DATA_TEXT[_i(lang)] if code == NO_DATA else status(code, lang)


def objective_unit(unit: str, lang: str, value: float | None = None) -> str:
    """``points`` → 个百分点 / points (point for ±1), ``days`` → 天 / days …"""
    zh, en, one = OBJECTIVE_UNIT.get(unit, (unit, unit, unit))
    if lang == "zh":
        return zh
    return one if value is not None and abs(value) == 1 else en


def days(n: int, lang: str) -> str:
    return t("day_word" if n == 1 else "days_word", lang)


def day_label(day: date, lang: str, weekday: bool = True) -> str:
    """``1月26日（周一）`` / ``Mon 26 Jan``."""
    wd = WEEKDAY[_i(lang)][day.weekday()]
    if lang == "zh":
        return f"{day.month}月{day.day}日" + (f"（{wd}）" if weekday else "")
    return (f"{wd} " if weekday else "") + f"{day.day} {day:%b}"


def full_date(day: date, lang: str) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if lang == "zh" else day.isoformat()


def number(value, decimals: int = 0) -> str:
    """A published value as text (half-even already applied upstream)."""
    if value is None or value != value:
        return "—"
    return f"{value:.{decimals}f}"

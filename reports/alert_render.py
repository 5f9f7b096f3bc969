"""An alert episode → subject, plain text and HTML (Jinja2, CSS inlined), zh or en.

Hours are shown as the real-time feed publishes them: by their **end** (the hour stored
as 08:00–09:00 is ``09:00``).
"""
from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

import css_inline
import pandas as pd

from indicators.advice import RANGES, advice

from . import texts
from .render import SYNTHETIC_TAG, Rendered, environment

TEXT: dict[str, tuple[str, str]] = {
    "tag": ("【空气质量预警】", "[Air quality alert] "),
    "title": ("{area}空气质量预警", "Air quality alert: {area}"),
    "summary_run": ("{area}小时AQI自 {start} 起连续 {n} 小时超过 {threshold}，最高 {peak}"
                    "（{category}，{peak_time}）。",
                    "{area}'s hourly AQI has been above {threshold} for {n} consecutive "
                    "hours from {start}, peaking at {peak} ({category}, {peak_time})."),
    "summary_broken": ("{area}小时AQI自 {start} 起有 {hours} 个小时超过 {threshold}（最长连续 "
                       "{n} 小时），最高 {peak}（{category}，{peak_time}）。",
                       "{area}'s hourly AQI has been above {threshold} in {hours} hours "
                       "from {start} (at most {n} in a row), peaking at {peak} ({category}, "
                       "{peak_time})."),
    "ongoing": ("截至 {last}，本次污染过程仍在持续。",
                "As of {last} the episode is still going on."),
    "ended": ("本次污染过程已结束：{end} 之后小时AQI连续 {m} 小时不高于 {threshold}{nodata}。",
              "The episode has ended: after {end} the hourly AQI stayed at or below "
              "{threshold}{nodata} for {m} hours."),
    "nodata": ("（或无数据）", " (or was not available)"),
    "hours_title": ("逐小时 AQI", "Hourly AQI"),
    "hours_note": ("时间为小时结束时刻，与实时发布一致；加粗为超过 {threshold} 的小时。",
                   "Hours are labelled by their end, as the real-time feed publishes them; "
                   "hours above {threshold} in bold."),
    "col_hour": ("时间", "Hour"),
    "col_aqi": ("AQI", "AQI"),
    "col_level": ("级别", "Level"),
    "col_primary": ("首要污染物", "Primary pollutant"),
    "advice_title": ("健康建议（HJ 633）", "Health advice (HJ 633)"),
    "effects": ("健康影响", "Health effects"),
    "measures": ("建议措施", "Recommended measures"),
    "data_title": ("数据说明", "About the data"),
    "data_note": ("以上为实时监测数据（{basis}的小时AQI），未经审核，仅供参考；"
                  "以生态环境部门发布的审核数据为准。",
                  "These are real-time monitoring data (the hourly AQI of {basis}), not "
                  "audited, for reference only; the audited data published by the "
                  "environment authorities prevail."),
    "basis_district": ("区县内各评价点位小时浓度均值", "the mean 1-h values of the district's "
                       "evaluation stations"),
    "basis_city": ("全市各评价点位小时浓度均值", "the mean 1-h values of the city's evaluation "
                   "stations"),
    "rule": ("预警规则：小时AQI连续 {n} 小时超过 {threshold} 时预警，每次污染过程只发一次；"
             "小时AQI连续 {m} 小时不高于 {threshold}（或无数据）后过程结束，此后再次出现才再次预警。",
             "Alert rule: the hourly AQI above {threshold} for {n} consecutive hours; one "
             "email per episode; an episode ends after {m} consecutive hours at or below "
             "{threshold} (or without data), and only a new episode alerts again."),
    "link": ("在监测平台查看该区域：", "See this area on the dashboard: "),
    "footer": ("本邮件由蓝天空气质量达标监测系统根据实时小时监测数据自动生成（{generated}），请勿直接回复。",
               "Generated automatically by Lantian (蓝天) from the real-time hourly monitoring "
               "data on {generated}. Please do not reply."),
    "city_word": ("全市", "city-wide"),
}


def t(key: str, lang: str, **values) -> str:
    text = TEXT[key][0 if lang == "zh" else 1]
    return text.format(**values) if values else text


def _primary(value, lang: str) -> str:
    if not isinstance(value, str) or not value:
        return "—"
    return ("、" if lang == "zh" else ", ").join(texts.pollutant(p, lang)
                                                for p in value.split(","))


def district_link(base: str, city: str, scope: str, lang: str) -> str:
    """The dashboard's district page of the area (the city's own row for ``city``)."""
    area = city if scope == "city" else scope
    return f"{base.rstrip('/')}/district?" + urlencode({"city": city, "district": area,
                                                        "lang": lang})


def context(item, lang: str, run, *, dashboard_url: str = "",
            generated: datetime | None = None) -> dict:
    e, rule = item.episode, item.rule
    is_city = item.scope == "city"
    city_name = run.city_name_zh if lang == "zh" else run.city_name_en
    area = item.name(lang)
    full_area = area if is_city else (f"{city_name}{area}" if lang == "zh"
                                      else f"{area}, {city_name}")
    hours = item.hours
    peak_row = hours[hours["time"] == pd.Timestamp(e.peak_time)].iloc[0]
    category = str(peak_row["category_zh" if lang == "zh" else "category_en"])
    common = dict(area=area, start=hour_start_label(e.start), threshold=rule.threshold,
                  peak=e.peak, category=category, peak_time=_label(e.peak_time),
                  n=e.longest_run, hours=e.hours_above)
    summary = t("summary_run" if e.hours_above == e.longest_run else "summary_broken", lang,
                **common)
    if e.ongoing:
        status = t("ongoing", lang, last=_label(run.last_hour))
    else:
        after = hours[hours["time"] > pd.Timestamp(e.end)]
        nodata = t("nodata", lang) if after["aqi"].isna().any() else ""
        status = t("ended", lang, end=_label(e.end), m=rule.clear_hours,
                   threshold=rule.threshold, nodata=nodata)
    rows = []
    for r in hours.itertuples(index=False):
        has = not pd.isna(r.aqi)
        level = int(r.level_no) if has and not pd.isna(r.level_no) else None
        rows.append({"hour": _label(r.time), "aqi": str(int(r.aqi)) if has else "—",
                     "level": (str(r.category_zh if lang == "zh" else r.category_en)
                               if has else "—"),
                     "colour": str(r.colour) if has else "#ffffff",
                     "dark": level is not None and level >= 4,
                     "primary": _primary(r.primary, lang) if has else "—",
                     "above": bool(r.above)})
    levels = sorted({int(x) for x in hours.loc[hours["above"], "level_no"].dropna()},
                    reverse=True)
    names = {}
    for r in hours.itertuples(index=False):
        if not pd.isna(r.level_no):
            names.setdefault(int(r.level_no), (str(r.category_zh), str(r.category_en)))
    advice_rows = []
    for level in levels:
        effects, measures = advice(level, lang)
        zh, en = names[level]
        advice_rows.append({"level": f"{zh if lang == 'zh' else en} (AQI {RANGES[level]})",
                            "effects": effects, "measures": measures})
    tag = f"[{SYNTHETIC_TAG}] " if run.synthetic else ""
    if lang == "zh":
        subject = (f"{tag}{t('tag', lang)}{area} 小时AQI连续{e.longest_run}小时超过"
                   f"{rule.threshold} ({category})")
    else:
        subject = (f"{tag}{t('tag', lang)}{area}: hourly AQI above {rule.threshold} for "
                   f"{e.longest_run} consecutive hours ({category})")
    generated = generated or datetime.now()
    link = district_link(dashboard_url, run.city, item.scope, lang) if dashboard_url else ""
    return {
        "lang": lang, "t": lambda key, **kw: t(key, lang, **kw), "subject": subject,
        "colon": "：" if lang == "zh" else ": ",
        "synthetic": run.synthetic, "synthetic_tag": SYNTHETIC_TAG,
        "synthetic_note": texts.t("synthetic_note", lang),
        "title": t("title", lang, area=full_area), "summary": summary, "status": status,
        "ongoing": e.ongoing, "rows": rows, "advice": advice_rows,
        "hours_note": t("hours_note", lang, threshold=rule.threshold),
        "data_note": t("data_note", lang, basis=t("basis_city" if is_city else
                                                   "basis_district", lang)),
        "rule": t("rule", lang, n=rule.hours, m=rule.clear_hours, threshold=rule.threshold),
        "link": link,
        "footer": t("footer", lang, generated=generated.strftime("%Y-%m-%d %H:%M") + " CST"),
    }


def _label(start) -> str:
    """The hour's end, as published (``YYYY-MM-DD HH:00``)."""
    return (pd.Timestamp(start) + pd.Timedelta(hours=1)).strftime("%Y-%m-%d %H:00")


def hour_start_label(start) -> str:
    """Where an episode starts: the beginning of its first hour (``YYYY-MM-DD HH:00``)."""
    return pd.Timestamp(start).strftime("%Y-%m-%d %H:00")


def render_alert(item, lang: str, run, *, dashboard_url: str = "",
                 generated: datetime | None = None) -> Rendered:
    ctx = context(item, lang, run, dashboard_url=dashboard_url, generated=generated)
    env = environment()
    html = css_inline.inline(env.get_template("alert.html.j2").render(**ctx))
    text = env.get_template("alert.txt.j2").render(**ctx)
    return Rendered(subject=ctx["subject"], text=text, html=html, charts=[])

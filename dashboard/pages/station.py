"""Page ``/station`` — 站点 / Station: one monitoring station's hourly readings.

For the chosen period, station and pollutant (``?station=…&pollutant=…``):

* the hourly AQI (HJ 633 real-time AQI, ``dashboard.realtime_queries.station_hourly_aqi``)
  beside the AQI the national platform published, where they differ marked ✕ and listed
  (the whole period up to 31 days, else one day: ``?aqiday=YYYY-MM-DD``);
* the hourly series with every QC-flagged value marked (not hidden) and
  missing hours as gaps;
* the diurnal, weekday and monthly profiles (``indicators.variation.time_variation``,
  openair ``timeVariation``-like) with the number of values behind each mean;
* data capture by month for the six pollutants (``indicators.variation.capture_by_month``);
* the raw readings table (one month at a time; the whole period as CSV/Excel).

The profiles and capture count exactly the hours the statistics count
(``queries.station_hourly`` = ``store.frames.hourly_frame``: QC-excluded
values are NaN); the series and the table show the stored readings with their
flags (``queries.station_readings``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from dash import html

from config.standards import load_profile, profile_for_period_end
from config.qc import load_rules

from .. import ids
from ..exports import register_export
from ..figures.station import capture_heatmap, flag_label, hourly_series, variation_profiles
from ..i18n import t
from ..layout import (card, chart_card, dropdown, empty_state, export_links, graph, grid,
                      notes, notices, period_caption, staff_page, stat_tile)
from ..queries import period_stats, station_hourly, station_readings_cached
from ..realtime_queries import station_hourly_aqi
from .common import (POLLUTANTS, STATISTIC, PollutantContext, decimals_of, fmt, pollutant_choice,
                     pollutant_dropdown, unit_of)

PATH = "/station"
NAME = "站点"
NAME_EN = "Station"
TITLE = "站点 · 蓝天 Lantian"
PAGE_KEYS = ("station", "pollutant", "rmonth", "aqiday")
SCOPED = True              # honours a district-scoped account (only its stations)
#: Longest table sent at once: one month of hours (the whole period goes to the export).
TABLE_MAX_DAYS = 31



# -- choices ----------------------------------------------------------------------------

def station_options(view, cat) -> list[tuple[str, str]]:
    lang = view.lang
    st = cat.city_stations(view.city)
    names = cat.names("station", lang)
    out = []
    for code, role in zip(st["code"], st["role"]):
        label = f"{names.get(code, code)} {code}"
        if role != "evaluation":
            label += f" ({t('stn.role.' + role, lang).split('（')[0].split(' (')[0]})"
        out.append((code, label))
    return out


def months_of(view) -> list[str]:
    """``YYYY-MM`` of every month the view touches."""
    m0 = np.datetime64(view.start, "M")
    m1 = np.datetime64(view.end, "M")
    return [str(m) for m in np.arange(m0, m1 + 1)]


def choices(view, cat) -> tuple[str | None, str, str | None, list[str]]:
    """(station, pollutant, table month or None when the period is short, notices)."""
    lang = view.lang
    options = station_options(view, cat)
    notices = []
    code = view.params.get("station")
    allowed = [v for v, _ in options]
    if code not in allowed:
        if code and options:
            notices.append(t("stn.unknown_station", lang, value=code, name=options[0][1]))
        code = allowed[0] if allowed else None
    pollutant = pollutant_choice(view, notices)
    rmonth = None
    if (view.end - view.start).days + 1 > TABLE_MAX_DAYS:
        months = months_of(view)
        rmonth = view.params.get("rmonth")
        if rmonth not in months:
            rmonth = months[-1]
    return code, pollutant, rmonth, notices


def controls(view, cat) -> list:
    lang = view.lang
    code, pollutant, _rmonth, _ = choices(view, cat)
    options = [{"label": label, "value": v} for v, label in station_options(view, cat)]
    out = []
    if options:
        out.append(dropdown("station", options, code, t("stn.ctl.station", lang), width=240,
                            searchable=True))
    out.append(pollutant_dropdown(view, pollutant))
    return out


def layout(**query) -> html.Div:
    return staff_page(page="station", title=(t("stn.title"), t("stn.title", "en")),
                      subtitle=(t("stn.subtitle"), t("stn.subtitle", "en")), query=query,
                      body=body, path=PATH, page_keys=PAGE_KEYS, extra_controls=controls)


# -- helpers ----------------------------------------------------------------------------

@dataclass
class Ctx(PollutantContext):
    code: str
    rmonth: str | None
    info: dict                # the station's catalogue row

    @property
    def name(self) -> str:
        return f"{self.cat.name('station', self.code, self.lang)} {self.code}"

    def readings(self) -> pd.DataFrame:
        return station_readings_cached(self.engine, self.code, self.view.start, self.view.end)

    def hourly(self) -> pd.DataFrame:
        return station_hourly(self.engine, self.code, self.view.start, self.view.end)


def context(view, cat, engine, code, pollutant, rmonth) -> Ctx:
    st = cat.city_stations(view.city)
    row = st[st["code"] == code]
    info = row.iloc[0].to_dict() if len(row) else {}
    return Ctx(view=view, cat=cat, engine=engine, code=code, pollutant=pollutant, rmonth=rmonth,
               synthetic=cat.is_synthetic(view.city), info=info)


def excluded_flags() -> tuple[str, ...]:
    """Flags whose values do not count (config/qc.yaml), as store.frames.hourly_frame applies."""
    return tuple(load_rules().excluded)


# -- the readings table -----------------------------------------------------------------

def readings_frame(readings: pd.DataFrame, lang: str, decimals: dict | None = None) -> pd.DataFrame:
    """Rows for the grid: time as text (CST), the six values, and the flags of the hour
    ("PM10 突变"; empty when every value is ok)."""
    if readings.empty:
        return pd.DataFrame()
    out = {"time": pd.to_datetime(readings["time"]).dt.strftime("%Y-%m-%d %H:00").to_numpy()}
    flags = np.full(len(readings), "", dtype=object)
    bad = np.full(len(readings), "", dtype=object)      # ",PM10,CO," for the cell colours
    labels = {}
    for p in POLLUTANTS:
        if p not in readings.columns:
            continue
        d = (decimals or {}).get(p, 1) + 1
        out[p] = readings[p].round(d).to_numpy()
        f = readings[f"{p}_flag"].astype(str).to_numpy()
        for name in pd.unique(f):                      # a handful of flag names
            if name != "ok":
                labels[name] = flag_label(str(name), lang)
        words = np.where(f == "ok", "", p + " " + pd.Series(f).map(labels).fillna("")
                         .to_numpy(dtype=object))
        bad = np.where(f == "ok", bad, np.where(bad == "", ",", bad) + p + ",")
        flags = np.where(words == "", flags, np.where(flags == "", words, flags + "; " + words))
    out["flags"] = flags
    out["bad"] = bad
    return pd.DataFrame(out)


def _export_readings(view, cat, engine) -> pd.DataFrame:
    code, _p, _m, _n = choices(view, cat)
    if code is None:
        return pd.DataFrame()
    frame = station_readings_cached(engine, code, view.start, view.end)
    if frame.empty:
        return frame
    frame = frame.assign(time=pd.to_datetime(frame["time"]).dt.strftime("%Y-%m-%d %H:%M"))
    frame.insert(0, "station", code)
    return frame


register_export("station-readings", _export_readings, PAGE_KEYS, scoped=True)


def readings_columns(lang: str) -> list[dict]:
    cols = [{"field": "time", "headerName": t("stn.col.time", lang), "minWidth": 150,
             "pinned": "left", "sort": "asc"}]
    for p in POLLUTANTS:
        cols.append({"field": p, "headerName": f"{p} ({unit_of(p)})", "type": "numericColumn",
                     "minWidth": 95, "wrapHeaderText": True, "autoHeaderHeight": True,
                     "valueFormatter": {"function": "params.value == null ? '—' : params.value"},
                     "cellClassRules": {"lt-stn-flagged": f"params.data.bad.includes(',{p},')"}})
    cols.append({"field": "flags", "headerName": t("stn.col.flags", lang), "minWidth": 200,
                 "flex": 2, "tooltipField": "flags"})
    return cols


# -- the sections ---------------------------------------------------------------------------

def summary(c: Ctx, readings: pd.DataFrame, capture: pd.DataFrame) -> html.Section:
    lang, p, info = c.lang, c.pollutant, c.info
    district = info.get("district")
    role = str(info.get("role") or "")
    network = str(info.get("network") or "")
    where = [c.cat.name("district", district, lang) if isinstance(district, str) else "—"]
    if role:
        where.append(t(f"stn.role.{role}", lang) if role in ("evaluation", "background",
                                                             "excluded") else role)
    if network in ("national", "provincial"):
        where.append(t(f"stn.network.{network}", lang))
    lon, lat = info.get("lon"), info.get("lat")
    if lon is not None and lat is not None and pd.notna(lon) and pd.notna(lat):
        where.append(f"{float(lat):.4f}°N {float(lon):.4f}°E")
    head = html.Div(className="lt-stat lt-stat-wide", children=[
        html.Div(c.name, className="lt-stat-value"),
        html.Div(" · ".join(where), className="lt-stat-label")])
    tiles = [head]
    stats = period_stats(c.engine, c.view)
    statistic = STATISTIC[p]
    row = None
    if not stats.empty:
        r = stats[(stats["level"] == "station") & (stats["area"] == c.code)
                  & (stats["pollutant"] == p) & (stats["statistic"] == statistic)]
        row = None if r.empty else r.iloc[0]
    valid = row is not None and bool(row["valid"])
    tiles.append(stat_tile(fmt(None if row is None else row["reported"], c.decimals),
                           t("stn.tile.stat", lang, pollutant=p,
                             statistic=t(f"stn.stat.{statistic}", lang)),
                           " " + c.unit, None if row is None or valid
                           else t("stn.tile.not_valid", lang), invalid=not valid))
    cap = capture[capture["pollutant"] == p] if not capture.empty else capture
    n_valid, n_hours = (int(cap["n_valid"].sum()), int(cap["n_hours"].sum())) if len(cap) \
        else (0, 0)
    share = f"{100 * n_valid / n_hours:.1f}%" if n_hours else "—"
    tiles.append(stat_tile(f"{n_valid:,}",
                           t("stn.tile.capture", lang, pollutant=p) + f" · {share}",
                           f" / {n_hours:,} h"))
    flags = readings[f"{p}_flag"].astype(str) if not readings.empty else pd.Series(dtype=str)
    flagged = int((~flags.isin(["ok", "missing"])).sum())
    excluded = int(flags.isin(list(excluded_flags())).sum())
    tiles.append(stat_tile(f"{flagged:,}", t("stn.tile.flagged", lang, pollutant=p), "",
                           t("stn.tile.excluded", lang, n=excluded) if excluded else None))
    return html.Section(id=ids.STATION_SUMMARY, className="lt-summary", children=tiles)


def series_section(c: Ctx, readings: pd.DataFrame) -> list:
    lang, p, view = c.lang, c.pollutant, c.view
    grade = "II"
    district = c.info.get("district")
    if isinstance(district, str):
        d = c.cat.districts[c.cat.districts["id"] == district]
        if len(d) and isinstance(d.iloc[0]["grade"], str):
            grade = d.iloc[0]["grade"]
    prof = load_profile(view.profile) if view.profile else None
    if prof is None or not prof.has_limits:
        prof = profile_for_period_end(view.stats_end)
    limit = prof.limit(p, "1h", grade)
    fig = hourly_series(readings, pollutant=p, start=view.start, end=view.end, unit=c.unit,
                        decimals=c.decimals, lang=lang,
                        title=c.title(f"{c.name} · {t('stn.series', lang, pollutant=p)} · "
                                      f"{period_caption(view)}"),
                        excluded=excluded_flags(), limit=limit,
                        limit_name=t("stn.limit_1h", lang))
    return [chart_card(fig, t("stn.series_note", lang), id=ids.STATION_SERIES, height=420)]


def aqi_window(view) -> tuple:
    """(first day, last day, chosen day or None) of the hourly AQI chart: the whole period
    when it is at most :data:`TABLE_MAX_DAYS` long, else one day (page key ``aqiday``, a
    day of the period; default its last)."""
    if (view.end - view.start).days + 1 <= TABLE_MAX_DAYS:
        return view.start, view.end, None
    day = view.params.get("aqiday")
    try:
        chosen = pd.Timestamp(str(day)[:10]).date() if day else None
    except ValueError:
        chosen = None
    if chosen is None or not (view.start <= chosen <= view.end):
        chosen = view.end
    return chosen, chosen, chosen


def aqi_section(c: Ctx) -> list:
    """Lantian's hourly AQI of the station beside the published one, disagreements flagged
    (:func:`dashboard.realtime_queries.station_hourly_aqi`)."""
    from ..figures.realtime import hour_span, primary_text, station_aqi_chart

    lang, view = c.lang, c.view
    first, last, chosen = aqi_window(view)
    frame = station_hourly_aqi(c.engine, c.code, first, last)
    caption = period_caption(view) if chosen is None else chosen.isoformat()
    fig = station_aqi_chart(frame, start=first, end=last, lang=lang,
                            title=c.title(f"{c.name} · {t('stn.aqi.title', lang)} · {caption}"),
                            empty_message=t("stn.aqi.empty", lang))
    head = []
    if chosen is not None:
        days = [str(d) for d in pd.date_range(view.end, view.start, freq="-1D").date]
        head.append(html.Div(className="lt-stn-table-controls", children=[
            dropdown("aqiday", [{"label": d, "value": d} for d in days], chosen.isoformat(),
                     t("stn.aqi.ctl.day", lang), width=150, searchable=True)]))
    lines: list = [t("stn.aqi.note", lang)]
    compared = frame[frame["compared"].astype(bool)] if len(frame) else frame
    if compared.empty:
        lines.append(t("stn.aqi.no_published", lang))
    else:
        agree = int(compared["agrees"].astype(bool).sum())
        lines.append(t("stn.aqi.agree", lang, n=len(compared), k=agree))
        unpublished = int((frame["aqi"].notna() & ~frame["compared"].astype(bool)).sum())
        if unpublished:
            lines.append(t("stn.aqi.unpublished", lang, n=unpublished))
        differ = compared[~compared["agrees"].astype(bool)]
        if len(differ):
            def show(aqi, primary):
                text = "—" if pd.isna(aqi) else str(int(aqi))
                primary = primary_text(primary)
                return f"{text} ({primary})" if primary and text != "—" else text
            rows = [html.Tr([html.Th(t(f"stn.aqi.col.{k}", lang))
                             for k in ("hour", "ours", "published")])]
            rows += [html.Tr([html.Td(hour_span(r.time)), html.Td(show(r.aqi, r.primary)),
                              html.Td(show(r.published_aqi, r.published_primary))])
                     for r in differ.head(24).itertuples(index=False)]
            lines.append(html.Div([html.P(t("stn.aqi.disagree", lang, n=len(differ)),
                                          className="lt-note lt-map-warn"),
                                   html.Table(html.Tbody(rows), className="lt-table")],
                                  className="lt-table-wrap"))
    return [card(None, *head, graph(fig, id=ids.STATION_AQI, height=360),
                 html.Div(notes(*lines), id=ids.STATION_AQI_NOTE), id=ids.STATION_AQI_CARD)]


def profiles_section(c: Ctx, profiles: pd.DataFrame) -> list:
    lang, p = c.lang, c.pollutant
    fig = variation_profiles(profiles, pollutant=p, unit=c.unit, decimals=c.decimals, lang=lang,
                             title=c.title(f"{c.name} · {t('stn.profiles', lang, pollutant=p)} · "
                                           f"{period_caption(c.view)}"))
    return [chart_card(fig, t("stn.profiles_note", lang), id=ids.STATION_PROFILES, height=340)]


def capture_section(c: Ctx, capture: pd.DataFrame) -> list:
    lang = c.lang
    fig = capture_heatmap(capture, lang=lang,
                          title=c.title(f"{c.name} · {t('stn.capture', lang)}"))
    return [chart_card(fig, t("stn.capture_note", lang), id=ids.STATION_CAPTURE,
                       height=int(fig.layout.height or 300))]


def readings_section(c: Ctx, readings: pd.DataFrame) -> list:
    lang, view = c.lang, c.view
    rows = readings
    month_label = period_caption(view)
    controls = []
    if c.rmonth is not None:
        m = pd.Period(c.rmonth, "M")
        times = pd.to_datetime(readings["time"])
        rows = readings[(times >= m.start_time) & (times <= m.end_time)]
        month_label = c.rmonth
        controls.append(dropdown("rmonth", [{"label": x, "value": x} for x in months_of(view)],
                                 c.rmonth, t("stn.ctl.rmonth", lang), width=130))
    decimals = {p: decimals_of(view, p) for p in POLLUTANTS}
    frame = readings_frame(rows, lang, decimals)
    table = grid(frame, readings_columns(lang), id=ids.STATION_READINGS, lang=lang,
                 page_size=24, height=560) if not frame.empty else \
        empty_state(t("table.empty", lang))
    exports = export_links(t("stn.export", lang), "station-readings", view,
                           className="lt-stn-export")
    head = [html.Div(className="lt-stn-table-controls", children=controls)] if controls else []
    return [card(t("stn.readings", lang, month=month_label), *head,
                 *notes(t("stn.readings_note", lang)), table, exports,
                 id=ids.STATION_READINGS_CARD)]


def body(view, cat, engine) -> list:
    from indicators.variation import capture_by_month, time_variation
    lang = view.lang
    code, pollutant, rmonth, messages = choices(view, cat)
    out = []
    if messages:
        out.append(notices(messages))
    if code is None:
        return out + [empty_state(t("stn.no_stations", lang))]
    c = context(view, cat, engine, code, pollutant, rmonth)
    readings = c.readings()
    hourly = c.hourly()
    out.append(html.H2(f"{c.name} · {pollutant} · {period_caption(view)}",
                       className="lt-section-title"))
    if readings.empty:
        return out + [html.Div(id=ids.STATION_SUMMARY, children=empty_state(
            t("stn.no_data", lang, name=c.name), t("stn.no_data_hint", lang)))]
    capture = capture_by_month(hourly, view.start, view.end)
    profiles = time_variation(hourly, [pollutant])
    out.append(summary(c, readings, capture))
    out += aqi_section(c)
    out += series_section(c, readings)
    out += profiles_section(c, profiles)
    out += capture_section(c, capture)
    out += readings_section(c, readings)
    return out


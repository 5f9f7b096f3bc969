"""The report's two charts: figures from frames (``*_figure``), PNGs through one kaleido session.

``week_figure`` — the week's daily values of each pollutant as % of its national
24-h limit (O3: MDA8 limit), grouped by day, with the 100 % line;
``ytd_figure`` — the year-to-date running mean of PM2.5, PM10, NO2 and SO2 as %
of the annual target (or national limit where there is none).

kaleido 1.x drives the system Chromium (found on PATH or through
``BROWSER_PATH``); :class:`ChartSession` starts its server once per report run
(about 0.2 s a chart instead of 3.5 s) and never downloads a browser.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from . import texts
from .data import QUANTITIES, ReportError, ScopeReport

FONT = "WenQuanYi Micro Hei, Noto Sans CJK SC, Microsoft YaHei, sans-serif"
COLOURS = {"SO2": "#7f7f7f", "NO2": "#8c564b", "PM10": "#ff7f0e", "PM2.5": "#d62728",
           "CO": "#1f77b4", "O3_MDA8": "#2ca02c", "O3": "#2ca02c"}
WIDTH, HEIGHT, SCALE = 640, 340, 1.5


@dataclass(frozen=True)
class Chart:
    """One PNG part of the email."""
    name: str          # week | ytd
    cid: str           # Content-ID without the angle brackets
    png: bytes
    alt: str
    width: int = WIDTH
    height: int = HEIGHT


def _layout(fig: go.Figure, title: str, yaxis: str) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 15}},
        font={"family": FONT, "size": 12, "color": "#222"},
        width=WIDTH, height=HEIGHT, margin={"l": 56, "r": 16, "t": 44, "b": 84},
        paper_bgcolor="white", plot_bgcolor="white",
        legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0, "font": {"size": 11}},
        yaxis={"title": {"text": yaxis}, "gridcolor": "#e5e5e5", "zeroline": True,
               "zerolinecolor": "#999", "rangemode": "tozero", "ticksuffix": "%"},
        xaxis={"gridcolor": "#f0f0f0"})
    return fig


def _reference_line(fig: go.Figure, label: str) -> None:
    """The dashed 100 % line, named in the legend (an annotation would sit on the data)."""
    fig.add_hline(y=100, line_dash="dash", line_color="#c00", line_width=1.5)
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=label,
                             line={"color": "#c00", "dash": "dash", "width": 1.5}))


def week_figure(report: ScopeReport, lang: str) -> go.Figure:
    """Grouped bars: each pollutant's daily value as % of its daily limit, 100 % = limit."""
    v = report.week_values
    days = report.week.days
    labels = [(f"{d.month}月{d.day}日<br>{texts.WEEKDAY[0][d.weekday()]}" if lang == "zh" else
               f"{d:%d %b}<br>{texts.WEEKDAY[1][d.weekday()]}") for d in days]
    fig = go.Figure()
    seen = [False] * len(days)
    for q in QUANTITIES:
        rows = v[v["quantity"] == q].set_index("date")
        pct = [float(rows.loc[pd.Timestamp(d), "percent"]) if pd.Timestamp(d) in rows.index
               else None for d in days]
        pct = [None if p is None or p != p else p for p in pct]
        seen = [s or p is not None for s, p in zip(seen, pct)]
        fig.add_trace(go.Bar(x=labels, y=pct, name=texts.pollutant(q, lang),
                             marker_color=COLOURS[q]))
    for label, any_value in zip(labels, seen):
        if not any_value:      # say so, rather than leave an unexplained gap
            fig.add_annotation(x=label, y=0, yanchor="bottom", showarrow=False,
                               text=texts.t("chart_no_data", lang),
                               font={"size": 11, "color": "#8a4b00"})
    _reference_line(fig, texts.t("chart_limit", lang) + " = 100%")
    fig.update_layout(barmode="group", bargap=0.18, bargroupgap=0.04)
    fig = _layout(fig, texts.t("chart_week", lang), "")
    fig.update_xaxes(tickangle=0)
    return fig


def ytd_figure(report: ScopeReport, lang: str) -> go.Figure:
    """Lines: the year-to-date running mean as % of the annual target, 100 % = target."""
    path = report.ytd_path
    fig = go.Figure()
    for p in pd.unique(path["pollutant"]):
        rows = path[path["pollutant"] == p]
        suffix = "" if rows["basis"].iloc[0] == "target" else \
            f" ({texts.t('basis_national', lang)})"
        fig.add_trace(go.Scatter(x=rows["date"], y=rows["percent"], mode="lines",
                                 name=texts.pollutant(p, lang) + suffix,
                                 line={"color": COLOURS.get(p, "#333"), "width": 2}))
    _reference_line(fig, texts.t("chart_target", lang) + " = 100%")
    fig = _layout(fig, texts.t("chart_ytd", lang), "")
    fig.update_xaxes(tickformat="%m-%d" if lang == "en" else "%-m月%-d日")
    return fig


def week_alt(report: ScopeReport, lang: str) -> str:
    e = report.exceedances
    area = report.area.name(lang)
    if e.empty:
        detail = texts.t("alt_week_none", lang)
    else:
        items = [f"{texts.day_label(d.date(), lang, weekday=False)} {texts.pollutant(p, lang)} "
                 f"{pct:.0f}%" for d, p, pct in zip(
                     e["date"], e["pollutant"], e["value"] / e["limit"] * 100)]
        sep = "，" if lang == "zh" else ", "
        detail = texts.t("alt_week_exc", lang, items=sep.join(items))
    return texts.t("alt_week", lang, area=area, detail=detail)


def ytd_alt(report: ScopeReport, lang: str) -> str:
    path = report.ytd_path
    last = path[path["date"] == path["date"].max()] if len(path) else path
    items = [f"{texts.pollutant(p, lang)} {pct:.0f}%" for p, pct in
             zip(last["pollutant"], last["percent"]) if pct == pct]
    sep = "，" if lang == "zh" else ", "
    return texts.t("alt_ytd", lang, area=report.area.name(lang),
                   end=texts.full_date(report.ytd_end, lang), items=sep.join(items) or "—")


def _browser() -> str | None:
    """Chromium for kaleido: BROWSER_PATH if set, else the system one on PATH."""
    if os.environ.get("BROWSER_PATH"):
        return os.environ["BROWSER_PATH"]
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class ChartSession:
    """One kaleido server for a whole report run: ``with ChartSession() as charts: charts.png(fig)``.

    Reuses a server that is already running (and then leaves it running).
    """

    def __init__(self):
        self._started = False
        self.count = 0

    def __enter__(self) -> "ChartSession":
        import kaleido

        browser = _browser()
        if browser is None:
            raise ReportError("the charts need Chromium: install it (apt-get install chromium) "
                              "or set BROWSER_PATH to a Chrome/Chromium executable")
        os.environ.setdefault("BROWSER_PATH", browser)
        server = getattr(kaleido, "_global_server", None)
        if server is None or not server.is_running():
            kaleido.start_sync_server(silence_warnings=True)
            self._started = True
        return self

    def png(self, fig: go.Figure, width: int = WIDTH, height: int = HEIGHT) -> bytes:
        import kaleido

        data = kaleido.calc_fig_sync(fig, opts={"format": "png", "width": width,
                                                "height": height, "scale": SCALE})
        self.count += 1
        return bytes(data)

    def __exit__(self, *exc) -> None:
        if self._started:
            import kaleido
            kaleido.stop_sync_server(silence_warnings=True)
            self._started = False


def charts_for(report: ScopeReport, lang: str, session: ChartSession, key: str) -> list[Chart]:
    """The PNG parts of one report in one language (``key`` makes the Content-IDs unique)."""
    out = [Chart("week", f"week-{key}@lantian", session.png(week_figure(report, lang)),
                 week_alt(report, lang))]
    if len(report.ytd_path):
        out.append(Chart("ytd", f"ytd-{key}@lantian", session.png(ytd_figure(report, lang)),
                         ytd_alt(report, lang)))
    return out

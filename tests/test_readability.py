"""Issue 16 §13 and §14: what a reader sees is readable and published as the standard says.

§14 ``lantian stats annual|daily``: ``reported`` with the standard's decimals (12, CO 0.9,
good-day ratio 50.4, composite index 7.40), ``value`` at full precision, ``reason`` why a
statistic is not valid. §13: the /standards chart's values under the axis (SO2's
mean was squeezed to "#", limit marks struck labels through), reference lines under the
labels, chart titles that wrap on a phone, one row of navigation at 1400 px, grid filter
icons next to their column's name, districts in the site file's order, and no
"standards.md" (the project's notes) cited to users.
"""
from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from tests.conftest import BEIJING_SITES, ROOT

ASSETS = ROOT / "dashboard" / "assets"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

from tests.dash_helpers import TEST_CITY_SITE  # noqa: E402

SITE = TEST_CITY_SITE
# µg/m³ (CO mg/m³): one value per station all day, 2024-01-01 and 02
LEVELS = {"T01": {"SO2": 12.4, "NO2": 45.0, "PM10": 80.2, "PM2.5": 60.5, "CO": 0.87, "O3": 90.0},
          "T02": {"SO2": 11.2, "NO2": 40.0, "PM10": 70.9, "PM2.5": 50.1, "CO": 0.93, "O3": 95.0}}


@pytest.fixture
def small_city(cli, tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text(SITE, encoding="utf-8")
    assert cli("init", "--sites", site).exit_code == 0
    rows = [(code, f"{day} {h:02d}:00", p, v) for day in ("2024-01-01", "2024-01-02")
            for h in range(24) for code, values in LEVELS.items() for p, v in values.items()]
    data = tmp_path / "readings.csv"
    pd.DataFrame(rows, columns=["station", "time", "pollutant", "value"]).to_csv(data, index=False)
    result = cli("ingest", "csv", data, "--strict", "--quiet")
    assert result.exit_code == 0, result.output
    return cli


def _cells(result) -> list[dict]:
    """The CSV as text cells (what a reader sees), one dict per row."""
    assert result.exit_code == 0, result.output
    return list(pd.read_csv(io.StringIO(result.stdout), dtype=str, keep_default_na=False)
                .to_dict("records"))


# -- §14 the CLI tables -----------------------------------------------------------------

#: The published form of ``reported`` per statistic (standards.md §4 decimals).
INTEGER, ONE, TWO = r"\d+", r"\d+\.\d", r"\d+\.\d\d"


def _published_form(pollutant: str, statistic: str) -> str:
    if statistic == "composite_index":
        return TWO
    if statistic == "good_day_ratio" or (pollutant == "CO" and statistic == "p95_daily"):
        return ONE
    return INTEGER


def test_stats_annual_reports_with_the_standards_decimals_and_the_reason(small_city):
    rows = _cells(small_city("stats", "annual", "--year", "2024", "--level", "district"))
    assert list(rows[0]) == ["level", "area", "year", "pollutant", "statistic", "value",
                             "reported", "valid", "n_valid", "n_required", "reason"]
    for row in rows:
        form = _published_form(row["pollutant"], row["statistic"])
        assert re.fullmatch(form, row["reported"]), row          # not "12.0", not 16 digits
        # value keeps its full precision: the reported value is its rounding
        if row["value"]:
            assert abs(float(row["value"]) - float(row["reported"])) <= 0.5 + 1e-9
    by = {(r["pollutant"], r["statistic"]): r for r in rows}
    assert by[("SO2", "annual_mean")]["reported"] == "12"        # (12 + 11) / 2 = 11.5 → 12
    assert by[("CO", "p95_daily")]["reported"] == "0.9"
    assert re.fullmatch(TWO, by[("ALL", "composite_index")]["reported"])
    # two days of a year: every statistic is shown, not valid, with the reason
    assert all(r["valid"] == "False" for r in rows)
    assert "valid days, needs 324" in by[("NO2", "annual_mean")]["reason"]
    assert "invalid" in by[("ALL", "composite_index")]["reason"]


def test_stats_annual_json_keeps_numbers_as_numbers(small_city):
    result = small_city("stats", "annual", "--year", "2024", "--format", "json")
    assert result.exit_code == 0, result.output
    records = {(r["pollutant"], r["statistic"]): r for r in json.loads(result.stdout)}
    so2 = records[("SO2", "annual_mean")]
    assert so2["reported"] == 12 and isinstance(so2["reported"], int)
    assert '"reported": 12,' in result.stdout                      # not 12.0
    assert records[("CO", "p95_daily")]["reported"] == 0.9
    assert isinstance(records[("NO2", "annual_mean")]["value"], float)
    assert records[("NO2", "annual_mean")]["reason"].startswith("2 valid days")


def test_stats_daily_reports_with_the_standards_decimals(small_city):
    rows = _cells(small_city("stats", "daily", "--from", "2024-01-01", "--to", "2024-01-01",
                             "--level", "station"))
    by = {(r["area"], r["pollutant"]): r for r in rows}
    assert by[("T01", "SO2")]["reported"] == "12" and by[("T01", "SO2")]["value"] == "12.4"
    assert by[("T01", "CO")]["reported"] == "0.9" and by[("T02", "CO")]["reported"] == "0.9"
    assert by[("T01", "PM2.5")]["reported"] == "60"                # 60.5 → 60 (half-even)
    for row in rows:
        form = ONE if row["pollutant"] == "CO" else INTEGER
        assert row["reported"] == "" or re.fullmatch(form, row["reported"]), row


def test_annual_export_reported_values_are_exact_decimals():
    from decimal import Decimal

    from indicators.pipeline import as_published
    out = as_published([12.0, 0.9, 7.4, 2.675, np.nan], [0, 1, 2, 2, 0])
    assert out.tolist() == [Decimal("12"), Decimal("0.9"), Decimal("7.40"), Decimal("2.67"),
                            None]          # already rounded: formatted, never rounded again
    assert [str(x) for x in out[:3]] == ["12", "0.9", "7.40"]


def test_readme_documents_the_columns():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "value,reported,valid,n_valid,n_required,reason" in readme
    assert "`reason`" in readme


# -- §13 the standards chart ------------------------------------------------------------

def _comparison(so2_mean: float = 10.0, so2_p98: float = 41.0) -> pd.DataFrame:
    from indicators.comparison import against_limits
    from tests.test_dashboard_standards import stats_rows

    rows = []
    for pid in ("cn-2012", "who-2021"):
        s = stats_rows(
            dict(area="a", pollutant="SO2", statistic="annual_mean", reported=so2_mean),
            dict(area="a", pollutant="SO2", statistic="p98_daily", reported=so2_p98),
            dict(area="a", pollutant="PM2.5", statistic="annual_mean", reported=77.0),
            dict(area="a", pollutant="PM2.5", statistic="p95_daily", reported=232.0,
                 valid=False))
        rows.append(against_limits(s, pid).assign(profile=pid))
    return pd.concat(rows, ignore_index=True)


def test_standards_values_sit_under_the_axis_not_on_the_bars():
    """SO2's mean (10 under limits up to 150) was squeezed inside its bar to "#", and the
    WHO mark at 40 struck the P98 label "41" through: the values are tick labels now."""
    from dashboard.figures.standards import limits_figure

    labels = {"cn-2012": "2012", "who-2021": "WHO"}
    fig = limits_figure(_comparison(), ["cn-2012", "who-2021"], labels, lang="zh")
    go.Figure(fig.to_dict())                                        # a valid figure
    bars = [tr for tr in fig.data if tr.type == "bar"]
    assert bars and all(tr.textposition == "none" for tr in bars)  # nothing drawn on bars
    assert fig.layout.xaxis.ticktext == ("均值<br><b>10</b>", "P98<br><b>41</b>")
    assert fig.layout.xaxis2.ticktext == ("均值<br><b>77</b>", "P95<br><b>232*</b>")
    # profiles that disagree: each profile's value in its colour
    split = _comparison().assign(reported=lambda f: np.where(
        (f["profile"] == "who-2021") & (f["statistic"] == "annual_mean")
        & (f["pollutant"] == "SO2"), 11.0, f["reported"]))
    ticks = limits_figure(split, ["cn-2012", "who-2021"], labels).layout.xaxis.ticktext
    assert ">10</span> / <span" in ticks[0] and ">11</span>" in ticks[0]


# -- §13 reference lines never strike a value label ------------------------------------

def test_district_reference_lines_lie_under_halo_labels():
    from dashboard.figures import LABEL_HALO
    from dashboard.figures.district import monthly_bars, station_bars

    months = pd.DataFrame({"period": ["2016-01", "2016-02"], "reported": [38.0, 52.0],
                           "valid": [True, False], "n_valid": [31, 20], "n_required": [27, 25],
                           "detail": ["", "20 valid days, needs 25"]})
    fig = monthly_bars(months, pollutant="NO2", unit="µg/m³", decimals=0, reference=40.0,
                       reference_name="annual limit")
    go.Figure(fig.to_dict())
    assert [s.layer for s in fig.layout.shapes] == ["between"]      # under the bars and labels
    assert fig.data[0].textfont.shadow == LABEL_HALO                # 38's label over the 40 line
    stations = pd.DataFrame({"name": ["A", "B", "area"], "reported": [39.0, 45.0, 42.0],
                             "valid": [True, True, True], "n_valid": [300] * 3,
                             "n_required": [324] * 3, "is_area": [False, False, True]})
    fig = station_bars(stations, pollutant="NO2", unit="µg/m³", decimals=0, limit=40.0,
                       limit_name="limit", target=37.0, target_name="target")
    go.Figure(fig.to_dict())
    assert [s.layer for s in fig.layout.shapes] == ["between", "between"]
    assert fig.data[0].textfont.shadow == LABEL_HALO


def test_public_pm25_lines_lie_under_halo_labels():
    from dashboard.figures import LABEL_HALO
    from dashboard.figures.public import pm25_bars

    fig = pm25_bars(pd.DataFrame({"area": ["a", "b"], "reported": [33.0, 20.0]}),
                    {"a": "A区", "b": "B区"}, limit=35.0, who=5.0, lang="zh", title="t",
                    empty_message="e", limit_label="国家二级标准", who_label="WHO")
    go.Figure(fig.to_dict())
    assert [s.layer for s in fig.layout.shapes] == ["between", "between"]
    assert fig.data[0].textfont.shadow == LABEL_HALO
    assert fig.data[0].marker.opacity < 1                           # lines show through


# -- §13 districts in the site file's order --------------------------------------------

def test_overview_heatmap_keeps_the_site_file_order():
    from dashboard.figures.overview import standing_heatmap
    from indicators.targets import ENDED, NOT_MET

    names = {"dongcheng": "东城区", "xicheng": "西城区", "chaoyang": "朝阳区", "changping": "昌平区"}
    rows = []
    for area in ("changping", "chaoyang", "dongcheng", "xicheng"):        # pinyin order
        rows.append(dict(area=area, pollutant="PM2.5", statistic="annual_mean", reported=70.0,
                         target=np.nan, national_limit=35.0, binding=35.0,
                         binding_basis="national", basis="national", period_kind=ENDED,
                         verdict=NOT_MET, verdict_target=None, verdict_national=NOT_MET))
    fig = standing_heatmap(pd.DataFrame(rows), names, "zh")
    assert list(fig.data[0].y) == ["东城区", "西城区", "朝阳区", "昌平区"]


@pytest.mark.realdata
def test_exceedance_grid_keeps_the_site_file_order(beijing_app):
    from config.sites import load_site_config
    from dashboard import ids
    from dashboard.pages import exceedances as page
    from tests.dash_helpers import by_id, render

    site = load_site_config(BEIJING_SITES)
    tree = render(beijing_app, page, city="beijing", year="2016")
    rows = list(by_id(tree, ids.EXCEEDANCES_GRID).figure.data[0].y)
    assert rows[1:] == [d.name_zh for d in site.districts]


# -- §13 no project notes cited to users ------------------------------------------------

def test_no_user_facing_text_cites_standards_md(cli, engine, db_url):
    from dashboard.i18n import strings

    cited = {k: v for k, v in strings().items() if any("standards.md" in s for s in v)}
    assert not cited
    # the command line's help texts are user-facing too
    for command in (["--help"], ["stats", "annual", "--help"], ["rank", "--help"],
                    ["targets", "--help"]):
        result = cli(*command)
        assert result.exit_code == 0 and "standards.md" not in result.output, command


# -- §13 CSS and the phone: navigation, grid headers, chart titles --------------------

def test_grid_filter_icon_follows_its_column_name():
    css = (ASSETS / "style.css").read_text(encoding="utf-8")
    # a right-aligned (numeric) header keeps its icon beside the name, not at the far left
    assert re.search(r"\.ag-right-aligned-header \.ag-cell-label-container \{ *flex-direction: "
                     r"row-reverse;", css)
    assert re.search(r"\.ag-header-cell-filter-button \{[^}]*opacity", css)


def _chromium_page(width: int):
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    p = playwright_api.sync_playwright().start()
    browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": width, "height": 800})
    return p, browser, page


def test_english_navigation_is_one_row_at_1400px():
    from dashboard.pages import load_pages

    css = (ASSETS / "style.css").read_text(encoding="utf-8")
    pages = load_pages()
    links = "".join(f'<a class="lt-nav-link" href="#">{m.NAME_EN}</a>' for m in pages)
    html = f"""<html><head><style>{css}</style></head><body><header class="lt-header">
      <div class="lt-header-inner">
        <div class="lt-brand"><span class="lt-brand-zh">蓝天</span>
          <span class="lt-brand-en">Lantian</span>
          <span class="lt-tagline">Air-quality compliance monitoring</span></div>
        <nav class="lt-nav">{links}</nav>
        <div class="lt-user"><span class="lt-user-name">analyst (analyst · dongcheng)</span>
          <form class="lt-logout"><button class="lt-logout-btn">Sign out</button></form></div>
      </div></header></body></html>"""
    p, browser, page = _chromium_page(1400)
    try:
        page.set_content(html)
        tops = page.evaluate("[...document.querySelectorAll('.lt-nav-link')]"
                             ".map(a => Math.round(a.getBoundingClientRect().top))")
    finally:
        browser.close()
        p.stop()
    assert len(tops) == len(pages) == 12 and len(set(tops)) == 1, tops


def test_chart_titles_wrap_to_the_chart_width():
    """The title wrapper (dashboard/assets/chart-titles.js) breaks a title too wide for a
    phone at its " · " parts first, and never loses a character."""
    script = (ASSETS / "chart-titles.js").read_text(encoding="utf-8")
    p, browser, page = _chromium_page(390)
    try:
        page.set_content("<html><body></body></html>")
        page.add_script_tag(content=script)
        font = {"family": "WenQuanYi Micro Hei, sans-serif", "size": 16}
        cases = {}
        for title in ("东城区 · 2016 年逐月 PM2.5 平均浓度",
                      "万寿西宫 1001A · PM2.5 时间变化（日变化 · 周变化 · 月变化） · 2016 年",
                      "Dongcheng · PM2.5 mean by month, 2016", "短标题"):
            cases[title] = page.evaluate(
                "([t, f]) => { const lines = window.ltWrapTitle(t, 200, f);"
                " const c = document.createElement('canvas').getContext('2d');"
                " c.font = f.size + 'px ' + f.family;"
                " return lines.map(l => [l, c.measureText(l).width]); }", [title, font])
    finally:
        browser.close()
        p.stop()
    for title, lines in cases.items():
        assert all(width <= 200 for _, width in lines), (title, lines)
        joined = "".join(line for line, _ in lines)
        assert re.sub(r"[\s·]", "", joined) == re.sub(r"[\s·]", "", title)
    assert [line for line, _ in cases["东城区 · 2016 年逐月 PM2.5 平均浓度"]][0] == "东城区 ·"
    assert len(cases["短标题"]) == 1


def test_chart_title_script_is_served(engine, db_url):
    from dashboard.app import create_app

    page = create_app(db_url, cache_url="").server.test_client().get("/public")
    assert page.status_code == 200
    assert "chart-titles.js" in page.get_data(as_text=True)

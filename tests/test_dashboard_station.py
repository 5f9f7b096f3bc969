"""Station (站点) page: hourly series with QC flags, time-variation profiles, capture, readings."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard import ids
from dashboard.figures.station import capture_heatmap, hourly_series, variation_profiles
from dashboard.pages import station
from tests.dash_helpers import staff_client, by_id, figure_of, render, routed, text


def _readings(db_url: str, code: str, start: str, end: str) -> pd.DataFrame:
    """The stored hours of one station with flag names, straight from the database."""
    from dashboard.queries import station_readings
    from store.db import make_engine
    engine = make_engine(db_url)
    try:
        return station_readings(engine, code, start, end)
    finally:
        engine.dispose()


EXCLUDED = ("negative", "non_numeric")         # config/qc.yaml exclude_from_statistics


# -- on the real Beijing data -------------------------------------------------------------

@pytest.mark.realdata
def test_diurnal_profile_of_1001a_equals_a_pandas_groupby(beijing_app, beijing_db_url):
    page = render(beijing_app, station, city="beijing", period="month", year="2015",
                  month="3", station="1001A", pollutant="PM2.5")
    assert by_id(page, ids.PAGE_ERROR) is None
    fig = figure_of(page, ids.STATION_PROFILES)
    hour = fig.data[0]
    assert list(hour.x) == [str(h) for h in range(24)]
    raw = _readings(beijing_db_url, "1001A", "2015-03-01", "2015-03-31")
    assert len(raw) == 31 * 24
    counted = raw[~raw["PM2.5_flag"].isin(EXCLUDED)]
    expected = counted.groupby(counted["time"].dt.hour)["PM2.5"].agg(["mean", "count"])
    # the figure carries the means to one decimal more than published (µg/m³ integers)
    np.testing.assert_allclose(np.asarray(hour.y, dtype=float), expected["mean"].to_numpy(),
                               atol=0.05 + 1e-9)
    assert [int(n) for n in hour.customdata] == expected["count"].tolist()
    # weekday and month panels: Monday first; March only
    wd = counted.groupby(counted["time"].dt.day_of_week)["PM2.5"].mean()
    np.testing.assert_allclose(np.asarray(fig.data[1].y, dtype=float), wd.to_numpy(),
                               atol=0.05 + 1e-9)
    month = fig.data[2]
    assert int(month.customdata[2]) == expected["count"].sum()
    assert int(month.customdata[0]) == 0 and np.isnan(month.y[0])


@pytest.mark.realdata
def test_capture_by_month_matches_a_count_of_the_raw_table(beijing_app, beijing_db_url):
    page = render(beijing_app, station, city="beijing", period="year", year="2015",
                  station="1001A", pollutant="PM2.5")
    fig = figure_of(page, ids.STATION_CAPTURE)
    heat = fig.data[0]
    months = list(heat.x)
    assert months == [f"2015-{m:02d}" for m in range(1, 13)]
    row = list(heat.y).index("PM2.5")
    raw = _readings(beijing_db_url, "1001A", "2015-01-01", "2015-12-31")
    # May 2015 has gaps: count its hours with a value that counts
    may = raw[raw["time"].dt.month == 5]
    counted = int((may["PM2.5"].notna() & ~may["PM2.5_flag"].isin(EXCLUDED)).sum())
    assert counted == 698 and len(may) == 744                  # 46 hours flagged missing
    col = months.index("2015-05")
    assert int(heat.customdata[row][col][0]) == counted
    assert int(heat.customdata[row][col][1]) == 31 * 24
    assert heat.z[row][col] == 93.8                            # 698/744 = 93.82 % → 93.8
    # the summary tile adds the months up
    summary = text(by_id(page, ids.STATION_SUMMARY))
    total = int((raw["PM2.5"].notna() & ~raw["PM2.5_flag"].isin(EXCLUDED)).sum())
    assert f"{total:,}" in summary and "8,760 h" in summary


@pytest.mark.realdata
def test_year_view_series_and_readings_table(beijing_app):
    page = render(beijing_app, station, city="beijing", period="year", year="2015",
                  station="1001A", pollutant="PM2.5")
    series = figure_of(page, ids.STATION_SERIES).data[0]
    assert series.type == "scattergl" and len(series.y) == 8760
    assert series.x0 == "2015-01-01T00:00:00" and series.dx == 3_600_000
    assert np.asarray(series.y).dtype == np.float32            # half the payload
    # the table shows one month (the period's last by default), every hour of it
    grid = by_id(page, ids.STATION_READINGS)
    assert len(grid.rowData) == 31 * 24
    assert grid.rowData[0]["time"] == "2015-12-01 00:00"
    assert grid.dashGridOptions["pagination"] is True
    flagged = [r for r in grid.rowData if r["flags"]]
    assert flagged and all("缺测 (missing)" in r["flags"] for r in flagged
                           if "missing" in r["flags"])
    march = render(beijing_app, station, city="beijing", period="year", year="2015",
                   station="1001A", pollutant="PM2.5", rmonth="2015-03")
    assert by_id(march, ids.STATION_READINGS).rowData[0]["time"] == "2015-03-01 00:00"


@pytest.mark.realdata
def test_readings_export_holds_every_hour_of_the_period(beijing_app):
    client = staff_client(beijing_app)
    r = client.get("/export/station-readings.csv?city=beijing&period=month&year=2015&month=5"
                   "&station=1001A&codes=1")
    assert r.status_code == 200
    lines = r.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("station,time,SO2,SO2_flag")
    assert len(lines) == 1 + 31 * 24
    assert sum(",missing," in line or line.endswith(",missing") for line in lines) > 0


@pytest.mark.realdata
def test_station_through_the_router_in_english(beijing_app):
    body = routed(beijing_app, "/station",
                  "?city=beijing&year=2016&period=month&month=7&station=1002A&lang=en")
    assert "Dingling 1002A" in body and "background station" in body


# -- on the synthetic demo (QC defects injected by lantian demo) ------------------------------

def _flagged_choice(db_url: str):
    """(station, pollutant, flags) of 2024 with the most kinds of QC flag."""
    best = None
    for code in [f"SYN{i:02d}" for i in range(1, 10)]:
        raw = _readings(db_url, code, "2024-01-01", "2024-12-31")
        for p in ("SO2", "NO2", "PM10", "PM2.5", "CO", "O3"):
            flags = raw[f"{p}_flag"]
            kinds = sorted(set(flags) - {"ok", "missing"})
            if best is None or len(kinds) > len(best[2]):
                best = (code, p, kinds, raw)
    return best


def test_demo_flagged_values_are_marked_with_their_flag_names(demo_app, demo_db_url):
    code, pollutant, kinds, raw = _flagged_choice(demo_db_url)
    assert len(kinds) >= 2, kinds
    page = render(demo_app, station, city="yangquan-demo", period="year", year="2024",
                  station=code, pollutant=pollutant)
    assert by_id(page, ids.PAGE_SYNTHETIC_BANNER) is not None
    fig = figure_of(page, ids.STATION_SERIES)
    assert fig.layout.title.text.startswith("合成演示数据")
    line = fig.data[0]
    from dashboard.figures.station import flag_label
    for flag in kinds:
        rows = raw[raw[f"{pollutant}_flag"] == flag]
        traces = [tr for tr in fig.data[1:] if tr.name.startswith(flag_label(flag, "zh") + " ·")]
        assert len(traces) == 1, (flag, [tr.name for tr in fig.data])
        tr = traces[0]
        assert tr.mode == "markers" and tr.name.endswith(f"· {len(rows)}")
        assert pd.to_datetime(list(tr.x)).tolist() == rows["time"].tolist()
        assert flag_label(flag, "zh") in tr.hovertemplate
        hours = ((rows["time"] - pd.Timestamp("2024-01-01")) / pd.Timedelta(hours=1)).astype(int)
        if flag in EXCLUDED:
            # excluded values are markers only: never in the line
            assert np.isnan(np.asarray(line.y, dtype=float)[hours.to_numpy()]).all()
            assert "不计入统计" in tr.hovertemplate
        else:
            # still counted: in the line too, at their value
            # (the line carries one decimal more than published: 0.01 mg/m³ CO, 0.1 µg/m³)
            np.testing.assert_allclose(np.asarray(line.y, dtype=float)[hours.to_numpy()],
                                       rows[pollutant].to_numpy(),
                                       atol=0.0051 if pollutant == "CO" else 0.051)
    # the readings table and the summary tile say so too
    summary = text(by_id(page, ids.STATION_SUMMARY))
    n_flagged = int((~raw[f"{pollutant}_flag"].isin(["ok", "missing"])).sum())
    assert f"{n_flagged:,}" in summary


def test_demo_station_defaults_and_bad_url_values(demo_app):
    page = render(demo_app, station, city="yangquan-demo", year="2024", station="nowhere",
                  pollutant="PM1", lang="en")
    words = text(page)
    assert "Unknown station" in words and "Unknown pollutant" in words
    # the first station of the city, PM2.5
    assert "Chengqu synthetic 1 SYN01 · PM2.5" in words
    assert by_id(page, ids.PAGE_ERROR) is None


def test_demo_month_view_table_without_month_selector(demo_app):
    page = render(demo_app, station, city="yangquan-demo", period="month", year="2025",
                  month="2", station="SYN05", pollutant="CO")
    grid = by_id(page, ids.STATION_READINGS)
    assert len(grid.rowData) == 28 * 24
    assert "表格月份" not in text(by_id(page, ids.STATION_READINGS_CARD))
    assert "CO (mg/m³)" in [c["headerName"] for c in grid.columnDefs]


# -- figures without a browser ------------------------------------------------------------------

def _toy_readings():
    t = pd.date_range("2024-01-01", periods=6, freq="h")
    return pd.DataFrame({"time": t, "NO2": [10.0, 12.0, -3.0, np.nan, 300.0, 11.0],
                         "NO2_flag": ["ok", "ok", "negative", "non_numeric", "spike", "ok"]})


def test_hourly_series_marks_flags_and_leaves_gaps():
    fig = hourly_series(_toy_readings(), pollutant="NO2", start="2024-01-01", end="2024-01-01",
                        unit="µg/m³", decimals=0, lang="zh")
    line = np.asarray(fig.data[0].y, dtype=float)
    assert len(line) == 24
    assert line[:2].tolist() == [10.0, 12.0] and np.isnan(line[2:4]).all()
    assert line[4] == 300.0 and line[5] == 11.0 and np.isnan(line[6:]).all()
    names = {tr.name: tr for tr in fig.data[1:]}
    assert set(names) == {"负值 · 1", "非数值 · 1", "突变 · 1"}
    assert list(names["负值 · 1"].y) == [-3.0]
    assert list(names["非数值 · 1"].y) == [0.0]        # no value: drawn at 0
    assert names["非数值 · 1"].customdata[0] == "无数值"
    en = hourly_series(_toy_readings(), pollutant="NO2", start="2024-01-01", end="2024-01-01",
                       unit="µg/m³", lang="en")
    assert {tr.name for tr in en.data[1:]} == {"negative · 1", "non-numeric · 1", "spike · 1"}


def test_profile_and_capture_figures():
    from indicators.variation import capture_by_month, time_variation
    hourly = _toy_readings().assign(station="S")
    hourly.loc[hourly["NO2_flag"].isin(EXCLUDED), "NO2"] = np.nan
    fig = variation_profiles(time_variation(hourly, ["NO2"]), pollutant="NO2", unit="µg/m³",
                             decimals=0, lang="en")
    assert [tr.xaxis for tr in fig.data] == ["x", "x2", "x3"]
    assert list(fig.data[1].x) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert fig.data[1].y[0] == round((10 + 12 + 300 + 11) / 4, 1)   # 2024-01-01 was a Monday
    cap = capture_by_month(hourly, "2024-01-01", "2024-01-31")
    heat = capture_heatmap(cap, lang="en").data[0]
    assert heat.z[0][0] == 0.5                                         # 4 / 744 h = 0.54 %
    assert "No hourly values" in variation_profiles(
        time_variation(hourly.iloc[:0], ["NO2"]), pollutant="NO2", unit="µg/m³",
        lang="en").layout.annotations[0].text

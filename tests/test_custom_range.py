"""A custom date range shows the statistics of exactly that range (standards.md §7), marked
as not a standard evaluation period: never the year to date of its end."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from indicators import pipeline
from tests.dash_helpers import render, text


def _daily(dates, values, pollutant="PM2.5"):
    n = len(dates)
    return pd.DataFrame({
        "level": "station", "area": "S1", "date": pd.to_datetime(dates), "pollutant": pollutant,
        "value": np.asarray(values, dtype=float), "reported": np.asarray(values, dtype=float),
        "valid": True, "n_valid": 24, "n_required": 20, "profile": "cn-2012"})


def test_a_range_across_new_year_is_the_arithmetic_of_its_own_days():
    """Hand-checked: 2015-12-30 … 2016-01-02 (4 days, 10 20 30 40) has the mean 25 (the
    year to date of its end, 2016-01-01 … 01-02, would say 35); a day outside the range
    (2016-01-03, 1000) is left out. The capture rule is the year's pro rata (⌈324 × 4/365⌉
    = 4 days; December days 30–31 and January days 1–2 each ⌈27 × 2/31⌉ = 2): met, yet the
    figure stays provisional, and a range is never judged for compliance."""
    days = pd.date_range("2015-12-30", periods=5, freq="D")
    daily = _daily(days, [10, 20, 30, 40, 1000])
    stats = pipeline.period_table(daily, None, period="range",
                                  ytd_end=np.datetime64("2016-01-02"),
                                  range_start=np.datetime64("2015-12-30"))
    row = stats[(stats["pollutant"] == "PM2.5") & (stats["statistic"] == "annual_mean")].iloc[0]
    assert row["period"] == "2015-12-30..2016-01-02"
    assert row["value"] == 25.0 and row["reported"] == 25.0
    assert row["n_valid"] == 4 and row["n_required"] == 4 and row["valid"]
    assert row["detail"].startswith("provisional: not a standard evaluation period, "
                                    "2015-12-30 to 2016-01-02")
    assert "compliance" not in set(stats["statistic"])
    ytd = pipeline.period_table(daily, None, period="ytd", ytd_end=np.datetime64("2016-01-02"))
    ytd_mean = ytd[(ytd["pollutant"] == "PM2.5") & (ytd["statistic"] == "annual_mean")]
    assert ytd_mean["value"].iloc[0] == 35.0


def test_the_range_rule_is_the_year_rule_pro_rata_with_partial_months():
    """2016-03-15 … 2016-05-10: 57 days of the 365 from 2016-03-15, so ⌈324 × 57/365⌉ = 51
    valid days; March counts days 15–31 (⌈27 × 17/31⌉ = 15), May days 1–10 (⌈27 × 10/31⌉ =
    9). A range with every day valid is valid."""
    days = pd.date_range("2016-03-15", "2016-05-10", freq="D")
    stats = pipeline.period_table(_daily(days, np.full(len(days), 50.0)), None, period="range",
                                  ytd_end=np.datetime64("2016-05-10"),
                                  range_start=np.datetime64("2016-03-15"))
    row = stats[(stats["pollutant"] == "PM2.5") & (stats["statistic"] == "annual_mean")].iloc[0]
    assert row["n_required"] == 51 and row["n_valid"] == 57 and row["valid"]
    assert "≥51 valid days (324 × 57/365 days, rounded up)" in row["rule"]
    gappy = days[(days.month != 3) | (days.day > 20)]          # March: days 21–31 only = 11
    stats = pipeline.period_table(_daily(gappy, np.full(len(gappy), 50.0)), None,
                                  period="range", ytd_end=np.datetime64("2016-05-10"),
                                  range_start=np.datetime64("2016-03-15"))
    row = stats[(stats["pollutant"] == "PM2.5") & (stats["statistic"] == "annual_mean")].iloc[0]
    assert not row["valid"]
    assert "2016-03 (days 15–31): 11 valid days, needs 15" in row["detail"]


@pytest.mark.realdata
def test_the_station_page_shows_the_mean_of_the_whole_range(beijing_app, beijing_db_url):
    """The reported case: 1001A PM2.5 from 2016-03-01 to 2017-02-28 showed 107 (January and
    February 2017 only); the range's mean is the mean of its valid daily values, 86."""
    from dashboard.pages import station
    from evaluation import snapshot
    from evaluation.city_year import daily_between
    from store.db import make_engine
    engine = make_engine(beijing_db_url)
    try:
        daily, _ = daily_between(snapshot(engine), "beijing", "2016-03-01", "2017-02-28")
    finally:
        engine.dispose()
    pm = daily[(daily["level"] == "station") & (daily["area"] == "1001A")
               & (daily["pollutant"] == "PM2.5") & daily["valid"].astype(bool)]
    expected = pm["reported"].astype(float).mean()
    assert round(expected) == 86 and len(pm) > 300
    tree = render(beijing_app, station, city="beijing", station="1001A", period="range",
                  **{"from": "2016-03-01", "to": "2017-02-28"})
    shown = text(tree)
    assert "86  µg/m³ PM2.5 平均浓度" in shown
    assert "107" not in shown.split("PM2.5 平均浓度")[0][-20:]


@pytest.mark.realdata
def test_range_pages_say_it_is_not_a_standard_period(beijing_app):
    from dashboard.pages import district, ranking
    query = {"city": "beijing", "period": "range", "from": "2016-03-01", "to": "2017-02-28"}
    for module, extra in ((district, {"district": "dongcheng"}), (ranking, {})):
        zh = text(render(beijing_app, module, **query, **extra))
        assert "非 HJ 663 标准评价时段" in zh
        assert "2016-03-01 至 2017-02-28" in zh
        assert "年初至今结果" not in zh
        en = text(render(beijing_app, module, **query, **extra, lang="en"))
        assert "not an HJ 663 evaluation period" in en

"""Public page (/public): latest day's AQI and advice, year to date, ranking, no staff data."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from dashboard import ids
from dashboard.figures.public import aqi_strip, pm25_bars
from dashboard.pages import public
from indicators.ranking import change_text
from tests.dash_helpers import staff_client, by_id, dump, of_type, render, route, text, walk

BEIJING_DISTRICTS = ("dongcheng", "xicheng", "chaoyang", "haidian", "shijingshan",
                     "changping", "huairou", "shunyi")


def _tiles(tree) -> dict:
    """Name → (AQI text, category text) of the AQI tiles."""
    out = {}
    for c in walk(by_id(tree, ids.PUBLIC_TODAY)):
        if "lt-pub-aqi " in (getattr(c, "className", "") or "") + " ":
            name, value, category = (text(x) for x in c.children[:3])
            out[name] = (value, category)
    return out


def _independent_day(url: str, day: date) -> pd.DataFrame:
    """The day's district and city AQI straight from the database: hourly values →
    ``indicators.pipeline.daily_and_aqi`` (no dashboard query, no cache)."""
    from sqlalchemy import create_engine

    from indicators import pipeline
    from store.frames import hourly_frame, membership, station_table
    engine = create_engine(url)
    with engine.connect() as conn:
        members = membership(conn, "beijing")
        codes = station_table(conn).query("city == 'beijing'")["code"]
        hourly = hourly_frame(conn, stations=codes, start=np.datetime64("2017-02-20T00:00:00"),
                              end=np.datetime64("2017-02-28T23:00:00"))
    engine.dispose()
    _daily, aqi = pipeline.daily_and_aqi(hourly, members)
    return aqi[(aqi["date"] == pd.Timestamp(day)) & aqi["level"].isin(["district", "city"])]


@pytest.mark.realdata
def test_latest_day_aqi_and_advice_match_an_independent_computation(beijing_app,
                                                                    beijing_db_url):
    tree = render(beijing_app, public, city="beijing")
    assert "2017-02-28" in text(by_id(tree, ids.PUBLIC_STATUS))
    expected = _independent_day(beijing_db_url, date(2017, 2, 28))
    tiles = _tiles(tree)
    names = {"dongcheng": "东城区", "xicheng": "西城区", "chaoyang": "朝阳区",
             "haidian": "海淀区", "shijingshan": "石景山区", "changping": "昌平区",
             "huairou": "怀柔区", "shunyi": "顺义区", "beijing": "全市"}
    assert set(tiles) == set(names.values())
    levels = {}
    for row in expected.itertuples(index=False):
        value, category = tiles[names[row.area]]
        assert value == str(int(row.aqi)) and category == row.category_zh, row.area
        levels.setdefault(int(row.level_no), []).append(names[row.area])
    # hand-checked values of that day (district AQI 32 … 58, the city 44)
    assert tiles["全市"] == ("44", "优") and tiles["怀柔区"] == ("58", "良")
    # one advice block per level of the day, with the HJ 633 texts and the areas at it
    blocks = by_id(tree, ids.PUBLIC_ADVICE).children
    assert len(blocks) == len(levels) == 2
    for block, (level, areas) in zip(blocks, sorted(levels.items())):
        effects, measures = public.ADVICE[level][0]
        body = text(block)
        assert effects in body and measures in body
        assert set(text(block.children[1]).split("、")) == set(areas)
    assert "空气质量令人满意，基本无空气污染" in text(blocks[0])
    assert "极少数异常敏感人群应减少户外活动" in text(blocks[1])


@pytest.mark.realdata
def test_ytd_tiles_equal_stats_with_change(beijing_app):
    from dashboard.queries import stats_with_change
    from dashboard.state import resolve
    tree = render(beijing_app, public, city="beijing")
    with beijing_app.server.test_request_context():
        from dashboard.context import current_engine
        from dashboard.queries import catalog
        engine = current_engine()
        cat = catalog(engine)
        view = resolve({"city": "beijing", "period": "ytd", "year": "2017"}, cat.city_ids(),
                       cat.spans, "beijing")
        stats = stats_with_change(engine, view)
    assert view.end == date(2017, 2, 28)
    city = stats[(stats["level"] == "city")]
    tiles = by_id(tree, ids.PUBLIC_YTD)
    shown = text(tiles)
    assert "2017 年初至 02-28" in shown
    for pollutant, statistic in (("AQI", "good_day_ratio"), ("AQI", "heavy_days"),
                                 ("PM2.5", "annual_mean")):
        row = city[(city["pollutant"] == pollutant) & (city["statistic"] == statistic)].iloc[0]
        assert f"{row['reported']:g}" in shown
        assert f"去年同期 {row['previous_reported']:g}" in shown
        # the change in its unit: points for the ratio, days for a count, % for PM2.5
        assert change_text(row["change"], row["change_kind"], "zh", arrow=True) in shown
    # hand-checked: the good-day ratio 54.4 % (76.3 % a year earlier), 14 heavy days (5)
    assert "54.4" in shown and "76.3" in shown and "14" in shown
    assert "变化 ▼21.9 个百分点" in shown and "变化 ▲9 天" in shown       # not ▼28.7%, ▲180%


@pytest.mark.realdata
def test_rankings_follow_ranking_rows(beijing_app):
    tree = render(beijing_app, public, city="beijing")
    month = text(by_id(tree, ids.PUBLIC_RANK_MONTH))
    ytd = text(by_id(tree, ids.PUBLIC_RANK_YTD))
    assert month.startswith("2017 年 2 月") and ytd.startswith("2017 年初至今")
    # composite index, ascending; Shijingshan's fails a capture rule in both periods: it is
    # ranked all the same, marked provisional (standards.md §7)
    assert "1 怀柔区 4.89" in month and "1 怀柔区 6.08" in ytd
    assert "5 暂定 石景山区 6.42" in month and "6 暂定 石景山区 8.21" in ytd
    assert "4 西城区 6.40" in month                   # the index to 0.01, as published
    assert "数据不足" not in month + ytd


@pytest.mark.realdata
def test_no_staff_data_in_the_page(beijing_app):
    for lang in ("zh", "en"):
        body = dump(route(staff_client(beijing_app), "/public",
                          f"?city=beijing&lang={lang}"))
        assert "page-error" not in body and "public-today" in body
        # no station code, no local target, no validity ledger ("有效 23 天，应有 27 天")
        for word in ("1001A", "1012A", "目标", "target", "Target", "有效天", "应有",
                     "valid days", "needs"):
            assert word not in body, (lang, word)
        # the controls: the city only
        assert body.count('"type": "lt-control"') == 1


@pytest.mark.realdata
def test_english_switch(beijing_app):
    tree = render(beijing_app, public, city="beijing", lang="en")
    assert by_id(tree, ids.PAGE).lang == "en"
    tiles = _tiles(tree)
    assert tiles["City"] == ("44", "Good") and tiles["Huairou"] == ("58", "Moderate")
    advice = text(by_id(tree, ids.PUBLIC_ADVICE))
    assert public.ADVICE[1][1][0] in advice and public.ADVICE[2][1][1] in advice
    assert "not audited" in text(by_id(tree, ids.PUBLIC_STATUS))
    assert by_id(tree, ids.PAGE_LANG).href.endswith("/public?city=beijing")
    zh = render(beijing_app, public, city="beijing")
    assert by_id(zh, ids.PAGE_LANG).href.endswith("/public?city=beijing&lang=en")
    assert "仅供参考" in text(by_id(zh, ids.PUBLIC_STATUS))


def test_demo_shows_the_synthetic_banner(demo_app):
    tree = render(demo_app, public, city="yangquan-demo")
    assert by_id(tree, ids.PAGE_SYNTHETIC_BANNER) is not None
    assert "SYNTHETIC" in text(by_id(tree, ids.PAGE_SYNTHETIC_BANNER))
    assert by_id(tree, ids.PAGE_ERROR) is None
    titles = [g.figure.layout.title.text for g in of_type(tree, "Graph")]
    # the "now" strip and station map, the PM2.5 bars and the 30-day strip
    assert len(titles) == 4 and all(x.startswith("合成演示数据 — ") for x in titles)
    assert "合成演示数据" in text(by_id(tree, ids.PUBLIC_NOW))
    body = dump(tree)
    for word in ("目标", "target"):
        assert word not in body


def test_advice_has_six_levels_in_both_languages():
    assert sorted(public.ADVICE) == [1, 2, 3, 4, 5, 6]
    assert public.advice(6, "zh")[1] == "儿童、老年人和病人应当留在室内，避免体力消耗，一般人群应避免户外活动"
    assert public.advice(3, "en")[1].startswith("Children, the elderly")


def test_latest_complete_day_and_month():
    aqi = pd.DataFrame({"level": ["city"] * 3, "area": ["c"] * 3,
                        "date": pd.to_datetime(["2026-11-26", "2026-11-27", "2026-11-28"]),
                        "aqi": pd.array([40, 55, pd.NA], dtype="Int64")})
    # the last day has no valid AQI yet (still being measured): the day before
    assert public.latest_complete_day(aqi, "c", date(2026, 11, 28)) == date(2026, 11, 27)
    assert public.latest_complete_month(date(2017, 2, 28), date(2013, 3, 1)) == (2017, 2)
    assert public.latest_complete_month(date(2026, 11, 27), date(2024, 1, 1)) == (2026, 10)
    assert public.latest_complete_month(date(2024, 1, 20), date(2024, 1, 1)) is None


def test_figures():
    names = {"a": "A区", "b": "B区"}
    strip = pd.DataFrame({"level": "district", "area": ["a", "b", "a"],
                          "date": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-02"]),
                          "aqi": pd.array([40, 160, 320], dtype="Int64")})
    fig = aqi_strip(strip, names, "zh", "t", "empty")
    trace = fig.data[0]
    assert list(trace.y) == ["A区", "B区"] and (trace.zmin, trace.zmax) == (0, 500)
    assert trace.z[0] == [40.0, 320.0] and np.isnan(trace.z[1][1])
    bars = pm25_bars(pd.DataFrame({"area": ["a", "b"], "reported": [40.0, 20.0]}), names,
                     limit=35.0, who=5.0, lang="zh", title="t", empty_message="e",
                     limit_label="国家二级标准", who_label="WHO")
    assert [s.x0 for s in bars.layout.shapes] == [35.0, 5.0]
    assert list(bars.data[0].y) == ["B区", "A区"]
    empty = aqi_strip(strip.iloc[:0], names, "zh", "t", "无数据")
    assert empty.layout.annotations[0].text == "无数据"

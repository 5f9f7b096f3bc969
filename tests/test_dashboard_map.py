"""Map (地图) page and its figure: stations at their coordinates, coloured by AQI or statistic."""
from __future__ import annotations

import dataclasses
import json
import re
from datetime import date

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import ids
from dashboard.figures import NO_DATA_COLOR
from dashboard.figures.map import (POINT_COLUMNS, RATIO_MAX, core_of, district_outlines,
                                   ratio_colours, station_map)
from dashboard.pages import map as map_page
from tests.dash_helpers import staff_client, by_id, dump, render, route, text

#: HJ 633 levels and colours (standards.md §5), written out here rather than imported.
LEVELS = [(50, "#00E400"), (100, "#FFFF00"), (150, "#FF7E00"), (200, "#FF0000"),
          (300, "#99004C"), (10_000, "#7E0023")]
URL = re.compile(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", re.I)


def level_colour(aqi) -> str:
    return next(colour for upper, colour in LEVELS if aqi <= upper)


def graph_of(page):
    graph = by_id(page, ids.MAP_GRAPH)
    assert graph is not None, "no map on the page"
    return graph.figure


def station_colours(fig, panel: str = "main") -> dict:
    """Station code → (fill colour, symbol, text) of the markers of one panel."""
    out = {}
    for trace in fig.data:
        meta = trace.meta or {}
        if meta.get("panel") != panel:
            continue
        for code, colour, label in zip(meta["codes"], trace.marker.color, trace.text):
            out[code] = (colour, trace.marker.symbol, label)
    return out


# -- the figure on its own --------------------------------------------------------------

def _points(**over) -> pd.DataFrame:
    base = {
        "code": ["A1", "A2", "A3", "B1", "B2", "C1", "C2"],
        "name": ["a1", "a2", "a3", "b1", "b2", "c1", "c2"],
        "district": ["a", "a", "a", "b", "b", "c", "c"],
        "district_name": ["区甲", "区甲", "区甲", "区乙", "区乙", "区丙", "区丙"],
        "role": ["evaluation", "evaluation", "evaluation", "evaluation", "background",
                 "evaluation", "evaluation"],
        "lon": [116.40, 116.42, 116.41, 116.60, 116.62, 116.10, 116.12],
        "lat": [39.90, 39.91, 39.92, 40.20, 40.25, 39.70, 39.72],
        "value": [30.0, 75.0, 120.0, 180.0, 250.0, 350.0, np.nan],
        "text": ["30", "75", "120", "180", "250", "350", "—"],
        "ratio": [np.nan] * 7,
        "usable": [True, True, True, True, True, True, False],
        "hover": [f"h{i}" for i in range(7)],
    }
    base.update(over)
    return pd.DataFrame(base)


def test_aqi_markers_take_the_level_colours_and_missing_values_are_grey():
    fig = station_map(_points(), mode="aqi", lang="zh", inset=False)
    got = station_colours(fig)
    expect = {"A1": "#00E400", "A2": "#FFFF00", "A3": "#FF7E00", "B1": "#FF0000",
              "B2": "#99004C", "C1": "#7E0023", "C2": NO_DATA_COLOR}
    assert {c: v[0] for c, v in got.items()} == expect
    # the background station is a diamond, the others circles
    assert got["B2"][1] == "diamond" and got["A1"][1] == "circle"
    # a legend of the six levels (names and ranges), the station kinds and "no data"
    legend = [t.name for t in fig.data if t.showlegend is not False and t.x == (None,)]
    assert legend[:2] == ["评价点", "对照点"]
    assert "优 0–50" in legend and "良 51–100" in legend and "严重污染 >300" in legend
    assert legend[-1] == "无有效数据"
    # the specification is valid plotly (the page builds it unvalidated, for speed)
    go.Figure(fig.to_dict())


def test_ratio_mode_colours_follow_the_scale_and_say_where_the_limit_is():
    pts = _points(ratio=[0.0, 0.5, 1.0, 2.0, 3.0, 9.0, np.nan])
    fig = station_map(pts, mode="ratio", lang="en", colorbar_title="÷ limit", inset=False)
    got = station_colours(fig)
    assert got["A1"][0] == "rgb(27, 127, 59)"           # 0: the scale's green end
    assert got["A3"][0] == "rgb(254, 224, 139)"         # 1: at the limit, yellow
    assert got["C1"][0] == got["B2"][0] == "rgb(126, 0, 35)"   # ≥ 3 capped at the dark end
    assert got["C2"][0] == NO_DATA_COLOR
    bar = [t for t in fig.data if t.marker.showscale]
    assert len(bar) == 1 and bar[0].marker.cmax == RATIO_MAX
    assert list(bar[0].marker.colorbar.tickvals)[2] == 1
    assert ratio_colours([np.nan]) == [NO_DATA_COLOR]
    go.Figure(fig.to_dict())


def test_map_is_a_plain_cartesian_scatter_with_equal_kilometres():
    fig = station_map(_points(), inset=False)
    spec = fig.to_dict()
    assert {t["type"] for t in spec["data"]} == {"scatter"}
    assert "geo" not in spec["layout"] and "mapbox" not in spec["layout"] \
        and "map" not in spec["layout"]
    assert not URL.search(json.dumps(spec))
    y = spec["layout"]["yaxis"]
    # one degree of latitude is 110.57 km, of longitude 111.32 km × cos(latitude)
    lat0 = np.mean(_points()["lat"])
    assert y["scaleanchor"] == "x"
    assert y["scaleratio"] == pytest.approx(110.57 / (111.32 * np.cos(np.radians(lat0))))


def test_district_outlines_enclose_their_stations():
    pts = _points()
    outlines = district_outlines(pts, radius_km=1.0)
    assert set(outlines) == {"a", "b", "c"}
    for district, (xs, ys) in outlines.items():
        assert xs[0] == xs[-1] and ys[0] == ys[-1]            # closed
        part = pts[pts["district"] == district]
        assert xs.min() < part["lon"].min() and xs.max() > part["lon"].max()
        assert ys.min() < part["lat"].min() and ys.max() > part["lat"].max()


def test_crowded_centre_gets_an_enlarged_inset():
    lon = np.array([116.40, 116.41, 116.42, 116.41, 116.90, 116.00])
    lat = np.array([39.90, 39.91, 39.90, 39.89, 40.40, 40.30])
    core = core_of(lon, lat)
    assert core.tolist() == [True, True, True, True, False, False]
    # stations far apart: nothing to enlarge
    assert core_of(np.array([116.0, 116.5, 117.0]), np.array([39.5, 40.0, 40.5])) is None
    pts = _points(lon=[116.40, 116.41, 116.42, 116.41, 116.42, 116.90, 116.00],
                  lat=[39.90, 39.91, 39.90, 39.89, 39.92, 40.40, 40.30])
    fig = station_map(pts)
    assert fig.layout.xaxis2.domain == (0.53, 1)
    assert set(station_colours(fig, "inset")) == {"A1", "A2", "A3", "B1", "B2"}
    assert set(station_colours(fig, "main")) == set(pts["code"])


def test_no_points_says_so():
    fig = station_map(pd.DataFrame(columns=list(POINT_COLUMNS)), empty_message="没有站点")
    assert fig.layout.annotations[0].text == "没有站点"


# -- the page on the real Beijing data ------------------------------------------------------

def _independent_station_aqi(beijing_db_url, start: str, end: str) -> pd.DataFrame:
    """Daily AQI of every Beijing station from the hourly rows, through indicators'
    public functions (not the dashboard's queries or cache)."""
    from indicators.aqi import daily_aqi
    from indicators.averaging import daily_values
    from store.db import make_engine
    from store.frames import hourly_frame, station_table

    engine = make_engine(beijing_db_url)
    with engine.connect() as conn:
        codes = station_table(conn).query("city == 'beijing'")["code"]
        hourly = hourly_frame(conn, stations=codes, start=np.datetime64(f"{start}T00:00:00"),
                              end=np.datetime64(f"{end}T23:00:00"))
    engine.dispose()
    aqi = daily_aqi(daily_values(hourly))
    return aqi[aqi["level"] == "station"]


@pytest.mark.realdata
def test_beijing_markers_are_the_level_colours_of_each_stations_aqi(beijing_app, beijing_db_url):
    page = render(beijing_app, map_page, city="beijing", period="month", year="2015", month="1")
    fig = graph_of(page)
    got = station_colours(fig)
    assert len(got) == 12                                  # every station of the site file
    # the crowded city centre is enlarged beside the whole map, with the same colours;
    # there (only) its stations carry their value
    inset = station_colours(fig, "inset")
    assert {"1003A", "1004A", "1001A", "1006A"} <= set(inset)
    assert all(inset[c][0] == got[c][0] and got[c][2] == "" for c in inset)
    aqi = _independent_station_aqi(beijing_db_url, "2015-01-01", "2015-01-31")
    for code, (colour, symbol, label) in got.items():
        label = inset[code][2] if code in inset else label
        rows = aqi[(aqi["area"] == code) & aqi["aqi"].notna()].sort_values("date")
        last = rows.iloc[-1]                               # 31 January, or the last valid day
        assert colour == level_colour(int(last["aqi"])) == last["colour"], code
        assert label == str(int(last["aqi"]))
        assert symbol == ("diamond" if code == "1002A" else "circle")
    # the 31st itself: every station has a valid AQI that day
    day = aqi[aqi["date"] == pd.Timestamp("2015-01-31")].set_index("area")["aqi"]
    assert day.notna().all() and len(day) == 12
    assert {c: v[0] for c, v in got.items()} == {c: level_colour(int(v)) for c, v in day.items()}
    assert "2015-01-31" in fig.layout.title.text
    table = text(by_id(page, ids.MAP_TABLE))
    assert "万寿西宫" in table and "对照点" in table
    assert by_id(page, ids.MAP_MISSING) is None


@pytest.mark.realdata
def test_beijing_pm25_is_coloured_against_the_annual_limit(beijing_app):
    page = render(beijing_app, map_page, city="beijing", year="2015", stat="PM2.5", lang="en")
    fig = graph_of(page)
    got = station_colours(fig)
    # Wanshouxigong (1001A): 2015 PM2.5 mean 84 µg/m³ = 2.40 × the Grade II limit 35
    colour, _symbol, _label = got["1001A"]
    assert station_colours(fig, "inset")["1001A"][2] == "84"
    assert colour == ratio_colours([84 / 35])[0]
    hover = {c: h for t in fig.data if (t.meta or {}).get("panel") == "main"
             for c, h in zip(t.meta["codes"], t.customdata)}
    assert "2.40 × the limit" in hover["1001A"] and "Limit: 35 µg/m³" in hover["1001A"]
    # a station whose year is not valid is grey, with the validity ledger's reason
    table = text(by_id(page, ids.MAP_TABLE))
    assert "insufficient data" in table
    greys = [c for c, v in got.items() if v[0] == NO_DATA_COLOR]
    assert greys and all("insufficient data" in hover[c] for c in greys)
    bar = [t for t in fig.data if t.marker.showscale]
    assert bar and bar[0].marker.colorbar.title.text == "÷ limit"


@pytest.mark.realdata
def test_map_through_the_router_has_no_external_address(beijing_app):
    client = staff_client(beijing_app)
    for search in ("?city=beijing&year=2015", "?city=beijing&year=2016&stat=composite&lang=en"):
        body = dump(route(client, "/map", search))
        assert "page-error" not in body and ids.MAP_GRAPH in body
        assert not URL.search(body), URL.search(body)
        assert "topojson" not in body.lower() and "mapbox" not in body.lower()
    page = client.get("/map?city=beijing").get_data(as_text=True)
    assert not URL.search(page)


@pytest.mark.realdata
def test_unknown_stat_falls_back_to_the_aqi_with_a_notice(beijing_app):
    page = render(beijing_app, map_page, city="beijing", year="2015", stat="'; DROP TABLE x")
    assert "未知着色指标" in text(by_id(page, ids.MAP_NOTICES))
    assert "AQI" in graph_of(page).layout.title.text


# -- the demo (synthetic) city ----------------------------------------------------------------

def test_demo_map_is_labelled_synthetic_and_provisional_values_are_coloured(demo_app):
    page = render(demo_app, map_page, city="yangquan-demo", period="ytd", year="2025",
                  stat="NO2")
    assert by_id(page, ids.PAGE_SYNTHETIC_BANNER) is not None
    fig = graph_of(page)
    assert "SYNTHETIC" in fig.layout.title.text
    got = station_colours(fig)
    assert len(got) == 9
    # year-to-date statistics are provisional, not "insufficient": they are coloured
    assert all(v[0] != NO_DATA_COLOR for v in got.values())
    assert "临时结果" in text(by_id(page, ids.MAP_NOTE))


def test_stations_without_coordinates_are_listed_not_dropped(demo_app):
    from dashboard.context import current_engine
    from dashboard.queries import catalog
    from dashboard.state import resolve

    with demo_app.server.test_request_context():
        engine = current_engine()
        cat = catalog(engine)
        stations = cat.stations.copy()
        lost = stations["code"].isin(["SYN09", "SYN06"])
        stations.loc[lost, ["lon", "lat"]] = np.nan
        cat = dataclasses.replace(cat, stations=stations)
        view = resolve({"city": "yangquan-demo", "year": "2025", "period": "month",
                        "month": "3"}, cat.city_ids(), cat.spans, page_keys=("stat",))
        body = map_page.body(view, cat, engine)
        fig = graph_of(body)
        assert set(station_colours(fig)) == {f"SYN0{i}" for i in range(1, 9)} - {"SYN06"}
        missing = text(by_id(body, ids.MAP_MISSING))
        assert "SYN09" in missing and "SYN06" in missing and "2 个站点没有坐标" in missing
        assert "盂县合成站" in missing
        # none located: no map, and the list still says which
        stations.loc[:, ["lon", "lat"]] = np.nan
        body = map_page.body(view, dataclasses.replace(cat, stations=stations), engine)
        assert by_id(body, ids.MAP_GRAPH) is None and by_id(body, ids.MAP_EMPTY) is not None
        assert "9 个站点没有坐标" in text(by_id(body, ids.MAP_MISSING))


def test_export_lists_every_station(demo_app):
    client = staff_client(demo_app)
    response = client.get("/export/map.csv?city=yangquan-demo&year=2025&period=year&codes=1")
    assert response.status_code == 200
    frame = pd.read_csv(pd.io.common.BytesIO(response.data), encoding="utf-8-sig")
    assert len(frame) == 9 and {"code", "lon", "lat", "aqi", "date"} <= set(frame.columns)
    # the demo ends on 30 June 2025: the year's map shows that day's AQI
    assert frame["date"].max() == date(2025, 6, 30).isoformat()
    assert frame["aqi"].notna().all()

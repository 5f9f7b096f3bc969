"""Where people see the real-time AQI (issue 17): the public page's "now", the station
page's hourly AQI beside the published one, the map's latest-hour mode and today's hourly
exceedances — on a database holding the national real-time sample (Beijing's site file +
``lantian ingest cnemc-live``), on SQLite and PostgreSQL.

Every expected number is computed here without the dashboard: the hourly rows straight
from the database, the districts and the city from the site file, the area means in exact
fractions rounded half to even (standards §4, §7), then ``indicators.aqi.hourly_aqi``.
"""
from __future__ import annotations

import uuid
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import yaml
from sqlalchemy import create_engine, text as sql

from dashboard import ids
from dashboard.figures import NO_DATA_COLOR
from dashboard.pages import exceedances as exc_page
from dashboard.pages import map as map_page
from dashboard.pages import public, station
from tests.conftest import BEIJING_SITES, POSTGRES_URL, SHARED_DATA, _lantian, _psycopg_url
from tests.dash_helpers import by_id, render, router_payload, text, walk

POLLUTANTS = ("SO2", "NO2", "CO", "O3", "PM10", "PM2.5")
SITE = yaml.safe_load(BEIJING_SITES.read_text(encoding="utf-8"))
NAMES = {s["code"]: s["name_zh"] for s in SITE["stations"]}
NAMES_EN = {s["code"]: s["name_en"] for s in SITE["stations"]}
DISTRICT_NAMES = {d["id"]: d["name_zh"] for d in SITE["districts"]}
EVALUATION = [s for s in SITE["stations"] if s.get("role", "evaluation") == "evaluation"]
AREAS = {"beijing": [s["code"] for s in EVALUATION]}
for _s in EVALUATION:
    AREAS.setdefault(_s["district"], []).append(_s["code"])

pytestmark = pytest.mark.realdata


def _live_files(count: int | None = None):
    folder = SHARED_DATA / "cnemc-live"
    if not folder.is_dir():
        pytest.skip(f"real data folder {folder} is absent; skipping the real-time views")
    files = sorted(folder.rglob("*.csv"))
    return files if count is None else files[:count]


def _database(request, tmp_path_factory, name: str, files) -> str:
    """A database of the chosen backend with Beijing's site file and ``files`` loaded."""
    backend = request.param
    if request.config.getoption("--db") not in ("all", backend):
        pytest.skip(f"--db={request.config.getoption('--db')}")
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp(name) / 'live.sqlite'}"
        cleanup = None
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(_psycopg_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sql(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in POSTGRES_URL else "?"
        url = f"{_psycopg_url(POSTGRES_URL)}{sep}options=-csearch_path%3D{schema}"

        def cleanup():
            with admin.connect() as conn:
                conn.execute(sql(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    _lantian(url, "init", "--sites", BEIJING_SITES)
    _lantian(url, "ingest", "cnemc-live", *files, "--quiet")
    if cleanup is not None:
        request.addfinalizer(cleanup)
    return url


def _app(url: str):
    """The dashboard on ``url``, its page router registered by a first request: the access
    check matches callbacks against the newest app of the process (``dash.get_app()``),
    so a newer app without its router would refuse the router calls other tests make."""
    from dashboard.app import create_app
    app = create_app(url, cache_url="")
    app.server.test_client().get("/")
    return app


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(request, tmp_path_factory):
    """(url, app): the whole sample (25 hours; the newest 2022-01-05 23:00–24:00)."""
    url = _database(request, tmp_path_factory, "live", _live_files())
    return url, _app(url)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def partial(request, tmp_path_factory):
    """(url, app): the first 15 files (the newest hour 2022-01-05 13:00–14:00, published
    14:00), when 1009A is absent from the feed and 1003A lacks PM10, 1012A SO2."""
    url = _database(request, tmp_path_factory, "partial", _live_files(15))
    return url, _app(url)


# ---------------------------------------------------------------- independent computation
def _frame(url: str, start, end) -> pd.DataFrame:
    from store.frames import hourly_frame
    engine = create_engine(url)
    with engine.connect() as conn:
        frame = hourly_frame(conn, stations=list(NAMES), start=np.datetime64(start, "s"),
                             end=np.datetime64(end, "s"))
    engine.dispose()
    frame["time"] = pd.to_datetime(frame["time"])
    return frame


def _latest(url: str) -> pd.Timestamp:
    engine = create_engine(url)
    with engine.connect() as conn:
        value = conn.execute(sql("SELECT MAX(h.ts) FROM hourly h JOIN stations s "
                                 "ON s.id = h.station_id WHERE s.city_id = 'beijing'")).scalar()
    engine.dispose()
    return pd.Timestamp(value)


def _published(url: str) -> dict:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sql("SELECT s.code, p.ts, p.aqi, p.primary_pollutants FROM "
                                "published_hourly p JOIN stations s ON s.id = p.station_id"))
        out = {(code, pd.Timestamp(ts)): (int(aqi), primary or "")
               for code, ts, aqi, primary in rows}
    engine.dispose()
    return out


def _half_even(value: Fraction, decimals: int) -> float:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return float(exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN))


def _expected(url: str, first, last) -> pd.DataFrame:
    """Hourly AQI of every station, district and the city, hours ``first`` … ``last``:
    stations on their own values, areas on the exact mean of their evaluation stations'
    valid values rounded half to even (CO to 0.1, the rest whole µg/m³)."""
    from indicators.aqi import hourly_aqi
    frame = _frame(url, first, last)
    station_rows = pd.DataFrame({"level": "station", "area": frame["station"],
                                 "time": frame["time"],
                                 **{p: frame[p].astype(float) for p in POLLUTANTS}})
    areas = []
    for hour, at in frame.groupby("time"):
        for area, codes in AREAS.items():
            mine = at[at["station"].isin(codes)]
            row = {"level": "city" if area == "beijing" else "district", "area": area,
                   "time": hour}
            present = False
            for p in POLLUTANTS:
                values = [Fraction(str(v)) for v in mine[p] if not np.isnan(v)]
                if values:
                    present = True
                    row[p] = _half_even(sum(values) / len(values), 1 if p == "CO" else 0)
                else:
                    row[p] = np.nan
            if present:
                areas.append(row)
    table = pd.concat([station_rows, pd.DataFrame(areas)], ignore_index=True)
    aqi = hourly_aqi(table)
    return pd.concat([table, aqi.drop(columns=["level", "area", "time"])], axis=1)


# ---------------------------------------------------------------- public page: "now"
def _now_tiles(tree) -> dict:
    """Tile name → (AQI text, category, primary text, background colour)."""
    out = {}
    for c in by_id(tree, ids.PUBLIC_NOW_TILES).children:
        parts = [text(x) for x in c.children]
        primary = parts[3].split(":", 1)[1].strip() if len(parts) > 3 else ""
        style = getattr(c, "style", None) or {}
        out[parts[0]] = (parts[1], parts[2], primary, style.get("background"))
    return out


def _public_map(tree) -> dict:
    """Station name → (marker colour, hover) on the public station map (the whole map)."""
    fig = by_id(tree, ids.PUBLIC_NOW_MAP).figure
    out = {}
    for trace in fig.data:
        meta = trace.meta or {}
        if meta.get("panel") != "main":
            continue
        for name, colour, hover in zip(meta["codes"], trace.marker.color, trace.customdata):
            out[name] = (colour, hover)
    return out


def test_public_now_is_hourly_aqi_of_the_area_means(live):
    url, app = live
    hour = _latest(url)
    assert hour == pd.Timestamp("2022-01-05 23:00")
    expected = _expected(url, hour, hour)
    for lang, city_word in (("zh", "全市"), ("en", "City")):
        tree = render(app, public, city="beijing", lang=lang)
        status = text(by_id(tree, ids.PUBLIC_NOW_STATUS))
        # the hour as the public reads it: by its end, the interval beside it
        if lang == "zh":
            assert status.startswith("实时数据，未经审核")
            assert "2022-01-06 00:00 发布（2022-01-05 23:00–24:00）" in status
        else:
            assert status.startswith("Real-time data, not audited")
            assert "published 2022-01-06 00:00 (2022-01-05 23:00–24:00)" in status
        tiles = _now_tiles(tree)
        names = {d["id"]: d["name_zh" if lang == "zh" else "name_en"]
                 for d in SITE["districts"]}
        names["beijing"] = city_word
        assert set(tiles) == set(names.values())
        areas = expected[expected["level"].isin(["district", "city"])]
        assert len(areas) == 9
        for r in areas.itertuples(index=False):
            value, category, primary, colour = tiles[names[r.area]]
            assert value == str(int(r.aqi)), r.area
            assert category == (r.category_zh if lang == "zh" else r.category_en)
            assert primary == r.primary.replace(",", ", ")
            assert colour.upper() == r.colour.upper()
        # hand-checked: the city 104 (轻度污染, PM2.5), Changping 90 (良)
        assert tiles[city_word][0] == "104" and tiles[names["changping"]][0] == "90"
        # the health advice of each level present, with its areas
        advice = text(by_id(tree, ids.PUBLIC_NOW_ADVICE))
        for level in sorted(set(areas["level_no"].astype(int))):
            effects, measures = public.advice(level, lang)
            assert effects in advice and measures in advice
        # the 24-hour strip: one row per area, the areas' AQI hour by hour
        strip = by_id(tree, ids.PUBLIC_NOW_STRIP).figure.data[0]
        assert list(strip.y) == [names["beijing"], *[names[d["id"]] for d in SITE["districts"]]]
        assert len(strip.x) == 24 and strip.x[-1] == "2022-01-05T23:30:00"
        day = _expected(url, hour - pd.Timedelta(hours=23), hour)
        z = dict(zip(strip.y, strip.z))
        for r in day[day["level"] != "station"].itertuples(index=False):
            column = 23 - int((hour - r.time) / pd.Timedelta(hours=1))
            shown = z[names[r.area]][column]
            assert (shown is None or np.isnan(shown)) if pd.isna(r.aqi) \
                else shown == int(r.aqi), (r.area, r.time)


def test_public_map_colours_and_no_staff_data(live):
    url, app = live
    hour = _latest(url)
    expected = _expected(url, hour, hour).set_index(["level", "area"])
    tree = render(app, public, city="beijing")
    shown = _public_map(tree)
    assert set(shown) == set(NAMES.values())
    for code, name in NAMES.items():
        colour, hover = shown[name]
        row = expected.loc[("station", code)]
        assert colour.upper() == row["colour"].upper(), code
        assert f"AQI <b>{int(row['aqi'])}</b>" in hover and "2022-01-06 00:00 发布" in hover
    # the public page, whole and in both languages, names no station code
    client = app.server.test_client()          # anonymous
    for lang in ("zh", "en"):
        client.get("/")
        answer = client.post("/_dash-update-component",
                             json=router_payload("/public", f"?city=beijing&lang={lang}"))
        assert answer.status_code == 200
        body = answer.get_data(as_text=True)
        assert "public-now" in body and "page-error" not in body
        for word in [*NAMES, "目标", "target", "有效天", "应有", "valid days", "needs"]:
            assert word not in body, (lang, word)
    # staff pages stay closed to an anonymous visitor
    refused = client.post("/_dash-update-component",
                          json=router_payload("/station", "?city=beijing"))
    assert refused.status_code == 401


def test_greyed_stations_are_those_without_an_hourly_aqi_in_the_latest_hour(partial):
    url, app = partial
    hour = _latest(url)
    assert hour == pd.Timestamp("2022-01-05 13:00")
    start = hour - pd.Timedelta(hours=7 * 24 - 1)
    expected = _expected(url, start, hour)
    stations = expected[expected["level"] == "station"]
    now = stations[(stations["time"] == hour) & stations["aqi"].notna()]
    grey = set(NAMES) - set(now["area"])
    # 1009A is absent from the feed, 1003A lacks PM10 and 1012A SO2 (AQI ≤ 100: withheld)
    assert grey == {"1009A", "1003A", "1012A"}
    for lang in ("zh", "en"):
        tree = render(app, public, city="beijing", lang=lang)
        names = NAMES if lang == "zh" else NAMES_EN
        shown = _public_map(tree)
        for code in NAMES:
            colour, hover = shown[names[code]]
            if code not in grey:
                assert colour.upper() != NO_DATA_COLOR.upper(), code
                continue
            assert colour == NO_DATA_COLOR, code
            # the time of its last hourly AQI, by the hour's end
            mine = stations[(stations["area"] == code) & stations["aqi"].notna()]
            last = mine["time"].max() + pd.Timedelta(hours=1)
            said = f"最近一次：{last:%Y-%m-%d %H:%M} 发布" if lang == "zh" else \
                f"last value published {last:%Y-%m-%d %H:%M}"
            assert said in hover, (code, hover)
        # Shijingshan's only station lacks SO2: no district AQI this hour
        tiles = _now_tiles(tree)
        assert tiles["石景山区" if lang == "zh" else "Shijingshan"][0] == "—"
    # hand-checked: 1009A's last hour 00:00–01:00, the others' 12:00–13:00
    shown = _public_map(render(app, public, city="beijing"))
    assert "最近一次：2022-01-05 01:00" in shown["怀柔镇"][1]
    assert "最近一次：2022-01-05 13:00" in shown["东四"][1]
    # the staff map's latest-hour mode greys the same stations, and says why
    tree = render(app, map_page, city="beijing", stat="hourly")
    assert "3 个站点在该小时没有小时 AQI" in text(by_id(tree, ids.MAP_NOTE))
    rows = [r for r in walk(by_id(tree, ids.MAP_TABLE)) if type(r).__name__ == "Tr"][1:]
    greyed = {text(r.children[1]) for r in rows if r.className == "lt-map-row-na"}
    assert greyed == grey
    table = text(by_id(tree, ids.MAP_TABLE))
    assert "本小时缺 PM10，无 AQI" in table
    figure = by_id(tree, ids.MAP_GRAPH).figure
    assert "2022-01-05 14:00 发布（2022-01-05 13:00–14:00）" in figure.layout.title.text


# ---------------------------------------------------------------- station page
def _bars(tree) -> tuple[dict, dict]:
    """(hour start → Lantian's AQI bar, hour start → published AQI marker) of the chart."""
    fig = by_id(tree, ids.STATION_AQI).figure
    bars = next(t for t in fig.data if t.type == "bar")
    ours = {pd.Timestamp(x) - pd.Timedelta(minutes=30): y for x, y, c
            in zip(bars.x, bars.y, bars.marker.color) if c != NO_DATA_COLOR}
    marks = [t for t in fig.data if t.type == "scatter" and t.marker.symbol == "line-ew-open"]
    theirs = {pd.Timestamp(x) - pd.Timedelta(minutes=30): y
              for t in marks for x, y in zip(t.x, t.y)}
    return ours, theirs


def test_station_hourly_aqi_equals_the_published_aqi(live):
    url, app = live
    published = _published(url)
    frame = _frame(url, "2022-01-04 23:00", "2022-01-05 23:00")
    complete = frame.dropna(subset=list(POLLUTANTS))
    checked = 0
    for code in NAMES:
        tree = render(app, station, city="beijing", station=code)
        ours, theirs = _bars(tree)
        mine = complete[complete["station"] == code]
        for hour in mine["time"]:
            if (code, hour) not in published:
                continue                      # withheld by the platform
            assert ours[hour] == published[(code, hour)][0], (code, hour)
            assert theirs[hour] == published[(code, hour)][0], (code, hour)
            checked += 1
        # no disagreement on the sample: no ✕
        fig = by_id(tree, ids.STATION_AQI).figure
        assert not [t for t in fig.data if t.type == "scatter" and t.marker.symbol == "x"]
    assert checked == len([k for k in published if k[0] in NAMES
                           and k in set(zip(complete["station"], complete["time"]))])
    assert checked > 250
    # 1003A: 24 published hours, all agreeing; the 12:00–13:00 hour (PM10 missing, ≤ 100)
    # has no AQI and none was published
    tree = render(app, station, city="beijing", station="1003A")
    note = text(by_id(tree, ids.STATION_AQI_NOTE))
    assert "发布 AQI 的 24 个小时中，24 个与蓝天计算一致" in note
    ours, theirs = _bars(tree)
    assert pd.Timestamp("2022-01-05 13:00") not in ours | theirs
    en = text(by_id(render(app, station, city="beijing", station="1003A", lang="en"),
                    ids.STATION_AQI_NOTE))
    assert "Of 24 hours with a published AQI, 24 agree with Lantian's" in en


def test_station_chart_flags_a_disagreement():
    from dashboard.figures.realtime import station_aqi_chart
    frame = pd.DataFrame({
        "time": pd.to_datetime(["2022-01-05 10:00", "2022-01-05 11:00", "2022-01-05 12:00"]),
        "aqi": pd.array([80, 120, pd.NA], dtype="Int64"),
        "category_zh": ["良", "轻度污染", ""], "category_en": ["Moderate", "Lightly polluted", ""],
        "primary": ["PM2.5", "PM2.5", ""], "missing": ["", "", "PM10"],
        "published_aqi": pd.array([80, 121, pd.NA], dtype="Int64"),
        "published_primary": ["PM2.5", "PM2.5", ""],
        "compared": [True, True, False], "agrees": [True, False, False]})
    fig = station_aqi_chart(frame, start="2022-01-05", end="2022-01-05", lang="en",
                            title="t", empty_message="none")
    crosses = [t for t in fig.data if t.type == "scatter" and t.marker.symbol == "x"]
    assert len(crosses) == 1 and list(crosses[0].x) == ["2022-01-05T11:30:00"]
    bars = fig.data[0]
    assert list(bars.marker.color) == ["#FFFF00", "#FF7E00", NO_DATA_COLOR]
    assert "23:00" not in bars.customdata[0] and "10:00–11:00" in bars.customdata[0]


def test_station_page_one_day_of_a_long_period(live):
    url, app = live
    tree = render(app, station, city="beijing", station="1001A", period="range",
                  **{"from": "2021-12-01", "to": "2022-01-05"}, aqiday="2022-01-05")
    fig = by_id(tree, ids.STATION_AQI).figure
    assert "2022-01-05" in fig.layout.title.text
    assert list(fig.layout.xaxis.range) == ["2022-01-05T00:00:00", "2022-01-06T00:00:00"]
    control = [c for c in walk(tree) if getattr(c, "id", None) == {"type": "lt-control",
                                                                   "name": "aqiday"}]
    assert control and control[0].value == "2022-01-05"


# ---------------------------------------------------------------- hourly exceedances
def test_hourly_exceedance_list_matches_an_independent_computation(live):
    url, app = live
    hour = _latest(url)
    day = _expected(url, pd.Timestamp("2022-01-05 00:00"), hour)
    over = day[day["aqi"].notna() & (day["aqi"].astype(float) > 100)]
    # 1-h limits (cn-2012, grade II): SO2 500, NO2 200, CO 10 mg/m³, O3 200 — compared as
    # published; none is reached on the sample (its highest NO2 is 83)
    limits = {"SO2": 500, "NO2": 200, "CO": 10, "O3": 200}
    above = [(r.level, r.area, r.time, p) for r in day.itertuples(index=False)
             for p, lim in limits.items()
             if not np.isnan(getattr(r, p)) and round(Decimal(str(getattr(r, p))),
                                                      1 if p == "CO" else 0) > lim]
    assert above == []
    city_name = SITE["city"]["name_zh"]

    def shown_as(r):
        name = {"station": f"{NAMES.get(r.area, r.area)} {r.area}", "city": city_name}.get(
            r.level, DISTRICT_NAMES.get(r.area))
        end = r.time + pd.Timedelta(hours=1)
        return (f"{end:%Y-%m-%d %H:%M}", name, "小时 AQI", int(r.aqi))
    expected = sorted(shown_as(r) for r in over.itertuples(index=False))
    tree = render(app, exc_page, city="beijing")
    rows = by_id(tree, ids.EXCEEDANCES_HOURLY_TABLE).rowData
    assert sorted((r["hour"], r["area"], r["item"], r["value"]) for r in rows) == expected
    assert len(expected) == 97
    heavy = [r for r in rows if r["heavy"]]
    assert heavy == [] and all(r["threshold"] == 100 for r in rows)
    # newest hour first, the city before its districts before the stations
    assert rows[0]["hour"] == "2022-01-06 00:00" and rows[0]["area"] == city_name
    card = text(by_id(tree, ids.EXCEEDANCES_HOURLY))
    n_stations = int((over["level"] == "station").sum())
    assert f"站点小时 AQI > 100：{n_stations} 个" in card
    assert "实时小时超标 · 2022-01-05（截至 2022-01-06 00:00）" in card
    assert "SO2 500、NO2 200、O3 200 µg/m³，CO 10 mg/m³" in card
    en = render(app, exc_page, city="beijing", lang="en")
    rows_en = by_id(en, ids.EXCEEDANCES_HOURLY_TABLE).rowData
    assert len(rows_en) == len(rows) and rows_en[0]["item"] == "hourly AQI"
    assert "Hourly exceedances · 2022-01-05 (up to 2022-01-06 00:00)" in text(
        by_id(en, ids.EXCEEDANCES_HOURLY))


def test_hourly_exceedances_rules():
    """1-h limits compared as published (half to even), multiples, AQI > 100 and > 200."""
    from indicators.aqi import hourly_aqi
    from indicators.realtime import hourly_exceedances
    t0 = pd.Timestamp("2022-01-05 10:00")
    values = pd.DataFrame({
        "level": ["station"] * 5, "area": ["a", "b", "c", "d", "e"], "time": [t0] * 5,
        #        500.5 → 500 (not above); 501 → above; CO 10.05 → 10.0; 10.15 → 10.2
        "SO2": [500.5, 501.0, 5, 5, 5], "NO2": [20, 20, 20, 20, 20],
        "CO": [1.0, 1.0, 10.05, 10.15, 1.0], "O3": [20, 20, 20, 20, 260.0],
        "PM10": [40, 40, 40, 40, 40], "PM2.5": [20, 20, 20, 20, 20]})
    aqi = hourly_aqi(values)
    rows = hourly_exceedances(values, aqi, grades={"e": "I"})
    got = {(r.area, r.kind, r.pollutant): r for r in rows.itertuples(index=False)}
    assert ("a", "limit", "SO2") not in got and ("c", "limit", "CO") not in got
    assert got[("b", "limit", "SO2")].value == 501 and got[("b", "limit", "SO2")].multiple == 0.0
    assert got[("d", "limit", "CO")].value == 10.2 and got[("d", "limit", "CO")].multiple == 0.02
    # grade I: O3 1-h limit 160; 260 → IAQI 130 (> 100)
    assert got[("e", "limit", "O3")].threshold == 160
    assert got[("e", "limit", "O3")].multiple == 0.62
    assert got[("e", "aqi", "AQI")].value == 130 and not got[("e", "aqi", "AQI")].heavy
    heavy = values.assign(O3=[20, 20, 20, 20, 900.0])
    rows = hourly_exceedances(heavy, hourly_aqi(heavy))
    top = rows[(rows["area"] == "e") & (rows["kind"] == "aqi")].iloc[0]
    assert top["heavy"] and top["value"] > 200 and top["category_zh"] in ("重度污染", "严重污染")


def test_hour_labels():
    from dashboard.figures.realtime import hour_span, published_at
    assert hour_span("2022-01-05 23:00") == "2022-01-05 23:00–24:00"
    assert hour_span("2022-01-05 09:00") == "2022-01-05 09:00–10:00"
    assert published_at("2022-01-05 23:00", "zh") == "2022-01-06 00:00 发布（2022-01-05 23:00–24:00）"
    assert published_at("2022-01-05 23:00", "en") == \
        "published 2022-01-06 00:00 (2022-01-05 23:00–24:00)"


def test_now_is_cached_by_data_version(live):
    """The public answer is a function of the URL and the data: asked twice, the router
    answers the same bytes (the second from the kept answer)."""
    url, app = live
    client = app.server.test_client()
    client.get("/")
    first = client.post("/_dash-update-component",
                        json=router_payload("/public", "?city=beijing")).get_data()
    second = client.post("/_dash-update-component",
                         json=router_payload("/public", "?city=beijing")).get_data()
    assert first == second and b"public-now" in first

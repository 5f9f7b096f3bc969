"""Peer rankings of the 168 key cities (issue 18): ``evaluation.peers.peer_ranking`` on the
real national station list (``../shared/data/cnemc-sites/NewSiteList.csv``).

* A database per backend (built once for the module): the station list as ``lantian ingest
  stations`` stores it and **SYNTHETIC** January readings (``ingest.demo_peers``, labelled
  synthetic, never measurements) — 2024 for one evaluation station of each of the 168 cities
  plus every station of 兰州 (its background site and its retired station at three times
  the city's levels), 2023 for all but eight cities. Then a site file claims 兰州 with its
  six active stations and a plan with rank objectives.
* The real-time feed excerpt (``../shared/data/cnemc-live/``, 25 hours of 2022-01-05/06)
  loaded with ``lantian ingest cnemc-live``: every composite index is checked against one
  computed here from the feed's 1-h values.
* Hypothesis: the bottom-N line, ``in_bottom`` and ``distance`` of
  :func:`evaluation.peers.rank_members` for any composite values (ties included).
"""
from __future__ import annotations

import io
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SHARED_DATA, postgres_schema

GROUP = "key-168"
YEAR = 2024
LANZHOU = "兰州"
SITE_ID = "lanzhou-test"
#: the members without 2023 readings (the last eight of the group file but 兰州)
MISSING_2023 = 8


def pytest_generate_tests(metafunc):
    if "peer_backend" in metafunc.fixturenames:
        choice = metafunc.config.getoption("--db")
        backends = ["sqlite", "postgresql"] if choice == "all" else [choice]
        metafunc.parametrize("peer_backend", backends, scope="module")


def _station_list_path():
    path = SHARED_DATA / "cnemc-sites" / "NewSiteList.csv"
    if not path.is_file():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (the national station list "
                    "sits beside the project checkout in ../shared/data/cnemc-sites); "
                    "skipping the peer-ranking tests on the real station list")
    return path


def _run(url: str, *args, data_dir) -> "object":
    """``lantian *args`` in-process against ``url`` (module-scoped fixtures cannot use the
    function-scoped ``lantian_on``)."""
    from typer.testing import CliRunner

    from lantian.cli import app
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LANTIAN_DATABASE_URL", url)
        mp.setenv("LANTIAN_SETTINGS", "")
        mp.setenv("LANTIAN_DATA_DIR", str(data_dir))
        mp.setenv("COLUMNS", "240")
        result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _ranking(engine, period):
    from evaluation.peers import peer_ranking
    from evaluation.snapshot import snapshot
    return peer_ranking(snapshot(engine), GROUP, period)


def _site_file(path, codes: list[str]):
    stations = "\n".join(f"  - {{code: {c}, name_zh: 站{c}, name_en: Station {c}, "
                         "district: all}" for c in codes)
    path.write_text(f"""# SYNTHETIC test city (tests/test_peers.py): 兰州's real codes, synthetic readings
city: {{id: {SITE_ID}, name_zh: 兰州（测试，合成数据）, name_en: Lanzhou (test, synthetic),
       synthetic: true, national_name: {LANZHOU}, province: 甘肃省}}
districts:
  - {{id: all, name_zh: 全市, name_en: Whole city, grade: II}}
stations:
{stations}
plan:
  year: 2021
  objectives:
    - {{id: key168-up, scope: city, kind: rank, group: {GROUP}, better_than_last_year: true}}
    - {{id: key168-line, scope: city, kind: rank, group: {GROUP}, outside_bottom: 20}}
""", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def peer_db(peer_backend, tmp_path_factory):
    """The module's database on ``peer_backend`` (see the module's docstring)."""
    from config.groups import load_group
    from evaluation.city_year import Period
    from ingest.cnemc import read_station_list
    from ingest.demo_peers import group_stations, load_peers
    from store.db import make_engine

    listed = _station_list_path()
    folder = tmp_path_factory.mktemp(f"peers-{peer_backend}")
    with postgres_schema() if peer_backend == "postgresql" else _sqlite(folder) as url:
        _run(url, "init", data_dir=folder / "data")
        _run(url, "ingest", "stations", listed, data_dir=folder / "data")
        group = load_group(GROUP)
        engine = make_engine(url)
        with engine.connect() as conn:
            active = group_stations(conn, group, YEAR)
        stations = read_station_list(listed)
        own = stations[stations["list_city"] == LANZHOU]
        inactive = own[own["background"] | own["retired_on"].notna()]
        one_each = active[active["city"] != LANZHOU].groupby("city").head(1)
        readings = pd.concat([
            one_each.assign(scale=1.0),
            active[active["city"] == LANZHOU].assign(scale=1.0),
            pd.DataFrame({"code": inactive["code"], "city": LANZHOU, "province": "甘肃省",
                          "scale": 3.0})], ignore_index=True)
        load_peers(engine, readings, date(YEAR, 1, 31), YEAR, label="tests key-168 January",
                   readings_per_step=400_000)
        dropped = [m.name for m in group.members if m.name != LANZHOU][-MISSING_2023:]
        load_peers(engine, readings[~readings["city"].isin(dropped)], date(YEAR - 1, 1, 31),
                   YEAR - 1, label="tests key-168 January, 160 cities")
        before = {YEAR: _ranking(engine, Period.calendar_year(YEAR)),
                  YEAR - 1: _ranking(engine, Period.calendar_year(YEAR - 1))}
        site = _site_file(folder / "lanzhou.yaml",
                          active.loc[active["city"] == LANZHOU, "code"].tolist())
        _run(url, "init", "--sites", site, data_dir=folder / "data")
        yield SimpleNamespace(url=url, engine=engine, group=group, stations=stations,
                              lanzhou=active[active["city"] == LANZHOU], inactive=inactive,
                              dropped=dropped, before=before, data_dir=folder / "data")
        engine.dispose()


class _sqlite:
    def __init__(self, folder):
        self.url = f"sqlite:///{folder / 'peers.sqlite'}"

    def __enter__(self):
        return self.url

    def __exit__(self, *exc):
        return False


def _active_counts(stations: pd.DataFrame, names) -> pd.Series:
    """Evaluation stations of each city not retired before the year (from the list)."""
    first = date(YEAR, 1, 1)
    ok = ~stations["background"] & stations["retired_on"].map(
        lambda d: d is None or d != d or d > first).astype(bool)
    return stations[ok].groupby("list_city").size().reindex(list(names)).fillna(0).astype(int)


# -- all 168 cities with a value -----------------------------------------------------------

def test_the_168_cities_are_ranked_by_composite_index(peer_db):
    ranking = peer_db.before[YEAR]
    t = ranking.table
    group = peer_db.group
    assert ranking.complete and ranking.members_with_value == group.size == len(t) == 168
    assert t["reported"].notna().all() and t["rank"].notna().all()
    # January only: every city is ranked, provisional (not an annual rank)
    assert not ranking.annual and (t["status"] == "provisional").all()
    assert ranking.verdict("en").endswith("the data are insufficient for a final rank")
    assert "数据不足以给出正式排名" in ranking.verdict("zh")
    # ranks ascend with the composite index; ties share a rank (1, 1, 3)
    reported = t["reported"].to_numpy()
    assert (np.diff(reported) >= 0).all()
    below = (reported[None, :] < reported[:, None]).sum(axis=1)
    assert (t["rank"].to_numpy(dtype=int) == below + 1).all()
    tied = t[t["reported"].duplicated(keep=False)]
    assert len(tied) >= 2, "the synthetic data should hold at least one tie"
    assert (tied.groupby("reported")["rank"].nunique() == 1).all()
    # the bottom-20 line: the worst composite with a rank within the first 148
    place = group.size - group.bottom
    assert ranking.line_rank == place == 148
    line = t.loc[t["rank"] <= place, "reported"].max()
    assert ranking.line_value == line and ranking.line_for(20) == (148, line)
    assert ranking.line_for(10) == (158, t.loc[t["rank"] <= 158, "reported"].max())
    np.testing.assert_array_equal(t["distance"], np.round(t["reported"] - line, 2))
    np.testing.assert_array_equal(t["in_bottom"], t["rank"] > place)
    assert (t.loc[t["in_bottom"], "distance"] > 0).all()
    assert (t.loc[~t["in_bottom"], "distance"] <= 0).all()
    # stations: the list's evaluation stations not retired (background and retired ones out)
    counts = _active_counts(peer_db.stations, t["area"])
    assert t.set_index("area")["stations"].to_dict() == counts.to_dict()
    assert counts[LANZHOU] == 6 and t["synthetic"].all()
    # last year: 160 cities ranked among themselves; the eight without data have no place
    missing = t["area"].isin(peer_db.dropped)
    assert t.loc[missing, "previous_rank"].isna().all()
    assert t.loc[~missing, "previous_rank"].notna().all()


def test_a_city_value_is_its_site_file_citys_value(peer_db):
    """兰州 from the station list (the list path) = 兰州 as a site-file city of its six active
    stations (``lantian stats annual --level city``) = the peer ranking once the site file
    claims 兰州; its background and retired stations hold (inflated) readings, unused."""
    from evaluation.city_year import Period
    from store import daily

    before = peer_db.before[YEAR].row(LANZHOU)
    assert before["stations"] == 6 and pd.isna(before["city"])
    ids = dict(pd.read_sql("SELECT code, id FROM stations", peer_db.engine).values)
    with peer_db.engine.connect() as conn:
        rows = daily.read_rows(conn, [ids[c] for c in peer_db.inactive["code"]],
                               f"{YEAR}-01-01", f"{YEAR}-01-31")
    assert len(peer_db.inactive) == 2                      # 对照点 1477A, 停运 1475A
    assert rows["station_id"].nunique() == 2 and len(rows) > 50

    result = _run(peer_db.url, "stats", "annual", "--year", YEAR, "--level", "city",
                  "--format", "csv", data_dir=peer_db.data_dir)
    stats = pd.read_csv(io.StringIO(result.stdout))
    own = stats[(stats["area"] == SITE_ID) & (stats["statistic"] == "composite_index")]
    assert len(own) == 1
    assert own["reported"].iloc[0] == before["reported"]
    assert own["value"].iloc[0] == before["value"]

    after = _ranking(peer_db.engine, Period.calendar_year(YEAR))
    row = after.row(LANZHOU)
    assert row["city"] == SITE_ID and row["stations"] == 6 and row["synthetic"]
    pd.testing.assert_frame_equal(after.table.drop(columns="city"),
                                  peer_db.before[YEAR].table.drop(columns="city"))


# -- members missing ------------------------------------------------------------------------

def test_members_without_data_make_the_ranking_incomplete(peer_db):
    ranking = peer_db.before[YEAR - 1]
    t = ranking.table
    assert not ranking.complete and not ranking.annual
    assert ranking.members_with_value == 168 - MISSING_2023
    missing = t[t["reported"].isna()]
    assert sorted(missing["area"]) == sorted(peer_db.dropped)
    assert missing["rank"].isna().all() and (missing["status"] == "insufficient data").all()
    assert list(t["area"].tail(MISSING_2023).sort_values()) == sorted(peer_db.dropped)
    assert np.isnan(ranking.line_value) and np.isnan(ranking.line_for(20)[1])
    assert not t["in_bottom"].any() and t["distance"].isna().all()
    en, zh = ranking.verdict("en"), ranking.verdict("zh")
    assert en.startswith("168 key cities: only 160 of 168 members have data")
    assert "8 cities missing" in en and "lantian ingest stations NewSiteList.csv" in en
    assert "lantian ingest cnemc" in en
    names_en = {m.name: m.name_en for m in peer_db.group.members}
    assert sum(names_en[n] in en for n in peer_db.dropped) == 5        # five named, then …
    assert "缺8个城市" in zh and sum(n in zh for n in peer_db.dropped) == 5
    assert "insufficient for a final rank" in en          # January only, besides

    # rank objectives: "no data" while members are missing, saying what to load
    result = _run(peer_db.url, "objectives", "--city", SITE_ID, "--year", YEAR - 1,
                  "--format", "csv", data_dir=peer_db.data_dir)
    got = pd.read_csv(io.StringIO(result.stdout)).set_index("id")
    assert list(got.index) == ["key168-up", "key168-line"]
    assert (got["status"] == "no data").all()
    assert got["reason"].str.startswith("160 of 168 members have data; 8 cities missing").all()
    # with every member loaded it is judged (the data end 31 January: a year to date)
    from evaluation.city_year import Period
    result = _run(peer_db.url, "objectives", "--city", SITE_ID, "--year", YEAR,
                  "--format", "csv", data_dir=peer_db.data_dir)
    line = pd.read_csv(io.StringIO(result.stdout)).set_index("id").loc["key168-line"]
    ytd = _ranking(peer_db.engine, Period.to_date(date(YEAR, 1, 31)))
    place = ytd.row(LANZHOU)["rank"]
    assert line["status"] == ("on track" if place <= 148 else "at risk")
    assert line["value"] == place and line["target"] == 148


# -- the real feed excerpt ------------------------------------------------------------------

def _half_even(x: float, decimals: int = 0) -> float:
    return float(Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-decimals),
                                                  ROUND_HALF_EVEN))


def _feed_composites(folder, stations: pd.DataFrame, names) -> pd.Series:
    """Each key city's composite index of 2022-01-05, computed here from the feed's 1-h
    values (§7 area values; the only valid day of the year, so it is every statistic)."""
    feed = pd.concat([pd.read_csv(p, dtype={"stationcode": str})
                      for p in sorted(folder.glob("*/*.csv"))])
    feed["start"] = pd.to_datetime(feed["timepoint"]) - pd.Timedelta(hours=1)   # END label
    day = feed[feed["start"].dt.strftime("%Y-%m-%d") == "2022-01-05"]
    listed = stations.set_index("code")
    listed = listed[~listed["background"] & listed["retired_on"].isna()
                    & listed["list_city"].isin(names)]
    hours = pd.date_range("2022-01-05", periods=24, freq="h")
    limits = {"so2": 60, "no2": 40, "pm10": 70, "pm2_5": 35, "co": 4, "o3": 160}
    out = {}
    for city, own in listed[listed.index.isin(day["stationcode"])].groupby("list_city"):
        f = day[day["stationcode"].isin(own.index)]
        c = {}
        for col in ("so2", "no2", "pm10", "pm2_5", "co"):
            w = f.pivot_table(index="stationcode", columns="start", values=col, aggfunc="first")
            ok = w.notna().sum(axis=1) >= 20                          # a valid station-day
            c[col] = _half_even(w[ok].mean(axis=1).mean(), 1 if col == "co" else 0) \
                if ok.any() else np.nan
        o3 = f.pivot_table(index="stationcode", columns="start", values="o3_24h",
                           aggfunc="first").reindex(columns=hours)     # o3_24h: the 1-h O3
        windows = []
        for end in range(7, 24):                  # the 17 8-h windows inside the day
            block = o3.iloc[:, end - 7:end + 1]
            means = block.mean(axis=1)[block.notna().sum(axis=1) >= 6]
            windows.append(means.mean() if len(means) else np.nan)
        windows = np.array(windows)
        c["o3"] = _half_even(np.nanmax(windows)) if np.isfinite(windows).sum() >= 14 \
            else np.nan
        out[city] = np.nan if any(np.isnan(v) for v in c.values()) else _half_even(
            float(sum(Fraction(repr(float(c[k]))) / limits[k] for k in limits)), 2)
    return pd.Series(out, dtype="float64")


def test_the_real_feed_excerpt(shared_data, db_url, lantian_on):
    from config.groups import load_group
    from evaluation.city_year import Period
    from ingest.cnemc import read_station_list
    from store.db import make_engine

    listed = _station_list_path()
    folder = shared_data / "cnemc-live"
    for args in (("init",), ("ingest", "stations", listed),
                 ("ingest", "cnemc-live", folder, "--quiet")):
        assert lantian_on(db_url, *args).exit_code == 0
    result = lantian_on(db_url, "rank", "--level", "city", "--group", GROUP, "--year", 2022,
                        "--format", "csv")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    group = load_group(GROUP)
    names = [m.name for m in group.members]
    stations = read_station_list(listed)

    expected = _feed_composites(folder, stations, names)
    # 26 of the 168 cities have evaluation stations in the excerpt (its first ~150 stations:
    # Beijing … part of Jiangsu); 23 of them have every input of the index
    assert len(expected) == 26 and expected.notna().sum() == 23
    ranked = table[table["reported"].notna()].set_index("area")
    assert sorted(ranked.index) == sorted(expected.dropna().index)
    pd.testing.assert_series_equal(ranked["reported"].sort_index(),
                                   expected.dropna().sort_index(), check_names=False)
    assert ranked.loc["北京", "reported"] == 4.75
    # 25 hours: every city with a value is ranked, provisional, and the verdict says so
    assert (ranked["status"] == "provisional").all() and ranked["rank"].notna().all()
    assert ranked["reason"].str.contains("2022-01: 1 valid day").all()
    assert table["rank"].isna().sum() == 168 - 23
    engine = make_engine(db_url)
    ranking = _ranking(engine, Period.calendar_year(2022))
    engine.dispose()
    assert not ranking.complete and ranking.members_with_value == 23
    assert ranking.verdict("en").startswith("168 key cities: only 23 of 168 members have data")
    assert ranking.verdict("en").endswith(
        "the composite index of 23 of the loaded members fails a capture rule "
        "(provisional): the data are insufficient for a final rank")
    assert ranking.verdict("zh").endswith("数据不足以给出正式排名")


def test_the_feed_reading_here_matches_the_published_24h_means(shared_data):
    """The check on this module's own reading of the feed: each station's 24-h PM2.5 mean of
    2022-01-05 (hours labelled by their end, T01 … 06T00) rounded half-even is the
    published ``pm2_5_24h`` at 2022-01-06T00 (the folder's README: 113 of 113)."""
    folder = shared_data / "cnemc-live"
    feed = pd.concat([pd.read_csv(p, dtype={"stationcode": str})
                      for p in sorted(folder.glob("*/*.csv"))])
    day = feed[(feed["timepoint"] > "2022-01-05T00:00:00")]
    full = day.groupby("stationcode")["pm2_5"].agg(["count", "mean"])
    full = full[full["count"] == 24]
    published = feed[feed["timepoint"] == "2022-01-06T00:00:00"].set_index(
        "stationcode")["pm2_5_24h"]
    mine = full["mean"].map(_half_even)
    assert len(mine) == 113
    assert (mine == published.reindex(mine.index)).all()


# -- the bottom-N line for any values -------------------------------------------------------

def _group(size: int, bottom: int):
    from config.groups import Member, PeerGroup
    return PeerGroup(id="prop", name_zh="测试", name_en="test", level="city", year=2024,
                     source="tests", source_en="tests", size=size, bottom=bottom,
                     members=tuple(Member(f"c{i}", f"c{i}", "p") for i in range(size)))


def _stats(values: dict[str, tuple[int, bool]], label: str) -> pd.DataFrame:
    from indicators.frames import STAT_COLUMNS
    rows = [{"level": "city", "area": a, "period": label, "pollutant": "ALL",
             "statistic": "composite_index", "value": k / 100, "reported": k / 100,
             "valid": ok, "n_valid": 1, "n_required": 1, "detail": "" if ok else "capture",
             "profile": "cn-2012"} for a, (k, ok) in values.items()]
    frame = pd.DataFrame(rows)
    for c in STAT_COLUMNS:
        if c not in frame:
            frame[c] = None
    return frame[list(STAT_COLUMNS)]


@st.composite
def _cases(draw):
    size = draw(st.integers(3, 25))
    bottom = draw(st.integers(1, size - 1))
    present = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    values = {f"c{i}": (draw(st.integers(150, 175)), draw(st.booleans()))
              for i in range(size) if present[i] or draw(st.booleans())}
    return size, bottom, values


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases())
def test_the_bottom_line_and_distances_for_any_values(case):
    from evaluation.city_year import Period
    from evaluation.peers import rank_members

    size, bottom, values = case
    group, period = _group(size, bottom), Period.calendar_year(2024)
    members = pd.DataFrame({"area": [m.name for m in group.members],
                            "name_zh": [m.name for m in group.members],
                            "name_en": [m.name_en for m in group.members],
                            "province": "p", "city": None})
    stats = _stats(values, period.label) if values else pd.DataFrame()
    ranking = rank_members(group, period, stats, members)
    t = ranking.table
    assert ranking.complete == (len(values) == size)
    assert ranking.members_with_value == len(values)
    assert ranking.annual == (ranking.complete and all(ok for _, ok in values.values()))
    ranked = t[t["rank"].notna()]
    assert len(ranked) == len(values)        # every member with a value is ranked (§7)
    r = ranked["reported"].to_numpy()
    np.testing.assert_array_equal(ranked["rank"].to_numpy(dtype=int),
                                  (r[None, :] < r[:, None]).sum(axis=1) + 1)
    place = size - bottom
    if not ranking.complete:
        assert np.isnan(ranking.line_value) and not t["in_bottom"].any()
        assert t["distance"].isna().all() and np.isnan(ranking.line_for(bottom)[1])
        return
    line = ranked.loc[ranked["rank"] <= place, "reported"].max()
    assert ranking.line_value == line and ranking.line_for(bottom) == (place, line)
    np.testing.assert_array_equal(t["in_bottom"], t["rank"] > place)
    # in the bottom N exactly when above the line: distance > 0 (0.01 at least)
    np.testing.assert_array_equal(t["in_bottom"], t["distance"] > 0)
    assert (t.loc[t["in_bottom"], "distance"] >= 0.01 - 1e-9).all()
    # a longer bottom list never raises its line
    lines = [ranking.line_for(b)[1] for b in range(1, size)]
    assert all(a >= b for a, b in zip(lines, lines[1:]))


# -- the SYNTHETIC peer generator and `lantian demo --peers` --------------------------------

def test_the_demo_peer_stations_and_their_levels():
    from config.groups import load_group
    from ingest.demo_peers import city_levels, demo_peer_stations, generate_peers

    group = load_group(GROUP)
    st_ = demo_peer_stations(group, {"阳泉"})
    assert len(st_) == 167 and "阳泉" not in set(st_["list_city"])
    assert st_["code"].iloc[0] == "SYNP001" and st_["name_zh"].iloc[0] == "北京（合成）"
    assert st_["name_en"].iloc[0] == "Beijing (synthetic)" and st_["code"].is_unique
    place = [m.name for m in group.members].index("阳泉") + 1
    assert f"SYNP{place:03d}" not in set(st_["code"])          # codes keep the file's places
    # levels differ between cities: the North China Plain worse than the south
    assert city_levels("石家庄", "河北省")["PM2.5"] > 1.5 * city_levels("海口", "海南省")["PM2.5"]
    frame = st_[st_["city"].isin(["石家庄", "海口"])]
    parts = list(generate_peers(frame, date(2024, 1, 31), 2024))   # one frame per city
    assert [f.attrs["city"] for f in parts] == list(frame["city"])
    assert all(f.attrs["synthetic"] for f in parts)
    one = pd.concat(parts)
    two = pd.concat(list(generate_peers(frame, date(2024, 1, 31), 2024)))
    pd.testing.assert_frame_equal(one, two)                       # deterministic
    assert set(one["station"]) == set(frame["code"])
    assert one["time"].min() == pd.Timestamp("2024-01-01")
    assert one["time"].max() == pd.Timestamp("2024-01-31 23:00")
    pm = one[one["pollutant"] == "PM2.5"].groupby("station", observed=True)["value"].mean()
    codes = dict(zip(frame["city"], frame["code"]))
    assert pm[codes["石家庄"]] > pm[codes["海口"]]


@pytest.mark.parametrize("group, words", [
    ("shanxi-counties", ["--peers shanxi-counties", "give a city group"]),
    ("key-200", ["no peer group 'key-200'", "key-168"]),
])
def test_demo_peers_needs_a_city_group(cli, group, words):
    result = cli("demo", "--peers", group, "--quiet")
    assert result.exit_code == 1
    assert all(w in result.output for w in words), result.output

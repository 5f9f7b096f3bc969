"""`lantian stats annual|daily` and `lantian rank`: the export contract, on both databases.

Exact values come from a small hand-built city; the real Beijing data is
checked against Beijing's published annual bulletins (北京市环境状况公报).
"""
import io
import json

import pandas as pd
import pytest

from tests.conftest import BEIJING_SITES

SITE = """
city: {id: testcity, name_zh: 测试市, name_en: Test city}
districts:
  - {id: east, name_zh: 东区, name_en: East, grade: II}
  - {id: west, name_zh: 西区, name_en: West, grade: II}
stations:
  - {code: T01, name_zh: 东一, name_en: East 1, district: east, lon: 116.1, lat: 39.1}
  - {code: T02, name_zh: 东二, name_en: East 2, district: east, lon: 116.2, lat: 39.2}
  - {code: T03, name_zh: 西一, name_en: West 1, district: west, lon: 116.3, lat: 39.3}
  - {code: T09, name_zh: 对照, name_en: Background, district: west, lon: 116.4, lat: 39.4,
     role: background}
"""
ANNUAL_COLUMNS = ("level,area,year,pollutant,statistic,value,reported,valid,n_valid,n_required,"
                  "reason")


def _readings():
    """Two days, 2024-01-01 and 02 (hand-made). NO2: T01 45 all day; T02 40 for 20 h on day 1
    (valid) and for 19 h on day 2 (not valid); T03 30; the background station 300."""
    rows = []
    for day in ("2024-01-01", "2024-01-02"):
        for h in range(24):
            t = f"{day} {h:02d}:00"
            rows.append(("T01", t, "NO2", 45))
            if h < (20 if day == "2024-01-01" else 19):
                rows.append(("T02", t, "NO2", 40))
            rows.append(("T03", t, "NO2", 30))
            rows.append(("T09", t, "NO2", 300))
            rows.append(("T01", t, "PM2.5", 60.5 if h < 12 else 60.5))
    return pd.DataFrame(rows, columns=["station", "time", "pollutant", "value"])


@pytest.fixture
def small_city(cli, tmp_path):
    site = tmp_path / "test.yaml"
    site.write_text(SITE, encoding="utf-8")
    assert cli("init", "--sites", site).exit_code == 0
    data = tmp_path / "readings.csv"
    _readings().to_csv(data, index=False)
    result = cli("ingest", "csv", data, "--strict", "--quiet")
    assert result.exit_code == 0, result.output
    return cli


def _csv(result):
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.stdout), dtype={"area": str})


def test_daily_values_levels_and_rules(small_city):
    station = _csv(small_city("stats", "daily", "--from", "2024-01-01", "--to", "2024-01-02",
                              "--level", "station"))
    assert list(station.columns) == ["level", "area", "date", "pollutant", "value", "reported",
                                     "valid"]
    no2 = station[station["pollutant"] == "NO2"].set_index(["area", "date"])
    assert no2.loc[("T01", "2024-01-01"), "reported"] == 45
    assert bool(no2.loc[("T02", "2024-01-01"), "valid"])           # 20 hours
    assert not bool(no2.loc[("T02", "2024-01-02"), "valid"])       # 19 hours
    assert no2.loc[("T02", "2024-01-02"), "reported"] == 40         # shown, marked not valid
    pm = station[(station["pollutant"] == "PM2.5") & (station["area"] == "T01")]
    assert (pm["reported"] == 60).all()                             # 60.5 → 60 (half-even)
    assert {"O3_MDA8", "O3_1H_MAX", "AQI"} <= set(station["pollutant"])

    district = _csv(small_city("stats", "daily", "--from", "2024-01-01", "--to", "2024-01-02",
                               "--level", "district"))
    east = district[(district["pollutant"] == "NO2") & (district["area"] == "east")]
    # day 1: mean of valid station means (45 + 40) / 2 = 42.5 → 42; day 2: T02 invalid → 45
    assert east["value"].tolist() == [42.5, 45.0] and east["reported"].tolist() == [42, 45]
    west = district[(district["pollutant"] == "NO2") & (district["area"] == "west")]
    assert west["reported"].tolist() == [30, 30]                    # background T09 excluded
    city = _csv(small_city("stats", "daily", "--from", "2024-01-01", "--to", "2024-01-01",
                           "--level", "city"))
    assert city.loc[city["pollutant"] == "NO2", "value"].item() == pytest.approx((45 + 40 + 30) / 3)
    aqi = city[city["pollutant"] == "AQI"]
    # SO2, CO, PM10 and O3 are missing: AQI published only when > 100, else empty (NA)
    assert aqi["value"].isna().all() and not aqi["valid"].any()


def test_annual_contract_and_insufficient_data(small_city, tmp_path):
    table = _csv(small_city("stats", "annual", "--year", "2024", "--level", "district"))
    assert ",".join(table.columns) == ANNUAL_COLUMNS
    assert set(table["area"]) == {"east", "west"}
    assert set(table["pollutant"]) == {"SO2", "NO2", "PM10", "PM2.5", "CO", "O3", "AQI", "ALL"}
    assert set(table["statistic"]) == {"annual_mean", "p98_daily", "p95_daily", "p90_mda8",
                                       "exceedance_days", "good_days", "heavy_days",
                                       "valid_aqi_days", "good_day_ratio", "composite_index"}
    no2 = table[(table["area"] == "east") & (table["pollutant"] == "NO2")
                & (table["statistic"] == "annual_mean")].iloc[0]
    assert no2["n_valid"] == 2 and no2["n_required"] == 324 and not no2["valid"]
    # from the REPORTED daily values 42 and 45 (standards §4 rounding order): 43.5 → 44
    assert no2["value"] == 43.5 and no2["reported"] == 44
    js = small_city("stats", "annual", "--year", "2024", "--format", "json")
    records = json.loads(js.stdout)
    assert len(records) == len(table) and set(records[0]) == set(ANNUAL_COLUMNS.split(","))
    xlsx = tmp_path / "out.xlsx"
    assert small_city("stats", "annual", "--year", "2024", "--format", "xlsx", "--out",
                      xlsx).exit_code == 0
    assert len(pd.read_excel(xlsx)) == len(table)


@pytest.mark.parametrize("args, words", [
    (("stats", "annual", "--year", "2019"), "no hourly data between 2019-01-01"),
    (("stats", "annual", "--year", "2024", "--area", "north"), "unknown district north"),
    (("stats", "annual", "--year", "2024", "--profile", "cn-1996"), "unknown profile 'cn-1996'"),
    (("stats", "annual", "--year", "2024", "--format", "xlsx"), "--format xlsx needs --out"),
    (("stats", "daily", "--from", "2024-01-05", "--to", "2024-01-01"), "is before --from"),
    (("rank", "--year", "2024", "--by", "SO3"), "--by 'SO3' is not a ranking"),
])
def test_user_errors_are_one_line(small_city, args, words):
    result = small_city(*args)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert words in " ".join(result.output.split())


# Beijing's annual bulletins (北京市环境状况公报 2014–2016; 35 stations), compared with
# the 11 evaluation stations of the UCI set. Published: PM2.5 85.9 / 80.6 / 73;
# NO2 56.7 / 50.0 / 48; SO2 21.8 / 13.5 / 10; 2016 CO P95 3.2 mg/m³, O3 P90 MDA8 199;
# good days 2015 186, 2016 198; heavy days 2015 46, 2016 39.
PUBLISHED = {
    2014: {("PM2.5", "annual_mean"): 85.9, ("NO2", "annual_mean"): 56.7,
           ("SO2", "annual_mean"): 21.8},
    2015: {("PM2.5", "annual_mean"): 80.6, ("NO2", "annual_mean"): 50.0,
           ("SO2", "annual_mean"): 13.5, ("AQI", "good_days"): 186, ("AQI", "heavy_days"): 46},
    2016: {("PM2.5", "annual_mean"): 73, ("NO2", "annual_mean"): 48, ("SO2", "annual_mean"): 10,
           ("CO", "p95_daily"): 3.2, ("O3", "p90_mda8"): 199, ("AQI", "good_days"): 198,
           ("AQI", "heavy_days"): 39},
}


@pytest.fixture
def beijing(cli, shared_data, db_backend):
    if db_backend != "sqlite":
        pytest.skip("the Beijing annual figures are checked once, on SQLite (the database "
                    "round trip is covered by the acceptance tests on both)")
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    assert cli("ingest", "prsa", shared_data / "beijing-multisite", "--quiet").exit_code == 0
    return cli


def test_beijing_matches_the_published_bulletins(beijing):
    for year, published in PUBLISHED.items():
        table = _csv(beijing("stats", "annual", "--year", year, "--level", "city"))
        assert (table["area"] == "beijing").all() and table["valid"].all()
        got = table.set_index(["pollutant", "statistic"])["reported"]
        for key, official in published.items():
            # 11 of the city's 35 stations: within 8 % (3 days for day counts)
            tolerance = 3 if key[0] == "AQI" else 0.08 * official
            assert abs(got[key] - official) <= tolerance, (year, key, got[key], official)
        assert got[("PM2.5", "annual_mean")] > 35  # far above the Grade II limit every year
    trend = [_csv(beijing("stats", "annual", "--year", y, "--level", "city")).set_index(
        ["pollutant", "statistic"]).loc[("PM2.5", "annual_mean"), "value"] for y in (2014, 2015, 2016)]
    assert trend[0] > trend[1] > trend[2]


def test_beijing_district_ranking(beijing):
    result = beijing("rank", "--year", "2016", "--level", "district", "--format", "csv")
    ranked = _csv(result)
    assert set(ranked["area"]) == {"dongcheng", "xicheng", "chaoyang", "haidian", "shijingshan",
                                   "changping", "shunyi", "huairou"}
    # every district has a value: all ranked (standards.md §7), in order, from 1
    assert ranked["rank"].tolist() == sorted(ranked["rank"].tolist()) and \
        ranked["rank"].iloc[0] == 1 and ranked["rank"].notna().all()
    # ties share a rank on the reported value
    for value, group in ranked.groupby("reported"):
        assert group["rank"].nunique() == 1
    short = ranked[ranked["status"] == "provisional"]
    assert len(short) == 4 and short["reason"].str.contains("valid days, needs").all()
    strict = _csv(beijing("rank", "--year", "2016", "--valid-only", "--format", "csv"))
    missing = strict[strict["status"] == "insufficient data"]
    assert missing["rank"].isna().all() and set(missing["area"]) == set(short["area"])


def test_beijing_under_comparison_profiles(beijing):
    """Same data, four rulebooks (standards.md §8): daily values and the composite index
    stay Chinese; the limits (and for the US, the AQI) change."""
    got = {}
    for profile in ("cn-2012", "who-2021", "eu-2030", "us-epa-2024"):
        table = _csv(beijing("stats", "annual", "--year", "2016", "--level", "city",
                             "--profile", profile))
        got[profile] = table.set_index(["pollutant", "statistic"])["reported"]
    pm_days = {p: got[p][("PM2.5", "exceedance_days")] for p in ("cn-2012", "eu-2030", "who-2021")}
    assert pm_days == {"cn-2012": 131, "eu-2030": 279, "who-2021": 324}   # limits 75 / 25 / 15
    for p in got:
        assert got[p][("PM2.5", "annual_mean")] == 73
        assert got[p][("ALL", "composite_index")] == 6.86
    assert got["us-epa-2024"][("AQI", "good_days")] == 112 < got["cn-2012"][("AQI", "good_days")]
    assert pd.isna(got["us-epa-2024"][("PM2.5", "exceedance_days")])     # the US sets no such limit


def test_targets_on_the_synthetic_demo(cli, db_backend):
    """Deterministic SYNTHETIC demo city: local targets beside national limits."""
    if db_backend != "sqlite":
        pytest.skip("checked once, on SQLite")
    assert cli("demo", "--until", "2026-11-22", "--quiet").exit_code == 0
    full = _csv(cli("targets", "--year", "2025", "--format", "csv")).set_index(["area", "pollutant"])
    assert full.loc[("chengqu", "NO2"), "reported"] == 38 and full.loc[("chengqu", "NO2"), "target"] == 37
    assert full.loc[("chengqu", "NO2"), "status_target"] == "exceeds"
    assert full.loc[("chengqu", "NO2"), "status_national"] == "meets"      # national limit 40
    assert full.loc[("kuangqu", "SO2"), "status_target"] == "exceeds"      # 22 > 20
    assert (full["national_limit"].loc[(slice(None), "SO2")] == 60).all()
    short = full[full["status_target"] == "insufficient data"]
    assert len(short) and short["detail"].str.contains("valid days, needs 27").all()
    ytd = _csv(cli("targets", "--year", "2026", "--format", "csv")).set_index(["area", "pollutant"])
    assert ytd["provisional"].all()
    row = ytd.loc[("yuxian", "NO2")]
    assert row["needed_zh"] == "剩余39天均值需≤34微克/立方米"
    assert row["needed_en"].startswith("needs ≤ 34") and "remaining 39 days" in row["needed_en"]
    table = cli("targets", "--year", "2026", "--lang", "en")
    assert table.exit_code == 0 and "year to date (to 2026-11-22), provisional" in table.output

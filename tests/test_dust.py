"""Official dust days: reading the list, removing PM days for statistics (standards.md §7)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from indicators.dust import DustFileError, read_dust_days, flag_dust_days
from indicators.frames import DAILY_COLUMNS, DAILY_QUANTITIES


def write(tmp_path, text, encoding="utf-8", name="dust.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# --- reading ---------------------------------------------------------------------------------

def test_read_utf8_with_bom_and_duplicates(tmp_path):
    path = write(tmp_path, "\ufeffarea,date,note\nchengqu,2021-03-15,沙尘暴\n"
                           "yangquan-demo,2021/03/16,\n\nchengqu,2021-03-15,again\n")
    out = read_dust_days(path)
    assert list(out.columns) == ["area", "date"]
    assert list(out["area"]) == ["chengqu", "yangquan-demo"]
    assert list(out["date"]) == [pd.Timestamp("2021-03-15"), pd.Timestamp("2021-03-16")]
    assert out["date"].dtype.kind == "M"


def test_read_gbk(tmp_path):
    path = write(tmp_path, "area,date\n城区,2021-03-15\n", encoding="gbk")
    out = read_dust_days(path)
    assert out["area"].iloc[0] == "城区"


def test_header_only_is_an_empty_list(tmp_path):
    assert read_dust_days(write(tmp_path, "area,date\n")).empty


@pytest.mark.parametrize("text, row, words", [
    ("", None, "empty"),
    ("chengqu,2021-03-15\n", 1, "no header"),
    ("area,day\nchengqu,2021-03-15\n", 1, "lacks column"),
    ("area,date\nchengqu,2021-03-15\nkuangqu,15.3.2021\n", 3, "not a date"),
    ("area,date\nchengqu,2021-02-30\n", 2, "not a date"),
    ("area,date\n,2021-03-15\n", 2, "area is empty"),
])
def test_errors_name_file_row_and_fix(tmp_path, text, row, words):
    path = write(tmp_path, text)
    with pytest.raises(DustFileError) as info:
        read_dust_days(path)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.row == row and words in err.problem and err.fix
    assert str(path) in str(err) and "—" in str(err)
    if row is not None:
        assert f"row {row}" in str(err)


def test_not_text(tmp_path):
    path = tmp_path / "dust.csv"
    path.write_bytes(b"\xff\xfe\x00\x81\x00\xfe")
    with pytest.raises(DustFileError, match="UTF-8 or GBK"):
        read_dust_days(path)


def test_missing_file(tmp_path):
    with pytest.raises(DustFileError, match="cannot be read"):
        read_dust_days(tmp_path / "nope.csv")


# --- removal ---------------------------------------------------------------------------------

def daily_frame():
    rows = []
    days = pd.to_datetime(["2021-03-14", "2021-03-15", "2021-03-16"])
    for level, area in [("station", "SYN01"), ("station", "SYN06"), ("district", "chengqu"),
                        ("district", "jiaoqu"), ("city", "yangquan-demo")]:
        for day in days:
            for q in DAILY_QUANTITIES:
                rows.append(dict(level=level, area=area, date=day, pollutant=q, value=50.4,
                                 reported=50.0, valid=True, n_valid=24, n_required=20,
                                 profile="cn-2012"))
    return pd.DataFrame(rows, columns=list(DAILY_COLUMNS))


DUST = pd.DataFrame({"area": ["chengqu", "yangquan-demo"],
                     "date": pd.to_datetime(["2021-03-15", "2021-03-16"])})
STATIONS = {"SYN01": "chengqu", "SYN06": "jiaoqu"}


def test_removes_pm_only_and_keeps_rows():
    daily = daily_frame()
    out = flag_dust_days(daily, DUST, stations=STATIONS)
    assert len(out) == len(daily)
    pd.testing.assert_frame_equal(out.drop(columns=["dust"]), daily)  # validity unchanged
    removed = out[out["dust"]]
    assert set(removed["pollutant"]) == {"PM10", "PM2.5"}       # profile dust.exclude_from
    got = set(zip(removed["level"], removed["area"], removed["date"].dt.strftime("%m-%d")))
    assert got == {("district", "chengqu", "03-15"), ("station", "SYN01", "03-15"),
                   ("city", "yangquan-demo", "03-16")}
    # the input frame is not modified
    assert daily["valid"].all() and "dust" not in daily


def test_station_inherits_only_with_mapping_and_membership_frame():
    daily = daily_frame()
    no_map = flag_dust_days(daily, DUST)
    assert not no_map.loc[no_map["level"] == "station", "dust"].any()
    membership = pd.DataFrame({"level": ["district", "district", "city", "city"],
                               "area": ["chengqu", "jiaoqu", "yangquan-demo", "yangquan-demo"],
                               "station": ["SYN01", "SYN06", "SYN01", "SYN06"],
                               "grade": ["II"] * 4})
    with_frame = flag_dust_days(daily, DUST, stations=membership)
    pd.testing.assert_frame_equal(with_frame, flag_dust_days(daily, DUST, stations=STATIONS))


def test_explicit_quantities_and_invalid_days_stay_invalid():
    daily = daily_frame()
    daily.loc[(daily["area"] == "chengqu") & (daily["pollutant"] == "SO2"), "valid"] = False
    out = flag_dust_days(daily, DUST, quantities=["PM10"])
    assert set(out.loc[out["dust"], "pollutant"]) == {"PM10"}
    so2 = out[(out["area"] == "chengqu") & (out["pollutant"] == "SO2")]
    assert not so2["valid"].any() and not so2["dust"].any()


def test_dates_match_at_any_resolution():
    daily = daily_frame()
    daily["date"] = daily["date"].astype("datetime64[ns]")
    dust = pd.DataFrame({"area": ["chengqu"],
                         "date": np.array(["2021-03-15"], dtype="datetime64[D]")})
    out = flag_dust_days(daily, dust)
    assert out["dust"].sum() == 2                           # PM10, PM2.5 of chengqu on 15 March


def test_read_then_remove(tmp_path):
    path = write(tmp_path, "area,date\nchengqu,2021-03-15\n")
    out = flag_dust_days(daily_frame(), read_dust_days(path), stations=STATIONS)
    assert out["dust"].sum() == 4                           # district + its station, PM10 + PM2.5


def test_with_station_days_for_the_statistics_module():
    from indicators.dust import with_station_days
    out = with_station_days(DUST, STATIONS)
    got = set(zip(out["area"], out["date"].dt.strftime("%m-%d")))
    assert got == {("chengqu", "03-15"), ("SYN01", "03-15"), ("yangquan-demo", "03-16")}

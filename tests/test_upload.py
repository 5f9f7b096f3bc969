"""The upload page (/upload): check and load a file from the browser, safely.

Everything goes through the Flask test client and the page's real callbacks
(``/_dash-update-component`` with the callback's own output, inputs and state
as Dash's renderer sends them), signed in as a real account, on copies of the
SYNTHETIC demo database. The real Beijing PRSA data (``../shared/data``) is
uploaded when present and compared with the command line's load.
"""
from __future__ import annotations

import base64
import io
import json
import random
import tempfile
from dataclasses import replace

import pandas as pd
import pytest
from sqlalchemy import create_engine, func, select

from dashboard.context import engine_of
from ingest import inspection
from store import schema
from store.db import data_version
from store.users import audit_entries
from tests.conftest import SHARED_DATA, TEST_DATA, _lantian
from tests.dash_helpers import ROUTER_OUTPUT, sqlite_copy, dump, route, staff_client, started_app

RUN = "upload-result.children"          # the Check/Load callback (its first output)
GATE = "upload-load.disabled"           # enables Load after a check of the same file


_copy_demo = sqlite_copy


@pytest.fixture(scope="module")
def app(demo_db_url, tmp_path_factory):
    return started_app(sqlite_copy(demo_db_url, tmp_path_factory.mktemp("upload")))


@pytest.fixture(scope="module")
def tiny_app(demo_db_url, tmp_path_factory):
    """An app whose upload limit is 0.001 MB (1,048 bytes)."""
    from config.settings import load_settings
    from dashboard.app import create_app
    url = _copy_demo(demo_db_url, tmp_path_factory.mktemp("upload-tiny"))
    settings = replace(load_settings(), upload_max_mb=0.001)
    return create_app(url, cache_url="", settings=settings)


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Temporary files of the test go to a folder of their own (to see what is left)."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


# -- talking to the callbacks as the browser does ---------------------------------------------

def callback(app, first_output: str) -> tuple[str, dict]:
    for key, spec in app.callback_map.items():
        if key.strip(".").split("...")[0] == first_output:
            return key, spec
    raise AssertionError(f"no callback with output {first_output}")


def request_body(app, first_output: str, values: dict, changed: str) -> dict:
    """The JSON Dash's renderer posts for this callback: every input and state with its
    value from ``values`` (``"id.property"`` → value; absent ones are None)."""
    key, spec = callback(app, first_output)
    outputs = [dict(zip(("id", "property"), part.split(".", 1)))
               for part in key.strip(".").split("...")]

    def items(kind):
        return [{"id": i["id"], "property": i["property"],
                 "value": values.get(f"{i['id']}.{i['property']}")} for i in spec[kind]]
    return {"output": key, "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": items("inputs"), "state": items("state"), "changedPropIds": [changed]}


def router_payload(path: str) -> dict:
    return {"output": ROUTER_OUTPUT,
            "outputs": [{"id": "_pages_content", "property": "children"},
                        {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": ""}],
            "changedPropIds": ["_pages_location.pathname"], "state": []}


def data_url(data: bytes, mime: str = "text/csv") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def press(client, app, action: str, data: bytes | None, name: str | None, *,
          reader: str = "csv", layout: str = "long", station=None, units=None,
          hour_label: str = "beginning", gas=None, strict: bool = False, lang: str = "zh",
          contents: str | None = None):
    """Press Check (``action="check"``) or Load; returns the HTTP response."""
    button = "upload-check" if action == "check" else "upload-load"
    values = {
        "upload-check.n_clicks": 1, "upload-load.n_clicks": 1 if action == "load" else 0,
        "upload-file.contents": contents if contents is not None else (
            data_url(data) if data is not None else None),
        "upload-file.filename": name, "upload-file.last_modified": 1751328000,
        "upload-reader.value": reader, "upload-layout.value": layout,
        "upload-station.value": station, "upload-units.value": units,
        "upload-hour-label.value": hour_label, "upload-gas-temperature.value": gas,
        "upload-strict.value": ["strict"] if strict else [], "upload-lang.data": lang,
    }
    return client.post("/_dash-update-component",
                       json=request_body(app, RUN, values, f"{button}.n_clicks"))


def answer(response) -> tuple[str, object]:
    """(result children as JSON text, the checked-selection store) of a Check/Load answer."""
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    body = response.get_json()["response"]
    return dump(body["upload-result"]["children"]), body["upload-checked"]["data"]


def node(text: str, component_id: str):
    """The component ``component_id`` in an answer's JSON text (None when absent)."""
    def find(item):
        if isinstance(item, list):
            for child in item:
                found = find(child)
                if found is not None:
                    return found
        elif isinstance(item, dict):
            props = item.get("props", {})
            if props.get("id") == component_id:
                return item
            return find(props.get("children"))
        return None
    return find(json.loads(text))


def strings(item) -> list[str]:
    """Every text in a component tree, in order."""
    if isinstance(item, list):
        return [s for child in item for s in strings(child)]
    if isinstance(item, dict):
        return strings(item.get("props", {}).get("children"))
    return [] if item is None else [str(item)]


def tiles(text: str) -> dict:
    """The summary tiles of an answer: label → value."""
    values = strings(node(text, "upload-summary"))
    return dict(zip(values[1::2], values[0::2]))


# -- the database ----------------------------------------------------------------------------

def counts(app) -> dict:
    engine = engine_of(app.server)
    with engine.connect() as conn:
        return {"hourly": conn.execute(select(func.count()).select_from(schema.hourly)).scalar(),
                "runs": conn.execute(select(func.count()).select_from(
                    schema.ingest_runs)).scalar(),
                "stations": conn.execute(select(func.count()).select_from(
                    schema.stations)).scalar(),
                "version": data_version(conn)}


def last_run(app) -> dict:
    with engine_of(app.server).connect() as conn:
        row = conn.execute(select(schema.ingest_runs).order_by(
            schema.ingest_runs.c.id.desc()).limit(1)).mappings().first()
    return dict(row)


def audit_rows(app, action: str) -> pd.DataFrame:
    with engine_of(app.server).connect() as conn:
        return audit_entries(conn, 500, actions=(action,))


# -- files -----------------------------------------------------------------------------------

def long_csv(hours: int = 12, station_codes=("SYN01", "UPL01"), day: str = "2025-07-01",
             bad_time_row: int | None = None) -> bytes:
    """A long CSV: ``hours`` × stations × (PM2.5, NO2, CO); SYN01's first NO2 value is
    missing and UPL01's first CO value negative. Row numbers count the header as row 1."""
    lines = ["station,time,pollutant,value,unit"]
    for code in station_codes:
        for h in range(hours):
            stamp = f"{day} {h:02d}:00"
            pm = 30 + (h * 7) % 11
            no2 = "" if (code == "SYN01" and h == 0) else str(20 + (h * 5) % 9)
            co = "-0.4" if (code == "UPL01" and h == 0) else f"{0.6 + (h % 5) / 10:.1f}"
            lines += [f"{code},{stamp},PM2.5,{pm},µg/m3", f"{code},{stamp},NO2,{no2},µg/m3",
                      f"{code},{stamp},CO,{co},mg/m3"]
    if bad_time_row is not None:
        parts = lines[bad_time_row - 1].split(",")
        parts[1] = "2025-07-01 7 o'clock"
        lines[bad_time_row - 1] = ",".join(parts)
    return ("\n".join(lines) + "\n").encode("utf-8")


# -- a good file: check, load, load again -------------------------------------------------------

def test_check_writes_nothing_then_load_stores_and_reload_is_unchanged(app, private_tmp):
    client = staff_client(app, "analyst")
    data = long_csv()
    before = counts(app)

    text, checked = answer(press(client, app, "check", data, "readings.csv"))
    assert counts(app) == before                         # a check writes no data
    assert "检查通过" in text and "readings.csv" in text
    assert checked is not None                           # Load is enabled for this selection
    # 2 stations × 12 hours × 3 pollutants, one value missing: 71 readings, one negative
    summary = tiles(text)
    assert summary["数据行"] == "72" and summary["读数"] == "71"
    assert summary["站点（已有 / 新）"] == "1 / 1"            # SYN01 known, UPL01 new
    assert summary["QC 标记 / 剔除"] == "1 / 1"
    assert summary["污染物"] == "NO2, CO, PM2.5"
    assert summary["时间范围（北京时间，小时起始）"] == "2025-07-01 00:00 – 2025-07-01 11:00"
    assert "UPL01" in text and "新站点" in text and "城区合成站一" in text
    assert "negative 1" in text
    assert "lantian ingest csv readings.csv" in text
    assert not any(private_tmp.iterdir())                # the temporary folder is gone

    # the gate callback enables Load for exactly this file and these options
    gate_values = {"upload-checked.data": checked, "upload-file.filename": "readings.csv",
                   "upload-file.last_modified": 1751328000, "upload-reader.value": "csv",
                   "upload-layout.value": "long", "upload-hour-label.value": "beginning",
                   "upload-strict.value": [], "upload-lang.data": "zh"}
    gate = client.post("/_dash-update-component",
                       json=request_body(app, GATE, gate_values, "upload-checked.data"))
    assert gate.status_code == 200, gate.get_data(as_text=True)[:500]
    assert gate.get_json()["response"]["upload-load"]["disabled"] is False
    other = client.post("/_dash-update-component", json=request_body(
        app, GATE, {**gate_values, "upload-layout.value": "wide"}, "upload-layout.value"))
    assert other.get_json()["response"]["upload-load"]["disabled"] is True

    text, checked = answer(press(client, app, "load", data, "readings.csv"))
    after = counts(app)
    assert "已载入 readings.csv" in text and checked is None
    assert after["runs"] == before["runs"] + 1
    assert after["stations"] == before["stations"] + 1          # UPL01 created
    assert after["hourly"] == before["hourly"] + 24              # 2 stations × 12 hours
    assert after["version"] > before["version"]
    run = last_run(app)
    assert run["status"] == "ok" and run["file"] == "upload:readings.csv"
    assert run["reader"] == "csv" and run["readings_read"] == 71
    assert run["readings_new"] == 71 and run["readings_flagged"] == 1
    assert run["readings_rejected"] == 1
    assert json.loads(run["options"]) == {"layout": "long", "station": None, "units": {},
                                          "hour_label": "beginning", "gas_temperature": None}
    log = audit_rows(app, "upload")
    log = log[log["detail"].str.startswith("readings.csv (")]
    assert len(log) == 1 and log.iloc[0]["username"] == "test-analyst"
    detail = log.iloc[0]["detail"]
    assert detail.startswith(f"readings.csv ({len(data)} bytes, sha256 ")
    assert f"run #{run['id']} ok" in detail and "71 read, 71 new" in detail
    assert log.iloc[0]["remote_addr"] == "127.0.0.1"
    assert len(audit_rows(app, "upload_check")) >= 1

    # the dashboards read the new version: the data page lists the new station
    page = dump(route(client, "/data"))
    assert "UPL01" in page and "upload:readings.csv" in page

    # the same file again: nothing new, said so
    text, _ = answer(press(client, app, "check", data, "readings.csv"))
    assert f"#{run['id']}" in text                    # "loaded before in run #…"
    text, _ = answer(press(client, app, "load", data, "readings.csv"))
    again = counts(app)
    assert "没有新数据" in text and f"#{run['id']}" in text
    assert again["hourly"] == after["hourly"] and again["version"] == after["version"]
    assert last_run(app)["status"] == "unchanged" and last_run(app)["readings_new"] == 0
    assert not any(private_tmp.iterdir())


def test_english_answers(app):
    client = staff_client(app, "analyst")
    text, _ = answer(press(client, app, "check", long_csv(day="2025-07-05",
                                                          station_codes=("SYN01", "ENX01")),
                           "en.csv", lang="en"))
    assert "Check passed: en.csv" in text and "would be created" in text
    text, _ = answer(press(client, app, "check", b"\x00\x01junk", "en.csv", lang="en"))
    assert "The file was not loaded" in text and "Nothing was stored." in text


def test_an_excel_workbook_checks_like_the_csv(app):
    client = staff_client(app, "analyst")
    frame = pd.read_csv(io.BytesIO(long_csv(day="2025-07-02")), keep_default_na=False)
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    before = counts(app)
    text, checked = answer(press(client, app, "check", buffer.getvalue(), "readings.xlsx",
                                 reader="excel"))
    assert "检查通过" in text and checked is not None
    summary = tiles(text)
    assert summary["读数"] == "71"
    assert summary["时间范围（北京时间，小时起始）"] == "2025-07-02 00:00 – 2025-07-02 11:00"
    assert counts(app) == before


def test_a_wide_file_needs_its_station_and_takes_unit_overrides(app):
    client = staff_client(app, "analyst")
    wide = ("time,PM2.5,CO\n" + "".join(f"2025-07-03 {h:02d}:00,{40 + h},{900 + h * 10}\n"
                                         for h in range(6))).encode()
    before = counts(app)
    text, checked = answer(press(client, app, "check", wide, "wide.csv", layout="wide"))
    assert "读取选项有误" in text and "a wide file holds one station" in text
    assert checked is None
    text, checked = answer(press(client, app, "check", wide, "wide.csv", layout="wide",
                                 station="SYN02", units="CO=µg/m3"))
    assert "检查通过" in text and checked is not None
    assert "0.9" in text and "0.95" in text               # CO 900–950 µg/m³ → mg/m³
    assert "--layout wide --station SYN02 --unit" in text
    text, _ = answer(press(client, app, "check", wide, "wide.csv", layout="wide",
                           station="SYN02", units="CO=furlongs"))
    assert "读取选项有误" in text and "unknown unit" in text
    assert counts(app) == before


def test_strict_mode_refuses_unknown_stations_and_stores_nothing(app):
    client = staff_client(app, "analyst")
    data = long_csv(day="2025-07-04", station_codes=("SYN03", "NEWX9"))
    before = counts(app)
    text, checked = answer(press(client, app, "check", data, "strict.csv", strict=True))
    assert "载入将被拒绝" in text and "NEWX9" in text and checked is None
    text, _ = answer(press(client, app, "load", data, "strict.csv", strict=True))
    assert "文件未载入" in text and "严格模式" in text and "NEWX9" in text
    assert counts(app) == before                           # no readings, run or station
    refused = audit_rows(app, "upload_refused")
    assert refused["detail"].str.contains("strict.csv").any()


def test_the_form_is_offered_on_a_database_without_readings(tmp_path):
    """A new installation: no city and no readings yet; uploading is how data gets in."""
    from dashboard.app import create_app
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    _lantian(url, "init")
    web = create_app(url, cache_url="")
    client = staff_client(web, "analyst")
    page = dump(client.post("/_dash-update-component", json=router_payload("/upload"))
                .get_json())
    assert "page-empty" in page and "upload-file" in page and "upload-check" in page
    text, _ = answer(press(client, web, "load", long_csv(), "first.csv"))
    assert "已载入 first.csv" in text
    assert counts(web)["hourly"] == 24 and counts(web)["stations"] == 2
    assert "UPL01" in dump(route(client, "/data"))


# -- access ------------------------------------------------------------------------------------

def test_viewers_get_403_and_anonymous_visitors_401_on_the_upload_callbacks(app):
    before = counts(app)
    viewer = staff_client(app, "viewer")
    anonymous = app.server.test_client()
    for first in (RUN, GATE, "upload-tabular.hidden"):
        spec = callback(app, first)[1]["inputs"][0]           # an input of this callback
        body = request_body(app, first, {"upload-file.contents": data_url(long_csv()),
                                          "upload-file.filename": "x.csv",
                                          "upload-check.n_clicks": 1},
                            f"{spec['id']}.{spec['property']}")
        refused = viewer.post("/_dash-update-component", json=body)
        assert refused.status_code == 403, first
        assert refused.get_json()["reason"] == "role"
        assert anonymous.post("/_dash-update-component", json=body).status_code == 401, first
    # the page itself: analysts and administrators only
    assert viewer.post("/_dash-update-component",
                       json=router_payload("/upload")).status_code == 403
    for role in ("analyst", "admin"):
        page = staff_client(app, role).post("/_dash-update-component",
                                            json=router_payload("/upload"))
        assert page.status_code == 200
        assert "upload-file" in dump(page.get_json())
    # without the CSRF header a signed-in analyst is refused too
    analyst = staff_client(app, "analyst")
    analyst.environ_base.pop("HTTP_X_CSRFTOKEN")
    response = press(analyst, app, "load", long_csv(), "x.csv")
    assert response.status_code == 403 and response.get_json()["reason"] == "csrf"
    assert counts(app) == before


# -- refused uploads ------------------------------------------------------------------------------

def test_an_oversized_upload_is_refused_with_its_size_and_nothing_is_stored(tiny_app,
                                                                            private_tmp):
    client = staff_client(tiny_app, "analyst")
    data = long_csv()
    assert len(data) > 1048
    before = counts(tiny_app)
    for action in ("check", "load"):
        text, checked = answer(press(client, tiny_app, action, data, "big.csv"))
        assert "文件未载入" in text and checked is None
        assert f"文件 {len(data) / 1024:.1f} KB，超过上传上限 1.0 KB" in text
    assert counts(tiny_app) == before
    refused = audit_rows(tiny_app, "upload_refused")
    assert len(refused) == 2 and refused.iloc[0]["username"] == "test-analyst"
    assert "more than the upload limit of 1.0 KB" in refused.iloc[0]["detail"]
    assert not any(private_tmp.iterdir())                  # never written to disk
    # the page tells the browser the limit (it refuses a larger file itself and says so)
    page = dump(client.post("/_dash-update-component",
                            json=router_payload("/upload")).get_json())
    assert '"max_size": 1048' in page and '"data-bytes": "1048"' in page
    assert "最大 1.0 KB" in page
    # a small enough file passes the same limit
    small = b"station,time,pollutant,value\nSYN01,2025-07-01 00:00,PM2.5,31\n"
    text, checked = answer(press(client, tiny_app, "check", small, "small.csv"))
    assert "检查通过" in text and checked is not None


def test_a_compressed_file_that_expands_too_far_is_refused(tiny_app):
    import gzip
    client = staff_client(tiny_app, "analyst")
    bomb = gzip.compress(b"station,time,pollutant,value\n" + b"0" * 200_000)
    assert len(bomb) < 1048
    text, _ = answer(press(client, tiny_app, "check", bomb, "bomb.csv.gz"))
    assert "压缩文件解压后超过上传上限 1.0 KB" in text     # a .gz table: the upload limit itself


BAD_FILES = [
    # (name, reader, content, what the message says)
    ("junk.csv", "csv", random.Random(7).randbytes(4096), "不是可读取的文本表格"),
    ("sheet.xlsx", "excel", b"station,time,pollutant,value\nSYN01,2025-07-01 00:00,PM2.5,3\n",
     "不是 Excel .xlsx 工作簿（.xlsx 是 zip 压缩包）"),
    ("truncated.xlsx", "excel", (TEST_DATA / "broken" / "excel-wide__truncated_zip.xlsx")
     .read_bytes(), "已损坏"),
    ("bad_time.csv", "csv", long_csv(bad_time_row=7), "row 7, column 'time'"),
    ("legacy.xls", "excel", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "另存为 .xlsx"),
    ("data.csv", "csv", b"PK\x03\x04" + b"\x00" * 100, "请选择 Excel 读取器"),
    ("data.csv.gz", "csv", b"station,time\n", "不是 gzip 压缩文件"),
    ("prsa.csv.gz", "prsa", (TEST_DATA / "broken" / "prsa__truncated.csv.gz").read_bytes(),
     "gzip 数据已损坏或不完整"),
    ("readings.exe", "csv", b"station,time,pollutant,value\n", "文件名须以 .csv .csv.gz .txt 结尾"),
    ("empty.csv", "csv", b"", "文件是空的"),
    ("conflict.csv", "csv", (TEST_DATA / "broken" / "csv-long__duplicated_conflicting.csv")
     .read_bytes(), "given twice with different values"),
    ("utf16.csv", "prsa", (TEST_DATA / "broken" / "prsa__utf16.csv").read_bytes(), "UTF-16"),
    ("data_20150101.csv", "cnemc", b"date,hour,type,1001A\n", "china_sites_YYYYMMDD.csv"),
    ("china_sites_20150102.csv", "cnemc",
     (TEST_DATA / "cnemc" / "china_sites_20150101.csv").read_bytes(),
     "differs from the file name's date 20150102"),
]


@pytest.mark.parametrize("name,reader,content,expected", BAD_FILES,
                         ids=[f[0] for f in BAD_FILES])
def test_malformed_files_are_refused_clearly_and_nothing_is_stored(app, private_tmp, name,
                                                                   reader, content, expected):
    client = staff_client(app, "analyst")
    before = counts(app)
    refused_before = len(audit_rows(app, "upload_refused"))
    for action in ("check", "load"):            # Load checks again on the server
        contents = "data:text/csv;base64," if not content else None
        text, checked = answer(press(client, app, action, content, name, reader=reader,
                                     contents=contents))
        assert "文件未载入" in text and "数据库未作任何更改" in text, text[:600]
        assert expected in text, text[:800]
        assert "Traceback" not in text and str(private_tmp) not in text
        assert checked is None
    assert counts(app) == before                    # no readings, no ingest run, no station
    refused = audit_rows(app, "upload_refused")
    assert len(refused) == refused_before + 2
    assert refused["detail"].str.contains(name, regex=False).iloc[:2].all()
    assert (refused["username"].iloc[:2] == "test-analyst").all()
    assert not any(private_tmp.iterdir())


def test_a_damaged_upload_body_is_refused(app):
    client = staff_client(app, "analyst")
    text, checked = answer(press(client, app, "check", None, None))     # no file chosen
    assert "请先选择一个文件" in text and checked is None
    text, _ = answer(press(client, app, "check", b"a,b\n", "x.csv", reader="nonsense"))
    assert "unknown reader 'nonsense'" in text
    for contents in ("not a data url", "data:text/csv;base64,@@@notbase64@@@"):
        text, _ = answer(press(client, app, "check", None, "x.csv", contents=contents))
        assert "上传的数据不完整或已损坏" in text


# -- names -------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw,clean", [
    ("../../etc/passwd.csv", "passwd.csv"),
    ("..\\..\\x.csv", "x.csv"),
    ("a/b/../c.csv", "c.csv"),
    ("x\x00.csv", "x.csv"),
    ("/abs/path/..", ""),
    ("C:\\Users\\me\\data.csv", "data.csv"),
    ("china_sites_20150101.csv", "china_sites_20150101.csv"),
    ("阳泉 数据(1).csv", "阳泉 数据(1).csv"),
    ("evil\u202egpj.csv", "evilgpj.csv"),
    ("..hidden.csv", "hidden.csv"),
    ("a;rm -rf ~.csv", "a_rm -rf _.csv"),
])
def test_safe_name(raw, clean):
    assert inspection.safe_name(raw) == clean


def test_long_names_keep_their_ending():
    name = inspection.safe_name("x" * 500 + ".csv.gz")
    assert len(name) == inspection.NAME_MAX and name.endswith(".csv.gz")


TRAVERSAL = ["../../etc/passwd.csv", "..\\..\\x.csv", "a/b/../c.csv", "\x00../../nul\x00.csv"]


def test_traversal_names_are_stored_under_a_bare_name_inside_the_temporary_folder(
        app, private_tmp, monkeypatch):
    client = staff_client(app, "analyst")
    seen = []
    real = inspection.staged

    def spy(data, name):
        context = real(data, name)
        path = context.__enter__()
        seen.append((path, path.is_file(), path.read_bytes() == data))
        return _Exit(context, path)
    monkeypatch.setattr(inspection, "staged", spy)
    expected = {"../../etc/passwd.csv": "passwd.csv", "..\\..\\x.csv": "x.csv",
                "a/b/../c.csv": "c.csv", "\x00../../nul\x00.csv": "nul.csv"}
    for i, raw in enumerate(TRAVERSAL):
        data = long_csv(day=f"2025-07-{10 + i}", station_codes=("SYN04",))
        text, _ = answer(press(client, app, "load", data, raw))
        assert f"已载入 {expected[raw]}" in text
        assert last_run(app)["file"] == f"upload:{expected[raw]}"
        assert audit_rows(app, "upload").iloc[0]["detail"].startswith(expected[raw] + " (")
    for path, existed, same in seen:
        assert existed and same
        assert path.parent.parent == private_tmp.resolve()          # <tmp>/lantian-upload-*/
        assert path.parent.name.startswith("lantian-upload-")
        assert path.name in expected.values()
        assert not path.parent.exists()                              # removed afterwards
    assert not any(private_tmp.iterdir())
    # nothing escaped: no file of those names beside or above the temporary folder
    for folder in (private_tmp, private_tmp.parent, private_tmp.parent.parent):
        for leaf in ("passwd.csv", "x.csv", "c.csv", "nul.csv", "etc"):
            assert not (folder / leaf).exists()


class _Exit:
    """Context manager returned by the ``staged`` spy: yields the path, then cleans up."""

    def __init__(self, context, path):
        self.context, self.path = context, path

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        return self.context.__exit__(*exc)


# -- the real data -------------------------------------------------------------------------------

def test_a_real_prsa_file_loads_the_same_readings_as_the_command_line(demo_db_url, tmp_path):
    source = SHARED_DATA / "beijing-multisite" / "PRSA_Data_Dongsi_20130301-20170228.csv.gz"
    if not source.is_file():
        pytest.skip(f"real data file {source} is absent (../shared/data beside the checkout); "
                    "skipping the real-data upload test")
    from dashboard.app import create_app
    cli_url = _copy_demo(demo_db_url, tmp_path, "cli.sqlite")
    _lantian(cli_url, "ingest", "prsa", source, "--quiet")
    web = create_app(_copy_demo(demo_db_url, tmp_path, "web.sqlite"), cache_url="")
    client = staff_client(web, "analyst")
    data = source.read_bytes()

    checked_text, checked = answer(press(client, web, "check", data, source.name,
                                         reader="prsa"))
    assert "检查通过" in checked_text and checked is not None and "1003A" in checked_text
    assert "2013-03-01 00:00 – 2017-02-28 23:00" in checked_text
    text, _ = answer(press(client, web, "load", data, source.name, reader="prsa"))
    assert f"已载入 {source.name}" in text

    engine = create_engine(cli_url)
    with engine.connect() as conn:
        cli_run = dict(conn.execute(select(schema.ingest_runs).order_by(
            schema.ingest_runs.c.id.desc()).limit(1)).mappings().first())
        cli_hourly = conn.execute(select(func.count()).select_from(schema.hourly)).scalar()
    engine.dispose()
    web_run = last_run(web)
    for key in ("status", "checksum", "options", "rows_read", "readings_read", "readings_new",
                "readings_changed", "readings_flagged", "readings_rejected"):
        assert web_run[key] == cli_run[key], key
    assert web_run["rows_read"] == 35064 and web_run["readings_read"] > 200_000
    assert counts(web)["hourly"] == cli_hourly
    # the check announced what the load then stored
    summary = tiles(checked_text)
    assert summary["读数"] == f'{web_run["readings_read"]:,}'
    assert summary["QC 标记 / 剔除"] == \
        f'{web_run["readings_flagged"]:,} / {web_run["readings_rejected"]:,}'
    assert tiles(text)["新增"] == f'{web_run["readings_new"]:,}'

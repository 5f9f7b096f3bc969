"""One language at a time (issue: mixed languages): every visible string of a page follows
the chosen language; the header follows it without a reload; downloads speak it too, with
machine-readable column names on request."""
from __future__ import annotations

import csv
import io
import re

import pytest

from tests.dash_helpers import honest_payload, route, staff_client

CJK = re.compile(r"[\u4e00-\u9fff]")
CODE = re.compile(r"^[a-z]+(_[a-z0-9]+)+$")
#: where a page's visible words are (dropdown *values* are codes on purpose)
VISIBLE = {"children", "label", "title", "headerName", "placeholder", "text"}
PATHS = ["/", "/ranking", "/exceedances", "/objectives", "/district", "/station", "/map", "/standards",
         "/public", "/data", "/upload", "/admin"]


def visible(node, key=None, out=None) -> list[str]:
    out = [] if out is None else out
    if isinstance(node, dict):
        for k, v in node.items():
            visible(v, k, out)
    elif isinstance(node, list):
        for v in node:
            visible(v, key, out)
    elif isinstance(node, str) and key in VISIBLE:
        out.append(node)
    return out


@pytest.fixture(scope="module")
def client(demo_app):
    return staff_client(demo_app, "admin")


@pytest.mark.parametrize("path", PATHS)
def test_english_pages_hold_no_chinese(client, path):
    answer = route(client, path, "?city=yangquan-demo&period=year&year=2024&lang=en")
    words = visible(answer)
    chinese = sorted({w for w in words if CJK.search(w)} - {"中文 / English", "中文"})
    # the synthetic banner is bilingual by design
    assert [w for w in chinese if "SYNTHETIC" not in w and "合成" not in w] == []
    assert answer["response"]["_pages_store"]["data"]["title"].endswith("· Lantian")


@pytest.mark.parametrize("path", ["/", "/exceedances", "/admin", "/standards"])
def test_chinese_pages_show_no_bare_codes(client, path):
    answer = route(client, path, "?city=yangquan-demo&period=year&year=2024")
    codes = sorted({w for w in visible(answer) if CODE.match(w)})
    assert codes == []
    assert "蓝天" in answer["response"]["_pages_store"]["data"]["title"]


def test_the_header_follows_the_language(demo_app, client):
    from dashboard import ids
    deps = client.get("/_dash-dependencies").get_json()
    spec = next(d for d in deps if ids.USER_NAME in d["output"])
    body = honest_payload(spec, {"_pages_location.search": "?lang=en"})
    answer = client.post("/_dash-update-component", json=body).get_json()["response"]
    assert answer[ids.USER_NAME]["children"] == "test-admin (admin)"       # not "(管理)"
    assert answer[ids.LOGOUT]["children"] == "Sign out"
    anonymous = demo_app.server.test_client()
    spec = next(d for d in deps if ids.LOGIN_LINK in d["output"])
    body = honest_payload(spec, {"_pages_location.search": "?lang=en"})
    answer = anonymous.post("/_dash-update-component", json=body).get_json()["response"]
    assert answer[ids.LOGIN_LINK] == {"children": "Staff sign-in", "href": "/login?lang=en"}


def test_admin_tables_speak_the_readers_language(client):
    answer = route(client, "/admin", "?city=yangquan-demo")
    text = str(answer)
    assert "'refData': {'chengqu': '城区'" in text
    assert "年平均浓度" in text or "平均浓度" in text
    assert "新建账号" in text or "登录" in text


def test_downloads_speak_the_page_language_and_codes_on_request(client):
    base = "/export/exceedances.csv?city=yangquan-demo&period=year&year=2024"

    def header(url):
        body = client.get(url).get_data().decode("utf-8-sig")
        return next(csv.reader(io.StringIO(body)))
    assert header(base)[:5] == ["日期", "区域代码", "区域", "污染物", "平均时间"]
    assert header(base + "&lang=en")[:5] == ["date", "area id", "area", "pollutant",
                                            "averaging time"]
    assert header(base + "&codes=1")[:5] == ["date", "area", "area_name", "pollutant",
                                            "averaging"]
    readings = header("/export/station-readings.csv?city=yangquan-demo&station=SYN01"
                      "&period=month&year=2024&month=1")
    assert readings[:4] == ["站点", "时间", "SO2", "SO2 质控标记"]

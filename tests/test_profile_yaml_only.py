"""A new standard profile is one YAML file: no code change.

A copy of the shipped ``cn-2012.yaml`` with a new id, names and display settings,
put in a folder named by ``LANTIAN_STANDARDS_DIR``, is a profile the CLI
evaluates by and the dashboard offers (the standard menu and the standards page).
"""
from __future__ import annotations

import io
from datetime import date

import pandas as pd
import pytest
import yaml

from config import ConfigError
from config.standards import (STANDARDS_DIR, STANDARDS_DIR_ENV, load_profile, profile_ids,
                              selectable_profiles, standards_page_profiles)
from dashboard import ids
from dashboard.pages import overview, standards
from dashboard.state import profile_choices, resolve
from tests.dash_helpers import by_id, render

NEW = "cn-2012-local"
LABEL_ZH, LABEL_EN = "地方标准 2012", "Local 2012"

SITE = """
city: {id: testcity, name_zh: 测试市, name_en: Test city}
districts:
  - {id: east, name_zh: 东区, name_en: East, grade: II}
stations:
  - {code: T01, name_zh: 东一, name_en: East 1, district: east, lon: 116.1, lat: 39.1}
"""


def copy_of_cn2012(folder, **display) -> dict:
    """Write ``<folder>/<NEW>.yaml``: cn-2012's rules under a new id, names and display."""
    raw = yaml.safe_load((STANDARDS_DIR / "cn-2012.yaml").read_text(encoding="utf-8"))
    raw.update(id=NEW, name_zh="地方空气质量标准（试行）", name_en="Local air quality standard")
    raw["display"].update({"label_zh": LABEL_ZH, "label_en": LABEL_EN, "short_zh": "地方 2012",
                           "short_en": "Local", "colour": "#123456", "order": 15,
                           "standards_page": "on_request", **display})
    folder.mkdir(exist_ok=True)
    (folder / f"{NEW}.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False),
                                        encoding="utf-8")
    return raw


@pytest.fixture
def new_profile(tmp_path, monkeypatch):
    folder = tmp_path / "standards"
    copy_of_cn2012(folder)
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(folder))
    return NEW


# -- config ---------------------------------------------------------------------------

def test_the_folder_adds_the_profile_in_its_display_order(new_profile):
    prof = load_profile(NEW)
    assert (prof.kind, prof.label("zh"), prof.label("en"), prof.colour) == \
        ("cn", LABEL_ZH, LABEL_EN, "#123456")
    assert prof.short_label("en") == "Local" and prof.has_limits and prof.has_aqi
    assert prof.limit("PM2.5", "annual") == load_profile("cn-2012").limit("PM2.5", "annual")
    assert prof.aqi_levels == load_profile("cn-2012").aqi_levels
    assert selectable_profiles()[:2] == ("cn-2012", NEW)        # order 15: after cn-2012's 10
    base, on_request = standards_page_profiles()
    assert NEW in on_request and NEW not in base
    assert profile_choices()[:3] == ("", "cn-2012", NEW)


def test_without_the_folder_the_profile_is_unknown(new_profile, monkeypatch):
    monkeypatch.delenv(STANDARDS_DIR_ENV)
    assert NEW not in profile_ids()
    with pytest.raises(ConfigError, match=f"unknown profile '{NEW}'"):
        load_profile(NEW)


def test_a_folder_mistake_names_the_file_and_key(tmp_path, monkeypatch):
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match=STANDARDS_DIR_ENV):
        load_profile("cn-2012")
    twice = tmp_path / "twice"
    twice.mkdir()
    (twice / "cn-2012.yaml").write_text((STANDARDS_DIR / "cn-2012.yaml").read_text("utf-8"),
                                        encoding="utf-8")
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(twice))
    with pytest.raises(ConfigError, match="also defined"):
        load_profile("cn-2012")
    bad = tmp_path / "bad"
    copy_of_cn2012(bad, standards_page="sometimes")
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(bad))
    with pytest.raises(ConfigError, match="display.standards_page"):
        load_profile(NEW)


# -- the CLI --------------------------------------------------------------------------

def test_cli_evaluates_by_the_new_profile(cli, tmp_path, new_profile):
    site = tmp_path / "site.yaml"
    site.write_text(SITE, encoding="utf-8")
    assert cli("init", "--sites", site).exit_code == 0
    rows = [("T01", f"2024-01-0{d} {h:02d}:00", p, v) for d in (1, 2) for h in range(24)
            for p, v in (("NO2", 45), ("PM2.5", 60.5))]
    data = tmp_path / "readings.csv"
    pd.DataFrame(rows, columns=["station", "time", "pollutant", "value"]).to_csv(data, index=False)
    assert cli("ingest", "csv", data, "--strict", "--quiet").exit_code == 0

    def annual(profile):
        result = cli("stats", "annual", "--year", "2024", "--profile", profile)
        assert result.exit_code == 0, result.output
        return pd.read_csv(io.StringIO(result.stdout))

    ours, shipped = annual(NEW), annual("cn-2012")
    pd.testing.assert_frame_equal(ours, shipped)        # the same rules, so the same numbers
    no2 = ours[(ours["pollutant"] == "NO2") & (ours["statistic"] == "annual_mean")]
    assert no2["reported"].tolist() == [45]


# -- the dashboard --------------------------------------------------------------------

def test_the_menu_offers_the_new_profile(demo_app, new_profile):
    spans = {"yangquan-demo": (date(2024, 1, 1), date(2025, 6, 30))}
    view = resolve({"city": "yangquan-demo", "profile": NEW}, ["yangquan-demo"], spans)
    assert view.profile == NEW and not view.notices
    page = render(demo_app, overview, city="yangquan-demo", year="2024", profile=NEW)
    menu = by_id(page, {"type": ids.CONTROL, "name": "profile"})
    assert {"label": LABEL_ZH, "value": NEW} in menu.options
    assert [o["value"] for o in menu.options][:3] == ["", "cn-2012", NEW]
    assert menu.value == NEW


def test_the_standards_page_compares_the_new_profile(demo_app, new_profile):
    query = dict(city="yangquan-demo", period="year", year="2024")
    page = render(demo_app, standards, **query)
    offered = by_id(page, {"type": ids.CONTROL, "name": "extra"})
    assert {"label": LABEL_ZH, "value": NEW} in offered.options
    groups = [c["headerName"] for c in by_id(page, ids.STANDARDS_TABLE).columnDefs
              if "children" in c]
    assert LABEL_ZH not in groups and "GB 3095-2012" in groups      # offered on request only

    page = render(demo_app, standards, **query, extra=NEW, lang="en")
    grid = by_id(page, ids.STANDARDS_TABLE)
    groups = [c["headerName"] for c in grid.columnDefs if "children" in c]
    assert groups[:2] == ["GB 3095-2012", LABEL_EN]
    table = pd.DataFrame(grid.rowData)
    assert (table[f"{NEW}|value"] == table["cn-2012|value"]).all()      # cn-2012's rules
    assert (table[f"{NEW}|limit"] == table["cn-2012|limit"]).all()
    marks = [tr for tr in by_id(page, ids.STANDARDS_CHART).figure.data
             if tr.type == "scatter" and tr.name == LABEL_EN]
    assert marks and marks[0].marker.color == "#123456"
    days = by_id(page, ids.STANDARDS_DAYS_CHART).figure
    ratio = [tr for tr in days.data if tr.xaxis == "x2"][0]
    assert "Local" in ratio.y

"""The weekly email's objectives section (issue 18): counts per status, the objectives that
need attention one line each, where the full list is; checked against ``lantian
objectives`` on the SYNTHETIC demo city and on a Beijing slice given a plan (SQLite and
PostgreSQL); a city without a plan gets no section."""
from __future__ import annotations

import html as html_lib
import io
import re
from datetime import date
from email import message_from_bytes, policy

import pandas as pd
import pytest
import yaml

from tests.conftest import BEIJING_SITES, YANGQUAN_SITES
from tests.test_reports import (SMALL_WEEK, kaleido_session, parts,  # noqa: F401
                                slice_csv, small_db)

CITY = "yangquan-demo"
WEEK, SUNDAY = "2025-W26", "2025-06-29"          # 2025-06-23 … 06-29, year to date
# the status words, written out here (indicators.targets.STATUS_TEXT, "no data")
WORDS = {"met": "达标", "on track": "达标进度正常", "at risk": "有超标风险",
         "already exceeded": "已超标", "not met": "未达标", "insufficient data": "数据不足",
         "no data": "无数据"}
ORDER = ["met", "on track", "at risk", "already exceeded", "not met", "insufficient data",
         "no data"]
ATTENTION = {"not met", "already exceeded", "at risk", "insufficient data", "no data"}
TITLE = {"zh": "目标考核", "en": "Objectives"}


def _word(status: str, lang: str) -> str:
    return WORDS[status] if lang == "zh" else status


def _csv(result) -> pd.DataFrame:
    assert result.exit_code == 0, result.output
    return pd.read_csv(io.StringIO(result.output), keep_default_na=False,
                       na_values={"value": [""], "target": [""], "margin": [""]})


def _emails(out) -> dict:
    """{"<scope>_<lang>": (text, html)} of the ``.eml`` files of a ``--out`` folder."""
    got = {}
    for eml in out.glob("*.eml"):
        msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
        text, html, _images = parts(msg)
        got["_".join(eml.stem.split("_")[-2:])] = (text, html_lib.unescape(html), msg)
    return got


def text_section(text: str, lang: str) -> str:
    start = text.index(f"== {TITLE[lang]} ==")
    return text[start:text.index("\n== ", start + 3)]


def html_section(html: str, lang: str) -> str:
    head = re.search(rf"<h2[^>]*>{TITLE[lang]}</h2>", html)
    assert head, "no objectives heading in the HTML"
    return html[head.end():html.index("<h2", head.end())]


def counts_line(rows: pd.DataFrame, lang: str) -> str:
    tally = rows["status"].value_counts()
    assert set(tally.index) <= set(ORDER), tally
    each = [f"{_word(s, lang)} {tally[s]}" for s in ORDER if s in tally.index]
    if lang == "zh":
        return f"{len(rows)} 项目标：" + "，".join(each)
    return f"{len(rows)} objective{'' if len(rows) == 1 else 's'}: " + ", ".join(each)


def check_section(text: str, html: str, rows: pd.DataFrame, others: pd.DataFrame,
                  lang: str) -> list[str]:
    """The section of one email shows ``rows`` (the objectives of its scope, as ``lantian
    objectives`` judged them) and nothing of ``others``; returns its listed lines."""
    zh = lang == "zh"
    name = "text_zh" if zh else "text_en"
    sec, hsec = text_section(text, lang), html_section(html, lang)
    assert counts_line(rows, lang) in sec and counts_line(rows, lang) in hsec
    need = rows[rows["status"].isin(ATTENTION)]
    listed = [line for line in sec.splitlines() if line.startswith("- [")]
    assert len(listed) == len(need) and hsec.count("<li") == len(need)
    colon = "：" if zh else ": "
    for r in need.itertuples(index=False):
        prefix = f"- [{_word(r.status, lang)}] {getattr(r, name)}{colon}"
        assert sum(line.startswith(prefix) for line in listed) == 1, prefix
        assert getattr(r, name) in hsec
        line = next(line for line in listed if line.startswith(prefix))
        reason = r.reason_zh if zh else r.reason
        if r.status in ("insufficient data", "no data"):
            assert line.endswith(reason) or line.endswith("原因同上" if zh else "same as above")
        elif r.unit in ("µg/m³", "mg/m³") and r.kind in ("value", "grade"):
            # value, target and what the rest of the year must average
            v, t = f"{r.value:g} {r.unit}", f"{r.target:g} {r.unit}"
            assert line.endswith(f"年初至今 {v}（目标 ≤{t}）；{reason}" if zh
                                 else f"{v} so far (target ≤ {t}); {reason}"), line
    for reason in set(need["reason_zh" if zh else "reason"]):
        assert reason in sec                       # each reason in full at least once
    for r in pd.concat([rows[~rows["status"].isin(ATTENTION)], others]).itertuples():
        assert getattr(r, name) not in sec and getattr(r, name) not in hsec
    # the full list is on the dashboard's 目标考核 page, named without a link
    assert "/objectives" in sec and "目标考核" in sec and "href" not in hsec
    return listed


@pytest.fixture(scope="module")
def demo_week(demo_db_url, tmp_path_factory):
    """The demo city's report of 2025-W26 for the city (zh and en) and chengqu (zh and en),
    and ``lantian objectives`` for 2025 up to that week's Sunday."""
    from typer.testing import CliRunner

    from lantian.cli import app
    tmp = tmp_path_factory.mktemp("weekly-objectives")
    site = yaml.safe_load(YANGQUAN_SITES.read_text(encoding="utf-8"))
    site["recipients"]["city"] = [{"email": "demo-head@example.org", "lang": "zh"},
                                  {"email": "city-analyst@example.org", "lang": "en"}]
    path = tmp / "yangquan-recipients.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LANTIAN_DATABASE_URL", demo_db_url)
        mp.setenv("LANTIAN_SETTINGS", "")
        mp.setenv("LANTIAN_DATA_DIR", str(tmp / "data"))
        run = lambda *a: CliRunner().invoke(app, [str(x) for x in a],  # noqa: E731
                                            catch_exceptions=False)
        report = run("report", "weekly", "--week", WEEK, "--district", "city", "--district",
                     "chengqu", "--sites", path, "--out", tmp / "out", "--quiet")
        assert report.exit_code == 0, report.output
        table = _csv(run("objectives", "--city", CITY, "--year", 2025, "--until", SUNDAY,
                         "--format", "csv"))
    return _emails(tmp / "out"), table


def test_city_email_counts_and_lists_what_needs_attention(demo_week):
    emails, table = demo_week
    assert sorted(emails) == ["chengqu_en", "chengqu_zh", "city_en", "city_zh"]
    assert len(table) >= 19 and (table["period"] == "2025-YTD-06-29").all()
    # the demo's known standing that week: chengqu's NO2 41 > 37 and the city's SO2
    # 28 > 20 (grade I) are at risk
    rows = table.set_index("id")
    assert (rows.loc["chengqu-no2", "value"], rows.loc["chengqu-no2", "status"]) == (41, "at risk")
    assert (rows.loc["city-so2-grade1", "value"], rows.loc["city-so2-grade1", "status"]) == (
        28, "at risk")
    for lang in ("zh", "en"):
        text, html, msg = emails[f"city_{lang}"]
        listed = check_section(text, html, table, table.iloc[0:0], lang)
        assert len(listed) >= 4
        assert "SYNTHETIC DEMO DATA" in msg["Subject"] and "SYNTHETIC DEMO DATA" in text
        assert not re.search(r"\bnan\b", text)        # (the districts table's main pollutant)
        # the city's own objectives first
        city_texts = list(table.loc[table["scope"] == "city", f"text_{lang}"])
        own = [any(t in line for t in city_texts) for line in listed]
        assert own == sorted(own, reverse=True) and own[0]
    zh = text_section(emails["city_zh"][0], "zh")
    assert "剩余185天均值需≤34微克/立方米" in zh          # chengqu NO2, what the rest needs
    assert "年初至今（截至 2025年6月29日）" in zh
    assert "year to date (to 2025-06-29); provisional" in emails["city_en"][0]


def test_district_email_shows_its_own_and_the_city_objectives(demo_week):
    emails, table = demo_week
    mine = table[table["scope"].isin(["chengqu", "city"])]
    others = table[~table["scope"].isin(["chengqu", "city"])]
    assert len(others) and (mine["scope"] == "chengqu").any()
    n_own, n_city = int((mine["scope"] == "chengqu").sum()), int((mine["scope"] == "city").sum())
    for lang in ("zh", "en"):
        text, html, _msg = emails[f"chengqu_{lang}"]
        listed = check_section(text, html, mine, others, lang)
        # the district's own lines come first
        own_texts = list(mine.loc[mine["scope"] == "chengqu", f"text_{lang}"])
        own = [any(t in line for t in own_texts) for line in listed]
        assert own == sorted(own, reverse=True) and own[0]
    assert (f"此处包括城区的 {n_own} 项目标和全市的 {n_city} 项目标：全市的考核结果同样关系到城区。"
            in emails["chengqu_zh"][0])
    assert ("the city's standing concerns Urban district too"
            in text_section(emails["chengqu_en"][0], "en"))
    assert "城区NO2年均浓度≤37微克/立方米：年初至今 41 µg/m³（目标 ≤37 µg/m³）" in emails[
        "chengqu_zh"][0]


PLAN = {"year": 2015, "objectives": [
    {"id": "city-pm25-grade2", "scope": "city", "kind": "grade", "pollutant": "PM2.5",
     "statistic": "annual_mean", "grade": "II"},
    {"id": "city-good-days-up", "scope": "city", "kind": "change", "pollutant": "AQI",
     "statistic": "good_day_ratio", "direction": "up"},
    {"id": "dongcheng-no2", "scope": "dongcheng", "kind": "value", "pollutant": "NO2",
     "statistic": "annual_mean", "max": 40},
    {"id": "xicheng-no2", "scope": "xicheng", "kind": "value", "pollutant": "NO2",
     "statistic": "annual_mean", "max": 150},
]}


@pytest.mark.realdata
def test_a_plan_on_every_backend(cli, slice_csv, tmp_path):
    """Beijing 2015-01-01 … 01-11 with a plan: the section agrees with `lantian objectives`
    on SQLite and PostgreSQL."""
    site = yaml.safe_load(BEIJING_SITES.read_text(encoding="utf-8"))
    site["plan"] = PLAN
    path = tmp_path / "beijing-plan.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
    assert cli("init", "--sites", path).exit_code == 0
    assert cli("ingest", "csv", slice_csv, "--strict", "--quiet").exit_code == 0
    out = tmp_path / "out"
    result = cli("report", "weekly", "--week", SMALL_WEEK, "--district", "dongcheng",
                 "--district", "city", "--sites", path, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    table = _csv(cli("objectives", "--city", "beijing", "--year", 2015, "--until",
                     "2015-01-11", "--format", "csv"))
    assert list(table["id"]) == [o["id"] for o in PLAN["objectives"]]
    rows = table.set_index("id")
    assert rows.loc["city-good-days-up", "status"] == "insufficient data"    # no 2014 here
    assert (rows.loc["dongcheng-no2", "value"], rows.loc["dongcheng-no2", "status"]) == (
        74, "at risk")
    assert (rows.loc["city-pm25-grade2", "value"], rows.loc["city-pm25-grade2", "target"],
            rows.loc["city-pm25-grade2", "status"]) == (92, 35, "at risk")
    assert rows.loc["xicheng-no2", "status"] == "on track"
    emails = _emails(out)
    check_section(*emails["city_zh"][:2], table, table.iloc[0:0], "zh")
    mine = table["scope"].isin(["dongcheng", "city"])
    for lang in ("zh", "en"):
        check_section(*emails[f"dongcheng_{lang}"][:2], table[mine], table[~mine], lang)


@pytest.mark.realdata
def test_a_city_without_a_plan_has_no_section(small_db, tmp_path):
    from evaluation import snapshot
    from evaluation.weekly import week_objectives
    from store.db import make_engine
    from tests.test_reports import run_cli

    engine = make_engine(small_db)
    assert week_objectives(snapshot(engine), "beijing", date(2015, 1, 11)) is None
    engine.dispose()
    out = tmp_path / "out"
    result = run_cli("report", "weekly", "--week", SMALL_WEEK, "--district", "dongcheng",
                     "--district", "city", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    emails = _emails(out)
    assert sorted(emails) == ["city_zh", "dongcheng_en", "dongcheng_zh"]
    for key, (text, html, _msg) in emails.items():
        lang = key.split("_")[1]
        assert f"== {TITLE[lang]} ==" not in text and f">{TITLE[lang]}</h2>" not in html
        assert "/objectives" not in text and "/objectives" not in html
        assert "目标考核" not in text and "目标考核" not in html
        # the rest of the email is there: the caveats section follows the ranking
        assert ("== 数据说明 ==" if lang == "zh" else "== Data caveats ==") in text


@pytest.mark.parametrize("lang, line", [
    ("zh", "全市综合指数在168个重点城市中排名好于上年：目前第 148 名（目标第 142 名或更前）；"
           "第148名（共168个），上年第143名"),
    ("en", "City ranks higher among the 168 key cities than last year (composite index): "
           "now place 148 (target place 142 or better); place 148 of 168 vs 143 the year "
           "before"),
])
def test_a_rank_objective_reads_as_a_place(lang, line):
    from reports.render import _objective_line
    row = pd.Series({"kind": "rank", "value": 148.0, "target": 142.0, "unit": "", "op": "",
                     "status": "at risk", "text_zh": "全市综合指数在168个重点城市中排名好于上年",
                     "text_en": "City ranks higher among the 168 key cities than last year "
                                "(composite index)",
                     "reason": "place 148 of 168 vs 143 the year before",
                     "reason_zh": "第148名（共168个），上年第143名"})
    assert _objective_line(row, lang, running=True) == line

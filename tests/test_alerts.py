"""Hourly-AQI alerts (``lantian alerts``, scheduler job kind ``alerts``).

- the episode rule on labelled series (pure): N-1 hours above → nothing, N → an episode,
  an hour *at* the threshold is not above, a gap of fewer than M hours joins, M splits;
- a SYNTHETIC city whose stations carry constructed hours (all six 1-h values, PM2.5 151
  µg/m³ → AQI 201 "above", 150 → AQI 200 "at", 30 → AQI 43 "clear"), loaded through
  ``lantian ingest csv`` into SQLite and PostgreSQL: the episodes found, with exact
  boundaries; sending through a real SMTP server (aiosmtpd on a free port chosen
  beforehand): message parts, languages, subjects; idempotence (runs every hour send each
  episode once); SMTP down → logged failed, sent on the next run;
- the real-time sample (``../shared/data/cnemc-live``, skipped when absent) with a small
  site file placing Beijing stations in two districts: what the alerts find against an
  independent computation from the raw files (own means, rounding, IAQI tables, episodes).
"""
from __future__ import annotations

import math
import socket
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from email import message_from_bytes, policy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from config import ConfigError

# ----------------------------------------------------------------------------- labels
# One letter an hour. The hourly AQI each letter gives (all six 1-h values present; the
# PM2.5 1-h value decides: 24-h table, IAQI rounded up):
A, E, C = "A", "E", "C"
PM25 = {"A": 151, "E": 150, "C": 30}          # µg/m³
AQI = {"A": 201, "E": 200, "C": 43}           # what HJ 633 gives them (written out here)
OTHERS = {"SO2": 5, "NO2": 10, "CO": 0.3, "O3": 30, "PM10": 20}
DAY = "2022-03-01"


def hours(pattern: str) -> list[float]:
    """'AAC.E' → hourly AQIs (``.`` = no AQI)."""
    return [math.nan if ch == "." else AQI[ch] for ch in pattern]


def scan(pattern: str, threshold=200, n=3, m=3):
    from indicators.episodes import find_episodes
    times = np.datetime64(f"{DAY}T00", "h") + np.arange(len(pattern)) * np.timedelta64(1, "h")
    return find_episodes(times, hours(pattern), threshold, n, m)


def spans(pattern: str, **kw) -> list[tuple[int, int, bool]]:
    """Episodes as (first hour, last above hour, ongoing), hours counted from 0."""
    t0, hour = np.datetime64(f"{DAY}T00", "h"), np.timedelta64(1, "h")
    return [(int((e.start - t0) / hour), int((e.end - t0) / hour), e.ongoing)
            for e in scan(pattern, **kw).episodes]


# ----------------------------------------------------------------------------- pure rule

@pytest.mark.parametrize("pattern, expected", [
    ("CCAACCCC", []),                              # N-1 hours above: nothing
    ("CCAAACCC", [(2, 4, False)]),                 # N: an episode, ended by M clear hours
    ("CCAAACC", [(2, 4, True)]),                   # M-1 clear hours after it: still going on
    ("CCAAEAACCC", []),                            # AQI = threshold is not above: breaks
    ("CCAA.AACCC", []),                            # an hour without AQI is not above
    ("CCAAAAAAAA", [(2, 9, True)]),
    ("AAACCAAACCC", [(0, 7, False)]),              # gap of M-1 = 2 hours: joined
    ("AAACCCAAACCC", [(0, 2, False), (6, 8, False)]),   # gap of M = 3 hours: split
    ("AAACCACCACCC", [(0, 8, False)]),             # short runs inside keep it going
    ("AAACCCACAAAC", [(0, 2, False), (8, 10, True)]),   # after it ended, a short run is
                                                   # nothing: the next needs N again
    ("AAAEE.CCC", [(0, 2, False)]),                # E and . count towards the end
])
def test_episode_boundaries(pattern, expected):
    assert spans(pattern) == expected


def test_episode_details_and_other_rules():
    e, = scan("CAAACAAAAC").episodes             # joined by one clear hour
    assert (e.hours_above, e.longest_run, e.peak) == (7, 4, 201) and e.ongoing
    assert spans("CAACC", n=2) == [(1, 2, True)]
    assert spans("CAACC", n=2, m=2) == [(1, 2, False)]
    assert spans("CEEEC", threshold=199) == [(1, 3, True)]
    assert spans("A", n=1, m=1) == [(0, 0, True)]
    # the state after M not-above hours does not depend on earlier hours
    assert scan("AAACCCAAA").exact_from == np.datetime64(f"{DAY}T06", "h")
    assert scan("AAAAAAA").exact_from is None
    with pytest.raises(ValueError):
        scan("AAA", n=0)


def test_a_gap_in_the_data_is_a_missing_hour():
    from indicators.episodes import find_episodes, hourly_grid
    t = np.array([f"{DAY}T00", f"{DAY}T01", f"{DAY}T03", f"{DAY}T04"], dtype="datetime64[h]")
    grid, values = hourly_grid(t, [201, 201, 201, 201], f"{DAY}T00", f"{DAY}T05")
    assert np.isnan(values[2]) and np.isnan(values[5]) and len(grid) == 6
    assert find_episodes(grid, values, 200, 3, 3).episodes == []


# ----------------------------------------------------------------------------- site files

def test_alert_settings_are_validated_naming_the_entry(tmp_path):
    from config.sites import load_site_config
    base = yaml.safe_load(Path("config/sites/yangquan.yaml").read_text(encoding="utf-8"))

    def load(alerts):
        data = dict(base, alerts=alerts)
        path = tmp_path / "s.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return load_site_config(path)

    site = load({"hourly_aqi": {"threshold": 200, "hours": 3},
                 "districts": {"kuangqu": {"threshold": 150}, "yuxian": False},
                 "city": False, "recipients": {"districts": {"yuxian": ["x@example.org"]}}})
    a = site.alerts
    assert a.rule_for("chengqu").threshold == 200 and a.rule_for("chengqu").clear_hours == 3
    assert (a.rule_for("kuangqu").threshold, a.rule_for("kuangqu").hours) == (150, 3)
    assert a.rule_for("yuxian") is None and a.rule_for("city") is None
    assert [r.email for r in a.recipients_of("chengqu", site.recipients)] == [
        "chengqu@example.org", "demo-analyst@example.org", "demo-head@example.org"]
    assert [r.email for r in a.recipients_of("city", site.recipients)] == [
        "demo-head@example.org"]
    assert load({"hourly_aqi": {"threshold": 200}, "report_recipients": False}) \
        .alerts.recipients_of("kuangqu", site.recipients) == ()
    for alerts, key, words in [
        ({"hourly_aqi": {"threshold": 200, "hours": 0}}, "alerts.hourly_aqi.hours", "1 to 72"),
        ({"hourly_aqi": {"threshold": "high"}}, "alerts.hourly_aqi.threshold", "0 to 499"),
        ({"hourly_aqi": {"threshold": 200.5}}, "alerts.hourly_aqi.threshold", "whole number"),
        ({"hourly_aqi": {"threshold": True}}, "alerts.hourly_aqi.threshold", "whole number"),
        ({"hourly_aqi": {"hours": 3}}, "alerts.hourly_aqi.threshold", "missing"),
        ({"hourly_aqi": {"threshold": 200, "minutes": 3}}, "alerts.hourly_aqi.minutes",
         "unknown"),
        ({"threshold": 200}, "alerts.threshold", "unknown key"),
        ({"districts": {}}, "alerts.hourly_aqi", "missing"),
        ({"hourly_aqi": {"threshold": 200}, "districts": {"nowhere": {"hours": 2}}},
         "alerts.districts.nowhere", "unknown district"),
        ({"hourly_aqi": {"threshold": 200}, "districts": {"kuangqu": {"clear_hours": -1}}},
         "alerts.districts.kuangqu.clear_hours", "1 to 72"),
        ({"hourly_aqi": {"threshold": 200}, "report_recipients": "yes"},
         "alerts.report_recipients", "true or false"),
        ({"hourly_aqi": {"threshold": 200}, "recipients": {"city": ["not-an-address"]}},
         "alerts.recipients.city[0].email", "not an email"),
    ]:
        with pytest.raises(ConfigError) as info:
            load(alerts)
        assert key in str(info.value) and words in str(info.value), str(info.value)


def test_the_shipped_site_files_have_alerts():
    from config.sites import load_site_config
    from tests.conftest import BEIJING_SITES, YANGQUAN_SITES
    for path in (BEIJING_SITES, YANGQUAN_SITES):
        rule = load_site_config(path).alerts.rule
        assert (rule.threshold, rule.hours, rule.clear_hours) == (200, 3, 3)


def test_dashboard_url_setting():
    from config.settings import load_settings
    assert load_settings({"LANTIAN_SETTINGS": "", "LANTIAN_DASHBOARD_URL":
                          "https://aq.example.org/"}).dashboard_url == "https://aq.example.org"
    with pytest.raises(ConfigError, match="LANTIAN_DASHBOARD_URL"):
        load_settings({"LANTIAN_SETTINGS": "", "LANTIAN_DASHBOARD_URL": "aq.example.org"})


def test_alerts_job_kind():
    from lantian.scheduler import parse_jobs
    job, = parse_jobs([{"kind": "alerts", "cron": "50 * * * *", "city": "x"}], "s.yaml")
    assert job.kind == "alerts" and job.options == {"city": "x"}
    with pytest.raises(ConfigError, match="unknown key for a alerts job"):
        parse_jobs([{"kind": "alerts", "cron": "5 * * * *", "folder": "/x"}], "s.yaml")


# ----------------------------------------------------------------------------- SYNTHETIC city

#: One station per district; the hours of 2022-03-01 (hour 0 = 00:00–01:00, stored 00:00).
TIMELINES = {
    "nminus": "CCAACCCCCCCCCCCCCCCCCCCC",     # N-1 above: no alert
    "atlimit": "CCAAEAACCCCCCCCCCCCCCCCC",    # an hour at the threshold breaks the run
    "exact": "CCAAACCCCCCCCCCCCCCCCCCC",      # N above: alert, ended
    "joined": "CCCCCAAACCAAACCCCCCCCCCC",     # gap M-1: one episode
    "split": "CCCCCAAACCCAAACCCCCCCCCC",      # gap M: two episodes
    "late": "CCCCCCCCCCCCCCCCCCCCCAAA",       # N above in the last three hours: ongoing
}
SYN_SITE = {
    "city": {"id": "testville", "name_zh": "测试市（合成数据）", "name_en": "Testville (synthetic)",
             "synthetic": True},
    "districts": [{"id": d, "name_zh": f"{d}区", "name_en": d.title()} for d in TIMELINES],
    "stations": [{"code": f"SYN{i + 1:02d}", "name_zh": f"合成站{i + 1}", "district": d}
                 for i, d in enumerate(TIMELINES)],
    "recipients": {"city": [{"email": "head@example.org"}],
                   "districts": {d: [{"email": f"{d}@example.org"}] for d in TIMELINES}},
    "alerts": {"hourly_aqi": {"threshold": 200, "hours": 3, "clear_hours": 3}, "city": False},
}


def write_site(path: Path, site: dict) -> Path:
    path.write_text(yaml.safe_dump(site, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def readings_csv(path: Path, timelines: dict[str, str], codes: dict[str, str]) -> Path:
    """A long CSV (station,time,pollutant,value) of the labelled hours."""
    rows = []
    for district, pattern in timelines.items():
        for h, ch in enumerate(pattern):
            if ch == ".":
                continue
            when = f"{DAY} {h:02d}:00"
            rows.append((codes[district], when, "PM2.5", PM25[ch]))
            rows += [(codes[district], when, p, v) for p, v in OTHERS.items()]
    pd.DataFrame(rows, columns=["station", "time", "pollutant", "value"]).to_csv(path,
                                                                                 index=False)
    return path


@pytest.fixture
def synthetic_city(cli, tmp_path):
    site = write_site(tmp_path / "testville.yaml", SYN_SITE)
    codes = {s["district"]: s["code"] for s in SYN_SITE["stations"]}
    result = cli("init", "--sites", site)
    assert result.exit_code == 0, result.output
    result = cli("ingest", "csv", readings_csv(tmp_path / "r.csv", TIMELINES, codes),
                 "--strict", "--quiet")
    assert result.exit_code == 0, result.output
    return site


def found(result) -> dict:
    return {(a.scope, a.period): (pd.Timestamp(a.episode.end).strftime("%H"),
                                  a.episode.ongoing, a.episode.hours_above)
            for a in result.episodes}


def test_episodes_found_in_the_database(synthetic_city, db_url):
    from config.settings import load_settings
    from reports.alerts import run_alerts
    from store.db import make_engine

    engine = make_engine(db_url)
    try:
        result = run_alerts(engine, load_settings(), city="testville",
                            at=datetime(2022, 3, 2, 0, 0))
        assert result.last_hour == datetime(2022, 3, 1, 23)
        assert found(result) == {
            ("exact", "2022-03-01T02"): ("04", False, 3),
            ("joined", "2022-03-01T05"): ("12", False, 6),
            ("split", "2022-03-01T05"): ("07", False, 3),
            ("split", "2022-03-01T11"): ("13", False, 3),
            ("late", "2022-03-01T21"): ("23", True, 3)}
        # the AQI of every hour is what the labels say (computed from the stored values)
        for a in result.episodes:
            pattern = TIMELINES[a.scope]
            for r in a.hours.itertuples(index=False):
                assert r.aqi == AQI[pattern[pd.Timestamp(r.time).hour]]
        # the default --at: the end of the newest stored hour (the same here)
        assert found(run_alerts(engine, load_settings(), city="testville")) == found(result)
        # hours that ended by --at only: at 23:00 the 'late' run has two hours
        early = run_alerts(engine, load_settings(), city="testville",
                           at=datetime(2022, 3, 1, 23, 30))
        assert ("late", "2022-03-01T21") not in found(early)
        # an episode that ended more than 24 hours before is not alerted any more
        later = run_alerts(engine, load_settings(), city="testville",
                           at=datetime(2022, 3, 2, 13, 0))
        assert set(found(later)) == {("split", "2022-03-01T11"), ("late", "2022-03-01T21")}
    finally:
        engine.dispose()


def test_an_episode_longer_than_the_lookback_keeps_its_start(cli, tmp_path, db_url):
    """Nine days above: the first window read (7 days) holds no end of it, so the alerts
    read further back, and every hourly run names the episode by the same first hour."""
    from config.settings import load_settings
    from reports.alerts import LOOKBACK_HOURS, run_alerts
    from store.db import make_engine

    site = {"city": {"id": "longville", "name_zh": "长城", "name_en": "Longville"},
            "districts": [{"id": "d1", "name_zh": "一区", "name_en": "One"}],
            "stations": [{"code": "LV01", "name_zh": "一站", "district": "d1"}],
            "recipients": {"city": [{"email": "head@example.org"}]},
            "alerts": {"hourly_aqi": {"threshold": 200, "hours": 3}, "city": False}}
    assert cli("init", "--sites", write_site(tmp_path / "long.yaml", site)).exit_code == 0
    rows = []
    for h in range(9 * 24):
        when = (pd.Timestamp(DAY) + pd.Timedelta(hours=h)).strftime("%Y-%m-%d %H:%M")
        rows += [("LV01", when, "PM2.5", PM25[A])] + [("LV01", when, p, v)
                                                       for p, v in OTHERS.items()]
    path = tmp_path / "long.csv"
    pd.DataFrame(rows, columns=["station", "time", "pollutant", "value"]).to_csv(path, index=False)
    assert cli("ingest", "csv", path, "--strict", "--quiet").exit_code == 0
    assert 9 * 24 > LOOKBACK_HOURS
    engine = make_engine(db_url)
    try:
        for at in (datetime(2022, 3, 9, 0), datetime(2022, 3, 10, 0)):
            run = run_alerts(engine, load_settings(), city="longville", at=at)
            assert [(a.period, a.episode.ongoing) for a in run.episodes] == [
                ("2022-03-01T00", True)] and not run.notes
    finally:
        engine.dispose()


def test_listing_and_preview_files(synthetic_city, cli, tmp_path):
    result = cli("alerts", "--city", "testville", "--at", "2022-03-02 00:00")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "5 episode(s) to alert" in text and "[SYNTHETIC DEMO DATA]" in text
    assert "late late区: episode 2022-03-01T21" in text and "ongoing" in text
    assert "【空气质量预警】late区 小时AQI连续3小时超过200 (重度污染)" in text
    assert "to: late@example.org (zh), head@example.org (zh)" in text
    en = cli("alerts", "--city", "testville", "--at", "2022-03-02 00:00", "--lang", "en")
    assert "hourly AQI above 200 for 3 consecutive hours (Heavily polluted)" in en.output
    out = tmp_path / "review"
    result = cli("alerts", "--at", "2022-03-02 00:00", "--out", out)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 10 and "alert_testville_late_2022-03-01T21_zh.eml" in names
    for bad, words in [(("--send", "--out", out), "choose one of --send"),
                       (("--lang", "fr"), "--lang 'fr'"),
                       (("--send", "--lang", "en"), "--lang is for the listing"),
                       (("--at", "yesterday"), "is not a time"),
                       (("--city", "nowhere"), "unknown city 'nowhere'")]:
        result = cli("alerts", *bad)
        assert result.exit_code == 1 and words in result.output, result.output


# ----------------------------------------------------------------------------- SMTP

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    def __init__(self):
        self.messages: list[dict] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"to": list(envelope.rcpt_tos),
                              "msg": message_from_bytes(envelope.content, policy=policy.default)})
        return "250 Message accepted"

    def to(self, address: str) -> list:
        return [m["msg"] for m in self.messages if address in m["to"]]


class Server:
    """aiosmtpd on a port chosen beforehand; ``start``/``stop`` to take it down and up."""

    def __init__(self):
        self.port = free_port()
        self.handler = Recorder()
        self.controller = None

    def start(self):
        from aiosmtpd.controller import Controller
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp(monkeypatch):
    server = Server()
    monkeypatch.setenv("LANTIAN_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LANTIAN_SMTP_PORT", str(server.port))
    monkeypatch.setenv("LANTIAN_SMTP_TLS", "none")
    monkeypatch.setenv("LANTIAN_MAIL_FROM", "Lantian <lantian@example.org>")
    monkeypatch.setenv("LANTIAN_MAIL_BACKOFF", "0.01")
    monkeypatch.setenv("LANTIAN_MAIL_ATTEMPTS", "2")
    monkeypatch.setenv("LANTIAN_DASHBOARD_URL", "https://aq.example.org/lantian")
    server.start()
    yield server
    server.stop()


#: One district whose station carries: an episode from 00:00 (joined across a 2-hour dip),
#: ended after 10:00; a second one from 11:00.
MAIL_TIMELINE = "AAACCAAACCCAAACCC"
MAIL_SITE = {
    "city": {"id": "mailtown", "name_zh": "邮城", "name_en": "Mailtown"},
    "districts": [{"id": "chengzhong", "name_zh": "城中区", "name_en": "Chengzhong"}],
    "stations": [{"code": "MT01", "name_zh": "城中站", "district": "chengzhong"}],
    "recipients": {"city": [{"email": "head@example.org", "lang": "zh"}],
                   "districts": {"chengzhong": [{"email": "cz@example.org"},
                                                {"email": "analyst@example.org",
                                                 "lang": "en"}]}},
    "alerts": {"hourly_aqi": {"threshold": 200, "hours": 3, "clear_hours": 3},
               "recipients": {"city": [{"email": "duty@example.org", "lang": "en"}]}},
}


@pytest.fixture
def mail_city(cli, tmp_path):
    site = write_site(tmp_path / "mailtown.yaml", MAIL_SITE)
    assert cli("init", "--sites", site).exit_code == 0
    result = cli("ingest", "csv", readings_csv(tmp_path / "m.csv", {"chengzhong": MAIL_TIMELINE},
                                               {"chengzhong": "MT01"}), "--strict", "--quiet")
    assert result.exit_code == 0, result.output
    return site


def sent_log(db_url) -> pd.DataFrame:
    from store.db import make_engine
    from store.deliveries import deliveries
    engine = make_engine(db_url)
    with engine.connect() as conn:
        log = deliveries(conn, report="alert")
    engine.dispose()
    return log


def test_alert_emails_parts_languages_subjects(mail_city, cli, smtp, db_url):
    result = cli("alerts", "--send", "--at", "2022-03-01 03:00")
    assert result.exit_code == 0, result.output
    assert "2 episode(s) to alert: 6 sent, 0 failed, 0 already sent" in result.output
    h = smtp.handler
    # district alert: the district's recipients + the city's (report and alert-only lists);
    # city alert (the city is the same one station): the city's
    assert sorted(t for m in h.messages for t in m["to"]) == sorted(
        ["cz@example.org", "analyst@example.org", "head@example.org", "duty@example.org",
         "head@example.org", "duty@example.org"])
    zh, = h.to("cz@example.org")
    assert zh["Subject"] == "【空气质量预警】城中区 小时AQI连续3小时超过200 (重度污染)"
    assert zh.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in zh.iter_parts()] == ["text/plain", "text/html"]
    assert zh["X-Lantian-Report"] == "alert 2022-03-01T00 mailtown chengzhong"
    assert "alert" in zh["Message-ID"]
    text = zh.get_body(("plain",)).get_content()
    html = zh.get_body(("html",)).get_content()
    assert "邮城城中区空气质量预警" in text
    assert "城中区小时AQI自 2022-03-01 00:00 起连续 3 小时超过 200" in text
    assert "截至 2022-03-01 03:00，本次污染过程仍在持续" in text
    for hour in ("01:00", "02:00", "03:00"):               # hour-ending, as published
        assert f"* 2022-03-01 {hour}  AQI 201  重度污染  首要污染物：PM2.5" in text
    assert "儿童、老年人和心脏病、肺病患者应停留在室内" in text          # HJ 633 level 5
    assert "实时监测数据" in text and "未经审核" in text
    link = "https://aq.example.org/lantian/district?city=mailtown&district=chengzhong&lang=zh"
    assert link in text and f'href="{link.replace("&", "&amp;")}"' in html
    assert "<style" not in html and "style=" in html                 # CSS inlined
    en, = h.to("analyst@example.org")
    assert en["Subject"] == ("[Air quality alert] Chengzhong: hourly AQI above 200 for 3 "
                             "consecutive hours (Heavily polluted)")
    en_text = en.get_body(("plain",)).get_content()
    assert "not audited" in en_text and "real-time" in en_text
    assert "stay indoors and stop outdoor exercise" in en_text
    assert "lang=en" in en_text
    city_zh = [m for m in h.to("head@example.org") if "mailtown city" in m["X-Lantian-Report"]]
    assert city_zh[0]["Subject"] == "【空气质量预警】邮城 小时AQI连续3小时超过200 (重度污染)"
    log = sent_log(db_url)
    assert len(log) == 6 and set(log["status"]) == {"sent"}
    assert set(zip(log["period"], log["scope"])) == {("2022-03-01T00", "chengzhong"),
                                                     ("2022-03-01T00", "city")}
    assert set(log.loc[log["recipient"] == "analyst@example.org", "lang"]) == {"en"}


def test_every_hour_sends_each_episode_once(mail_city, cli, smtp, db_url):
    sent = []
    for hour in range(1, 18):                    # the scheduler, every hour (twice at times)
        for _ in range(2 if hour in (3, 4, 14) else 1):
            result = cli("alerts", "--send", "--at", f"2022-03-01 {hour:02d}:00")
            assert result.exit_code == 0, result.output
        sent.append(len(smtp.handler.messages))
    # nothing before 3 hours above; the joined episode once; the next one (11:00) once
    per_episode = 6
    assert sent[:2] == [0, 0] and sent[2] == per_episode
    assert sent[2:13] == [per_episode] * 11 and sent[13] == 2 * per_episode
    assert sent[-1] == 2 * per_episode
    log = sent_log(db_url)
    assert len(log) == 12 and sorted(set(log["period"])) == ["2022-03-01T00", "2022-03-01T11"]
    second = [m for m in smtp.handler.to("cz@example.org")][1]
    assert "自 2022-03-01 11:00 起连续 3 小时" in second.get_body(("plain",)).get_content()


def test_late_data_moving_the_start_earlier_does_not_send_again(mail_city, cli, smtp, db_url,
                                                                 tmp_path):
    assert cli("alerts", "--send", "--at", "2022-03-01 14:00").exit_code == 0
    assert len(smtp.handler.messages) == 12          # the episodes from 00:00 and 11:00
    # a revised file: hour 07:00 below, hour 10:00 above. The first episode now ends at
    # 06:00 and the second starts at 10:00: the same episode, already alerted
    revised = tmp_path / "revised.csv"
    pd.DataFrame([("MT01", f"{DAY} 07:00", "PM2.5", 30), ("MT01", f"{DAY} 10:00", "PM2.5", 151)],
                 columns=["station", "time", "pollutant", "value"]).to_csv(revised, index=False)
    assert cli("ingest", "csv", revised, "--quiet").exit_code == 0
    listing = cli("alerts", "--at", "2022-03-01 15:00").output
    assert "episode 2022-03-01T10" in listing and "episode 2022-03-01T11" not in listing
    result = cli("alerts", "--send", "--at", "2022-03-01 15:00")
    assert "0 sent, 0 failed, 12 already sent" in result.output
    assert len(smtp.handler.messages) == 12


def test_smtp_down_is_logged_failed_and_sent_next_run(mail_city, cli, smtp, db_url):
    smtp.stop()
    result = cli("alerts", "--send", "--at", "2022-03-01 04:00")
    assert result.exit_code == 1 and "unreachable" in result.output
    log = sent_log(db_url)
    assert len(log) >= 1 and set(log["status"]) == {"failed"}
    assert "unreachable" in log["error"].iloc[0] and log["attempts"].iloc[0] == 2
    smtp.start()
    result = cli("alerts", "--send", "--at", "2022-03-01 05:00")
    assert result.exit_code == 0, result.output
    assert "6 sent, 0 failed, 0 already sent" in result.output
    assert len(smtp.handler.messages) == 6
    again = cli("alerts", "--send", "--at", "2022-03-01 05:00")
    assert "0 sent, 0 failed, 6 already sent" in again.output
    assert len(smtp.handler.messages) == 6


def test_scheduler_alerts_job(mail_city, smtp, db_url, monkeypatch):
    from config.settings import load_settings
    from lantian.scheduler import Job, run_job
    job = Job("alerts", "alerts", "50 * * * *", {})
    counts = run_job(job, load_settings())         # default: every city with alerts, latest hour
    # the newest stored hour is 16:00 (ends 17:00): the 11:00 episode ended at 13:00
    assert counts["cities"] == 1 and counts["sent"] == 12 and counts["failed"] == 0
    again = run_job(job, load_settings())
    assert again["sent"] == 0 and again["skipped"] == 12
    assert len(smtp.handler.messages) == 12


# ----------------------------------------------------------------------------- real sample

#: HJ 633-2012 breakpoints (written out here, not read from the code under test):
#: concentration → IAQI; PM on their 24-h table, the gases on their 1-h tables.
IAQI_LEVELS = [0, 50, 100, 150, 200, 300, 400, 500]
BREAKPOINTS = {
    "SO2": [0, 150, 500, 650, 800],
    "NO2": [0, 100, 200, 700, 1200, 2340, 3090, 3840],
    "CO": [0, 5, 10, 35, 60, 90, 120, 150],
    "O3": [0, 160, 200, 300, 400, 800, 1000, 1200],
    "PM10": [0, 50, 150, 250, 350, 420, 500, 600],
    "PM2.5": [0, 35, 75, 115, 150, 250, 350, 500],
}
COLUMN = {"SO2": "so2", "NO2": "no2", "CO": "co", "O3": "o3_24h", "PM10": "pm10",
          "PM2.5": "pm2_5"}
LIVE_DISTRICTS = {"center": ["1001A", "1003A", "1004A", "1006A"],
                  "north": ["1005A", "1007A", "1008A", "1009A", "1011A", "1012A"]}


def reference_iaqi(pollutant: str, value: Decimal) -> int:
    bp = BREAKPOINTS[pollutant]
    for i in range(1, len(bp)):
        if value <= bp[i]:
            lo, hi = Decimal(bp[i - 1]), Decimal(bp[i])
            raw = (Decimal(IAQI_LEVELS[i] - IAQI_LEVELS[i - 1]) / (hi - lo) * (value - lo)
                   + IAQI_LEVELS[i - 1])
            return int(math.ceil(raw))
    raise AssertionError(f"{pollutant} {value} beyond the table in the sample")


def reference_district_aqi(raw: pd.DataFrame, codes: list[str]) -> dict:
    """Hour start → the district's hourly AQI, from the raw cells: per pollutant the exact
    mean of the stations' values, rounded half to even (CO to 0.1), IAQI rounded up; the
    AQI when all six are there, else only above 100."""
    out = {}
    rows = raw[raw["stationcode"].isin(codes)]
    for when, hour in rows.groupby("timepoint"):
        iaqis, missing = [], False
        for p, column in COLUMN.items():
            cells = [Decimal(v) for v in hour[column] if v.strip()]
            if not cells:
                missing = True
                continue
            mean = sum(cells) / len(cells)
            value = mean.quantize(Decimal("0.1") if p == "CO" else Decimal("1"),
                                  rounding=ROUND_HALF_EVEN)
            iaqis.append(reference_iaqi(p, value))
        aqi = max(iaqis) if iaqis else None
        start = pd.Timestamp(when) - pd.Timedelta(hours=1)        # hour-ending → start
        out[start] = aqi if aqi is not None and (not missing or aqi > 100) else None
    return out


def reference_episodes(aqi: dict, threshold: int, n: int, m: int) -> list[tuple]:
    """Runs of above hours merged while the gap between them is shorter than m; an
    episode starts with the first run of at least n hours (written from runs, not as the
    hour-by-hour scan of the code under test)."""
    times = sorted(aqi)
    grid = pd.date_range(times[0], times[-1], freq="h")
    above = [aqi.get(t) is not None and aqi[t] > threshold for t in grid]
    runs, i = [], 0
    while i < len(above):
        if above[i]:
            j = i
            while j + 1 < len(above) and above[j + 1]:
                j += 1
            runs.append((i, j))
            i = j + 1
        else:
            i += 1
    episodes, current = [], None
    for a, b in runs:
        if current is not None and a - current[1] - 1 < m:
            current = (current[0], b)
            continue
        if current is not None:
            episodes.append(current)
            current = None
        if b - a + 1 >= n:
            current = (a, b)
    if current is not None:
        episodes.append(current)
    return [(grid[a], grid[b], len(grid) - 1 - b < m) for a, b in episodes]


@pytest.mark.realdata
def test_real_time_sample_against_an_independent_computation(cli, shared_data, tmp_path,
                                                             db_url):
    from config.settings import load_settings
    from reports.alerts import run_alerts
    from store.db import make_engine

    live = shared_data / "cnemc-live"
    if not live.is_dir():
        pytest.skip(f"real data folder {live} is absent; skipping the real-time alert test")
    threshold, n, m = 100, 3, 3
    site = {
        "city": {"id": "bjlive", "name_zh": "北京（实时样本）", "name_en": "Beijing (live sample)"},
        "districts": [{"id": d, "name_zh": d, "name_en": d} for d in LIVE_DISTRICTS],
        "stations": [{"code": c, "name_zh": c, "district": d}
                     for d, codes in LIVE_DISTRICTS.items() for c in codes],
        "recipients": {"city": [{"email": "head@example.org"}]},
        "alerts": {"hourly_aqi": {"threshold": threshold, "hours": n, "clear_hours": m}},
    }
    assert cli("init", "--sites", write_site(tmp_path / "bjlive.yaml", site)).exit_code == 0
    result = cli("ingest", "cnemc-live", live, "--quiet")
    assert result.exit_code == 0, result.output

    raw = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False)
                     for p in sorted(live.rglob("*.csv"))], ignore_index=True)
    scopes = {**LIVE_DISTRICTS, "city": sum(LIVE_DISTRICTS.values(), [])}
    reference = {scope: reference_district_aqi(raw, codes) for scope, codes in scopes.items()}
    engine = make_engine(db_url)
    totals = {}
    try:
        # the site file's rule, then other rules (same city, --sites) that cut the same
        # evening differently
        for threshold, n, m in [(threshold, n, m), (95, 2, 1), (90, 4, 2), (70, 3, 3)]:
            variant = dict(site, alerts={"hourly_aqi": {"threshold": threshold, "hours": n,
                                                        "clear_hours": m}})
            path = write_site(tmp_path / f"bjlive-{threshold}.yaml", variant)
            run = run_alerts(engine, load_settings(), city="bjlive", site_file=path)
            assert run.at == datetime(2022, 1, 6, 0, 0)        # the feed's last timepoint
            got_all = []
            for scope in scopes:
                aqi = reference[scope]
                expected = reference_episodes(aqi, threshold, n, m)
                got = [a for a in run.episodes if a.scope == scope]
                assert [(pd.Timestamp(a.episode.start), pd.Timestamp(a.episode.end),
                         a.episode.ongoing) for a in got] == expected, (scope, threshold)
                for a in got:
                    for r in a.hours.itertuples(index=False):
                        ours = None if pd.isna(r.aqi) else int(r.aqi)
                        assert ours == aqi.get(pd.Timestamp(r.time)), (scope, r.time)
                got_all += got
            totals[(threshold, n, m)] = len(got_all)
    finally:
        engine.dispose()
    # the evening of 2022-01-05 rose above 100 in Beijing: each area alerts
    assert totals[(100, 3, 3)] == 3 and all(totals.values()), totals

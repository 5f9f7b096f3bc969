"""Weekly exceedance report emails (`lantian report weekly`), against a real SMTP server.

The SMTP server is aiosmtpd's Controller on 127.0.0.1 (a free port chosen
beforehand). Databases: a copy of the whole real Beijing set (SQLite) for the
content of a known week, and a small slice of it (2015-01-01 … 01-11) loaded
through `lantian ingest csv` into SQLite and PostgreSQL for the sent log.
"""
from __future__ import annotations

import re
import shutil
import socket
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from email import message_from_bytes, policy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sqlalchemy import select

from config import ConfigError
from config.sites import load_site_config
from tests.conftest import BEIJING_SITES

KNOWN_WEEK = "2015-W49"          # 2015-11-30 … 12-06: the heavy smog of 30 Nov / 1 Dec
SMALL_WEEK = "2015-W02"          # 2015-01-05 … 01-11
# cn-2012 Grade II 24-h limits (O3: MDA8), written out here so that the test does not
# ask the code under test what the limits are.
LIMITS = {"SO2": 150, "NO2": 80, "PM10": 150, "PM2.5": 75, "CO": 4, "O3_MDA8": 160}


# ----------------------------------------------------------------------------- SMTP server

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    """aiosmtpd handler: keeps what it accepts; can refuse DATA (451) or a recipient (550)."""

    def __init__(self):
        self.messages: list[dict] = []
        self.refuse_data = 0          # refuse the next N DATA commands with 451
        self.reject = {"bad@example.org"}
        self.data_attempts = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.reject:
            return "550 5.1.1 <%s>: no such user" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_attempts += 1
        if self.refuse_data > 0:
            self.refuse_data -= 1
            return "451 4.3.0 try again later"
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "msg": message_from_bytes(envelope.content, policy=policy.default)})
        return "250 Message accepted"

    def to(self, address: str) -> list:
        return [m["msg"] for m in self.messages if address in m["to"]]


@pytest.fixture
def smtp(monkeypatch):
    from aiosmtpd.controller import Controller

    handler = Recorder()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("LANTIAN_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LANTIAN_SMTP_PORT", str(port))
    monkeypatch.setenv("LANTIAN_SMTP_TLS", "none")
    monkeypatch.setenv("LANTIAN_MAIL_FROM", "Lantian <lantian@example.org>")
    monkeypatch.setenv("LANTIAN_MAIL_BACKOFF", "0.01")
    monkeypatch.setenv("LANTIAN_MAIL_ATTEMPTS", "4")
    handler.port = port
    yield handler
    controller.stop()


@pytest.fixture(scope="module", autouse=True)
def kaleido_session():
    """One kaleido server for the whole module (each report run reuses it)."""
    from reports.charts import ChartSession
    with ChartSession():
        yield


# ----------------------------------------------------------------------------- databases

def site_with(tmp_path: Path, recipients: dict, name: str = "beijing-test.yaml") -> Path:
    """The Beijing site file with other recipients."""
    data = yaml.safe_load(BEIJING_SITES.read_text(encoding="utf-8"))
    data["recipients"] = recipients
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def slice_csv(beijing_db_url, tmp_path_factory) -> Path:
    """2015-01-01 … 01-11 of the real Beijing data as a long CSV (station,time,pollutant,value)."""
    from store.db import make_engine
    from store.frames import hourly_frame

    engine = make_engine(beijing_db_url)
    with engine.connect() as conn:
        h = hourly_frame(conn, start=np.datetime64("2015-01-01T00:00:00"),
                         end=np.datetime64("2015-01-11T23:00:00"))
    engine.dispose()
    long = h.melt(id_vars=["station", "time"], var_name="pollutant", value_name="value")
    long = long.dropna(subset=["value"])
    long["time"] = pd.to_datetime(long["time"]).dt.strftime("%Y-%m-%d %H:%M")
    path = tmp_path_factory.mktemp("slice") / "beijing-2015-01.csv"
    long.to_csv(path, index=False)
    return path


@pytest.fixture
def small_db(cli, slice_csv, db_url):
    """Beijing stations with 2015-01-01 … 01-11 in the test database (SQLite or PostgreSQL)."""
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    result = cli("ingest", "csv", slice_csv, "--strict", "--quiet")
    assert result.exit_code == 0, result.output
    return db_url


@pytest.fixture
def beijing_copy(beijing_db_url, tmp_path, monkeypatch):
    """A private copy of the whole Beijing database (the report writes its sent log)."""
    src = Path(beijing_db_url.split("///", 1)[1])
    dst = tmp_path / "beijing.sqlite"
    shutil.copy(src, dst)
    url = f"sqlite:///{dst}"
    monkeypatch.setenv("LANTIAN_DATABASE_URL", url)
    monkeypatch.setenv("LANTIAN_SETTINGS", "")
    return url


def run_cli(*args):
    from typer.testing import CliRunner

    from lantian.cli import app
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def log_rows(url: str) -> pd.DataFrame:
    from store.db import make_engine
    from store.deliveries import deliveries
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = deliveries(conn)
    engine.dispose()
    return rows


# ----------------------------------------------------------------------------- message checks

def parts(msg):
    """(text/plain, text/html, {cid: image part}) of a report message, checking the layout."""
    assert msg.get_content_type() == "multipart/alternative"
    alternatives = msg.get_payload()
    assert alternatives[0].get_content_type() == "text/plain"        # plain text first
    related = alternatives[1]
    assert related.get_content_type() == "multipart/related"
    html_part = related.get_payload()[0]
    assert html_part.get_content_type() == "text/html"
    images = {p["Content-ID"].strip("<>"): p for p in related.get_payload()[1:]}
    assert all(p.get_content_type() == "image/png" for p in images.values())
    return alternatives[0].get_content(), html_part.get_content(), images


def check_images(html: str, images: dict) -> None:
    """Every <img> is a cid: with alt text, and every PNG part is referenced."""
    tags = re.findall(r"<img\b[^>]*>", html)
    assert tags, "no images in the HTML"
    referenced = set()
    for tag in tags:
        src = re.search(r'src="cid:([^"]+)"', tag)
        assert src, f"image without cid: {tag}"
        alt = re.search(r'alt="([^"]*)"', tag)
        assert alt and len(alt.group(1)) > 20, f"image without alt text: {tag}"
        referenced.add(src.group(1))
    assert referenced == set(images)
    for part in images.values():
        data = part.get_content()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def expected_exceedances(url: str, district: str, week_start: str, week_end: str):
    """The week's exceedance rows computed here from the daily values of the indicators:
    each valid published daily value above its Grade II 24-h limit (O3: MDA8), with
    the multiple (C − S)/S rounded half to even to 0.01."""
    from indicators import pipeline
    from store.db import make_engine
    from store.frames import hourly_frame, membership

    engine = make_engine(url)
    with engine.connect() as conn:
        members = membership(conn, "beijing")
        h = hourly_frame(conn, start=np.datetime64(f"{week_start}T00:00:00"),
                         end=np.datetime64(f"{week_end}T23:00:00"))
    engine.dispose()
    daily, _aqi = pipeline.daily_and_aqi(h, members)
    d = daily[(daily["level"] == "district") & (daily["area"] == district)
              & daily["valid"] & daily["pollutant"].isin(list(LIMITS))]
    rows = set()
    for r in d.itertuples(index=False):
        limit = LIMITS[str(r.pollutant)]
        c = Decimal(repr(float(r.reported)))
        if c > limit:
            multiple = ((c - limit) / Decimal(limit)).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
            shown = f"{c:.1f}" if r.pollutant == "CO" else f"{c:.0f}"
            rows.add((pd.Timestamp(r.date).date(), "O3" if r.pollutant == "O3_MDA8"
                      else str(r.pollutant), shown, f"{multiple:.2f}"))
    return rows


EN_ROW = re.compile(r"^- (\w{3}) (\d+) (\w{3})\s+(\S+(?: MDA8)?)\s+([\d.]+) (?:µg|mg)/m³\s+"
                    r"\(Limit ([\d.]+) (?:µg|mg)/m³, Multiple ([\d.]+)\)", re.M)


def rows_from_text(text: str, year: int):
    out = set()
    for _wd, day, mon, pol, value, _limit, multiple in EN_ROW.findall(text):
        when = datetime.strptime(f"{day} {mon} {year}", "%d %b %Y").date()
        pol = {"SO₂": "SO2", "NO₂": "NO2", "O₃ MDA8": "O3"}.get(pol, pol)
        out.add((when, pol, value, multiple))
    return out


# ----------------------------------------------------------------------------- weeks

def test_parse_week_and_bad_weeks():
    from reports.weeks import WeekError, parse_week
    w = parse_week("2015-W05")
    assert (w.start, w.end, w.label) == (date(2015, 1, 26), date(2015, 2, 1), "2015-W05")
    assert parse_week("2015-W01").start == date(2014, 12, 29)
    assert parse_week("2020-W53").end == date(2021, 1, 3)
    for bad in ("2015-05", "W05", "2015-W54", "2015-W00", "next week"):
        with pytest.raises(WeekError, match="ISO week|has ISO weeks"):
            parse_week(bad)


def test_default_week_is_the_last_complete_iso_week_in_china_standard_time():
    from reports.weeks import last_complete_week
    # Monday 2015-02-02 00:30 CST is still Sunday 16:30 UTC: the week to 1 Feb has ended.
    assert last_complete_week(datetime(2015, 2, 1, 16, 30, tzinfo=timezone.utc)).label == "2015-W05"
    assert last_complete_week(datetime(2015, 2, 2, 0, 30)).label == "2015-W05"     # naive = CST
    # Sunday 23:59 CST: that week is not complete yet.
    assert last_complete_week(datetime(2015, 2, 1, 15, 59, tzinfo=timezone.utc)).label == "2015-W04"
    assert last_complete_week(datetime(2015, 1, 5, 9, 0)).label == "2015-W01"      # spans new year
    assert last_complete_week(datetime(2021, 1, 4, 8, 0)).label == "2020-W53"


# ----------------------------------------------------------------------------- configuration

def _site_error(tmp_path, recipients) -> str:
    with pytest.raises(ConfigError) as e:
        load_site_config(site_with(tmp_path, recipients))
    return str(e.value)


def test_recipient_mistakes_name_file_key_and_fix(tmp_path):
    msg = _site_error(tmp_path, {"districts": {"dongcheng": [{"email": "not-an-address"}]}})
    assert "beijing-test.yaml" in msg and "recipients.districts.dongcheng[0].email" in msg
    assert "analyst@example.org" in msg                                   # the fix shows how
    msg = _site_error(tmp_path, {"districts": {"dongchen": [{"email": "a@example.org"}]}})
    assert "unknown district 'dongchen'" in msg and "dongcheng" in msg
    msg = _site_error(tmp_path, {"city": [{"email": "a@example.org", "lang": "fr"}]})
    assert "recipients.city[0].lang" in msg and "zh" in msg and "en" in msg
    msg = _site_error(tmp_path, {"city": [{"email": "a@example.org"}, {"email": "A@example.org"}]})
    assert "listed twice" in msg
    msg = _site_error(tmp_path, {"heads": []})
    assert "recipients.heads" in msg


def test_shipped_site_files_have_example_recipients():
    from tests.conftest import YANGQUAN_SITES
    for path in (BEIJING_SITES, YANGQUAN_SITES):
        site = load_site_config(path)
        emails = [r.email for r in site.recipients.city] + [
            r.email for _d, rs in site.recipients.districts for r in rs]
        assert emails and all(e.endswith("@example.org") for e in emails)
        assert {d for d, _ in site.recipients.districts} == {d.id for d in site.districts}
        assert {r.lang for _d, rs in site.recipients.districts for r in rs} == {"zh", "en"}


def test_smtp_settings_environment_over_file_over_defaults(tmp_path):
    from config.settings import load_settings
    f = tmp_path / "settings.yaml"
    f.write_text("smtp_host: mail.example.org\nsmtp_tls: starttls\nmail_from: a@example.org\n")
    s = load_settings({"LANTIAN_SETTINGS": str(f)})
    assert (s.smtp_host, s.smtp_port, s.smtp_tls, s.mail_from) == (
        "mail.example.org", 587, "starttls", "a@example.org")
    s = load_settings({"LANTIAN_SETTINGS": str(f), "LANTIAN_SMTP_HOST": "relay",
                       "LANTIAN_SMTP_PORT": "2525", "LANTIAN_SMTP_TLS": "ssl",
                       "LANTIAN_SMTP_USER": "u", "LANTIAN_SMTP_PASSWORD": "secret",
                       "LANTIAN_MAIL_FROM": "b@example.org"})
    assert (s.smtp_host, s.smtp_port, s.smtp_tls, s.smtp_user, s.mail_from) == (
        "relay", 2525, "ssl", "u", "b@example.org")
    assert "secret" not in repr(s)
    assert load_settings({}).smtp_port == 25 and load_settings({}).smtp_tls == "none"
    with pytest.raises(ConfigError, match="LANTIAN_SMTP_TLS.*none, starttls or ssl"):
        load_settings({"LANTIAN_SMTP_TLS": "tls"})
    with pytest.raises(ConfigError, match="LANTIAN_SMTP_PORT"):
        load_settings({"LANTIAN_SMTP_PORT": "smtp"})


# ----------------------------------------------------------------------------- content

@pytest.mark.realdata
def test_known_week_sent_to_every_district_with_the_exceedance_rows(beijing_copy, smtp):
    result = run_cli("report", "weekly", "--week", KNOWN_WEEK, "--send", "--quiet")
    assert result.exit_code == 0, result.output
    site = load_site_config(BEIJING_SITES)
    expected_to = {r.email for _d, rs in site.recipients.districts for r in rs} | {
        r.email for r in site.recipients.city}
    received = [to for m in smtp.messages for to in m["to"]]
    assert sorted(received) == sorted(expected_to)                 # each exactly once
    assert all(len(m["to"]) == 1 for m in smtp.messages)          # one envelope per recipient
    assert "10 sent, 0 failed" in result.output

    (zh,) = smtp.to("dongcheng@example.org")
    (en,) = smtp.to("analyst@example.org")
    # (strip: Python's folder may move a 70-odd character subject to a continuation line)
    assert zh["Subject"].strip() == "北京市东城区空气质量周报 2015-W49：超标 3 天"
    assert en["Subject"].strip() == ("Dongcheng, Beijing weekly air-quality report 2015-W49: "
                                     "3 exceedance days")
    assert zh["To"] == "dongcheng@example.org" and zh["From"] == "Lantian <lantian@example.org>"
    assert zh["Message-ID"] != en["Message-ID"]
    text_zh, html_zh, images = parts(zh)
    check_images(html_zh, images)
    assert "本周超标 3 天，主要污染物 PM2.5" in text_zh and "本周超标 3 天，主要污染物 PM2.5" in html_zh
    assert "<style" not in html_zh and 'style="' in html_zh           # CSS inlined
    text_en, html_en, images_en = parts(en)
    check_images(html_en, images_en)
    assert "3 days exceeded this week, mainly PM2.5" in text_en
    assert "national 24-hour limits" in text_en and "annual means" in text_en

    # the exceedance rows, against an independent computation from the daily values
    expected = expected_exceedances(beijing_copy, "dongcheng", "2015-11-30", "2015-12-06")
    got = rows_from_text(text_en, 2015)
    assert got == expected and len(expected) == 11
    assert (date(2015, 12, 1), "PM2.5", "479", "5.39") in got
    # the HTML table holds the same rows as the text
    assert html_en.count("<tr>") >= len(expected)
    assert re.search(r"486 Severely polluted", html_en)

    # year to date: national limits stand in (Beijing has no local targets), with what is needed
    # (SO₂ would "need ≤ 699 µg/m³ for the remaining 25 days": beyond any plausible value, so
    # the target is secured; issue 16 §7)
    assert "SO₂ mean: 13 µg/m³" in text_en and "already secured" in text_en
    assert "699" not in text_en
    assert "can no longer be met" in text_en
    # every district with a value is ranked (standards.md §7): 8, not the 2 valid ones
    assert "rank 5 of 8 districts" in text_en
    assert "could not be evaluated for CO at station Tiantan (1004A): 1 Dec" in text_en

    (head,) = smtp.to("head@example.org")
    assert head["Subject"].strip().startswith("北京市全市空气质量周报 2015-W49")
    text_head, html_head, images_head = parts(head)
    check_images(html_head, images_head)
    for name in ("东城区", "西城区", "朝阳区", "海淀区", "石景山区", "昌平区", "顺义区", "怀柔区"):
        assert name in text_head

    rows = log_rows(beijing_copy)
    assert len(rows) == 10 and set(rows["status"]) == {"sent"} and set(rows["attempts"]) == {1}
    assert set(rows["period"]) == {KNOWN_WEEK} and "city" in set(rows["scope"])
    assert set(rows["message_id"]) == {m["msg"]["Message-ID"] for m in smtp.messages}


@pytest.mark.realdata
def test_synthetic_demo_city_says_so_in_subject_and_body(demo_db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("LANTIAN_DATABASE_URL", demo_db_url)
    monkeypatch.setenv("LANTIAN_SETTINGS", "")
    result = run_cli("report", "weekly", "--week", "2025-W10", "--district", "chengqu",
                     "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 0, result.output
    assert "SYNTHETIC DEMO DATA" in result.output
    for eml in sorted((tmp_path / "out").glob("*.eml")):
        msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
        assert "SYNTHETIC DEMO DATA" in msg["Subject"]
        text, html, _images = parts(msg)
        assert "SYNTHETIC DEMO DATA" in text and "SYNTHETIC DEMO DATA" in html
    # chengqu carries real local targets (NO2 37, SO2 18): compared, with what is needed
    text = parts(message_from_bytes((tmp_path / "out" / "2025-W10_yangquan-demo_chengqu_en.eml")
                                    .read_bytes(), policy=policy.default))[0]
    assert re.search(r"NO₂ mean: \d+ µg/m³ .*Target 37 µg/m³;", text)
    assert re.search(r"needs ≤ \d+ µg/m³ for the remaining 297 days|already out of reach", text)


@pytest.mark.realdata
def test_out_writes_one_eml_and_one_html_per_recipient_group(small_db, tmp_path):
    out = tmp_path / "review"
    result = run_cli("report", "weekly", "--week", SMALL_WEEK, "--out", out,
                     "--district", "dongcheng", "--district", "city", "--quiet")
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"{SMALL_WEEK}_beijing_{g}.{ext}" for g in ("city_zh", "dongcheng_en",
                                                                 "dongcheng_zh")
                     for ext in ("eml", "html")]
    msg = message_from_bytes((out / f"{SMALL_WEEK}_beijing_dongcheng_en.eml").read_bytes(),
                             policy=policy.default)
    assert msg["To"] == "analyst@example.org"
    _text, html, images = parts(msg)
    check_images(html, images)
    preview = (out / f"{SMALL_WEEK}_beijing_dongcheng_en.html").read_text(encoding="utf-8")
    assert "cid:" not in preview and preview.count('src="data:image/png;base64,') == len(images)
    assert log_rows(small_db).empty                                  # --out sends nothing


# ----------------------------------------------------------------------------- reliability

@pytest.mark.realdata
def test_idempotent_and_resend(small_db, smtp):
    args = ("report", "weekly", "--week", SMALL_WEEK, "--district", "dongcheng", "--send",
            "--quiet")
    first = run_cli(*args)
    assert first.exit_code == 0, first.output
    assert sorted(t for m in smtp.messages for t in m["to"]) == ["analyst@example.org",
                                                                 "dongcheng@example.org"]
    again = run_cli(*args)
    assert again.exit_code == 0 and "0 sent, 0 failed, 2 already sent" in again.output
    assert len(smtp.messages) == 2                                  # nothing sent twice
    forced = run_cli(*args, "--resend")
    assert forced.exit_code == 0 and "2 sent" in forced.output
    assert len(smtp.messages) == 4
    rows = log_rows(small_db)
    assert list(rows["status"]) == ["sent"] * 4
    assert rows["message_id"].nunique() == 4


@pytest.mark.realdata
def test_refused_attempts_are_retried_with_backoff(small_db, smtp):
    smtp.refuse_data = 2                              # 451 twice, then accepted
    result = run_cli("report", "weekly", "--week", SMALL_WEEK, "--district", "xicheng",
                     "--send", "--quiet")
    assert result.exit_code == 0, result.output
    assert smtp.data_attempts == 3 and len(smtp.messages) == 1
    rows = log_rows(small_db)
    assert list(rows["status"]) == ["sent"] and list(rows["attempts"]) == [3]


@pytest.mark.realdata
def test_failure_after_all_retries_is_reported_never_marked_sent(small_db, smtp):
    smtp.refuse_data = 10 ** 6                          # always 451
    result = run_cli("report", "weekly", "--week", SMALL_WEEK, "--district", "xicheng",
                     "--send", "--quiet")
    assert result.exit_code == 1
    assert "1 of 1 deliveries failed" in result.output and "451" in result.output
    assert smtp.data_attempts == 4 and smtp.messages == []
    rows = log_rows(small_db)
    assert list(rows["status"]) == ["failed"] and list(rows["attempts"]) == [4]
    smtp.refuse_data = 0                                # the server recovers: the next run sends
    result = run_cli("report", "weekly", "--week", SMALL_WEEK, "--district", "xicheng",
                     "--send", "--quiet")
    assert result.exit_code == 0 and len(smtp.messages) == 1
    assert list(log_rows(small_db)["status"]) == ["failed", "sent"]


@pytest.mark.realdata
def test_one_bad_address_does_not_stop_the_others(small_db, smtp, tmp_path):
    site = site_with(tmp_path, {"districts": {"dongcheng": [
        {"email": "first@example.org"}, {"email": "bad@example.org"},
        {"email": "last@example.org", "lang": "en"}]}})
    result = run_cli("report", "weekly", "--week", SMALL_WEEK, "--send", "--sites", site,
                     "--quiet")
    assert result.exit_code == 1
    assert "bad@example.org (550" in result.output and "1 of 3 deliveries failed" in result.output
    assert sorted(t for m in smtp.messages for t in m["to"]) == ["first@example.org",
                                                                 "last@example.org"]
    rows = log_rows(small_db).set_index("recipient")
    assert rows.loc["bad@example.org", "status"] == "failed"
    assert rows.loc["bad@example.org", "attempts"] == 1               # 5xx: no pointless retry
    assert "550" in rows.loc["bad@example.org", "error"]
    assert rows.loc["first@example.org", "status"] == "sent"
    assert rows.loc["last@example.org", "status"] == "sent"


@pytest.mark.realdata
def test_unreachable_smtp_server_is_one_line_and_nothing_marked_sent(small_db, monkeypatch):
    monkeypatch.setenv("LANTIAN_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LANTIAN_SMTP_PORT", str(free_port()))      # nobody listens there
    monkeypatch.setenv("LANTIAN_MAIL_BACKOFF", "0.01")
    monkeypatch.setenv("LANTIAN_MAIL_ATTEMPTS", "2")
    result = run_cli("report", "weekly", "--week", SMALL_WEEK, "--district", "dongcheng",
                     "--send", "--quiet")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "unreachable after 2 attempts" in lines[0]
    assert "Traceback" not in result.output
    rows = log_rows(small_db)
    assert set(rows["status"]) <= {"failed"}


@pytest.mark.parametrize("args, message", [
    (("--week", "2015-W60", "--out", "x"), "2015 has ISO weeks 1 to 53"),
    (("--week", SMALL_WEEK, "--district", "pudong", "--out", "x"), "unknown district pudong"),
    (("--week", "2016-W10", "--out", "x"), "no hourly data for 2016-W10"),
    (("--week", SMALL_WEEK), "choose one of --send"),
    (("--week", SMALL_WEEK, "--out", "x", "--send"), "choose one of --send"),
])
@pytest.mark.realdata
def test_user_errors_are_one_line_exit_1(small_db, args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("report", "weekly", *args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


# ----------------------------------------------------------------------------- the sent log

def test_migration_creates_the_sent_log(engine):
    from store import schema
    from store.deliveries import record_delivery, sent_recipients
    now = datetime(2015, 2, 2, 8, 0)
    with engine.begin() as conn:
        for status, who in (("sent", "a@example.org"), ("failed", "b@example.org")):
            record_delivery(conn, report="weekly", period="2015-W05", city="beijing",
                            scope="dongcheng", recipient=who, lang="zh", status=status,
                            attempts=1, message_id="<x@y>", subject="s", error="",
                            started_at=now, finished_at=now)
    with engine.connect() as conn:
        assert sent_recipients(conn, "weekly", "2015-W05", "beijing") == {
            ("dongcheng", "a@example.org")}
        assert conn.execute(select(schema.report_deliveries.c.status)).scalars().all() == [
            "sent", "failed"]
    with pytest.raises(ValueError):
        with engine.begin() as conn:
            record_delivery(conn, report="weekly", period="2015-W05", city="beijing",
                            scope="city", recipient="c@example.org", lang="zh", status="maybe",
                            attempts=0, message_id="", subject="", error="", started_at=now,
                            finished_at=now)

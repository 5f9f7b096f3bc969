"""`lantian scheduler`: jobs from the settings file, cron triggers in CST, the job bodies."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from config import ConfigError
from tests.conftest import BEIJING_SITES
from tests.test_reports import (SMALL_WEEK, kaleido_session, run_cli,  # noqa: F401
                                slice_csv, small_db, smtp)

CST = ZoneInfo("Asia/Shanghai")
JOBS = [{"kind": "weekly_report", "cron": "0 8 * * mon", "city": "beijing", "name": "weekly"},
        {"kind": "ingest", "cron": "15 * * * *", "reader": "csv", "path": "/data/incoming/*.csv"}]


def test_jobs_from_the_settings_file(tmp_path):
    import yaml

    from config.settings import load_settings
    from lantian.scheduler import jobs_from_settings
    f = tmp_path / "settings.yaml"
    f.write_text(yaml.safe_dump({"jobs": JOBS}))
    jobs = jobs_from_settings(load_settings({"LANTIAN_SETTINGS": str(f)}))
    assert [(j.name, j.kind, j.cron) for j in jobs] == [
        ("weekly", "weekly_report", "0 8 * * mon"), ("ingest-2", "ingest", "15 * * * *")]
    assert jobs[1].options == {"reader": "csv", "path": "/data/incoming/*.csv"}


def test_scheduler_registers_the_jobs_with_cron_triggers_in_china_standard_time():
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    from lantian.scheduler import build_scheduler, parse_jobs
    scheduler = build_scheduler(parse_jobs(JOBS, "settings.yaml"))
    assert isinstance(scheduler, BlockingScheduler)              # one process, blocking
    assert str(scheduler.timezone) == "Asia/Shanghai"
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {"weekly", "ingest-2"}
    weekly, ingest = jobs["weekly"].trigger, jobs["ingest-2"].trigger
    assert isinstance(weekly, CronTrigger) and str(weekly.timezone) == "Asia/Shanghai"
    # Monday 08:00 CST after a Sunday; the ingest at minute 15 of every hour
    sunday = datetime(2015, 2, 1, 12, 0, tzinfo=CST)
    assert weekly.get_next_fire_time(None, sunday) == datetime(2015, 2, 2, 8, 0, tzinfo=CST)
    assert ingest.get_next_fire_time(None, sunday) == datetime(2015, 2, 1, 12, 15, tzinfo=CST)
    assert all(j.max_instances == 1 and j.coalesce for j in jobs.values())


@pytest.mark.parametrize("cron, monday_8am", [("0 8 * * 1", True), ("0 8 * * mon", True),
                                              ("0 8 * * 0", False), ("0 8 * * 1-5", True),
                                              ("0 8 * * 6,7", False)])
def test_numeric_days_of_the_week_mean_what_they_mean_to_cron(cron, monday_8am):
    from lantian.scheduler import cron_trigger
    # APScheduler 3 numbers days from Monday = 0; crontab from Sunday = 0 (and 7)
    before = datetime(2015, 2, 2, 7, 0, tzinfo=CST)               # a Monday
    fire = cron_trigger(cron).get_next_fire_time(None, before)
    assert (fire == datetime(2015, 2, 2, 8, 0, tzinfo=CST)) is monday_8am
    if cron.endswith(" 0"):
        assert fire.weekday() == 6                                  # Sunday


@pytest.mark.parametrize("job, key, fix", [
    ({"kind": "weekly_report", "cron": "0 8 * mon"}, "jobs[0].cron", "five fields"),
    ({"kind": "weekly_report", "cron": "0 25 * * *"}, "jobs[0].cron", "five fields"),
    ({"kind": "report", "cron": "0 8 * * mon"}, "jobs[0].kind", "weekly_report, ingest"),
    ({"kind": "ingest", "cron": "0 * * * *", "reader": "csv"}, "jobs[0].path", "glob"),
    ({"kind": "ingest", "cron": "0 * * * *", "reader": "pdf", "path": "x"}, "jobs[0].reader",
     "csv, excel, prsa, cnemc"),
    ({"kind": "weekly_report", "cron": "0 8 * * mon", "citty": "x"}, "jobs[0].citty", "city"),
])
def test_bad_jobs_name_file_key_and_fix(job, key, fix):
    from lantian.scheduler import parse_jobs
    with pytest.raises(ConfigError) as e:
        parse_jobs([job], "/etc/lantian/settings.yaml")
    assert "/etc/lantian/settings.yaml" in str(e.value) and key in str(e.value)
    assert fix in str(e.value)


@pytest.mark.realdata
def test_ingest_job_loads_new_files_once(cli, db_url, slice_csv, tmp_path, monkeypatch):
    import shutil

    from lantian.scheduler import Job, run_ingest
    from config.settings import load_settings
    assert cli("init", "--sites", BEIJING_SITES).exit_code == 0
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    shutil.copy(slice_csv, incoming / "a.csv")
    (incoming / "broken.csv").write_text("station,time,pollutant,value\n1001A,yesterday,NO2,3\n")
    job = Job("ingest-1", "ingest", "15 * * * *",
              {"reader": "csv", "path": str(incoming / "*.csv"), "strict": True})
    counts = run_ingest(job, load_settings())
    assert counts["loaded"] == 1 and counts["failed"] == 1 and counts["new"] > 10_000
    again = run_ingest(job, load_settings())           # the loaded file is not read again
    assert again["skipped"] == 1 and again["loaded"] == 0 and again["new"] == 0


@pytest.mark.realdata
def test_weekly_job_sends_the_last_complete_week(small_db, smtp):
    from config.settings import load_settings
    from lantian.scheduler import Job, run_weekly_report
    job = Job("weekly", "weekly_report", "0 8 * * mon", {"city": "beijing",
                                                         "districts": ["dongcheng"]})
    monday = datetime(2015, 1, 12, 8, 0, tzinfo=CST)
    result = run_weekly_report(job, load_settings(), now=monday)
    assert result.week.label == SMALL_WEEK and result.count("sent") == 2
    assert sorted(t for m in smtp.messages for t in m["to"]) == ["analyst@example.org",
                                                                 "dongcheng@example.org"]
    again = run_weekly_report(job, load_settings(), now=monday)
    assert again.count("sent") == 0 and again.count("skipped") == 2
    assert len(smtp.messages) == 2


@pytest.mark.realdata
def test_scheduler_once_and_list_from_the_cli(small_db, smtp, tmp_path, monkeypatch):
    import yaml
    settings = tmp_path / "settings.yaml"
    settings.write_text(yaml.safe_dump({"jobs": [
        {"kind": "weekly_report", "cron": "0 8 * * mon", "city": "beijing", "name": "weekly",
         "districts": ["xicheng"]}]}))
    monkeypatch.setenv("LANTIAN_SETTINGS", str(settings))
    listed = run_cli("scheduler", "--list")
    assert listed.exit_code == 0, listed.output
    assert "weekly: weekly_report cron '0 8 * * mon' (CST), next run" in listed.output
    unknown = run_cli("scheduler", "--once", "nightly")
    assert unknown.exit_code == 1 and "no job named 'nightly'; jobs: weekly" in unknown.output
    # --once runs the job now: the last complete week (no data for it here → a clear error)
    once = run_cli("scheduler", "--once", "weekly")
    assert once.exit_code == 1 and "no hourly data for" in once.output
    assert smtp.messages == []

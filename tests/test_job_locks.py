"""Two sending runs at once (two schedulers, or a manual run beside the scheduler) would
both find a recipient not yet sent and both send: a sending run holds its city's job lock
(``store.db.job_lock``), and the second one stops at once, sending nothing."""
from __future__ import annotations

import pytest

from store.db import JobBusy, job_lock
from tests.conftest import YANGQUAN_SITES
from tests.test_reports import smtp  # noqa: F401  (the SMTP server fixture)

CITY = "yangquan-demo"


def test_a_job_lock_is_held_by_one_holder_at_a_time(engine):
    with job_lock(engine, "weekly report a"):
        with pytest.raises(JobBusy):
            with job_lock(engine, "weekly report a"):
                pass
        with job_lock(engine, "weekly report b"):     # another job, another lock
            pass
    with job_lock(engine, "weekly report a"):         # released
        pass


def test_a_second_sending_run_sends_nothing(cli, engine, smtp):  # noqa: F811
    from store.deliveries import deliveries

    assert cli("init", "--sites", YANGQUAN_SITES).exit_code == 0
    assert cli("demo", "--until", "2025-03-31", "--quiet").exit_code == 0
    with job_lock(engine, f"weekly report {CITY}"):            # a run in progress
        busy = cli("report", "weekly", "--city", CITY, "--week", "2025-W10", "--send")
        assert busy.exit_code != 0
        assert (f"another 'lantian report weekly --send' for city {CITY} is running; this "
                "one sent nothing") in busy.output
    with job_lock(engine, f"alerts {CITY}"):
        busy = cli("alerts", "--city", CITY, "--send")
        assert busy.exit_code != 0 and "another 'lantian alerts --send'" in busy.output
    assert smtp.messages == []
    with engine.connect() as conn:
        assert deliveries(conn).empty
    # the lock released, the run sends
    sent = cli("report", "weekly", "--city", CITY, "--week", "2025-W10", "--send")
    assert sent.exit_code == 0, sent.output
    assert smtp.messages
    with engine.connect() as conn:
        assert set(deliveries(conn)["status"]) == {"sent"}

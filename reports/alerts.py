"""Hourly-AQI alerts (``lantian alerts``): episodes → emails → files, a listing, or SMTP + sent log.

For each district of a city whose site file has an ``alerts:`` section (and the city as
a whole), the area's hourly AQI — computed by :func:`indicators.pipeline.hourly_table`
from the stored 1-h values, the mean of the area's evaluation stations — is scanned for
episodes (:mod:`indicators.episodes`): the AQI above the rule's threshold for ``hours``
consecutive hours starts one, ``clear_hours`` consecutive hours not above it end it.

Which episodes alert: those still going on at the last hour considered, or that ended
within the :data:`RECENT_HOURS` before it (a run that comes late, after an outage of the
scheduler or of the feed, still sends; an episode of last week does not). The hours
considered are those that **ended** by ``at`` (a clock time, CST; default: the end of
the newest stored hour of the city's stations), so ``at = 2022-01-05 20:00`` includes the
hour the real-time feed publishes as ``20:00`` (stored as 19:00).

Idempotent: each delivery is logged in ``report_deliveries`` (report ``alert``, period =
the start of the episode's first hour, ``YYYY-MM-DDTHH`` CST as stored, scope = district id
or ``city``). A recipient is skipped when the log holds an alert *sent* to them for the
same city and scope whose period lies within the episode (from its first to its last
above hour: late data that moves the start of an episode earlier does not send it
twice). A failed delivery is logged ``failed`` and goes out on the next run.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from config import ConfigError
from config.sites import AlertRule, Recipient, SiteConfig, load_site_config
from evaluation import snapshot
from evaluation.realtime import HOUR, HOUR_COLUMNS, Episode, alert_scan

from .data import city_row
from .errors import ReportError
from .mail import (Delivery, Mailer, SmtpUnavailable, build_message, for_recipient,
                   sending_lock)
from .weeks import CST

REPORT = "alert"
CITY_SCOPE = "city"
#: An episode alerts while it goes on, or when it ended less than this many hours before
#: the last hour considered.
RECENT_HOURS = 24
#: Hours read before the last one; doubled (up to MAX_LOOKBACK_HOURS) while an episode's
#: start could lie further back (indicators.episodes: ``exact_from``).
LOOKBACK_HOURS = 7 * 24
MAX_LOOKBACK_HOURS = 56 * 24
PERIOD_FORMAT = "%Y-%m-%dT%H"


@dataclass
class AreaEpisode:
    """One episode of one area, with its hours and who should hear of it."""
    city: str
    scope: str                     # district id, or "city"
    name_zh: str
    name_en: str
    rule: AlertRule
    episode: Episode
    hours: pd.DataFrame            # HOUR_COLUMNS + above: the episode's hours (start, CST)
    recipients: tuple[Recipient, ...] = ()

    @property
    def period(self) -> str:
        """The sent log's period: the start of the episode's first hour (CST)."""
        return pd.Timestamp(self.episode.start).strftime(PERIOD_FORMAT)

    @property
    def end_key(self) -> str:
        return pd.Timestamp(self.episode.end).strftime(PERIOD_FORMAT)

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh" else self.name_en


@dataclass
class Outcome:
    scope: str
    period: str
    lang: str
    recipient: str
    status: str                    # sent | failed | skipped (already sent)
    attempts: int = 0
    message_id: str = ""
    error: str = ""


@dataclass
class AlertRun:
    city: str
    city_name_zh: str
    city_name_en: str
    synthetic: bool
    at: datetime                   # the clock time (CST): hours that ended by then count
    last_hour: datetime            # the last hour considered (its start, CST)
    episodes: list[AreaEpisode] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    aborted: str = ""
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]


# ----------------------------------------------------------------------------- time

def parse_at(text: str) -> datetime:
    """``YYYY-MM-DD HH:MM`` (CST) → naive datetime; a ReportError naming the option."""
    try:
        value = datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise ReportError(f"--at {text!r} is not a time; write \"YYYY-MM-DD HH:MM\" (China "
                          "Standard Time)") from None
    if value.tzinfo is not None:
        value = value.astimezone(CST).replace(tzinfo=None)
    if not 1970 <= value.year <= 2100:
        raise ReportError(f"--at {text!r}: the year must be from 1970 to 2100")
    return value


def last_hour_of(at: datetime) -> datetime:
    """The start of the last hour that ended by ``at``."""
    return at.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)


def hour_label(start) -> str:
    """An hour as the real-time feed publishes it: its end, ``YYYY-MM-DD HH:00``."""
    return (pd.Timestamp(start) + pd.Timedelta(hours=1)).strftime("%Y-%m-%d %H:00")


# ----------------------------------------------------------------------------- site file



def site_of(row, site_file=None) -> SiteConfig:
    """The city's site file (the one ``lantian init`` loaded, unless ``site_file``)."""
    stored = row["site_file"]
    path = site_file or (None if pd.isna(stored) else stored)
    if not path:
        raise ConfigError(f"city {row['id']}", "site_file",
                          "the database does not say which site file holds the alerts",
                          "pass --sites FILE or re-run 'lantian init --sites FILE'")
    if not Path(path).is_file():
        raise ConfigError(path, "(file)", "the site file holding the alerts is gone",
                          "pass --sites FILE or re-run 'lantian init --sites FILE'")
    site = load_site_config(path)
    if site.city.id != row["id"]:
        raise ConfigError(path, "city.id", f"is {site.city.id!r}, not {row['id']!r}",
                          f"give the site file of city {row['id']}")
    return site


def cities_with_alerts(engine) -> list[str]:
    """Loaded cities whose site file has an ``alerts:`` section."""
    from store.frames import cities
    with engine.connect() as conn:
        known = cities(conn)
    out = []
    for row in known.itertuples(index=False):
        path = row.site_file
        if isinstance(path, str) and Path(path).is_file() and \
                load_site_config(path).alerts is not None:
            out.append(str(row.id))
    return out


# ----------------------------------------------------------------------------- episodes

def find_alerts(engine, site: SiteConfig, last: datetime) -> tuple[list[AreaEpisode], list[str]]:
    """The episodes to alert of a city (ongoing at ``last``, the start of the last hour
    considered, or ended within :data:`RECENT_HOURS` of it), and notes (scopes without
    recipients, a lookback that reached its limit)."""
    alerts = site.alerts
    if alerts is None:
        raise ConfigError(site.path, "alerts", "no alerts section",
                          "add e.g. 'alerts: {hourly_aqi: {threshold: 200, hours: 3}}'")
    scopes = [(d.id, "district", alerts.rule_for(d.id)) for d in site.districts]
    scopes.append((CITY_SCOPE, "city", alerts.rule_for(CITY_SCOPE)))
    scopes = [s for s in scopes if s[2] is not None]
    names = {d.id: (d.name_zh, d.name_en) for d in site.districts}
    names[CITY_SCOPE] = (site.city.name_zh, site.city.name_en)
    last64 = np.datetime64(pd.Timestamp(last), "h")
    recent_start = last64 - (RECENT_HOURS - 1) * HOUR
    notes: list[str] = []
    lookback = LOOKBACK_HOURS
    while True:
        first = (pd.Timestamp(last) - pd.Timedelta(hours=lookback - 1)).to_pydatetime()
        scans = alert_scan(snapshot(engine), site.city.id, scopes, first, last)
        unsure = []
        for scope, (_frame, scan) in scans.items():
            recent = [e for e in scan.episodes if e.ongoing or e.end >= recent_start]
            if scan.exact_from is None or scan.exact_from > recent_start or any(
                    e.start < scan.exact_from for e in recent):
                unsure.append(scope)
        if not unsure or lookback >= MAX_LOOKBACK_HOURS:
            if unsure:
                notes.append(f"{', '.join(unsure)}: the AQI has been above the threshold, "
                             f"with breaks shorter than the rule's clear_hours, for the whole "
                             f"{lookback // 24} days read; the episode is named by the first "
                             "hour of that window")
            break
        lookback = min(lookback * 2, MAX_LOOKBACK_HOURS)
    found = []
    for scope, level, rule in scopes:
        frame, scan = scans[scope]
        for e in scan.episodes:
            if not (e.ongoing or e.end >= recent_start):
                continue
            stop = min(last64, e.end + rule.clear_hours * HOUR)
            t = frame["time"].to_numpy("datetime64[h]")
            hours = frame[(t >= e.start) & (t <= stop)].reset_index(drop=True)
            people = alerts.recipients_of(scope, site.recipients)
            found.append(AreaEpisode(site.city.id, scope, *names[scope], rule, e, hours,
                                     people))
    for scope in dict.fromkeys(a.scope for a in found if not a.recipients):
        notes.append(f"{scope}: an episode but no recipients (add them under recipients or "
                     "alerts.recipients in the site file)")
    return found, notes


def _sent_log(engine, city: str) -> pd.DataFrame:
    from store.deliveries import SENT, deliveries
    with engine.connect() as conn:
        log = deliveries(conn, report=REPORT, city=city)
    log = log[log["status"] == SENT]
    return log.assign(key=log["recipient"].astype(str).str.casefold())


def already_sent(log: pd.DataFrame, item: AreaEpisode, recipient: str) -> bool:
    """Whether ``recipient`` was sent an alert of this episode (a sent period within it)."""
    rows = log[(log["scope"] == item.scope) & (log["key"] == recipient.casefold())]
    periods = rows["period"].astype(str)
    return bool(((periods >= item.period) & (periods <= item.end_key)).any())


# ----------------------------------------------------------------------------- the run

def run_alerts(engine, settings, *, city: str | None = None, send: bool = False,
               **options) -> AlertRun:
    """:func:`make_alerts`; a ``send`` run holds the city's alerts job lock (two runs at
    once would both find an episode unsent and both send it)."""
    if not send:
        return make_alerts(engine, settings, city=city, **options)
    with sending_lock(engine, "alerts", city, "lantian alerts --send"):
        return make_alerts(engine, settings, city=city, send=True, **options)


def make_alerts(engine, settings, *, city: str | None = None, at: datetime | None = None,
               send: bool = False, out_dir: Path | None = None, lang: str | None = None,
               site_file=None, mailer: Mailer | None = None, log=None,
               now: datetime | None = None) -> AlertRun:
    """Find a city's alerts and write them (``out_dir``), send them (``send``), or only
    list them (neither: the result's ``episodes`` and recipients).

    ``at``: a clock time (naive CST); the hours that ended by then count. Default: the end
    of the newest stored hour of the city's stations. ``lang``: with ``out_dir``, write
    only this language (default: each language the recipients read; Chinese when an
    episode has none).
    """
    from store.deliveries import FAILED, SENT, record_delivery
    from store.realtime import city_station_codes, latest_time

    from .alert_render import render_alert

    if send and out_dir is not None:
        raise ReportError("choose --send or --out DIR, not both")
    log = log or (lambda text: None)
    started = time.perf_counter()
    with engine.connect() as conn:
        row = city_row(conn, city)
        city = str(row["id"])
        if at is None:
            newest = latest_time(conn, city_station_codes(conn, city))
            if newest is None:
                raise ReportError(f"no hourly data for city {city!r}; see 'lantian status' "
                                  "for what is loaded")
            at = newest.to_pydatetime() + timedelta(hours=1)
    site = site_of(row, site_file)
    last = last_hour_of(at)
    result = AlertRun(city=city, city_name_zh=str(row["name_zh"]),
                      city_name_en=str(row["name_en"]), synthetic=bool(row["synthetic"]),
                      at=at, last_hour=last)
    result.episodes, result.notes = find_alerts(engine, site, last)
    generated = now or datetime.now(CST)
    dashboard = getattr(settings, "dashboard_url", "") if settings is not None else ""

    def rendered(item: AreaEpisode, language: str):
        return render_alert(item, language, result, dashboard_url=dashboard,
                            generated=generated)

    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        sender = settings.mail_from
        for item in result.episodes:
            langs = [lang] if lang else (list(dict.fromkeys(r.lang for r in item.recipients))
                                         or ["zh"])
            for language in langs:
                r = rendered(item, language)
                to = [p.email for p in item.recipients if p.lang == language] or \
                    ["undisclosed-recipients:;"]
                message = build_message(r, sender=sender, to=to, kind=REPORT,
                                        headers=_headers(item, result))
                stem = f"alert_{city}_{item.scope}_{item.period}_{language}"
                eml, html = out_dir / f"{stem}.eml", out_dir / f"{stem}.html"
                eml.write_bytes(message.as_bytes())
                html.write_text(r.html, encoding="utf-8")
                result.written += [eml, html]
    if not send:
        result.seconds = time.perf_counter() - started
        return result

    sent_log = _sent_log(engine, city)
    sender = settings.mail_from
    own_mailer = mailer is None
    mailer = mailer or Mailer(settings, log=log)
    try:
        for item in result.episodes:
            cache: dict[str, object] = {}
            for person in item.recipients:
                if already_sent(sent_log, item, person.email):
                    result.outcomes.append(Outcome(item.scope, item.period, person.lang,
                                                   person.email, "skipped"))
                    continue
                if person.lang not in cache:
                    r = rendered(item, person.lang)
                    cache[person.lang] = (r, build_message(r, sender=sender, to=[person.email],
                                                           kind=REPORT,
                                                           headers=_headers(item, result)))
                r, message = cache[person.lang]
                one = for_recipient(message, person.email, sender, kind=REPORT)
                begun = datetime.now(CST).replace(tzinfo=None, microsecond=0)
                try:
                    d = mailer.deliver(one, person.email)
                except SmtpUnavailable as exc:
                    d = Delivery(person.email, FAILED, mailer.attempts, str(one["Message-ID"]),
                                 str(exc))
                    result.aborted = str(exc)
                with engine.begin() as conn:
                    record_delivery(conn, report=REPORT, period=item.period, city=city,
                                    scope=item.scope, recipient=person.email, lang=person.lang,
                                    status=SENT if d.status == "sent" else FAILED,
                                    attempts=d.attempts, message_id=d.message_id,
                                    subject=r.subject, error=d.error, started_at=begun,
                                    finished_at=datetime.now(CST).replace(tzinfo=None,
                                                                          microsecond=0))
                result.outcomes.append(Outcome(item.scope, item.period, person.lang,
                                               person.email, d.status, d.attempts,
                                               d.message_id, d.error))
                log(f"{item.scope} {item.period} {person.email}: {d.status}"
                    + (f" ({d.error})" if d.error else ""))
                if result.aborted:
                    return result
    finally:
        if own_mailer:
            mailer.close()
        result.seconds = time.perf_counter() - started
    return result


def _headers(item: AreaEpisode, run: AlertRun) -> dict:
    headers = {"X-Lantian-Report": f"{REPORT} {item.period} {item.city} {item.scope}"}
    if run.synthetic:
        headers["X-Lantian-Synthetic"] = "yes"
    return headers

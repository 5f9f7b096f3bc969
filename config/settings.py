"""Runtime settings, resolved as environment > settings file > defaults.

Environment variables (all optional):

``LANTIAN_SETTINGS``      path of a YAML settings file
                          (default ``<user config dir>/lantian/settings.yaml``)
``LANTIAN_DATA_DIR``      where the embedded database and other state live
                          (default the user data dir, e.g. ``~/.local/share/lantian``);
                          ``sites/<city>/`` there holds a read-only file of every saved
                          version of each city's site configuration (store/site_copies.py)
``LANTIAN_DATABASE_URL``  SQLAlchemy URL; default ``sqlite:///<data dir>/lantian.sqlite``
``LANTIAN_SECRET_KEY``    signs the staff login sessions; the same on every web server
                          (default: a random key kept in ``<data dir>/secret_key``)
``LANTIAN_COOKIE_SECURE`` ``true`` (cookies only over HTTPS: set it behind a TLS proxy),
                          ``false``, or ``auto`` (default: Secure when the request
                          came over HTTPS, so a local trial over http works)
``LANTIAN_SESSION_HOURS`` staff session lifetime (default 8)
``LANTIAN_SESSION_HOURS`` also bounds a session absolutely: it ends that long after
                          sign-in however active it is
``LANTIAN_LOGIN_MAX_FAILURES`` / ``LANTIAN_LOCKOUT_MINUTES``  lockout of one username
                          from one address after that many failed logins in a row,
                          for that long (default 5, 15)
``LANTIAN_TRUSTED_PROXIES`` number of reverse proxies in front of the dashboard whose
                          X-Forwarded-For / X-Forwarded-Proto are believed (default 0:
                          none; the address is the TCP peer's)
``LANTIAN_UPLOAD_MAX_MB`` largest file staff may upload for ingest (default 50)
``LANTIAN_CACHE_URL``     dashboard cache: empty (default) for a cache inside each
                          web process, or ``redis://host:6379/0`` for one cache
                          shared by several processes and servers

Outgoing mail (weekly reports), each also a key of the settings file:

``LANTIAN_SMTP_HOST``     SMTP server (default ``localhost``)
``LANTIAN_SMTP_PORT``     its port (default 25; 587 with starttls, 465 with ssl)
``LANTIAN_SMTP_TLS``      ``none`` | ``starttls`` | ``ssl`` (default ``none``)
``LANTIAN_SMTP_USER``     login (default: no login)
``LANTIAN_SMTP_PASSWORD`` password (never printed)
``LANTIAN_MAIL_FROM``     sender address (default ``lantian@localhost``)
``LANTIAN_MAIL_ATTEMPTS`` delivery attempts per message (default 4)
``LANTIAN_MAIL_BACKOFF``  seconds before the first retry, doubled each retry (default 5)
``LANTIAN_SMTP_TIMEOUT``  socket timeout in seconds (default 30)
``LANTIAN_DASHBOARD_URL`` the dashboard's address as recipients reach it (e.g.
                          ``https://aq.example.gov.cn``): alert emails link to the district
                          page there (default empty: no link)

OpenAQ (``lantian ingest openaq``, ingest/openaq.py):

``LANTIAN_OPENAQ_URL``    base URL of the OpenAQ API v3 (default ``https://api.openaq.org``)
``OPENAQ_API_KEY``        the API key sent as ``X-API-Key`` (environment only, never a file)

The OpenAQ locations to follow are the ``sources:`` list of the settings file
(validated by ``ingest.openaq_sources.parse_sources``)::

    sources:
      - {kind: openaq, name: beijing, city: beijing, district: dongcheng, locations: [2178]}

Scheduled jobs (``lantian scheduler``) are a list in the settings file only::

    jobs:
      - {kind: weekly_report, cron: "0 8 * * mon", city: beijing}
      - {kind: ingest, cron: "15 * * * *", reader: csv, path: /data/incoming/*.csv}

The default database is never in the current directory, so running the CLI
from another folder cannot silently create a second, empty database.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import platformdirs
import yaml

from .errors import ConfigError

ENV_PREFIX = "LANTIAN_"
DEFAULT_OPENAQ_URL = "https://api.openaq.org"
SMTP_TLS = ("none", "starttls", "ssl")
DEFAULT_SMTP_PORT = {"none": 25, "starttls": 587, "ssl": 465}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    settings_file: Path | None = None
    cache_url: str = ""
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_tls: str = "none"
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    mail_from: str = "lantian@localhost"
    mail_attempts: int = 4
    mail_backoff: float = 5.0
    smtp_timeout: float = 30.0
    dashboard_url: str = ""
    jobs: tuple = ()
    # OpenAQ API v3 (ingest/openaq.py) and the locations followed (ingest/openaq_sources.py)
    openaq_url: str = DEFAULT_OPENAQ_URL
    sources: tuple = ()
    # Staff login (dashboard/auth.py)
    secret_key: str = field(default="", repr=False)
    cookie_secure: str = "auto"
    session_hours: float = 8.0
    login_max_failures: int = 5
    lockout_minutes: float = 15.0
    upload_max_mb: float = 50.0
    trusted_proxies: int = 0

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def default_settings_file() -> Path:
    return Path(platformdirs.user_config_dir("lantian")) / "settings.yaml"


def _read_settings_file(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(path, "(file)", f"not valid YAML ({exc.__class__.__name__})",
                          "fix the YAML syntax or remove the file") from None
    if not isinstance(data, dict):
        raise ConfigError(path, "(file)", "expected a mapping of setting: value",
                          "write e.g. 'database_url: sqlite:////var/lib/lantian/db.sqlite'")
    known = {f.name for f in fields(Settings)} - {"settings_file"}
    for key in data:
        if key not in known:
            raise ConfigError(path, key, "unknown setting",
                              f"use one of: {', '.join(sorted(known))}")
    return data


def staff_login_settings(pick, number, where) -> dict:
    """The staff-login settings (see dashboard/auth.py), validated."""
    secure = str(pick("cookie_secure", "auto")).strip().lower()
    if secure not in ("auto", "true", "false"):
        key = "LANTIAN_COOKIE_SECURE" if where("cookie_secure") == "environment" else "cookie_secure"
        raise ConfigError(where("cookie_secure"), key, f"{secure!r} is not auto, true or false",
                          "use true behind HTTPS (production), false only for a local trial")
    return dict(
        secret_key=str(pick("secret_key", "")),
        cookie_secure=secure,
        session_hours=number("session_hours", float, 8.0, 0.05, 24 * 31,
                             "give the session lifetime in hours, e.g. 8"),
        login_max_failures=number("login_max_failures", int, 5, 1, 1000,
                                  "give the failed logins before a lockout, e.g. 5"),
        lockout_minutes=number("lockout_minutes", float, 15.0, 0.01, 7 * 24 * 60,
                               "give the lockout in minutes, e.g. 15"),
        upload_max_mb=number("upload_max_mb", float, 50.0, 0.001, 2048,
                             "give the largest upload in MB, e.g. 50"),
        trusted_proxies=number("trusted_proxies", int, 0, 0, 10,
                               "give the number of reverse proxies in front of the "
                               "dashboard, e.g. 1 (0: none)"))


def load_settings(environ: dict | None = None) -> Settings:
    """Resolve the settings from ``environ`` (default ``os.environ``)."""
    env = os.environ if environ is None else environ
    path_text = env.get(ENV_PREFIX + "SETTINGS")
    path = Path(path_text) if path_text else default_settings_file()
    if path_text and not path.is_file():
        raise ConfigError(path, "LANTIAN_SETTINGS", "the settings file does not exist",
                          "create it or unset LANTIAN_SETTINGS")
    from_file = _read_settings_file(path) if path.is_file() else {}

    def pick(name: str, default):
        value = env.get(ENV_PREFIX + name.upper())
        if value:
            return value
        if from_file.get(name) not in (None, ""):
            return from_file[name]
        return default() if callable(default) else default

    data_dir = Path(pick("data_dir", lambda: platformdirs.user_data_dir("lantian"))).expanduser()
    database_url = str(pick("database_url", lambda: f"sqlite:///{data_dir / 'lantian.sqlite'}"))
    cache_url = str(pick("cache_url", ""))
    if cache_url and not cache_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(path if from_file.get("cache_url") else "environment", "cache_url",
                          f"{cache_url!r} is not a Redis URL",
                          "use redis://host:6379/0, or leave it empty for a per-process cache")
    def where(name: str):
        """Where a value came from, for the error message."""
        return "environment" if env.get(ENV_PREFIX + name.upper()) else path

    def number(name: str, kind, default, lo, hi, fix: str):
        raw = pick(name, default)
        try:
            value = kind(raw)
        except (TypeError, ValueError):
            value = None
        if value is None or not lo <= value <= hi:
            key = ENV_PREFIX + name.upper() if where(name) == "environment" else name
            raise ConfigError(where(name), key, f"{raw!r} is not a valid {name}", fix)
        return value

    smtp_tls = str(pick("smtp_tls", "none")).strip().lower()
    if smtp_tls not in SMTP_TLS:
        key = "LANTIAN_SMTP_TLS" if where("smtp_tls") == "environment" else "smtp_tls"
        raise ConfigError(where("smtp_tls"), key, f"{smtp_tls!r} is not a TLS mode",
                          "use none, starttls or ssl")
    smtp_port = number("smtp_port", int, DEFAULT_SMTP_PORT[smtp_tls], 1, 65535,
                       "give a TCP port number, e.g. 25, 587 (starttls) or 465 (ssl)")
    jobs = from_file.get("jobs") or ()
    if not isinstance(jobs, (list, tuple)):
        raise ConfigError(path, "jobs", "expected a list of jobs",
                          "write e.g. 'jobs: [{kind: weekly_report, cron: \"0 8 * * mon\", "
                          "city: beijing}]'")
    sources = from_file.get("sources") or ()
    if not isinstance(sources, (list, tuple)):
        raise ConfigError(path, "sources", "expected a list of sources",
                          "write e.g. 'sources: [{kind: openaq, name: city, locations: [2178]}]'")
    openaq_url = str(pick("openaq_url", DEFAULT_OPENAQ_URL)).strip().rstrip("/")
    if not openaq_url.startswith(("http://", "https://")):
        key = "LANTIAN_OPENAQ_URL" if where("openaq_url") == "environment" else "openaq_url"
        raise ConfigError(where("openaq_url"), key, f"{openaq_url!r} is not an http(s) URL",
                          f"use e.g. {DEFAULT_OPENAQ_URL}")
    dashboard_url = str(pick("dashboard_url", "")).strip().rstrip("/")
    if dashboard_url and not dashboard_url.startswith(("http://", "https://")):
        key = "LANTIAN_DASHBOARD_URL" if where("dashboard_url") == "environment" \
            else "dashboard_url"
        raise ConfigError(where("dashboard_url"), key, f"{dashboard_url!r} is not an http(s) URL",
                          "use the address recipients open, e.g. https://aq.example.gov.cn, "
                          "or leave it empty (no link in the alert emails)")
    return Settings(
        data_dir=data_dir, database_url=database_url,
        settings_file=path if path.is_file() else None, cache_url=cache_url,
        smtp_host=str(pick("smtp_host", "localhost")).strip(), smtp_port=smtp_port,
        smtp_tls=smtp_tls, smtp_user=str(pick("smtp_user", "")),
        smtp_password=str(pick("smtp_password", "")),
        mail_from=str(pick("mail_from", "lantian@localhost")).strip(),
        mail_attempts=number("mail_attempts", int, 4, 1, 100,
                             "give the number of delivery attempts, e.g. 4"),
        mail_backoff=number("mail_backoff", float, 5.0, 0, 3600,
                            "give the seconds before the first retry, e.g. 5"),
        smtp_timeout=number("smtp_timeout", float, 30.0, 0.1, 3600,
                            "give a timeout in seconds, e.g. 30"),
        dashboard_url=dashboard_url,
        jobs=tuple(jobs), openaq_url=openaq_url, sources=tuple(sources),
        **staff_login_settings(pick, number, where))

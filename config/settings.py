"""Runtime settings, resolved as environment > settings file > defaults.

Environment variables (all optional):

``LANTIAN_SETTINGS``      path of a YAML settings file
                          (default ``<user config dir>/lantian/settings.yaml``)
``LANTIAN_DATA_DIR``      where the embedded database and other state live
                          (default the user data dir, e.g. ``~/.local/share/lantian``)
``LANTIAN_DATABASE_URL``  SQLAlchemy URL; default ``sqlite:///<data dir>/lantian.sqlite``
``LANTIAN_CACHE_URL``     dashboard cache: empty (default) for a cache inside each
                          web process, or ``redis://host:6379/0`` for one cache
                          shared by several processes and servers

The default database is never in the current directory, so running the CLI
from another folder cannot silently create a second, empty database.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

import platformdirs
import yaml

from .errors import ConfigError

ENV_PREFIX = "LANTIAN_"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    settings_file: Path | None = None
    cache_url: str = ""

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
    return Settings(data_dir=data_dir, database_url=database_url,
                    settings_file=path if path.is_file() else None, cache_url=cache_url)

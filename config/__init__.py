"""Lantian configuration: settings (env > settings file > defaults) and YAML site files.

The YAML files under ``config/sites`` and ``config/standards`` are data; the
modules here load and validate them and turn every mistake into a
:class:`ConfigError` that names the file, the key and the fix.
"""
from pathlib import Path

from .errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent
SITES_DIR = CONFIG_DIR / "sites"

__all__ = ["CONFIG_DIR", "SITES_DIR", "ConfigError"]

"""The QC rules of ``config/qc.yaml`` and the flag codes stored with every reading.

They are configuration: ``ingest.qc`` applies them when readings are loaded, ``store``
leaves the excluded values out when it reads values for statistics.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import yaml

from . import CONFIG_DIR, ConfigError
from .sites import POLLUTANTS

# Codes are stored in the database: append new flags, never reorder.
FLAGS = ("ok", "missing", "negative", "non_numeric", "ceiling", "spike", "stuck", "low_coverage",
         "implausible")
FLAG_CODE = {name: code for code, name in enumerate(FLAGS)}
OK, MISSING, NEGATIVE, NON_NUMERIC, CEILING, SPIKE, STUCK, LOW_COVERAGE, IMPLAUSIBLE = \
    range(len(FLAGS))
# Standards §3: an hourly value is valid only with >= 45 minutes of sampling. An hour
# its source reports below that is no valid hourly value whatever qc.yaml chooses, nor
# is a value above the physical ceiling, so these flags are excluded from statistics in
# addition to exclude_from_statistics.
ALWAYS_EXCLUDED = ("low_coverage", "implausible")


@dataclass(frozen=True)
class QCRules:
    excluded: tuple[str, ...]
    ceiling_values: dict
    ceiling_min_repeats: int
    spike_ratio: float
    spike_jump: dict
    stuck_hours: int
    stuck_min_value: dict
    physical_ceiling: dict

    @property
    def excluded_codes(self) -> tuple[int, ...]:
        return tuple(FLAG_CODE[f] for f in self.excluded)


@lru_cache(maxsize=4)
def load_rules(path: str | None = None) -> QCRules:
    path = path or str(CONFIG_DIR / "qc.yaml")
    data = yaml.safe_load(open(path, encoding="utf-8"))
    try:
        excluded = tuple(data["exclude_from_statistics"])
        for flag in excluded:
            if flag not in FLAGS:
                raise ConfigError(path, "exclude_from_statistics", f"unknown flag {flag!r}",
                                  f"use flags from: {', '.join(FLAGS[2:])}")
        return QCRules(
            excluded=tuple(dict.fromkeys(excluded + ALWAYS_EXCLUDED)),
            ceiling_values={p: tuple(float(v) for v in data["ceiling"]["values"].get(p, ()))
                            for p in POLLUTANTS},
            ceiling_min_repeats=int(data["ceiling"]["min_repeats"]),
            spike_ratio=float(data["spike"]["ratio"]),
            spike_jump={p: float(data["spike"]["jump"][p]) for p in POLLUTANTS},
            stuck_hours=int(data["stuck"]["hours"]),
            stuck_min_value={p: float(data["stuck"]["min_value"][p]) for p in POLLUTANTS},
            physical_ceiling={p: _ceiling(path, data["physical_ceiling"][p], p)
                              for p in POLLUTANTS},
        )
    except KeyError as exc:
        raise ConfigError(path, str(exc.args[0]), "missing", "restore the key from the shipped "
                          "config/qc.yaml") from None


def _ceiling(path, value, pollutant: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not (np.isfinite(number) and number > 0):
        raise ConfigError(path, f"physical_ceiling.{pollutant}", f"{value!r} is not a positive "
                          "number", "give the value no real reading can exceed, in the "
                          "canonical unit (see the shipped config/qc.yaml)")
    return number

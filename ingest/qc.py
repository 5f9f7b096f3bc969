"""Quality control: flag suspect values, never drop them.

Flags (stored as small integers, the index in :data:`FLAGS`):

``ok``          a plain reading
``missing``     the source had the hour but no value
``negative``    below zero: impossible, excluded from statistics by default
``non_numeric`` text where a number was expected: excluded, value stored as NULL
``ceiling``     an exact instrument cap repeated (999, 500, 10000 µg/m³ …)
``spike``       an isolated jump far above both neighbouring hours
``stuck``       the same value for many consecutive hours
``low_coverage`` the source says the hour had under 45 minutes of sampling (set by
                readers that know it, e.g. OpenAQ's ``coverage``): not a valid
                hourly value (standards §3), always excluded from statistics
``implausible`` above the pollutant's physical ceiling (``physical_ceiling`` in
                qc.yaml, far above any instrument's range and any ambient value
                on record: a typo, a unit mix-up or 1e308); always excluded

Values that are not finite (``inf``, ``-inf``) are no readings: readers store them
as ``non_numeric`` without a value (:func:`ingest.frame.to_numeric`), and
:func:`flag_column` flags any that reach it the same way.

The rules live in ``config/qc.yaml``. The functions work on one row per
station-hour (sorted by station, then time) with a column per pollutant, so
each rule is a few vectorised numpy operations per pollutant.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import yaml

from config import CONFIG_DIR, ConfigError
from config.sites import POLLUTANTS

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


def flag_column(pollutant: str, values: np.ndarray, flags: np.ndarray, group: np.ndarray,
                hour: np.ndarray, rules: QCRules) -> np.ndarray:
    """Flags for one pollutant column; rows sorted by ``group`` (station) then ``hour``.

    ``hour`` is an integer hour number so that neighbours are only compared
    when they are consecutive hours of the same station.
    """
    flags = flags.copy()
    usable = (flags == OK) & ~np.isnan(values)
    infinite = usable & np.isinf(values)       # readers store these as non_numeric already
    flags[infinite] = NON_NUMERIC
    usable &= ~infinite
    flags[usable & (values < 0)] = NEGATIVE
    flags[usable & (values > rules.physical_ceiling[pollutant])] = IMPLAUSIBLE
    usable &= flags == OK

    # Ceiling: exact caps repeated within the same station.
    caps = rules.ceiling_values.get(pollutant, ())
    if caps:
        at_cap = usable & np.isin(values, caps)
        if at_cap.any():
            key = pd.DataFrame({"g": group[at_cap], "v": values[at_cap]})
            repeats = key.groupby(["g", "v"])["v"].transform("size").to_numpy()
            idx = np.flatnonzero(at_cap)[repeats >= rules.ceiling_min_repeats]
            flags[idx] = CEILING
            usable[idx] = False

    n = len(values)
    if n >= 3:
        same_prev = np.zeros(n, dtype=bool)
        same_prev[1:] = (group[1:] == group[:-1]) & (hour[1:] - hour[:-1] == 1)
        # Spike: far above both consecutive neighbours.
        prev = np.full(n, np.nan)
        nxt = np.full(n, np.nan)
        prev[1:] = np.where(same_prev[1:], values[:-1], np.nan)
        nxt[:-1] = np.where(same_prev[1:], values[1:], np.nan)
        jump = rules.spike_jump[pollutant]
        with np.errstate(invalid="ignore", over="ignore"):
            spike = (usable & (values - prev > jump) & (values - nxt > jump)
                     & (values > rules.spike_ratio * np.maximum(prev, 0))
                     & (values > rules.spike_ratio * np.maximum(nxt, 0)))
        flags[spike] = SPIKE
        usable &= ~spike

        # Stuck: runs of identical consecutive-hour values above the floor.
        with np.errstate(invalid="ignore"):
            same_value = np.zeros(n, dtype=bool)
            same_value[1:] = same_prev[1:] & (values[1:] == values[:-1])
        run_id = np.cumsum(~same_value)
        run_length = np.bincount(run_id)[run_id]
        stuck = (usable & (run_length >= rules.stuck_hours)
                 & (values > rules.stuck_min_value[pollutant]))
        flags[stuck] = STUCK
    return flags


def apply_qc(frame: pd.DataFrame, rules: QCRules | None = None) -> pd.DataFrame:
    """Return the canonical long frame with QC flags added (readers' flags kept)."""
    rules = rules or load_rules()
    out = frame.sort_values(["station", "pollutant", "time"], kind="stable").reset_index(drop=True)
    flags = out["flag"].map(FLAG_CODE).to_numpy(dtype=np.int8)
    values = out["value"].to_numpy(dtype="float64")
    group = pd.factorize(out["station"].astype(str) + "\x00" + out["pollutant"].astype(str))[0]
    hour = out["time"].to_numpy(dtype="datetime64[h]").astype(np.int64)
    result = flags.copy()
    for pollutant in out["pollutant"].unique():
        sel = (out["pollutant"] == pollutant).to_numpy()
        result[sel] = flag_column(pollutant, values[sel], flags[sel], group[sel], hour[sel], rules)
    out["flag"] = np.asarray(FLAGS, dtype=object)[result]
    return out

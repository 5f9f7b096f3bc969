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

import numpy as np
import pandas as pd

from config.qc import (ALWAYS_EXCLUDED, CEILING, FLAG_CODE, FLAGS, IMPLAUSIBLE,  # noqa: F401
                       LOW_COVERAGE, MISSING, NEGATIVE, NON_NUMERIC, OK, SPIKE, STUCK, QCRules,
                       load_rules)


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

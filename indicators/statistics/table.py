"""The long statistics table: which statistics there are, how they are coded while they
are computed, and the assembly of the computed blocks of rows into the frame of
:data:`indicators.frames.STAT_COLUMNS`.

Each computation adds *blocks*: arrays of one statistic of one pollutant for many
groups (:func:`add_block`); :func:`assemble` sorts them by group, pollutant and
statistic and builds the frame once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from config.standards import Profile
from config.vocabulary import DAILY_LIMIT_OF, JUDGED_STATISTIC, LIMITED_QUANTITIES, POLLUTANTS

from ..frames import STAT_COLUMNS
from .text import as_text, str_take, take_str

if TYPE_CHECKING:
    from .grouping import AreaPeriods

__all__ = ["PERIODS", "COMPLIANCE_PERIODS", "QUANTITIES", "POLLUTANTS", "DAILY_LIMIT",
           "HAS_MEAN", "PERCENTILE", "STATISTICS", "RowFacts", "StatisticsRequest", "add_block",
           "assemble", "empty_statistics"]

PERIODS = ("year", "quarter", "month", "ytd", "range")
#: Periods for which compliance with the (annual) limits is evaluated.
COMPLIANCE_PERIODS = ("year", "ytd")

#: Daily quantities the period statistics read; the i-th stands for the i-th of POLLUTANTS.
QUANTITIES = LIMITED_QUANTITIES
#: The averaging of the daily limit each quantity is compared with (standards.md §6).
DAILY_LIMIT = tuple(averaging for _, averaging in DAILY_LIMIT_OF.values())
#: Which quantities have a period mean compared with the annual limit (HJ 663 Table 2).
HAS_MEAN = tuple(JUDGED_STATISTIC[p] == "annual_mean" for p in POLLUTANTS)
#: The percentile statistic of each quantity (HJ 663: the names carry the percentile).
PERCENTILE = (("p98_daily", 98), ("p98_daily", 98), ("p95_daily", 95), ("p95_daily", 95),
              ("p95_daily", 95), ("p90_mda8", 90))

STATISTICS = ("annual_mean", "p98_daily", "p95_daily", "p90_mda8", "exceedance_days",
              "max_multiple", "compliance", "valid_aqi_days", "good_days", "heavy_days",
              "good_day_ratio")
#: The ``pollutant`` of the rows: codes 0–5 the pollutants, then AQI and ALL.
OUT_POLLUTANTS = (*POLLUTANTS, "AQI", "ALL")
STAT_CODE = {s: i for i, s in enumerate(STATISTICS)}
AQI_CODE, ALL_CODE = 6, 7
N_QUANTITIES = len(QUANTITIES)


@dataclass(frozen=True)
class RowFacts:
    """The columns a block's rows share with their validity: ``valid``, ``n_valid``,
    ``n_required``, ``rule``, ``detail`` and ``profile`` (arrays, or one value each)."""
    valid: object
    n_valid: object
    n_required: object
    rule: object
    detail: object
    profile: object


@dataclass(frozen=True)
class StatisticsRequest:
    """What :func:`~.period.period_statistics` is asked for: the kind of period, the
    grades, the forced profile (or None), the last day of a year to date or a range, the
    official dust days and the first day of a range."""
    period: str
    grades: object
    forced: Profile | None
    ytd_end: object
    dust_days: object
    range_start: object = None


def empty_statistics() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in STAT_COLUMNS})


def add_block(blocks: list, ap, pol, stat, value, reported, facts: RowFacts) -> None:
    """Add the rows of statistic ``stat`` of pollutant ``pol`` (codes) for the groups
    ``ap``: unrounded ``value``, published ``reported`` and the shared ``facts``."""
    blocks.append({"ap": ap, "pol": np.broadcast_to(np.asarray(pol), ap.shape),
                   "stat": np.broadcast_to(np.asarray(stat), ap.shape),
                   "value": np.asarray(value, dtype="float64"),
                   "reported": np.asarray(reported, dtype="float64"),
                   "valid": np.asarray(facts.valid, dtype=bool),
                   "n_valid": np.asarray(facts.n_valid, dtype=np.int64),
                   "n_required": np.asarray(facts.n_required, dtype=np.int64),
                   "rule": as_text(facts.rule), "detail": as_text(facts.detail),
                   "profile": as_text(facts.profile)})


def assemble(blocks: list, groups: AreaPeriods) -> pd.DataFrame:
    """The statistics frame of the blocks, sorted by level, area, period, pollutant and
    statistic (the groups are numbered in level, area, period order)."""
    if not blocks:
        return empty_statistics()
    pairs, per = groups.pairs, groups.per
    texts = ("rule", "detail", "profile")
    cat = {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0] if k not in texts}
    order = np.lexsort((cat["stat"], cat["pol"], cat["ap"]))
    ap = cat["ap"][order]
    la = groups.la[ap]
    pi = groups.period[ap]
    levels = np.asarray(pairs.get_level_values(0), dtype=object)
    areas = np.asarray(pairs.get_level_values(1), dtype=object)
    if len(la) and np.bincount(la, minlength=len(areas)).all():
        # every pair has rows: its area id inferred once per pair, then taken per row
        area = pd.Series(pd.Series(areas).infer_objects().array.take(la))
    else:
        area = pd.Series(areas[la]).infer_objects()
    out = pd.DataFrame({
        "level": take_str(levels, la),
        "area": area,
        "period": take_str(per.label.astype(object), pi),
        "start": per.start[pi].astype("datetime64[s]"),
        "end": per.end[pi].astype("datetime64[s]"),
        "pollutant": take_str(OUT_POLLUTANTS, cat["pol"][order]),
        "statistic": take_str(STATISTICS, cat["stat"][order]),
        "value": cat["value"][order],
        "reported": cat["reported"][order],
        "valid": cat["valid"][order],
        "n_valid": cat["n_valid"][order],
        "n_required": cat["n_required"][order],
        "rule": str_take([b["rule"] for b in blocks], order),
        "detail": str_take([b["detail"] for b in blocks], order),
        "profile": str_take([b["profile"] for b in blocks], order),
    }, copy=False)                        # new arrays, used only here
    return out[list(STAT_COLUMNS)]

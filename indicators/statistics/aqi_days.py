"""AQI statistics of a period (HJ 633-2012 §5; standards.md §5, §6): ``valid_aqi_days``,
``good_days`` (AQI ≤ ``good_max``, 100), ``heavy_days`` (AQI > ``heavy_above``, 200) and
``good_day_ratio`` (good days / valid AQI days [%], half to even to
``rounding.rate_decimals``), pollutant ``AQI``.

Days are counted when their AQI is valid; the period's validity is the data-capture
rule of :mod:`.validity` counted on those days. Each day is judged by the thresholds
of its own profile (the AQI frame's ``profile``), else of the period's rules. Dust
days are kept (standards.md §7).
"""
from __future__ import annotations

import numpy as np

from config.standards import load_profile

from ..rounding import round_ratio
from .grouping import AreaPeriods, KeyedRows, check_unique
from .table import AQI_CODE, STAT_CODE, RowFacts, add_block
from .text import as_text, join_text
from .validity import ledger


def aqi_statistics(keyed: KeyedRows, groups: AreaPeriods, blocks: list) -> None:
    """Add the AQI statistics of every group that has daily AQI rows."""
    a, a_ap, a_pi, per = keyed.rows, keyed.ap, keyed.period, groups.per
    n_ap, ap_p = groups.n, groups.period
    capture = ~np.isnan(a.aqi)
    check_unique(a_ap[capture], a.day[capture], "daily AQI",
                 lambda ap: f"{groups.pairs[groups.la[ap]]}")
    j = a.month - per.start_month[a_pi]
    led = ledger(a_ap[capture], j[capture], n_ap, ap_p, per)
    n = led.n_valid

    good_max, heavy_above = _thresholds(keyed, per)
    good = np.bincount(a_ap[capture & (a.aqi <= good_max)], minlength=n_ap)
    heavy = np.bincount(a_ap[capture & (a.aqi > heavy_above)], minlength=n_ap)
    rate_dec = np.array([int(r.rounding["rate_decimals"]) for r in per.rules])[per.rules_code[ap_p]]
    ratio_value = np.full(n_ap, np.nan)
    ratio_rep = np.full(n_ap, np.nan)
    has = n > 0
    if has.any():
        ratio_value[has] = good[has] * 100 / n[has]
        ratio_rep[has] = round_ratio(good[has] * 100, n[has], rate_dec[has])
    ap = np.arange(n_ap)
    pid = as_text(np.array([p.id for p in per.limits], dtype=object)[per.limits_code[ap_p]])
    facts = RowFacts(valid=led.valid, n_valid=n, n_required=led.n_required,
                     rule=per.rule[ap_p] + ", counted on days with a valid AQI",
                     detail=join_text(per.prefix[ap_p], led.failure), profile=pid)
    for name, v in (("valid_aqi_days", n), ("good_days", good), ("heavy_days", heavy)):
        add_block(blocks, ap, AQI_CODE, STAT_CODE[name], v, v, facts)
    add_block(blocks, ap, AQI_CODE, STAT_CODE["good_day_ratio"], ratio_value, ratio_rep, facts)


def _thresholds(keyed: KeyedRows, per) -> tuple[np.ndarray, np.ndarray]:
    """(good_max, heavy_above) of each row: of the day's profile (its AQI), else of the
    period's rules."""
    pc, a_pi = keyed.rows.prof, keyed.period
    good_lut = np.full(len(keyed.profile_ids), np.nan)
    heavy_lut = np.full(len(keyed.profile_ids), np.nan)
    for i, pid in enumerate(keyed.profile_ids):
        prof = load_profile(pid)
        if "aqi" in prof.raw and "good_max" in prof.aqi:
            good_lut[i] = prof.aqi["good_max"]
            heavy_lut[i] = prof.aqi["heavy_above"]
    rules_good = np.array([r.aqi["good_max"] for r in per.rules], dtype=float)[per.rules_code]
    rules_heavy = np.array([r.aqi["heavy_above"] for r in per.rules], dtype=float)[per.rules_code]
    good_max = good_lut[pc] if len(pc) else np.zeros(0)
    good_max = np.where(np.isnan(good_max), rules_good[a_pi], good_max)
    heavy_above = heavy_lut[pc] if len(pc) else np.zeros(0)
    heavy_above = np.where(np.isnan(heavy_above), rules_heavy[a_pi], heavy_above)
    return good_max, heavy_above

"""The validity ledger in the reader's language: the ``rule`` and ``detail`` of statistics.

``indicators`` explain every statistic in English ("2015-10: 23 valid days,
needs 27", "invalid SO2 annual_mean (…)", "year: ≥324 valid days and every
month ≥27 (February ≥25)"). Every page that shows those texts (overview,
district, ranking, standards, map) goes through :func:`ledger_text`, so a
reason reads the same wherever it appears.
"""
from __future__ import annotations

import re
from functools import lru_cache

import pandas as pd

#: Statistic id → (zh, en) as a ledger text names it.
STAT_WORDS = {
    "annual_mean": ("平均浓度", "mean"),
    "p98_daily": ("日均值第98百分位", "P98"),
    "p95_daily": ("日均值第95百分位", "P95"),
    "p90_mda8": ("日最大8小时第90百分位", "P90 MDA8"),
    "exceedance_days": ("超标天数", "exceedance days"),
    "max_multiple": ("最大超标倍数", "largest exceedance multiple"),
    "single_index": ("单项指数", "single index"),
    "compliance": ("达标", "compliance"),
    "valid_aqi_days": ("AQI 有效天数", "days with a valid AQI"),
    "good_days": ("优良天数", "good days"),
    "heavy_days": ("重污染天数", "heavy-pollution days"),
    "good_day_ratio": ("优良天数比例", "good-day ratio"),
    "composite_index": ("综合指数", "composite index"),
}

_STATS = "|".join(sorted(STAT_WORDS, key=len, reverse=True))
_ZH = [   # (pattern, replacement), applied in order (indicators write English)
    # the validity rules
    (r"year to date \(provisional\): ≥(\d+) valid days \((\d+) × (\d+)/(\d+) days, rounded up\)",
     r"年初至今（临时）：≥\1 个有效日（\2 × \3/\4 天，向上取整）"),
    (r"range, not a standard evaluation period \(provisional\): ≥(\d+) valid days "
     r"\((\d+) × (\d+)/(\d+) days, rounded up\)",
     r"自定义时段（非标准评价时段，临时）：≥\1 个有效日（\2 × \3/\4 天，向上取整）"),
    (r" \(a partial first or last month pro rata\)", r"（首末不完整月按比例）"),
    (r"year: ≥(\d+) valid days", r"全年：≥\1 个有效日"),
    (r"month \(February\): ≥(\d+) valid days", r"月（2 月）：≥\1 个有效日"),
    (r"month: ≥(\d+) valid days", r"月：≥\1 个有效日"),
    (r"quarter: every month ≥(\d+) valid days", r"季：每月 ≥\1 个有效日"),
    (r" and every complete month ≥(\d+)", r"，且每个完整月 ≥\1"),
    (r" and every month ≥(\d+)", r"，且每月 ≥\1"),
    (r" \(February ≥(\d+)\)", r"（2 月 ≥\1）"),
    (r", the current month ≥(\d+) \(pro rata\)", r"，当月 ≥\1（按比例）"),
    (r", counted on days with a valid AQI", r"，按 AQI 有效日计"),
    (r"composite: all six inputs valid", r"综合指数：六项输入均须有效"),
    (r"single index of (\S+)", r"\1 单项指数"),
    # the details
    (r"provisional: year to date (\d{4}-\d{2}-\d{2}) to (\d{4}-\d{2}-\d{2})",
     r"临时结果（\1 至 \2 年初至今）"),
    (r"(\d{4}-\d{2}) to (\d{4}-\d{2}): no valid days", r"\1 至 \2：无有效天"),
    (r"no valid days, needs (\d+)", r"无有效天，应有 \1 天"),
    (r" \(days (\d+)–(\d+)\)", r"（\1–\2 日）"),
    (r"(\d+) valid days, needs (\d+)", r"有效 \1 天，应有 \2 天"),
    (r"(\d+) dust days? removed", r"剔除沙尘 \1 天"),
    (r"each day against its own profile's limit \(([^)]*)\)", r"各日按当日标准的限值（\1）"),
    (r"each day against its own profile's limit", r"各日按当日标准的限值"),
    (r"no daily limit in profile (\S+)", r"\1 未规定日限值"),
    (r"no limit for (\S+) in profile (\S+)", r"\2 未规定 \1 限值"),
    (r"no limits in profile (\S+)", r"\1 未规定限值"),
    (r"primary: ", "首要污染物："),
    (r"no statistic", "无统计结果"),
    (r"no value", "无数值"),
    (r"not valid", "无效"),
    (r": ", "："),
    (r"; ", "；"),
]
_ZH = [(re.compile(p), r) for p, r in _ZH]
#: One input of a composite statistic: "invalid SO2 annual_mean (why)", "missing CO p95_daily".
_INPUT = re.compile(r"^(invalid|missing) (\S+) (\w+)(?: \((.*)\))?$")
_INPUT_IN_TEXT = re.compile(rf"\b(invalid|missing) (\S+) ({_STATS})\b")
_BARE_STAT = re.compile(rf"\b({_STATS})\b")
#: Every year-to-date (and custom-range) detail starts so; the pages say once that such
#: figures are provisional.
_PROVISIONAL = re.compile(r"provisional: (year to date|not a standard evaluation period,) "
                          r"\S+ to [0-9-]+(; )?")


def _word(statistic: str, lang: str) -> str:
    zh, en = STAT_WORDS.get(statistic, (statistic, statistic))
    return zh if lang == "zh" else en


def _zh(text: str) -> str:
    """One English ledger phrase in Chinese (a phrase without a translation stays as written)."""
    z = _INPUT_IN_TEXT.sub(lambda m: f"{m[2]} {_word(m[3], 'zh')}"
                           + ("无效" if m[1] == "invalid" else "缺失"), text)
    for pattern, repl in _ZH:
        z = pattern.sub(repl, z)
    z = _BARE_STAT.sub(lambda m: _word(m[1], "zh"), z)      # "… annual_mean" left in a rule
    return z.replace(" (", "（").replace(")", "）") if z != text else z


def _shorten(why: str, clauses: int) -> str:
    """The first ``clauses`` clauses of a ledger text ("…" when more follow)."""
    parts = why.split("; ")
    return why if len(parts) <= clauses else "; ".join(parts[:clauses]) + " …"


@lru_cache(maxsize=4096)
def ledger_one(detail: str, lang: str, short: bool = False) -> str:
    """One ``rule`` or ``detail`` for display (see :func:`ledger_text`)."""
    detail = _PROVISIONAL.sub("", detail)
    parts = re.split(r"; (?=(?:invalid|missing) )", detail)
    found = [_INPUT.match(p) for p in parts]
    if not detail or not all(found):
        text = _shorten(detail, 3) if short else detail
        return text if lang != "zh" else _zh(text)
    groups: dict = {}
    for m in found:
        kind, pollutant, statistic, why = m.groups()
        why = _shorten(why or "", 1) if short else (why or "")
        groups.setdefault((kind, why), []).append(f"{pollutant} {_word(statistic, lang)}")
    out = []
    for (kind, why), names in groups.items():
        if lang == "zh":
            text = "、".join(names) + ("无效" if kind == "invalid" else "缺失")
            out.append(text + (f"（{_zh(why)}）" if why else ""))
        else:
            out.append(f"{kind} " + ", ".join(names) + (f" ({why})" if why else ""))
    return ("；" if lang == "zh" else "; ").join(out)


def ledger_text(detail, lang: str, short: bool = False):
    """The validity ledger's ``rule``/``detail`` (English, from indicators) for display.

    ``detail``: a Series (a Series comes back, same index) or one string (a
    string comes back). Chinese readers get the same facts in Chinese
    ("2015-10：有效 23 天，应有 27 天"); a composite's inputs failing for the same
    reason are named once ("PM10 平均浓度、PM2.5 平均浓度无效（…）"); a phrase
    without a translation stays as written. The "provisional: year to date …"
    prefix is dropped: each page says once that year-to-date figures are
    provisional. ``short`` keeps the first clauses of each reason (a table
    cell; the full text goes in its tooltip and the export).
    """
    if not isinstance(detail, pd.Series):
        return ledger_one("" if detail is None or pd.isna(detail) else str(detail), lang, short)
    values = detail.fillna("").astype(str)
    return pd.Series([ledger_one(d, lang, short) for d in values], index=detail.index,
                     dtype=object)

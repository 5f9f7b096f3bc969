"""The validity ledger in the reader's language (``dashboard.ledger``), on every page."""
from __future__ import annotations

import pandas as pd
import pytest

from dashboard.ledger import ledger_text
from dashboard.pages import district, overview, ranking
from tests.dash_helpers import render, text


def test_details_in_chinese_and_english():
    detail = pd.Series([
        "invalid PM10 annual_mean (2015-10: 23 valid days, needs 27); "
        "invalid PM2.5 annual_mean (2015-10: 23 valid days, needs 27)",
        "301 valid days, needs 324; 2015-03: 25 valid days, needs 27",
        "provisional: year to date 2016-01-01 to 2016-11-22; 2016-01 to 2016-03: no valid days",
        "missing O3 p90_mda8", "no statistic", None,
        "invalid NO2 annual_mean (318 valid days, needs 324)"], index=list("abcdefg"))
    zh = ledger_text(detail, "zh")
    assert list(zh.index) == list("abcdefg")
    assert list(zh) == [
        "PM10 平均浓度、PM2.5 平均浓度无效（2015-10：有效 23 天，应有 27 天）",
        "有效 301 天，应有 324 天；2015-03：有效 25 天，应有 27 天",
        "2016-01 至 2016-03：无有效天", "O3 日最大8小时第90百分位缺失", "无统计结果", "",
        "NO2 平均浓度无效（有效 318 天，应有 324 天）"]
    en = ledger_text(detail, "en")
    assert en["a"] == "invalid PM10 mean, PM2.5 mean (2015-10: 23 valid days, needs 27)"
    assert en["b"] == detail["b"] and en["f"] == ""
    assert en["c"] == "2016-01 to 2016-03: no valid days"       # said once by the page
    # one string in, one string out; the pages share the one translation
    assert ledger_text(detail["b"], "zh") == zh["b"] and ledger_text(None, "zh") == ""
    assert ranking.ledger_text is ledger_text and district.ledger_text is ledger_text


def test_rules_and_short_reasons():
    rules = pd.Series(["year: ≥324 valid days and every month ≥27 (February ≥25)",
                       "month (February): ≥25 valid days",
                       "composite: all six inputs valid", "single index of SO2 annual_mean"])
    assert ledger_text(rules, "zh").tolist() == [
        "全年：≥324 个有效日，且每月 ≥27（2 月 ≥25）", "月（2 月）：≥25 个有效日",
        "综合指数：六项输入均须有效", "SO2 单项指数 平均浓度"]
    assert ledger_text(rules, "en").tolist() == rules.tolist()
    long = "301 valid days, needs 324; 2015-03: 25 valid days, needs 27; " \
           "2015-04: 8 valid days, needs 27; 2015-05: 20 valid days, needs 27"
    assert ledger_text(long, "en", short=True) == \
        "301 valid days, needs 324; 2015-03: 25 valid days, needs 27; " \
        "2015-04: 8 valid days, needs 27 …"
    composite = "invalid SO2 annual_mean (2015-03: 25 valid days, needs 27; 2015-04: x)"
    assert ledger_text(composite, "zh", short=True) == \
        "SO2 平均浓度无效（2015-03：有效 25 天，应有 27 天 …）"


@pytest.mark.realdata
def test_overview_explains_insufficient_data_in_the_readers_language(beijing_app):
    zh = text(render(beijing_app, overview, city="beijing", year="2013"))
    assert "数据不足" in zh and "应有" in zh and "valid days" not in zh
    en = text(render(beijing_app, overview, city="beijing", year="2013", lang="en"))
    assert "valid days, needs" in en

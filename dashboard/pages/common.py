"""What the pollutant pages share: the six pollutants, their units, statistics and decimals.

Not a page (``dashboard.pages.ORDER`` does not list it): the district and
station pages (and the ranking page's decimals) take from here what is the
same for all of them. The pollutants, units and judged statistics are
:mod:`config.vocabulary`'s, re-exported under the names the pages import.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from config.standards import load_profile, profile_for_period_end
from config.vocabulary import JUDGED_STATISTIC, POLLUTANTS, unit_of

from ..i18n import t
from ..layout import dropdown, synthetic_title

DEFAULT_POLLUTANT = "PM2.5"
#: The HJ 663 statistic each pollutant is evaluated by.
STATISTIC = JUDGED_STATISTIC



def rules_profile(view):
    """The Chinese profile whose rounding rules apply at the statistics period's end
    (the forced one when the view forces a Chinese profile)."""
    prof = load_profile(view.profile) if view.profile else None
    if prof is None or prof.kind != "cn":
        prof = profile_for_period_end(view.stats_end)
    return prof


def decimals_of(view, pollutant: str) -> int:
    """Published decimals of ``pollutant``'s concentrations (standards.md §4)."""
    return rules_profile(view).decimals(pollutant)


def fmt(x, decimals: int) -> str:
    """A published value with its decimals; "—" for none."""
    return "—" if x is None or pd.isna(x) else f"{x:.{decimals}f}"


def pollutant_choice(view, notices: list) -> str:
    """The URL's ``pollutant``, or the default (with a notice when the URL named another)."""
    pollutant = view.params.get("pollutant")
    if pollutant in POLLUTANTS:
        return pollutant
    if pollutant:
        notices.append(t("pol.unknown", view.lang, value=pollutant))
    return DEFAULT_POLLUTANT


def pollutant_dropdown(view, pollutant: str):
    return dropdown("pollutant", [{"label": p, "value": p} for p in POLLUTANTS], pollutant,
                    t("pol.ctl", view.lang), width=110)


@dataclass
class PollutantContext:
    """What every section of a pollutant page needs (resolved once per rendering)."""

    view: object
    cat: object
    engine: object
    pollutant: str
    synthetic: bool

    @property
    def lang(self) -> str:
        return self.view.lang

    @property
    def unit(self) -> str:
        return unit_of(self.pollutant)

    @property
    def decimals(self) -> int:
        return decimals_of(self.view, self.pollutant)

    def title(self, text: str) -> str:
        """A chart title, marked when the city's data are synthetic."""
        return synthetic_title(text, self.synthetic, self.lang)

"""The standard's vocabulary, defined once: pollutants, their units, the daily quantities,
the averaging time each daily quantity is held to, and the statistic each pollutant's
year is judged by (GB 3095-2012 Table 1 / HJ 663-2013 §5.1 and Table 2).

Every other module takes these names from here, so adding a quantity or reordering the
pollutants is one change.
"""
from __future__ import annotations

#: The six basic pollutants in the order of GB 3095 Table 1 (the order tables and charts use).
POLLUTANTS: tuple[str, ...] = ("SO2", "NO2", "PM10", "PM2.5", "CO", "O3")

#: The order of HJ 633-2012 Table 1 (hourly and daily AQI, primary pollutant ties).
AQI_ORDER: tuple[str, ...] = ("SO2", "NO2", "CO", "O3", "PM10", "PM2.5")

#: The pollutants judged by their 24-h mean (HJ 663 §5.1); O3 is judged by its MDA8.
MEAN_POLLUTANTS: tuple[str, ...] = ("SO2", "NO2", "PM10", "PM2.5", "CO")

#: Daily quantities held to a daily limit, in table order: (pollutant, averaging time of
#: the limit in the profile YAML). O3's daily quantity is its maximum daily 8-h mean.
DAILY_LIMIT_OF: dict[str, tuple[str, str]] = {
    "SO2": ("SO2", "24h"), "NO2": ("NO2", "24h"), "PM10": ("PM10", "24h"),
    "PM2.5": ("PM2.5", "24h"), "CO": ("CO", "24h"), "O3_MDA8": ("O3", "mda8")}

#: The daily quantities held to a daily limit (keys of :data:`DAILY_LIMIT_OF`).
LIMITED_QUANTITIES: tuple[str, ...] = tuple(DAILY_LIMIT_OF)

#: Every daily quantity the averaging produces (the limited ones and O3's 1-h maximum).
DAILY_QUANTITIES: tuple[str, ...] = (*LIMITED_QUANTITIES, "O3_1H_MAX")

#: The pollutant a daily quantity belongs to.
POLLUTANT_OF_QUANTITY: dict[str, str] = {q: p for q, (p, _) in DAILY_LIMIT_OF.items()} | {
    "O3_1H_MAX": "O3"}

#: The statistic a pollutant's year is evaluated by (HJ 663-2013 §5.2, Table 2): the annual
#: mean, CO's 95th percentile of daily means, O3's 90th percentile of daily MDA8.
JUDGED_STATISTIC: dict[str, str] = {
    "SO2": "annual_mean", "NO2": "annual_mean", "PM10": "annual_mean",
    "PM2.5": "annual_mean", "CO": "p95_daily", "O3": "p90_mda8"}

#: Concentration units as the standard writes them (CO in mg/m³, the rest in µg/m³).
UNIT_OF: dict[str, str] = {p: ("mg/m³" if p == "CO" else "µg/m³") for p in POLLUTANTS}


def unit_of(pollutant: str) -> str:
    """The concentration unit of ``pollutant`` (or of a daily quantity such as O3_MDA8)."""
    return UNIT_OF.get(POLLUTANT_OF_QUANTITY.get(pollutant, pollutant), "µg/m³")

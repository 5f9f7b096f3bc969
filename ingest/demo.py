"""Deterministic SYNTHETIC hourly readings for the demo city (``lantian demo``).

Nothing here comes from an instrument. The generator produces the canonical
long frame (:mod:`ingest.frame`) for every station of a synthetic site file,
shaped like the hourly data of a Shanxi coal city:

* **levels** per district (annual means in :data:`REF_YEAR`), chosen near the
  demo city's real 2021-plan targets so that some districts meet their NO2/SO2
  target and some narrowly miss it; stations of one district scatter a few
  per cent around the district level; a small trend year on year
  (:data:`TREND`: PM, SO2, NO2 and CO falling, O3 rising slightly);
* **seasons**: the heating season (15 Nov – 15 Mar) raises PM, SO2, CO and NO2
  a lot, spring adds coarse dust (and a few dust storms), O3 peaks May–Aug;
* **diurnal cycles**: NO2/CO rush-hour peaks, PM night accumulation, SO2
  late-morning fumigation, O3 afternoon peak and night minimum (lower at
  urban stations: titration); weekday effect for NO2 and CO;
* **weather**: multi-day episodes from city-wide daily AR(1) factors
  (stagnation; photochemistry) plus hourly AR(1) noise for the city, each
  station and each analyser, all log-normal, so pollutants move together
  (PM2.5 ≈ 0.55–0.65 of PM10) and winter brings heavy-pollution days and
  summer O3 exceedance days;
* **defects**: ~2–3 % random missing hours, short transmission gaps, a
  multi-day outage per station and year (a month below the 27-day rule) and
  a handful of bad values per station and year: negative values, exact
  instrument caps (PM 999, SO2 500), a stuck sensor run (≥ 24 h), isolated
  spikes and non-numeric cells. :mod:`ingest.qc` flags them at load time.

Determinism: every random draw comes from a :class:`numpy.random.Generator`
seeded with ``(seed, stream, station code, calendar year)`` and always covers
whole calendar years, so the same site, ``until`` and seed give the identical
frame, and the hours two different ``until`` dates share hold the same
readings (a rerun the next day only adds that day).
"""
from __future__ import annotations

import datetime as dt
import zlib

import numpy as np
import pandas as pd

from config.sites import POLLUTANTS, SiteConfig

from .frame import empty_frame, long_from_wide

REF_YEAR = 2025  # the levels below are annual means of this year
# Relative change per year (applied smoothly, clipped to ±6 years around REF_YEAR).
TREND = {"SO2": -0.08, "NO2": -0.03, "PM2.5": -0.05, "COARSE": -0.04, "CO": -0.04, "O3": 0.01}

# District annual means in REF_YEAR (µg/m³; CO mg/m³). PM10 includes PM2.5.
# Demo-city targets: NO2 37/45/40/35/39/30, SO2 18/20/21/37/40/44 — 城区 and 盂县
# narrowly miss NO2, 矿区 misses SO2, the others meet theirs.
DISTRICT_LEVELS = {
    "chengqu":  {"SO2": 15.8, "NO2": 39.0, "PM2.5": 46, "PM10": 77, "CO": 1.10, "O3": 59},
    "kuangqu":  {"SO2": 23.0, "NO2": 41.0, "PM2.5": 47, "PM10": 80, "CO": 1.12, "O3": 58},
    "kaifaqu":  {"SO2": 18.5, "NO2": 36.0, "PM2.5": 43, "PM10": 72, "CO": 1.00, "O3": 62},
    "jiaoqu":   {"SO2": 29.0, "NO2": 31.0, "PM2.5": 41, "PM10": 69, "CO": 0.95, "O3": 65},
    "pingding": {"SO2": 33.0, "NO2": 35.0, "PM2.5": 43, "PM10": 73, "CO": 1.05, "O3": 63},
    "yuxian":   {"SO2": 36.0, "NO2": 32.0, "PM2.5": 40, "PM10": 67, "CO": 0.90, "O3": 67},
}
DEFAULT_LEVELS = {"SO2": 25.0, "NO2": 35.0, "PM2.5": 43, "PM10": 72, "CO": 1.0, "O3": 63}
# Other synthetic sites: a district with an annual-mean target gets target × one of these.
_TARGET_RATIOS = (0.86, 0.92, 1.05, 1.09)

# Natural value range after rounding (deliberately bad values lie outside it).
NATURAL_RANGE = {"SO2": (2, 450), "NO2": (2, 300), "PM2.5": (3, 700), "PM10": (5, 900),
                 "CO": (0.1, 9.0), "O3": (2, 400)}
CAPS = {"PM2.5": 999.0, "PM10": 999.0, "SO2": 500.0}
SPIKE_JUMP = {"SO2": 200, "NO2": 200, "CO": 5, "O3": 250, "PM10": 400, "PM2.5": 300}
SPIKE_LIMIT = {"CO": 30.0, "SO2": 480.0}  # others 950 µg/m³ (below the caps)
# Above the `stuck.min_value` of config/qc.yaml, so that QC flags these runs.
STUCK_FLOOR = {"SO2": 12, "NO2": 12, "CO": 1.2, "O3": 10, "PM10": 20, "PM2.5": 10}

_SPECIES = ("SO2", "NO2", "PM2.5", "COARSE", "CO", "O3")  # PM10 = PM2.5 + COARSE

# Log-space seasonal coefficients: c = cos (peak mid-January), heat = heating
# season indicator, spring = Mar–May bump, summer = cos (peak late June).
_SEASON = {
    "SO2":    {"c": 0.30, "heat": 0.70, "spring": 0.00, "summer": 0.00},
    "NO2":    {"c": 0.18, "heat": 0.25, "spring": 0.00, "summer": 0.00},
    "PM2.5":  {"c": 0.25, "heat": 0.45, "spring": 0.00, "summer": 0.00},
    "COARSE": {"c": 0.05, "heat": 0.20, "spring": 0.30, "summer": 0.00},
    "CO":     {"c": 0.30, "heat": 0.50, "spring": 0.00, "summer": 0.00},
    "O3":     {"c": 0.00, "heat": 0.00, "spring": 0.00, "summer": 0.55},
}
# Noise loadings (log std of each unit-variance component): S = city stagnation
# (daily AR), U = city photochemistry (daily AR), city/station/own = hourly AR.
_NOISE = {
    "SO2":    {"S": 0.35, "U": 0.00, "city": 0.12, "station": 0.12, "own": 0.20},
    "NO2":    {"S": 0.24, "U": -0.04, "city": 0.10, "station": 0.12, "own": 0.15},
    "PM2.5":  {"S": 0.45, "U": 0.08, "city": 0.12, "station": 0.10, "own": 0.12},
    "COARSE": {"S": 0.25, "U": 0.00, "city": 0.12, "station": 0.12, "own": 0.20},
    "CO":     {"S": 0.30, "U": 0.00, "city": 0.10, "station": 0.10, "own": 0.12},
    "O3":     {"S": 0.00, "U": 0.20, "city": 0.08, "station": 0.06, "own": 0.10},
}
_NOISE_HEAT = {"SO2": 0.3, "NO2": 0.2, "PM2.5": 0.3, "COARSE": 0.1, "CO": 0.2, "O3": 0.0}
_WEEKDAY = {"NO2": (0.03, 0.03, 0.03, 0.03, 0.04, -0.06, -0.11),
            "CO": (0.01, 0.01, 0.01, 0.01, 0.02, -0.02, -0.04)}


def _key(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _rng(seed: int, stream: str, name: str, year: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, _key(stream), _key(name), int(year)])


def _ar1(innovations: np.ndarray, phi: float) -> np.ndarray:
    """Unit-variance AR(1) along the last axis: FFT convolution with phi**k."""
    n = innovations.shape[-1]
    k = min(int(np.ceil(np.log(1e-7) / np.log(phi))), n)
    kernel = phi ** np.arange(k) * np.sqrt(1 - phi * phi)
    size = 1 << int(np.ceil(np.log2(n + k)))
    out = np.fft.irfft(np.fft.rfft(innovations, size) * np.fft.rfft(kernel, size), size)
    return out[..., :n]


def _yearly_normal(seed, stream, name, years, lengths, rows: int = 1) -> np.ndarray:
    """Standard normals (rows × Σ lengths), drawn per calendar year."""
    parts = [_rng(seed, stream, name, y).standard_normal((rows, 8784))[:, :n]
             for y, n in zip(years, lengths)]
    return np.concatenate(parts, axis=1)


def _circ(hour: np.ndarray, centre: float, width: float) -> np.ndarray:
    d = (hour - centre + 12) % 24 - 12
    return np.exp(-0.5 * (d / width) ** 2)


def _diurnal(species: str, hour: np.ndarray, summer: np.ndarray, o3_urban: float) -> np.ndarray:
    if species == "NO2":
        return 0.22 * _circ(hour, 8, 1.5) + 0.30 * _circ(hour, 20, 2.5) - 0.30 * _circ(hour, 14, 3)
    if species == "CO":
        return 0.16 * _circ(hour, 8.5, 2) + 0.26 * _circ(hour, 21, 3) - 0.20 * _circ(hour, 15, 3)
    if species == "PM2.5":
        return 0.16 * np.cos(2 * np.pi * (hour - 23) / 24) + 0.05 * _circ(hour, 8.5, 1.5)
    if species == "COARSE":
        return 0.12 * _circ(hour, 9, 2) + 0.12 * _circ(hour, 19, 2.5) - 0.10 * _circ(hour, 3, 3)
    if species == "SO2":
        return 0.28 * _circ(hour, 10.5, 2.5) + 0.08 * _circ(hour, 21, 3)
    # O3: afternoon peak, minimum after sunrise; larger swing in summer and in town.
    amp = (0.60 + 0.20 * summer) * o3_urban
    return amp * (1.1 * _circ(hour, 15, 3.5) - 0.7 * _circ(hour, 6.5, 3.0))


class _Calendar:
    """The hourly axis over whole calendar years, with the derived seasonal fields."""

    def __init__(self, first_year: int, last_year: int):
        self.years = list(range(first_year, last_year + 1))
        start = np.datetime64(f"{first_year}-01-01T00", "h")
        end = np.datetime64(f"{last_year + 1}-01-01T00", "h")
        self.hours = np.arange(start, end, dtype="datetime64[h]")
        self.hours_per_year = [int((np.datetime64(f"{y + 1}-01-01T00", "h")
                                    - np.datetime64(f"{y}-01-01T00", "h")).astype(int))
                               for y in self.years]
        year_start = self.hours.astype("datetime64[Y]")
        self.year = year_start.astype(int) + 1970
        doy = (self.hours - year_start.astype("datetime64[h]")).astype(np.float64) / 24.0
        leap = ((self.year % 4 == 0) & ((self.year % 100 != 0) | (self.year % 400 == 0)))
        self.hour = (self.hours.astype(np.int64) % 24).astype(np.float64)
        days = self.hours.astype("datetime64[D]").astype(np.int64)
        self.weekday = (days + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        on, off = 318 + leap, 74 + leap  # 15 Nov 00:00 and 16 Mar 00:00 (day of year)
        sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
        self.heat = np.clip(sig((doy - on) / 2.0) + sig((off - doy) / 2.0), 0, 1)
        self.c = np.cos(2 * np.pi * (doy - 15) / 365.25)
        self.summer = np.cos(2 * np.pi * (doy - 172) / 365.25)
        self.spring = np.exp(-0.5 * ((doy - 105) / 30) ** 2)
        self.frac_year = self.year + doy / (365 + leap)
        self.year_index = np.searchsorted(np.asarray(self.years), self.year)


def _district_levels(site: SiteConfig) -> dict[str | None, dict[str, float]]:
    levels: dict[str | None, dict[str, float]] = {None: dict(DEFAULT_LEVELS)}
    for d in site.districts:
        if d.id in DISTRICT_LEVELS:
            levels[d.id] = dict(DISTRICT_LEVELS[d.id])
            continue
        own = dict(DEFAULT_LEVELS)
        ratio = _TARGET_RATIOS[_key(d.id) % len(_TARGET_RATIOS)]
        for t in site.targets:
            if t.district == d.id and t.statistic == "annual_mean" and t.pollutant in own:
                own[t.pollutant] = t.value * ratio
        levels[d.id] = own
    return levels


def _station_levels(site: SiteConfig, seed: int) -> dict[str, dict[str, float]]:
    """Per-station levels: district level × a few per cent, centred within the district."""
    districts = _district_levels(site)
    offsets = {s.code: _rng(seed, "offset", s.code, 0).normal(0, 0.06, len(_SPECIES))
               for s in site.stations}
    out = {}
    for s in site.stations:
        peers = [p.code for p in site.stations if p.district == s.district]
        off = offsets[s.code] - np.mean([offsets[c] for c in peers], axis=0)
        base = districts.get(s.district, districts[None])
        coarse = max(base["PM10"] - base["PM2.5"], 5.0)
        species = {"SO2": base["SO2"], "NO2": base["NO2"], "PM2.5": base["PM2.5"],
                   "COARSE": coarse, "CO": base["CO"], "O3": base["O3"]}
        out[s.code] = {sp: species[sp] * float(np.exp(o)) for sp, o in zip(_SPECIES, off)}
    return out


def _city_weather(cal: _Calendar, seed: int, city: str) -> dict[str, np.ndarray]:
    """City-wide unit-variance factors on the hourly axis."""
    # Daily factors over the years plus one more, interpolated to the hours.
    years = cal.years + [cal.years[-1] + 1]
    days_per_year = [366 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 365
                     for y in years]
    t_hours = np.arange(len(cal.hours)) / 24.0
    t_days = np.arange(sum(days_per_year)) + 0.5
    factors = {}
    for name, phi in (("S", 0.72), ("U", 0.65)):
        daily = _ar1(_yearly_normal(seed, name, city, years, days_per_year)[0], phi)
        # Damp the month-to-month (and so year-to-year) weather swing so that the
        # trend and the district pattern show through; episodes keep their days.
        month = (np.datetime64(f"{years[0]}-01-01") + np.arange(len(daily))).astype(
            "datetime64[M]").astype(np.int64)
        month -= month[0]
        daily = daily - 0.7 * (np.bincount(month, daily) / np.bincount(month))[month]
        # Soften the far tail (beyond 2 sd) so that episodes stay plausible.
        excess = np.maximum(np.abs(daily) - 2.0, 0)
        daily = np.sign(daily) * (np.minimum(np.abs(daily), 2.0) + 0.8 * np.tanh(excess / 0.8))
        factors[name] = np.interp(t_hours, t_days, daily)
    factors["city"] = _ar1(_yearly_normal(seed, "city-hourly", city, cal.years,
                                          cal.hours_per_year)[0], 0.9)
    # Spring dust storms: 1–3 a year, a day or two, city-wide.
    dust = np.zeros(len(cal.hours))
    for y in cal.years:
        rng = _rng(seed, "dust", city, y)
        for _ in range(int(rng.integers(1, 4))):
            peak = np.datetime64(f"{y}-03-01T00", "h") + int(rng.integers(0, 75 * 24))
            width = rng.uniform(6, 16)
            strength = rng.uniform(1.2, 2.0)
            d = (cal.hours - peak).astype(np.float64)
            dust += strength * np.exp(-0.5 * (d / width) ** 2)
    factors["dust"] = dust
    return factors


def _natural(cal, weather, levels, code, seed, o3_urban) -> dict[str, np.ndarray]:
    """Undisturbed hourly values of one station (canonical units, unrounded)."""
    station = _ar1(_yearly_normal(seed, "station-hourly", code, cal.years,
                                  cal.hours_per_year)[0], 0.85)
    own_all = _ar1(_yearly_normal(seed, "own-hourly", code, cal.years, cal.hours_per_year,
                                  rows=len(_SPECIES)), 0.75)
    components = {"S": weather["S"], "U": weather["U"], "city": weather["city"],
                  "station": station}
    summerness = np.clip(cal.summer, 0, 1)
    out = {}
    for i, sp in enumerate(_SPECIES):
        season = _SEASON[sp]
        det = (season["c"] * cal.c + season["heat"] * cal.heat + season["spring"] * cal.spring
               + season["summer"] * cal.summer
               + _diurnal(sp, cal.hour, summerness, o3_urban))
        if sp in _WEEKDAY:
            det = det + np.asarray(_WEEKDAY[sp])[cal.weekday]
        amp = 1 + _NOISE_HEAT[sp] * cal.heat
        loads = dict(_NOISE[sp])
        if sp == "O3":  # photochemistry matters in the warm half-year
            loads_u = loads["U"] * (0.5 + 0.8 * summerness)
        else:
            loads_u = loads["U"] * np.ones_like(amp)
        noise = amp * (loads["S"] * components["S"] + loads_u * components["U"]
                       + loads["city"] * components["city"]
                       + loads["station"] * components["station"] + loads["own"] * own_all[i])
        var = amp ** 2 * (loads["S"] ** 2 + loads_u ** 2 + loads["city"] ** 2
                          + loads["station"] ** 2 + loads["own"] ** 2)
        # Normalise so that each calendar year's expected mean is level × trend.
        expected = np.exp(det + var / 2)
        z = np.bincount(cal.year_index, weights=expected) / np.bincount(cal.year_index)
        years_from_ref = np.clip(cal.frac_year - (REF_YEAR + 0.5), -6, 6)
        trend = (1 + TREND[sp]) ** years_from_ref
        out[sp] = levels[sp] * trend * np.exp(det + noise) / z[cal.year_index]
    out["COARSE"] = out["COARSE"] * (1 + 6 * weather["dust"] * np.exp(0.3 * own_all[3]))
    out["PM2.5"] = out["PM2.5"] * (1 + 0.6 * weather["dust"])
    return out


def _round(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for p in ("SO2", "NO2", "O3", "PM2.5"):
        lo, hi = NATURAL_RANGE[p]
        out[p] = np.clip(np.rint(values[p]), lo, hi)
    lo, hi = NATURAL_RANGE["PM10"]
    pm10 = values["PM2.5"] + np.maximum(values["COARSE"], 2)
    # Dust storms: compress smoothly above 600 instead of clipping (no plateaus).
    pm10 = np.where(pm10 > 600, 600 + 290 * np.tanh((pm10 - 600) / 290), pm10)
    out["PM10"] = np.clip(np.maximum(np.rint(pm10), out["PM2.5"] + 2), lo, hi)
    out["CO"] = np.clip(np.round(values["CO"], 3), *NATURAL_RANGE["CO"])
    return out


def _defects(cal, values, code, seed) -> tuple[dict, dict]:
    """Missing hours, outages and bad values; returns (missing, non_numeric) masks."""
    n = len(cal.hours)
    missing = {p: np.zeros(n, dtype=bool) for p in POLLUTANTS}
    non_numeric = {p: np.zeros(n, dtype=bool) for p in POLLUTANTS}
    station_gap = np.zeros(n, dtype=bool)
    offsets = np.concatenate([[0], np.cumsum(cal.hours_per_year)])
    bad_events = []  # (kind, pollutant, first hour, length, value)
    for y, (a, b) in zip(cal.years, zip(offsets[:-1], offsets[1:])):
        rng = _rng(seed, "defects", code, y)
        hours_in_year = b - a
        # Random missing hours per analyser (~1.5 %) and short station-wide gaps.
        iid = rng.random((len(POLLUTANTS), hours_in_year)) < 0.015
        for j, p in enumerate(POLLUTANTS):
            missing[p][a:b] |= iid[j]
        for start, length in zip(rng.integers(0, hours_in_year, rng.poisson(22)),
                                 rng.geometric(0.3, 40)):
            station_gap[a + start:a + min(start + length, hours_in_year)] = True
        # Months for the long outage, a second outage, the stuck run and the cap event.
        months = rng.permutation(12)[:4] + 1
        month_start = [int((np.datetime64(f"{y}-{m:02d}-01T00", "h")
                            - np.datetime64(f"{y}-01-01T00", "h")).astype(int)) for m in months]
        # Long outage: 6–10 days inside one month (that month fails the 27-day rule).
        days = int(rng.integers(6, 11))
        first = month_start[0] + int(rng.integers(0, 28 - days)) * 24 + int(rng.integers(0, 24))
        station_gap[a + first:a + first + days * 24] = True
        # Second outage (60 %): one analyser, 2–5 days.
        if rng.random() < 0.6:
            p = POLLUTANTS[int(rng.integers(0, 6))]
            first = month_start[1] + int(rng.integers(0, 22 * 24))
            missing[p][a + first:a + first + int(rng.integers(48, 121))] = True
        # Stuck sensor: 24–60 h at one value.
        p = POLLUTANTS[int(rng.integers(0, 6))]
        first = month_start[2] + int(rng.integers(0, 24 * 24))
        bad_events.append(("stuck", p, a + first, int(rng.integers(24, 61)), None))
        # Instrument cap: PM 999 or SO2 500 for 2–4 consecutive hours.
        p = ("PM10", "PM2.5", "SO2")[int(rng.integers(0, 3))]
        first = month_start[3] + int(rng.integers(0, 26 * 24))
        bad_events.append(("cap", p, a + first, int(rng.integers(2, 5)), CAPS[p]))
        # Isolated hours: spikes, negative values, non-numeric cells.
        busy = np.zeros(hours_in_year, dtype=bool)
        for s in month_start:
            busy[s:s + 31 * 24] = True
        free = np.flatnonzero(~busy[1:-1]) + 1
        for kind, count in (("spike", rng.integers(1, 4)), ("negative", rng.integers(2, 6)),
                            ("non_numeric", rng.integers(1, 4))):
            for hour in rng.choice(free, size=int(count), replace=False):
                p = POLLUTANTS[int(rng.integers(0, 6))]
                bad_events.append((kind, p, a + int(hour), 1, float(rng.random())))
    for p in POLLUTANTS:
        missing[p] |= station_gap
    for kind, p, first, length, value in bad_events:
        v = values[p]
        sl = slice(first, min(first + length, n))
        if kind == "stuck":
            v[sl] = max(v[first], STUCK_FLOOR[p])
        elif kind == "cap":
            v[sl] = value
        elif kind == "spike":
            sl = slice(max(first - 1, 0), min(first + 2, n))
            neighbours = max(v[max(first - 1, 0)], v[min(first + 1, n - 1)])
            factor = 4.5 + 3 * value
            spike = max(neighbours * factor, neighbours + 1.3 * SPIKE_JUMP[p])
            if spike > SPIKE_LIMIT.get(p, 950):
                continue  # no clear spike on top of an episode: leave the hour as it is
            v[first] = round(spike, 3 if p == "CO" else 0)
        elif kind == "negative":
            v[first] = -round(0.05 + 0.3 * value, 2) if p == "CO" else -float(1 + int(8 * value))
        else:
            v[first] = np.nan
            non_numeric[p][first] = True
        missing[p][sl] = False
    for p in POLLUTANTS:
        missing[p] &= ~non_numeric[p]
        values[p][missing[p] | non_numeric[p]] = np.nan
    return missing, non_numeric


def _urban_factor(levels: dict[str, float]) -> float:
    """O3 diurnal swing: bigger where NO2 titrates the night-time ozone."""
    return float(np.clip(1 + 0.5 * (levels["NO2"] / 35 - 1), 0.85, 1.2))


def generate_demo(site: SiteConfig, until: dt.date | None = None, seed: int = 2021,
                  progress: bool = False) -> pd.DataFrame:
    """SYNTHETIC hourly readings of every station of ``site`` as the canonical long frame.

    The period runs from 1 January of ``until.year - 2`` through ``until``
    23:00 (``until`` defaults to yesterday). Same site, ``until`` and ``seed``
    → identical frame. ``frame.attrs["synthetic"]`` is True.
    """
    until = until or (dt.date.today() - dt.timedelta(days=1))
    if isinstance(until, dt.datetime):
        until = until.date()
    first_year = until.year - 2
    # One warm-up year in front so the AR noise is stationary from the first hour.
    cal = _Calendar(first_year - 1, until.year)
    start = np.datetime64(f"{first_year}-01-01T00", "h")
    end = np.datetime64(until.isoformat(), "D").astype("datetime64[h]") + 23
    keep = slice(int((start - cal.hours[0]).astype(int)), int((end - cal.hours[0]).astype(int)) + 1)
    times = cal.hours[keep].astype("datetime64[s]")

    weather = _city_weather(cal, seed, site.city.id)
    levels = _station_levels(site, seed)
    codes, values_by_station = [], []
    bar = None
    if progress:
        from rich.console import Console
        from rich.progress import Progress
        bar = Progress(console=Console(stderr=True), transient=True)
        bar.start()
        task = bar.add_task("generating synthetic demo data", total=len(site.stations))
    try:
        for station in site.stations:
            lv = levels[station.code]
            raw = _natural(cal, weather, lv, station.code, seed, _urban_factor(lv))
            values = _round(raw)
            missing, non_numeric = _defects(cal, values, station.code, seed)
            codes.append(station.code)
            values_by_station.append({p: (values[p][keep], missing[p][keep], non_numeric[p][keep])
                                      for p in POLLUTANTS})
            if bar is not None:
                bar.advance(task)
    finally:
        if bar is not None:
            bar.stop()
    if not codes:
        frame = empty_frame()
    else:
        # One call for all stations: the label columns share one set of categories.
        columns = {p: tuple(np.concatenate([v[p][i] for v in values_by_station])
                            for i in range(3)) for p in POLLUTANTS}
        frame = long_from_wide(np.tile(times, len(codes)), np.repeat(codes, len(times)), columns)
    frame.attrs["rows_read"] = len(times) * len(site.stations)
    frame.attrs["synthetic"] = True
    return frame

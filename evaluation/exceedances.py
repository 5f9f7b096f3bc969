"""The districts' and the city's days of a date range against their daily limits."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from config.vocabulary import DAILY_LIMIT_OF

from .city_year import city_year, daily_between
from .snapshot import Snapshot, evaluated


@dataclass
class ExceedanceData:
    """The districts' and the city's days of a date range, against their daily limits.

    ``days``: level, area, date, pollutant (SO2, NO2, PM10, PM2.5, CO, O3 = the
    MDA8), reported (published daily value, NaN when not valid), valid,
    n_valid, n_required, limit (24-h / MDA8 limit of that day's profile and the
    area's grade, ``indicators.daily_limits``), exceeds (listed by
    ``indicators.statistics.exceedances``), multiple ((C − S)/S, NaN unless
    exceeds), profile. ``aqi``: level, area, date, aqi (Int64), category_zh,
    category_en, colour, primary. ``rows``: the ``exceedances`` rows themselves.
    ``targets``: the city's local targets (``store.frames.targets``).
    """

    days: pd.DataFrame
    aqi: pd.DataFrame
    rows: pd.DataFrame
    targets: pd.DataFrame
    grades: dict

    @property
    def empty(self) -> bool:
        return self.days.empty and self.aqi.empty


@evaluated
def exceedance_data(snap: Snapshot, city: str, start, end, profile: str | None = None
                    ) -> ExceedanceData:
    """:class:`ExceedanceData` of ``city`` from day ``start`` to day ``end``."""
    from indicators.daily_limits import daily_limits
    from indicators.statistics import exceedances
    from store.frames import targets as stored_targets

    daily, aqi = daily_between(snap, city, start, end, profile)
    grades = city_year(snap, city, pd.Timestamp(start).year, profile).grades
    with snap.connect() as conn:
        targets = stored_targets(conn, city)
    areas = ["district", "city"]
    daily = daily[daily["level"].isin(areas) & daily["pollutant"].isin(list(DAILY_LIMIT_OF))]
    aqi = aqi[aqi["level"].isin(areas)]
    rows = exceedances(daily, grades=grades, profile=profile)
    valid = daily["valid"].to_numpy(dtype=bool, na_value=False)
    days = pd.DataFrame({
        "level": daily["level"].astype(str).to_numpy(),
        "area": daily["area"].astype(str).to_numpy(),
        "date": pd.to_datetime(daily["date"]).to_numpy("datetime64[s]"),
        "pollutant": daily["pollutant"].astype(str).replace({"O3_MDA8": "O3"}).to_numpy(),
        "reported": np.where(valid, pd.to_numeric(daily["reported"]).to_numpy("float64",
                                                                                na_value=np.nan),
                             np.nan),
        "valid": valid,
        "n_valid": daily["n_valid"].to_numpy(),
        "n_required": daily["n_required"].to_numpy(),
        "limit": daily_limits(daily, grades=grades, profile=profile),
        "profile": (daily["profile"].astype(str).to_numpy() if profile is None
                    else np.full(len(daily), profile, dtype=object)),
    })
    keys = ["level", "area", "date", "pollutant"]
    listed = rows[keys + ["multiple"]].assign(
        level=rows["level"].astype(str), area=rows["area"].astype(str),
        date=pd.to_datetime(rows["date"]).to_numpy("datetime64[s]"),
        pollutant=rows["pollutant"].astype(str), exceeds=True)
    days = days.merge(listed, on=keys, how="left", validate="one_to_one")
    days["exceeds"] = days["exceeds"].astype("boolean").fillna(False).astype(bool)
    days["multiple"] = days["multiple"].astype("float64")
    keep = ["level", "area", "date", "aqi", "category_zh", "category_en", "colour", "primary"]
    aqi = aqi[[c for c in keep if c in aqi.columns]].assign(
        level=aqi["level"].astype(str), area=aqi["area"].astype(str),
        date=pd.to_datetime(aqi["date"]).to_numpy("datetime64[s]")).reset_index(drop=True)
    return ExceedanceData(days=days, aqi=aqi, rows=rows.reset_index(drop=True),
                          targets=targets, grades=grades)

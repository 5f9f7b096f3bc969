"""Standard profiles (``config/standards/*.yaml``) and which one is in force on a date.

Every rule of the computation — limits, validity counts, rounding, AQI
breakpoints, composite weights, profile dates — is read from these files, so
changing a rule needs no code change (standards.md §1–§8). A mistake raises
:class:`ConfigError` naming the file and the key.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from .errors import ConfigError

STANDARDS_DIR = Path(__file__).resolve().parent / "standards"
GRADE_INDEX = {"I": 0, "II": 1}
_CN_KEYS = ("limits", "validity", "rounding", "aqi", "composite", "dust")


@dataclass(frozen=True)
class Profile:
    """One standard profile. ``raw`` keeps the YAML mapping for rules read by key."""
    id: str
    kind: str                 # cn | guideline | us-aqi
    name_zh: str
    name_en: str
    path: Path
    raw: dict

    def limit(self, pollutant: str, averaging: str, grade: str = "II") -> float | None:
        """Concentration limit, e.g. ``limit("PM2.5", "annual", "II")`` → 35 under cn-2012."""
        values = self.raw.get("limits", {}).get(pollutant, {}).get(averaging)
        return None if values is None else float(values[GRADE_INDEX[grade]])

    @property
    def validity(self) -> dict:
        return self.raw["validity"]

    @property
    def rounding(self) -> dict:
        return self.raw["rounding"]

    @property
    def aqi(self) -> dict:
        return self.raw["aqi"]

    @property
    def composite(self) -> dict:
        return self.raw["composite"]

    def decimals(self, pollutant: str) -> int:
        """Published decimals of a concentration (O3_MDA8 and O3_1H_MAX as O3)."""
        return int(self.rounding["decimals"][pollutant.split("_")[0]])


def _load_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(path, "(file)", f"not valid YAML: {exc}", "fix the YAML syntax") from None
    if not isinstance(data, dict):
        raise ConfigError(path, "(file)", "expected a mapping", "see config/standards/cn-2012.yaml")
    return data


def _check_cn(path: Path, raw: dict) -> None:
    for key in _CN_KEYS:
        if key not in raw:
            raise ConfigError(path, key, "missing section", "copy it from cn-2012.yaml")
    iaqi = raw["aqi"]["iaqi"]
    for name, bps in raw["aqi"]["breakpoints"].items():
        if list(bps) != sorted(bps) or len(bps) > len(iaqi):
            raise ConfigError(path, f"aqi.breakpoints.{name}",
                              "breakpoints must rise and be no more than the IAQI steps",
                              f"give up to {len(iaqi)} increasing concentrations")
    for pollutant, limits in raw["limits"].items():
        for averaging, values in limits.items():
            if not (isinstance(values, list) and len(values) == 2):
                raise ConfigError(path, f"limits.{pollutant}.{averaging}",
                                  "expected [Grade I, Grade II]", "write two numbers, e.g. [35, 75]")


@lru_cache(maxsize=32)
def load_profile(profile_id: str) -> Profile:
    path = STANDARDS_DIR / f"{profile_id}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in STANDARDS_DIR.glob("*.yaml") if p.stem != "schedule")
        raise ConfigError(path, "profile", f"unknown profile {profile_id!r}",
                          f"use one of: {', '.join(known)}")
    raw = _load_yaml(path)
    if raw.get("id") != profile_id:
        raise ConfigError(path, "id", f"{raw.get('id')!r} does not match the file name",
                          f"set id: {profile_id}")
    kind = raw.get("kind")
    if kind not in ("cn", "guideline", "us-aqi"):
        raise ConfigError(path, "kind", f"{kind!r} is not a profile kind",
                          "use cn, guideline or us-aqi")
    if kind == "cn":
        _check_cn(path, raw)
    return Profile(id=profile_id, kind=kind, name_zh=str(raw.get("name_zh", profile_id)),
                   name_en=str(raw.get("name_en", profile_id)), path=path, raw=raw)


@dataclass(frozen=True)
class Schedule:
    profiles: tuple[str, ...]
    starts: np.ndarray        # datetime64[D], first day each profile is in force
    comparison: tuple[str, ...]

    def in_force(self, dates) -> np.ndarray:
        """Profile id in force on each date (vectorised)."""
        d = np.asarray(dates, dtype="datetime64[D]")
        idx = np.searchsorted(self.starts, d, side="right") - 1
        return np.asarray(self.profiles, dtype=object)[np.maximum(idx, 0)]

    def at(self, day) -> str:
        return str(self.in_force(np.array([np.datetime64(day, "D")]))[0])


@lru_cache(maxsize=1)
def load_schedule() -> Schedule:
    path = STANDARDS_DIR / "schedule.yaml"
    raw = _load_yaml(path)
    rows = raw.get("in_force") or []
    profiles, starts = [], []
    previous_end = None
    for i, row in enumerate(rows):
        start = row.get("from")
        start = np.datetime64("1900-01-01") if start is None else np.datetime64(str(start), "D")
        if previous_end is not None and start != previous_end + np.timedelta64(1, "D"):
            raise ConfigError(path, f"in_force[{i}].from", "periods must follow each other "
                              "without gap or overlap", "start the day after the previous 'to'")
        end = row.get("to")
        previous_end = None if end is None else np.datetime64(str(end), "D")
        load_profile(row["profile"])
        profiles.append(row["profile"])
        starts.append(start)
    if not profiles:
        raise ConfigError(path, "in_force", "no profiles listed", "list the Chinese profiles by date")
    for pid in raw.get("comparison") or []:
        load_profile(pid)
    return Schedule(tuple(profiles), np.array(starts, dtype="datetime64[D]"),
                    tuple(raw.get("comparison") or ()))


def profile_for_period_end(end: date) -> Profile:
    """Period limits use the profile in force at the end of the period (standards.md §1)."""
    return load_profile(load_schedule().at(end))

"""Standard profiles (``config/standards/*.yaml``) and which one is in force on a date.

Every rule of the computation — limits, validity counts, rounding, AQI
breakpoints, composite weights, profile dates — is read from these files, so
changing a rule needs no code change (standards.md §1–§8). A mistake raises
:class:`ConfigError` naming the file and the key.

Adding a profile is adding a YAML file: its ``display`` section says how the
dashboard shows it (labels, colour, order, whether the standard menu offers it,
its role on the standards page), and :func:`selectable_profiles` /
:func:`standards_page_profiles` list the profiles from the files themselves.

Profiles are read from ``config/standards/`` and from every folder named in the
environment variable ``LANTIAN_STANDARDS_DIR`` (several separated by
``os.pathsep``), e.g. ``LANTIAN_STANDARDS_DIR=/etc/lantian/standards``. A profile
id must be unique across the folders; the schedule (``schedule.yaml``) is always
the shipped one. Each folder is scanned once per process (restart to see a new file).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from .errors import ConfigError

STANDARDS_DIR = Path(__file__).resolve().parent / "standards"
#: Environment variable naming extra folders of profile YAMLs (``os.pathsep``-separated).
STANDARDS_DIR_ENV = "LANTIAN_STANDARDS_DIR"
GRADE_INDEX = {"I": 0, "II": 1}
_CN_KEYS = ("limits", "validity", "rounding", "aqi", "composite", "dust")
#: HJ 633-2012 Table 2: a day with AQI ≤ 100 is good (优良, levels 1–2); above 200 is heavy
#: pollution (重度污染 and worse). Used for profiles whose ``aqi`` section does not say.
GOOD_AQI_MAX = 100
HEAVY_AQI_ABOVE = 200
#: Roles of a profile on the standards page: compared by default, on request, not offered.
STANDARDS_PAGE_ROLES = ("always", "on_request", "never")
_DEFAULT_COLOUR = "#52606d"
_DEFAULT_ORDER = 1000


@dataclass(frozen=True)
class AqiLevel:
    """One row of a profile's AQI level table (``aqi.levels``)."""
    max: float | None         # highest AQI of the level (inclusive); None = no upper bound
    level: int                # 1 = best
    zh: str
    en: str
    colour: str

    @property
    def upper(self) -> float:
        return float("inf") if self.max is None else self.max


@dataclass(frozen=True)
class Display:
    """How the dashboard shows a profile (the YAML's ``display`` section)."""
    label_zh: str             # menus, table headers, legends
    label_en: str
    short_zh: str             # where space is tight (chart axes)
    short_en: str
    colour: str
    order: int                # position in menus and on the standards page
    menu: bool                # offered by the dashboard's standard menu
    standards_page: str       # one of STANDARDS_PAGE_ROLES
    public_guideline: bool    # drawn as the guideline on the public page's PM2.5 chart


@dataclass(frozen=True)
class Profile:
    """One standard profile. ``raw`` keeps the YAML mapping for rules read by key; the
    dashboard reads only the typed attributes and methods."""
    id: str
    kind: str                 # cn | guideline | us-aqi
    name_zh: str
    name_en: str
    path: Path
    raw: dict
    display: Display = field(default=None, compare=False)

    # -- display ------------------------------------------------------------------
    def label(self, lang: str = "zh") -> str:
        """Display name, e.g. "GB 3095-2012" (menus, table headers, legends)."""
        return self.display.label_en if lang == "en" else self.display.label_zh

    def short_label(self, lang: str = "zh") -> str:
        """Short display name, e.g. "国标 2012" (chart axes)."""
        return self.display.short_en if lang == "en" else self.display.short_zh

    @property
    def colour(self) -> str:
        return self.display.colour

    @property
    def selectable(self) -> bool:
        """Offered by the dashboard's standard menu."""
        return self.display.menu

    # -- evaluation ---------------------------------------------------------------
    @property
    def has_limits(self) -> bool:
        """The profile sets concentration limits (the US AQI profile sets none)."""
        return bool(self.raw.get("limits"))

    @property
    def has_rules(self) -> bool:
        """The profile brings its own validity and rounding rules (the Chinese ones)."""
        return "validity" in self.raw and "rounding" in self.raw

    @property
    def has_aqi(self) -> bool:
        """The profile defines an AQI of its own (HJ 633, US EPA); guidelines do not."""
        return "aqi" in self.raw

    @property
    def aqi_levels(self) -> tuple[AqiLevel, ...]:
        """The AQI level table, best level first (empty without an AQI)."""
        rows = (self.raw.get("aqi") or {}).get("levels") or ()
        return tuple(AqiLevel(max=r.get("max"), level=int(r.get("level", i + 1)), zh=str(r["zh"]),
                              en=str(r["en"]), colour=str(r["colour"]))
                     for i, r in enumerate(rows))

    @property
    def good_aqi_max(self) -> float:
        """Highest AQI of a good day (优良天): ``aqi.good_max``, else :data:`GOOD_AQI_MAX`."""
        return float((self.raw.get("aqi") or {}).get("good_max", GOOD_AQI_MAX))

    @property
    def heavy_aqi_above(self) -> float:
        """AQI above which a day is heavily polluted: ``aqi.heavy_above``, else
        :data:`HEAVY_AQI_ABOVE`."""
        return float((self.raw.get("aqi") or {}).get("heavy_above", HEAVY_AQI_ABOVE))

    @property
    def rate_decimals(self) -> int:
        """Published decimals of a rate in % (good-day ratio, change rates)."""
        return int(self.rounding["rate_decimals"])

    @property
    def index_decimals(self) -> int:
        """Published decimals of an index (composite index, single-pollutant index)."""
        return int(self.rounding["index_decimals"])

    @property
    def multiple_decimals(self) -> int:
        """Published decimals of an exceedance multiple."""
        return int(self.rounding["multiple_decimals"])

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


def _check_levels(path: Path, raw: dict) -> None:
    levels = (raw.get("aqi") or {}).get("levels")
    if levels is None:
        return
    fix = "write rows like {max: 50, level: 1, zh: 优, en: Good, colour: \"#00E400\"}"
    if not isinstance(levels, list) or not levels:
        raise ConfigError(path, "aqi.levels", "expected a list of levels", fix)
    previous = float("-inf")
    for i, row in enumerate(levels):
        if not isinstance(row, dict) or any(k not in row for k in ("max", "zh", "en", "colour")):
            raise ConfigError(path, f"aqi.levels[{i}]", "needs max, zh, en and colour", fix)
        top = row["max"]
        if top is not None and (isinstance(top, bool) or not isinstance(top, (int, float))):
            raise ConfigError(path, f"aqi.levels[{i}].max", f"{top!r} is not a number", fix)
        if (top is None) != (i == len(levels) - 1) or (top is not None and top <= previous):
            raise ConfigError(path, f"aqi.levels[{i}].max", "upper bounds must rise, and only "
                              "the last level is open (max: null)", fix)
        previous = float("inf") if top is None else float(top)


def _display(path: Path, raw: dict, profile_id: str) -> Display:
    """The ``display`` section; every key optional (labels default to the profile's names)."""
    section = raw.get("display") or {}
    if not isinstance(section, dict):
        raise ConfigError(path, "display", "expected a mapping", "see cn-2012.yaml")
    known = {f.name for f in fields(Display)}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(path, f"display.{unknown[0]}", "unknown key",
                          f"use: {', '.join(sorted(known))}")
    label_zh = str(section.get("label_zh", raw.get("name_zh", profile_id)))
    label_en = str(section.get("label_en", raw.get("name_en", profile_id)))
    order = section.get("order", _DEFAULT_ORDER)
    if isinstance(order, bool) or not isinstance(order, int):
        raise ConfigError(path, "display.order", f"{order!r} is not a whole number",
                          "e.g. order: 70 (smaller first)")
    for key in ("menu", "public_guideline"):
        if not isinstance(section.get(key, False), bool):
            raise ConfigError(path, f"display.{key}", f"{section[key]!r} is not true/false",
                              f"write {key}: true or {key}: false")
    role = section.get("standards_page", "on_request")
    if role not in STANDARDS_PAGE_ROLES:
        raise ConfigError(path, "display.standards_page", f"{role!r} is not a role",
                          f"use one of: {', '.join(STANDARDS_PAGE_ROLES)}")
    return Display(label_zh=label_zh, label_en=label_en,
                   short_zh=str(section.get("short_zh", label_zh)),
                   short_en=str(section.get("short_en", label_en)),
                   colour=str(section.get("colour", _DEFAULT_COLOUR)), order=order,
                   menu=bool(section.get("menu", True)), standards_page=role,
                   public_guideline=bool(section.get("public_guideline", False)))


def profile_dirs() -> tuple[Path, ...]:
    """The folders profiles are read from: the shipped one, then those of
    ``LANTIAN_STANDARDS_DIR`` in the order given."""
    extra = os.environ.get(STANDARDS_DIR_ENV, "")
    return (STANDARDS_DIR, *(Path(p).expanduser() for p in extra.split(os.pathsep) if p.strip()))


@lru_cache(maxsize=8)
def _profile_files(dirs: tuple[Path, ...]) -> dict[str, Path]:
    """Profile id → its file, over ``dirs``; a folder missing or an id found twice raises."""
    files: dict[str, Path] = {}
    for folder in dirs:
        if not folder.is_dir():
            raise ConfigError(folder, STANDARDS_DIR_ENV, "not a folder",
                              "name an existing folder of profile YAML files")
        for path in sorted(folder.glob("*.yaml")):
            if path.stem == "schedule":
                continue
            if path.stem in files:
                raise ConfigError(path, "id", f"profile {path.stem!r} is also defined in "
                                  f"{files[path.stem]}", "give the new profile another id")
            files[path.stem] = path
    return files


def load_profile(profile_id: str) -> Profile:
    """The profile ``profile_id`` (validated; cached per process)."""
    return _load_profile(profile_id, profile_dirs())


@lru_cache(maxsize=64)
def _load_profile(profile_id: str, dirs: tuple[Path, ...]) -> Profile:
    files = _profile_files(dirs)
    path = files.get(profile_id)
    if path is None:
        raise ConfigError(STANDARDS_DIR / f"{profile_id}.yaml", "profile",
                          f"unknown profile {profile_id!r}",
                          f"use one of: {', '.join(sorted(files))}")
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
    _check_levels(path, raw)
    return Profile(id=profile_id, kind=kind, name_zh=str(raw.get("name_zh", profile_id)),
                   name_en=str(raw.get("name_en", profile_id)), path=path, raw=raw,
                   display=_display(path, raw, profile_id))


def profile_ids() -> tuple[str, ...]:
    """Every profile found, in display order (``display.order``, then id)."""
    return _ordered(profile_dirs())


@lru_cache(maxsize=8)
def _ordered(dirs: tuple[Path, ...]) -> tuple[str, ...]:
    profiles = [_load_profile(pid, dirs) for pid in _profile_files(dirs)]
    return tuple(p.id for p in sorted(profiles, key=lambda p: (p.display.order, p.id)))


def selectable_profiles() -> tuple[str, ...]:
    """The profiles the dashboard's standard menu offers (``display.menu``), in order."""
    return tuple(pid for pid in profile_ids() if load_profile(pid).selectable)


def standards_page_profiles() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(compared by default, compared on request) on the standards page, each in order
    (``display.standards_page``: always / on_request; never = not offered)."""
    roles = [(pid, load_profile(pid).display.standards_page) for pid in profile_ids()]
    return (tuple(pid for pid, role in roles if role == "always"),
            tuple(pid for pid, role in roles if role == "on_request"))


def public_guideline() -> Profile | None:
    """The guideline drawn on the public page's PM2.5 chart (``display.public_guideline``;
    the first in order when several are marked), or None."""
    marked = [pid for pid in profile_ids() if load_profile(pid).display.public_guideline]
    return load_profile(marked[0]) if marked else None


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


def default_cn_profile() -> str:
    """Id of the first Chinese profile of the schedule (``cn-2012``): the rules of a row
    that names no profile and has no date that says which one was in force."""
    return load_schedule().profiles[0]

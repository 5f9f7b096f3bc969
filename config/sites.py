"""Site files: a city, its districts, stations and per-district targets.

A site file is YAML::

    city: {id: beijing, name_zh: 北京市, name_en: Beijing, synthetic: false}
    districts:
      - {id: dongcheng, name_zh: 东城区, name_en: Dongcheng, grade: II}
    stations:
      - {code: 1003A, name_zh: 东四, name_en: Dongsi, district: dongcheng,
         lon: 116.4174, lat: 39.9289, role: evaluation, aliases: [Dongsi]}
    targets:
      - {district: dongcheng, pollutant: NO2, statistic: annual_mean,
         value: 37, unit: µg/m3, years: 2021-2025}
    recipients:                       # weekly report emails (lantian report weekly)
      city: [{email: head@example.org, lang: zh}]          # the city-wide summary
      districts:
        dongcheng: [{email: dongcheng@example.org}, {email: analyst@example.org, lang: en}]
    alerts:                           # hourly AQI alerts (lantian alerts)
      hourly_aqi: {threshold: 200, hours: 3, clear_hours: 3}
      districts: {dongcheng: {threshold: 150}, huairou: false}

``role`` is ``evaluation`` (counts for district and city values),
``background`` (对照点, shown but excluded from area values) or ``excluded``.
``years`` is a year, a list of years, ``"2021-2025"`` or ``"2021-"`` (open).
A recipient's ``lang`` is ``zh`` (default) or ``en``; the reports read the
recipients from the site file itself (the path stored by ``lantian init``), so
an edited list applies from the next report without re-running ``init``.
Every mistake raises :class:`ConfigError` naming file, key and fix.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ConfigError
from .plan import Plan, parse_plan
from .units import normalise_unit
from .vocabulary import POLLUTANTS

CANONICAL_UNITS = {"SO2": "µg/m3", "NO2": "µg/m3", "PM10": "µg/m3", "PM2.5": "µg/m3",
                   "CO": "mg/m3", "O3": "µg/m3"}
ROLES = ("evaluation", "background", "excluded")
NETWORKS = ("national", "provincial", "")
GRADES = ("I", "II")
TARGET_STATISTICS = ("annual_mean", "p98_daily", "p95_daily", "p90_mda8",
                     "exceedance_days", "good_day_ratio", "heavy_days", "composite_index")
_ID = re.compile(r"^[a-z][a-z0-9_-]*$")
#: A station code: ASCII letters, digits, '-' and '_', starting with a letter or digit, at
#: most 32 characters (the ``stations.code`` column). Real codes: 1001A … 3xxxA (CNEMC),
#: SYN01 (demo), openaq-2178. Checked wherever a code enters the database (site files,
#: reader files, the national station list, OpenAQ sources), so a code is never a
#: spreadsheet formula (``=``, ``+``, ``@``, a leading ``-``) nor holds spaces or control
#: characters. Non-ASCII letters are refused: no real code has one, and look-alike letters
#: (Cyrillic А, full-width Ａ) would make two stations of one visible code.
STATION_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
#: The rule, for the "expected …" part of a message.
STATION_CODE_RULE = ("a station code of ASCII letters, digits, '-' and '_' (starting with a "
                     "letter or digit, at most 32 characters), e.g. 1001A")
LANGUAGES = ("zh", "en")
# Deliberately simple: one @, no spaces, a dot in the domain. Servers judge the rest.
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]+$")
#: Characters no name shown on a page, in a report or in a message may hold: C0/C1 controls
#: (CR, LF, tab …), line and paragraph separators, zero-width and bidi format characters.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f"
                                "\u202a-\u202e\u2060-\u2069\ufeff]")
#: Sane local target values per kind of statistic: (lowest, highest, lowest allowed).
#: Concentrations in the canonical unit (µg/m³; CO mg/m³), days, % for the good-day ratio.
TARGET_RANGES = {"days": (0.0, 366.0, True), "good_day_ratio": (0.0, 100.0, True),
                 "composite_index": (0.0, 100.0, False), "CO": (0.0, 100.0, False),
                 "concentration": (0.0, 1000.0, False)}


@dataclass(frozen=True)
class City:
    id: str
    name_zh: str
    name_en: str
    synthetic: bool = False
    # The city's name in the national station list (城市, e.g. 阳泉) and its province
    # (省级行政区, e.g. 山西省): how peer groups (config.groups) find it.
    national_name: str = ""
    province: str = ""


@dataclass(frozen=True)
class District:
    id: str
    name_zh: str
    name_en: str
    grade: str = "II"


@dataclass(frozen=True)
class Station:
    code: str
    name_zh: str
    name_en: str
    district: str | None
    lon: float | None
    lat: float | None
    role: str = "evaluation"
    aliases: tuple[str, ...] = ()
    network: str = ""  # national (国控) / provincial (省控) / "" unknown

    @property
    def is_evaluation(self) -> bool:
        return self.role == "evaluation"


@dataclass(frozen=True)
class Target:
    district: str
    pollutant: str
    statistic: str
    value: float
    unit: str
    first_year: int | None
    last_year: int | None
    note: str = ""

    def applies_to(self, year: int) -> bool:
        return ((self.first_year is None or year >= self.first_year)
                and (self.last_year is None or year <= self.last_year))


@dataclass(frozen=True)
class Recipient:
    email: str
    lang: str = "zh"
    name: str = ""


@dataclass(frozen=True)
class Recipients:
    """Who receives the weekly reports: the city-wide summary and each district's report."""
    city: tuple[Recipient, ...] = ()
    districts: tuple[tuple[str, tuple[Recipient, ...]], ...] = ()

    def of(self, scope: str) -> tuple[Recipient, ...]:
        """Recipients of ``scope``: ``"city"`` or a district id."""
        if scope == "city":
            return self.city
        return dict(self.districts).get(scope, ())

    @property
    def empty(self) -> bool:
        return not self.city and not any(r for _d, r in self.districts)


@dataclass(frozen=True)
class AlertRule:
    """An hourly-AQI alert rule: AQI above ``threshold`` for ``hours`` consecutive hours
    starts an episode; ``clear_hours`` consecutive hours not above it end the episode."""
    threshold: int = 200
    hours: int = 3
    clear_hours: int = 3


@dataclass(frozen=True)
class Alerts:
    """The ``alerts:`` section: the default rule, per-district rules (None = no alerts for
    that district), the city-wide rule (None = none), and who receives them."""
    rule: AlertRule
    districts: tuple[tuple[str, AlertRule | None], ...] = ()
    city: AlertRule | None = None
    report_recipients: bool = True
    recipients: Recipients = field(default_factory=Recipients)

    def rule_for(self, scope: str) -> AlertRule | None:
        """The rule of ``scope`` (a district id, or ``"city"``); None when switched off."""
        if scope == "city":
            return self.city
        return dict(self.districts).get(scope, self.rule)

    def recipients_of(self, scope: str, report: Recipients) -> tuple[Recipient, ...]:
        """Who receives the alerts of ``scope``: with ``report_recipients`` the weekly
        report's recipients of the district plus the city's (the city-wide alert: the
        city's), then the alert-only lists of the same scopes; each address once."""
        scopes = ("city",) if scope == "city" else (scope, "city")
        people: list[Recipient] = []
        if self.report_recipients:
            for s in scopes:
                people += report.of(s)
        for s in scopes:
            people += self.recipients.of(s)
        seen: set[str] = set()
        out = []
        for r in people:
            if r.email.casefold() not in seen:
                seen.add(r.email.casefold())
                out.append(r)
        return tuple(out)


@dataclass(frozen=True)
class SiteConfig:
    path: Path
    city: City
    districts: tuple[District, ...]
    stations: tuple[Station, ...]
    targets: tuple[Target, ...] = field(default=())
    recipients: Recipients = field(default_factory=Recipients)
    alerts: Alerts | None = None
    plan: Plan | None = None          # the action plan (config.plan), issue 18

    def station_by_alias(self) -> dict[str, str]:
        """Map every code, English name and alias (case-folded) to the station code."""
        out: dict[str, str] = {}
        for s in self.stations:
            for name in (s.code, s.name_en, s.name_zh, *s.aliases):
                if name:
                    out[name.casefold()] = s.code
        return out


def is_station_code(value) -> bool:
    """Whether ``value`` is a valid station code (:data:`STATION_CODE`)."""
    return isinstance(value, str) and STATION_CODE.fullmatch(value) is not None


def quoted(value, limit: int = 200) -> str:
    """``repr`` of at most ``limit`` characters of a user's value (one line, "…" when cut)."""
    text = str(value)
    return repr(text[:limit]) + ("…" if len(text) > limit else "")


def _require(path, mapping: dict, key: str, where: str, kind=str):
    if not isinstance(mapping, dict):
        raise ConfigError(path, where, "expected a mapping", "write it as 'key: value' lines")
    if key not in mapping or mapping[key] in (None, ""):
        raise ConfigError(path, f"{where}.{key}", "missing", f"add '{key}:' to {where}")
    value = mapping[key]
    if kind is str:
        return str(value).strip()
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(path, f"{where}.{key}", f"{value!r} is not a {kind.__name__}",
                          f"write a {kind.__name__} value") from None


def _optional_float(path, mapping, key, where, lo, hi):
    if mapping.get(key) in (None, ""):
        return None
    value = _require(path, mapping, key, where, float)
    if not lo <= value <= hi:
        raise ConfigError(path, f"{where}.{key}", f"{value} is outside {lo}…{hi}",
                          "check the coordinate (decimal degrees, WGS84)")
    return value


def _name(path, mapping, key: str, where: str, what: str, *, required: bool = True) -> str:
    """A name shown to people (city, district, station, alias, note): one line, no control
    characters (a CR/LF would break a page, a report line or a message)."""
    value = (_require(path, mapping, key, where) if required
             else str(mapping.get(key) or "").strip())
    if CONTROL_CHARACTERS.search(value):
        raise ConfigError(path, f"{where}.{key}", f"{what} {quoted(value)} holds a control "
                          "character (a line break, tab or invisible format character)",
                          "write it on one line, without control characters")
    return value


def _target_value(path, where: str, raw, pollutant: str, statistic: str) -> float:
    """A target's value: a finite number in the sane range of its statistic
    (:data:`TARGET_RANGES`)."""
    value = _require(path, {"value": raw}, "value", where, float)
    if statistic in ("exceedance_days", "heavy_days"):
        kind, unit = "days", "days"
    elif statistic in ("good_day_ratio", "composite_index"):
        kind, unit = statistic, "%" if statistic == "good_day_ratio" else ""
    else:
        kind = "CO" if pollutant == "CO" else "concentration"
        unit = CANONICAL_UNITS.get(pollutant, "")
    lo, hi, lo_allowed = TARGET_RANGES[kind]
    fine = (not isinstance(raw, bool) and math.isfinite(value) and value <= hi
            and (value >= lo if lo_allowed else value > lo))
    if not fine:
        span = f"{lo:g}{'' if lo_allowed else ' (exclusive)'} to {hi:g} {unit}".rstrip()
        raise ConfigError(path, f"{where}.value", f"{quoted(raw)} is not a sane {statistic} "
                          f"target", f"write a number from {span}")
    return value


def _years(path, where, value) -> tuple[int | None, int | None]:
    if value in (None, ""):
        return None, None
    if isinstance(value, int):
        return value, value
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        if sorted(value) != list(range(min(value), max(value) + 1)):
            raise ConfigError(path, f"{where}.years", "a list of years must be consecutive",
                              "use one target entry per separate span")
        return min(value), max(value)
    m = re.fullmatch(r"\s*(\d{4})\s*-\s*(\d{4})?\s*", str(value))
    if m:
        first, last = int(m.group(1)), int(m.group(2)) if m.group(2) else None
        if last is not None and last < first:
            raise ConfigError(path, f"{where}.years", f"{value!r} ends before it starts",
                              "write first-last, e.g. 2021-2025")
        return first, last
    raise ConfigError(path, f"{where}.years", f"{value!r} is not a year span",
                      "write 2021, [2021, 2022], '2021-2025' or '2021-'")


def parse_site_config(data, path: Path, check_peers: bool = True) -> SiteConfig:
    """The validated site configuration of ``data``; ``check_peers=False`` reads a copy
    stored before its plan's peer groups were checked (``store.site_copies.stored``)."""
    if not isinstance(data, dict):
        raise ConfigError(path, "(file)", "expected a mapping with city, districts, stations",
                          "see config/sites/beijing.yaml for the layout")
    for key in data:
        if key not in ("city", "districts", "stations", "targets", "recipients", "alerts",
                       "plan"):
            raise ConfigError(path, key, "unknown section",
                              "use city, districts, stations, targets, recipients, alerts "
                              "and plan")
    c = data.get("city")
    city_id = _require(path, c, "id", "city")
    if not _ID.match(city_id):
        raise ConfigError(path, "city.id", f"{city_id!r} is not a lower-case id",
                          "use lower-case letters, digits, '-' or '_' (pinyin), e.g. beijing")
    city = City(id=city_id, name_zh=_name(path, c, "name_zh", "city", "the city name"),
                name_en=_name(path, c, "name_en", "city", "the city name"),
                synthetic=bool(c.get("synthetic", False)),
                national_name=str(c.get("national_name") or ""),
                province=str(c.get("province") or ""))

    districts: list[District] = []
    seen: set[str] = set()
    for i, d in enumerate(data.get("districts") or []):
        where = f"districts[{i}]"
        did = _require(path, d, "id", where)
        if not _ID.match(did):
            raise ConfigError(path, f"{where}.id", f"{did!r} is not a lower-case id",
                              "use lower-case pinyin, e.g. dongcheng")
        if did in seen:
            raise ConfigError(path, f"{where}.id", f"duplicate district id {did!r}",
                              "give each district its own id")
        seen.add(did)
        grade = str(d.get("grade", "II")).strip().upper()
        if grade not in GRADES:
            raise ConfigError(path, f"{where}.grade", f"{grade!r} is not a grade",
                              "use I (class-1 areas) or II (everything else)")
        what = f"the name of district {did!r}"
        districts.append(District(did, _name(path, d, "name_zh", where, what),
                                  _name(path, d, "name_en", where, what), grade))

    stations: list[Station] = []
    codes: set[str] = set()
    for i, s in enumerate(data.get("stations") or []):
        where = f"stations[{i}]"
        code = _require(path, s, "code", where)
        if not is_station_code(code):
            raise ConfigError(path, f"{where}.code", f"{quoted(code)} is not a station code",
                              f"write {STATION_CODE_RULE}")
        if code in codes:
            raise ConfigError(path, f"{where}.code", f"duplicate station code {code!r}",
                              "each station code may appear once per site file")
        codes.add(code)
        district = s.get("district")
        if district not in (None, "") and district not in seen:
            raise ConfigError(path, f"{where}.district", f"unknown district {district!r}",
                              f"use one of the districts listed: {', '.join(sorted(seen))}")
        role = str(s.get("role", "evaluation")).strip()
        if role not in ROLES:
            raise ConfigError(path, f"{where}.role", f"{role!r} is not a station role",
                              f"use one of: {', '.join(ROLES)}")
        if str(s.get("network") or "") not in NETWORKS:
            raise ConfigError(path, f"{where}.network", f"{s.get('network')!r} is not a network",
                              "use national, provincial or leave it out")
        aliases = s.get("aliases") or []
        if isinstance(aliases, str):
            aliases = [aliases]
        what = f"the name of station {code!r}"
        aliases = [_name(path, {"aliases": a}, "aliases", where, f"an alias of station {code!r}")
                   for a in aliases if str(a).strip()]
        stations.append(Station(
            code=code, name_zh=_name(path, s, "name_zh", where, what),
            name_en=_name(path, s, "name_en", where, what, required=False),
            district=district or None,
            lon=_optional_float(path, s, "lon", where, -180, 180),
            lat=_optional_float(path, s, "lat", where, -90, 90),
            role=role, aliases=tuple(str(a) for a in aliases),
            network=str(s.get("network") or "")))

    targets: list[Target] = []
    for i, t in enumerate(data.get("targets") or []):
        where = f"targets[{i}]"
        district = _require(path, t, "district", where)
        if district not in seen:
            raise ConfigError(path, f"{where}.district", f"unknown district {district!r}",
                              f"use one of the districts listed: {', '.join(sorted(seen))}")
        pollutant = _require(path, t, "pollutant", where)
        if pollutant not in POLLUTANTS + ("AQI", "ALL"):
            raise ConfigError(path, f"{where}.pollutant", f"unknown pollutant {pollutant!r}",
                              f"use one of: {', '.join(POLLUTANTS + ('AQI', 'ALL'))}")
        statistic = _require(path, t, "statistic", where)
        if statistic not in TARGET_STATISTICS:
            raise ConfigError(path, f"{where}.statistic", f"unknown statistic {statistic!r}",
                              f"use one of: {', '.join(TARGET_STATISTICS)}")
        if t.get("value") in (None, ""):
            _require(path, t, "value", where)                 # "missing"
        value = _target_value(path, where, t["value"], pollutant, statistic)
        unit = str(t.get("unit") or CANONICAL_UNITS.get(pollutant, ""))
        if pollutant in CANONICAL_UNITS and normalise_unit(unit) != CANONICAL_UNITS[pollutant]:
            raise ConfigError(path, f"{where}.unit", f"bad unit {unit!r} for {pollutant}",
                              f"targets are in the canonical unit {CANONICAL_UNITS[pollutant]}")
        first, last = _years(path, where, t.get("years"))
        targets.append(Target(district, pollutant, statistic, value,
                              CANONICAL_UNITS.get(pollutant, unit), first, last,
                              _name(path, t, "note", where, "the note", required=False)))
    plan = parse_plan(path, data.get("plan"), seen)
    if check_peers:
        _check_peer_names(path, city, plan)
    return SiteConfig(path=path, city=city, districts=tuple(districts),
                      stations=tuple(stations), targets=tuple(targets),
                      recipients=_recipients(path, data.get("recipients"), seen),
                      alerts=_alerts(path, data.get("alerts"), seen), plan=plan)


def _check_peer_names(path, city: City, plan) -> None:
    """A plan ranking the city in a city group needs the city's ``national_name`` (a member
    of the group); one ranking a district in a county group needs the city's ``province``."""
    from .groups import load_group

    for o in (plan.objectives if plan else ()):
        if o.kind != "rank":
            continue
        group = load_group(o.group)
        if group.level == "city":
            names = {m.name for m in group.members}
            if city.national_name not in names:
                raise ConfigError(path, "city.national_name",
                                  f"{city.national_name or 'missing'}: not a member of "
                                  f"{group.id} (objective {o.id})",
                                  "give the city's name as in the national station list "
                                  "(城市 column), e.g. national_name: 阳泉")
        elif group.province and city.province != group.province:
            raise ConfigError(path, "city.province",
                              f"{city.province or 'missing'}: objective {o.id} ranks a district "
                              f"among {group.province}'s counties",
                              f"write province: {group.province} in the city section")


_RECIPIENT_FIX = "write e.g. '- {email: dongcheng@example.org, lang: zh}'"


def _recipient_list(path, where: str, items) -> tuple[Recipient, ...]:
    if items in (None, ""):
        return ()
    if not isinstance(items, list):
        raise ConfigError(path, where, "expected a list of recipients", _RECIPIENT_FIX)
    out: list[Recipient] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        key = f"{where}[{i}]"
        if isinstance(item, str):
            item = {"email": item}
        if not isinstance(item, dict):
            raise ConfigError(path, key, "expected 'email: …' (and optionally lang, name)",
                              _RECIPIENT_FIX)
        unknown = sorted(set(item) - {"email", "lang", "name"})
        if unknown:
            raise ConfigError(path, f"{key}.{unknown[0]}", "unknown recipient setting",
                              "use email, lang (zh or en) and name")
        email = _require(path, item, "email", key)
        if not _EMAIL.match(email) or CONTROL_CHARACTERS.search(email):
            raise ConfigError(path, f"{key}.email", f"{email!r} is not an email address",
                              "write a plain address such as analyst@example.org")
        if email.casefold() in seen:
            raise ConfigError(path, f"{key}.email", f"{email} is listed twice",
                              "list each address once per report")
        seen.add(email.casefold())
        lang = str(item.get("lang") or "zh").strip().lower()
        if lang not in LANGUAGES:
            raise ConfigError(path, f"{key}.lang", f"{lang!r} is not a report language",
                              "use zh (Chinese, the default) or en (English)")
        out.append(Recipient(email=email, lang=lang,
                             name=_name(path, item, "name", key, "the name", required=False)))
    return tuple(out)


def _recipients(path, data, districts: set[str]) -> Recipients:
    if data in (None, ""):
        return Recipients()
    if not isinstance(data, dict):
        raise ConfigError(path, "recipients", "expected a mapping with city and districts",
                          "write 'recipients: {city: [...], districts: {dongcheng: [...]}}'")
    unknown = sorted(set(data) - {"city", "districts"})
    if unknown:
        raise ConfigError(path, f"recipients.{unknown[0]}", "unknown key",
                          "use city (the city-wide summary) and districts")
    city = _recipient_list(path, "recipients.city", data.get("city"))
    per_district = data.get("districts") or {}
    if not isinstance(per_district, dict):
        raise ConfigError(path, "recipients.districts", "expected a mapping district id: list",
                          "write 'districts: {dongcheng: [{email: d@example.org}]}'")
    rows = []
    for did, items in per_district.items():
        if did not in districts:
            raise ConfigError(path, f"recipients.districts.{did}", f"unknown district {did!r}",
                              f"use one of the districts listed: {', '.join(sorted(districts))}")
        rows.append((str(did), _recipient_list(path, f"recipients.districts.{did}", items)))
    return Recipients(city=city, districts=tuple(rows))


#: An alert rule's settings: (lowest, highest, what it is). The AQI is an integer; an hour
#: alerts when its AQI is strictly above ``threshold`` (200: 重度污染 and worse).
ALERT_RULE_RANGES = {"threshold": (0, 499, "the hourly AQI to exceed, e.g. 200"),
                     "hours": (1, 72, "consecutive hours above it that start an episode, "
                               "e.g. 3"),
                     "clear_hours": (1, 72, "consecutive hours not above it that end an "
                                     "episode, e.g. 3")}
_ALERT_KEYS = ("hourly_aqi", "districts", "city", "report_recipients", "recipients")
_ALERT_FIX = "write e.g. 'alerts: {hourly_aqi: {threshold: 200, hours: 3}}'"


def _alert_rule(path, where: str, item, base: AlertRule | None) -> AlertRule:
    """A rule mapping; keys left out come from ``base`` (or the defaults)."""
    if not isinstance(item, dict):
        raise ConfigError(path, where, "expected a mapping of threshold, hours, clear_hours",
                          "write e.g. '{threshold: 200, hours: 3, clear_hours: 3}'"
                          + (" or false (no alerts)" if base is not None else ""))
    unknown = sorted(set(map(str, item)) - set(ALERT_RULE_RANGES))
    if unknown:
        raise ConfigError(path, f"{where}.{unknown[0]}", "unknown alert setting",
                          "use threshold, hours and clear_hours")
    values = {}
    for key, (lo, hi, what) in ALERT_RULE_RANGES.items():
        if key not in item:
            continue
        raw = item[key]
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw != raw \
                or raw in (float("inf"), float("-inf")) or int(raw) != raw \
                or not lo <= raw <= hi:
            raise ConfigError(path, f"{where}.{key}", f"{quoted(raw)} is not a valid {key}",
                              f"write a whole number from {lo} to {hi}: {what}")
        values[key] = int(raw)
    if base is None and "threshold" not in values:
        raise ConfigError(path, f"{where}.threshold", "missing",
                          "add 'threshold:' (the hourly AQI to exceed, e.g. 200)")
    start = base or AlertRule()
    return AlertRule(**{k: values.get(k, getattr(start, k)) for k in ALERT_RULE_RANGES})


def _alerts(path, data, districts: set[str]) -> Alerts | None:
    """The ``alerts:`` section (None when absent): hourly-AQI alert rules and recipients."""
    if data in (None, ""):
        return None
    if not isinstance(data, dict):
        raise ConfigError(path, "alerts", "expected a mapping with hourly_aqi", _ALERT_FIX)
    unknown = sorted(set(map(str, data)) - set(_ALERT_KEYS))
    if unknown:
        raise ConfigError(path, f"alerts.{unknown[0]}", "unknown key",
                          f"use {', '.join(_ALERT_KEYS)}")
    if data.get("hourly_aqi") in (None, ""):
        raise ConfigError(path, "alerts.hourly_aqi", "missing", _ALERT_FIX)
    rule = _alert_rule(path, "alerts.hourly_aqi", data["hourly_aqi"], None)
    per_district = data.get("districts") or {}
    if not isinstance(per_district, dict):
        raise ConfigError(path, "alerts.districts", "expected a mapping district id: rule",
                          "write e.g. 'districts: {kuangqu: {threshold: 150}, yuxian: false}'")
    rows = []
    for did, item in per_district.items():
        where = f"alerts.districts.{did}"
        if did not in districts:
            raise ConfigError(path, where, f"unknown district {did!r}",
                              f"use one of the districts listed: {', '.join(sorted(districts))}")
        if item is False:
            rows.append((str(did), None))
        elif item is True:
            rows.append((str(did), rule))
        else:
            rows.append((str(did), _alert_rule(path, where, item, rule)))
    city = data.get("city", True)
    city_rule = None if city is False else rule if city is True or city is None else \
        _alert_rule(path, "alerts.city", city, rule)
    report = data.get("report_recipients", True)
    if not isinstance(report, bool):
        raise ConfigError(path, "alerts.report_recipients", f"{quoted(report)} is not true or "
                          "false", "write true (the weekly report's recipients also get the "
                          "alerts, the default) or false (only alerts.recipients)")
    extra = data.get("recipients")
    if extra not in (None, ""):
        if not isinstance(extra, dict):
            raise ConfigError(path, "alerts.recipients", "expected a mapping with city and "
                              "districts", "write 'recipients: {city: [...], districts: "
                              "{dongcheng: [...]}}'")
        unknown = sorted(set(map(str, extra)) - {"city", "districts"})
        if unknown:
            raise ConfigError(path, f"alerts.recipients.{unknown[0]}", "unknown key",
                              "use city (every alert of the city) and districts")
        people = Recipients(
            city=_recipient_list(path, "alerts.recipients.city", extra.get("city")),
            districts=tuple(_alert_recipient_rows(path, extra.get("districts"), districts)))
    else:
        people = Recipients()
    return Alerts(rule=rule, districts=tuple(rows), city=city_rule, report_recipients=report,
                  recipients=people)


def _alert_recipient_rows(path, data, districts: set[str]):
    if data in (None, ""):
        return []
    if not isinstance(data, dict):
        raise ConfigError(path, "alerts.recipients.districts", "expected a mapping district "
                          "id: list", "write 'districts: {dongcheng: [{email: d@example.org}]}'")
    rows = []
    for did, items in data.items():
        where = f"alerts.recipients.districts.{did}"
        if did not in districts:
            raise ConfigError(path, where, f"unknown district {did!r}",
                              f"use one of the districts listed: {', '.join(sorted(districts))}")
        rows.append((str(did), _recipient_list(path, where, items)))
    return rows


def load_site_config(path) -> SiteConfig:
    """Read and validate a site file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "(file)", "no such site file",
                          "give the path of a YAML site file, e.g. config/sites/beijing.yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(path, "(file)", "not UTF-8 text", "save the file as UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark else "(file)"
        raise ConfigError(path, line, f"not valid YAML: {getattr(exc, 'problem', exc)}",
                          "fix the YAML syntax (indentation, colons, quotes)") from None
    return parse_site_config(data, path)

"""The ``plan:`` section of a site file: a city's action plan as data (issue 18).

::

    plan:
      year: 2021                      # the plan's first year; it applies from then on
      objectives:
        - {id: city-no2, scope: city, kind: grade, pollutant: NO2, statistic: annual_mean, grade: II}
        - {id: chengqu-no2, scope: chengqu, kind: value, pollutant: NO2, statistic: annual_mean, max: 37}
        - {id: good-days, scope: city, kind: change, pollutant: AQI, statistic: good_day_ratio, direction: up}
        - {id: composite, scope: city, kind: composite_max, max: 5.0}
        - {id: rank-168, scope: city, kind: rank, group: key-168, outside_bottom: 20}

Kinds: ``value`` (a statistic ≤ ``max`` or ≥ ``min``), ``grade`` (a statistic ≤ the
limit of grade I or II of the profile in force), ``change`` (against the previous year,
``direction`` up or down, optional ``by``: % for concentrations, points for a ratio, days
for a count), ``composite_max`` (composite index ≤ ``max``), ``rank`` (a place in a peer
``group``: ``better_than_last_year: true`` or ``outside_bottom: N``). Every mistake is a
:class:`ConfigError` naming the file, the objective and the fix.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError
from .vocabulary import POLLUTANTS

KINDS = ("value", "grade", "change", "composite_max", "rank")
#: Statistics an objective may name (``value`` / ``change``).
STATISTICS = ("annual_mean", "p98_daily", "p95_daily", "p90_mda8", "good_day_ratio",
              "good_days", "heavy_days", "exceedance_days", "composite_index")
#: Statistics with a national limit (``grade``).
GRADE_STATISTICS = ("annual_mean", "p98_daily", "p95_daily", "p90_mda8")
_EXAMPLE = {
    "value": "{id: x, scope: city, kind: value, pollutant: NO2, statistic: annual_mean, max: 37}",
    "grade": "{id: x, scope: city, kind: grade, pollutant: SO2, statistic: annual_mean, grade: I}",
    "change": "{id: x, scope: city, kind: change, pollutant: AQI, statistic: good_day_ratio, "
              "direction: up}",
    "composite_max": "{id: x, scope: city, kind: composite_max, max: 5.0}",
    "rank": "{id: x, scope: city, kind: rank, group: key-168, outside_bottom: 20}",
}


@dataclass(frozen=True)
class Objective:
    id: str
    scope: str                      # "city" or a district id
    kind: str
    pollutant: str = ""
    statistic: str = ""
    max: float | None = None
    min: float | None = None
    grade: str = ""
    direction: str = ""
    by: float | None = None
    group: str = ""
    better_than_last_year: bool = False
    outside_bottom: int | None = None
    note: str = ""


@dataclass(frozen=True)
class Plan:
    year: int
    objectives: tuple[Objective, ...]

    def applies_to(self, year: int) -> bool:
        return year >= self.year


def _number(path, where: str, raw, key: str, kind: str) -> float:
    if isinstance(raw, bool):
        raw = "bad"
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ConfigError(path, f"{where}.{key}", f"{raw!r} is not a number",
                          f"write e.g. {_EXAMPLE[kind]}") from None
    if not value == value or value < 0 or value > 10000:
        raise ConfigError(path, f"{where}.{key}", f"{raw!r} is not a sane {key}",
                          "give a non-negative number")
    return value


def parse_plan(path: Path, data, districts: set[str]) -> Plan | None:
    """The validated ``plan:`` section (None when the file has none)."""
    if data is None:
        return None
    fix = "write 'plan: {year: 2021, objectives: [...]}'"
    if not isinstance(data, dict):
        raise ConfigError(path, "plan", "expected a mapping with year and objectives", fix)
    unknown = sorted(set(map(str, data)) - {"year", "objectives"})
    if unknown:
        raise ConfigError(path, f"plan.{unknown[0]}", "unknown key", "use year and objectives")
    year = data.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 1970 <= year <= 2100:
        raise ConfigError(path, "plan.year", f"{year!r} is not a year", fix)
    items = data.get("objectives")
    if not isinstance(items, list) or not items:
        raise ConfigError(path, "plan.objectives", "expected a list of objectives",
                          f"write e.g. '- {_EXAMPLE['value']}'")
    seen: set[str] = set()
    out = [_objective(path, i, item, districts, seen) for i, item in enumerate(items)]
    return Plan(year=year, objectives=tuple(out))


def _objective(path, i: int, item, districts: set[str], seen: set[str]) -> Objective:
    where = f"plan.objectives[{i}]"
    if not isinstance(item, dict):
        raise ConfigError(path, where, "expected a mapping", f"write e.g. {_EXAMPLE['value']}")
    oid = str(item.get("id") or "").strip()
    if not oid:
        raise ConfigError(path, f"{where}.id", "missing", "give each objective an id, e.g. "
                          "'id: city-no2'")
    where = f"plan.objectives[{i}] (id {oid})"
    if oid in seen:
        raise ConfigError(path, f"{where}.id", f"duplicate objective id {oid!r}",
                          "give each objective its own id")
    seen.add(oid)
    scope = str(item.get("scope") or "").strip()
    if scope != "city" and scope not in districts:
        raise ConfigError(path, f"{where}.scope",
                          "missing" if not scope else f"unknown district {scope!r}",
                          f"use city or one of the districts listed: {', '.join(sorted(districts))}")
    kind = str(item.get("kind") or "").strip()
    if kind not in KINDS:
        raise ConfigError(path, f"{where}.kind",
                          "missing" if not kind else f"unknown kind {kind!r}",
                          f"use one of: {', '.join(KINDS)}")

    def need(key: str):
        value = item.get(key)
        if value in (None, ""):
            raise ConfigError(path, f"{where}.{key}", f"missing (kind {kind} needs it)",
                              f"write e.g. {_EXAMPLE[kind]}")
        return value

    fields: dict = {"id": oid, "scope": scope, "kind": kind,
                    "note": str(item.get("note") or "")}
    if kind in ("value", "grade", "change"):
        pollutant = str(need("pollutant"))
        if pollutant not in POLLUTANTS + ("AQI", "ALL"):
            raise ConfigError(path, f"{where}.pollutant", f"unknown pollutant {pollutant!r}",
                              f"use one of: {', '.join(POLLUTANTS + ('AQI', 'ALL'))}")
        statistic = str(item.get("statistic") or "annual_mean") if kind == "grade" \
            else str(need("statistic"))
        allowed = GRADE_STATISTICS if kind == "grade" else STATISTICS
        if statistic not in allowed:
            raise ConfigError(path, f"{where}.statistic", f"unknown statistic {statistic!r}",
                              f"use one of: {', '.join(allowed)}")
        fields.update(pollutant=pollutant, statistic=statistic)
    if kind == "value":
        if item.get("max") in (None, "") and item.get("min") in (None, ""):
            raise ConfigError(path, f"{where}.max", "missing (kind value needs max or min)",
                              f"write e.g. {_EXAMPLE[kind]}")
        for key in ("max", "min"):
            if item.get(key) not in (None, ""):
                fields[key] = _number(path, where, item[key], key, kind)
    elif kind == "grade":
        grade = str(need("grade")).strip().upper()
        if grade not in ("I", "II"):
            raise ConfigError(path, f"{where}.grade", f"{grade!r} is not a grade", "use I or II")
        fields["grade"] = grade
    elif kind == "change":
        direction = str(need("direction")).strip()
        if direction not in ("up", "down"):
            raise ConfigError(path, f"{where}.direction", f"{direction!r} is not a direction",
                              "use up or down")
        fields["direction"] = direction
        if item.get("by") not in (None, ""):
            fields["by"] = _number(path, where, item["by"], "by", kind)
    elif kind == "composite_max":
        fields.update(pollutant="ALL", statistic="composite_index",
                      max=_number(path, where, need("max"), "max", kind))
    elif kind == "rank":
        fields["group"] = str(need("group"))
        _check_group(path, where, fields["group"], fields["scope"])
        bottom, better = item.get("outside_bottom"), item.get("better_than_last_year")
        if bottom in (None, "") and better is not True:
            raise ConfigError(path, f"{where}.outside_bottom",
                              "missing (kind rank needs outside_bottom or better_than_last_year)",
                              f"write e.g. {_EXAMPLE[kind]}")
        if bottom not in (None, ""):
            fields["outside_bottom"] = int(_number(path, where, bottom, "outside_bottom", kind))
        fields["better_than_last_year"] = better is True
    known = {"id", "scope", "kind", "note", "pollutant", "statistic", "max", "min", "grade",
             "direction", "by", "group", "outside_bottom", "better_than_last_year"}
    extra = sorted(set(map(str, item)) - known)
    if extra:
        raise ConfigError(path, f"{where}.{extra[0]}", "unknown objective setting",
                          f"write e.g. {_EXAMPLE[kind]}")
    return Objective(**fields)


def _check_group(path, where: str, group_id: str, scope: str) -> None:
    """A rank objective's group exists and ranks areas of the objective's level."""
    from .groups import group_ids, load_group

    if group_id not in group_ids():
        raise ConfigError(path, f"{where}.group", f"no peer group {group_id!r}",
                          f"use one of {', '.join(group_ids())} (files in config/groups/)")
    level = load_group(group_id).level
    if (level == "city") != (scope == "city"):
        raise ConfigError(path, f"{where}.scope",
                          f"group {group_id} ranks {'cities' if level == 'city' else 'counties'}"
                          f", not {'the city' if scope == 'city' else 'a district'}",
                          "use scope: city with a city group and a district with a county group")

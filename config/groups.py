"""Peer groups: named lists of areas ranked together (issue 18).

A group file in ``config/groups/`` (or a folder named by ``LANTIAN_GROUPS_DIR``)::

    id: key-168
    name_zh: 168个重点城市
    name_en: 168 key cities
    level: city            # city: members are cities of the national station list
                           # county: members are districts of loaded site-file cities
    year: 2020             # the year of the list
    source: "…"            # where the list comes from (required)
    size: 168              # the number of areas ranked by whoever publishes the ranking
    bottom: 20             # the bottom-N line the publisher names
    members:               # city groups: the national station list's city names
      - {name: 北京, name_en: Beijing, province: 北京市}
    province: 山西省        # county groups: the province whose districts are members

A city group's members are matched to stations by the station list's city name
(``lantian ingest stations`` stores it) and to site-file cities by their
``national_name``; a county group's members are the districts of the site-file cities
whose ``province`` is the group's. Every mistake is a :class:`ConfigError` naming the
file, the entry and the fix.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from .errors import ConfigError

GROUPS_DIR = Path(__file__).resolve().parent / "groups"
LEVELS = ("city", "county")
_KEYS = {"id", "name_zh", "name_en", "level", "year", "source", "source_en", "size",
         "bottom", "members", "province"}


@dataclass(frozen=True)
class Member:
    name: str                     # the national station list's city name (城市), e.g. 阳泉
    name_en: str
    province: str


@dataclass(frozen=True)
class PeerGroup:
    id: str
    name_zh: str
    name_en: str
    level: str                    # city | county
    year: int
    source: str
    source_en: str
    size: int
    bottom: int
    members: tuple[Member, ...] = ()
    province: str = ""            # county groups

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh


def _dirs() -> list[Path]:
    extra = os.environ.get("LANTIAN_GROUPS_DIR", "")
    return [GROUPS_DIR] + [Path(p) for p in extra.split(os.pathsep) if p]


def group_ids() -> list[str]:
    """The ids of every group file, sorted."""
    return sorted({p.stem for d in _dirs() if d.is_dir() for p in d.glob("*.yaml")})


def load_group(group_id: str) -> PeerGroup:
    """The group ``group_id``; :class:`ConfigError` when there is no such file."""
    for d in reversed(_dirs()):
        path = d / f"{group_id}.yaml"
        if path.is_file():
            return _load(str(path), path.stat().st_mtime_ns)
    known = ", ".join(group_ids()) or "none"
    raise ConfigError(GROUPS_DIR / f"{group_id}.yaml", "(file)",
                      f"no peer group {group_id!r}",
                      f"use one of {known}, or add config/groups/{group_id}.yaml")


@lru_cache(maxsize=32)
def _load(path: str, _mtime: int) -> PeerGroup:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(p, "(file)", f"not valid YAML: {error}", "fix the YAML syntax")
    return parse_group(data, p)


def _need(path: Path, data: dict, key: str, what: str):
    value = data.get(key)
    if value in (None, ""):
        raise ConfigError(path, key, "missing", f"give {what}")
    return value


def _int(path: Path, data: dict, key: str, what: str, low: int) -> int:
    value = _need(path, data, key, what)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(path, key, f"{value!r} is not a whole number ≥ {low}", f"give {what}")
    return value


def parse_group(data, path: Path) -> PeerGroup:
    if not isinstance(data, dict):
        raise ConfigError(path, "(file)", "expected a mapping (id, name_zh, level, members …)",
                          "see config/groups/key-168.yaml")
    for key in data:
        if key not in _KEYS:
            raise ConfigError(path, str(key), "unknown key", f"use {', '.join(sorted(_KEYS))}")
    group_id = str(_need(path, data, "id", "the group id (the file's name)"))
    if group_id != path.stem:
        raise ConfigError(path, "id", f"{group_id!r} differs from the file name {path.stem!r}",
                          f"name the file {group_id}.yaml or set id: {path.stem}")
    level = str(_need(path, data, "level", "city or county"))
    if level not in LEVELS:
        raise ConfigError(path, "level", f"{level!r} is not a level", "use city or county")
    size = _int(path, data, "size", "the number of areas the publisher ranks", 1)
    bottom = _int(path, data, "bottom", "the bottom-N line (e.g. 20)", 1)
    if bottom >= size:
        raise ConfigError(path, "bottom", f"{bottom} is not below the size {size}",
                          "give a bottom-N line smaller than the group")
    members: list[Member] = []
    seen: set[str] = set()
    for i, m in enumerate(data.get("members") or []):
        where = f"members[{i}]"
        if not isinstance(m, dict) or not m.get("name"):
            raise ConfigError(path, where, "a member needs a name",
                              "write {name: 阳泉, name_en: Yangquan, province: 山西省}")
        name = str(m["name"])
        if name in seen:
            raise ConfigError(path, where, f"{name} is listed twice", "list each area once")
        seen.add(name)
        members.append(Member(name, str(m.get("name_en") or name), str(m.get("province") or "")))
    province = str(data.get("province") or "")
    if level == "city" and len(members) != size:
        raise ConfigError(path, "members", f"{len(members)} members, but size is {size}",
                          "list every city of the group (the national station list's names)")
    if level == "county" and not members and not province:
        raise ConfigError(path, "province", "missing",
                          "give the province whose districts are the members, e.g. 山西省")
    return PeerGroup(id=group_id, name_zh=str(_need(path, data, "name_zh", "the Chinese name")),
                     name_en=str(data.get("name_en") or group_id), level=level,
                     year=_int(path, data, "year", "the year of the list", 1970),
                     source=str(_need(path, data, "source", "where the list comes from")),
                     source_en=str(data.get("source_en") or data["source"]), size=size,
                     bottom=bottom, members=tuple(members), province=province)


#: English names of the provinces (a group file names them in Chinese).
PROVINCE_EN = {
    "北京市": "Beijing", "天津市": "Tianjin", "河北省": "Hebei", "山西省": "Shanxi",
    "内蒙古自治区": "Inner Mongolia", "辽宁省": "Liaoning", "吉林省": "Jilin",
    "黑龙江省": "Heilongjiang", "上海市": "Shanghai", "江苏省": "Jiangsu", "浙江省": "Zhejiang",
    "安徽省": "Anhui", "福建省": "Fujian", "江西省": "Jiangxi", "山东省": "Shandong",
    "河南省": "Henan", "湖北省": "Hubei", "湖南省": "Hunan", "广东省": "Guangdong",
    "广西壮族自治区": "Guangxi", "海南省": "Hainan", "重庆市": "Chongqing", "四川省": "Sichuan",
    "贵州省": "Guizhou", "云南省": "Yunnan", "西藏自治区": "Tibet", "陕西省": "Shaanxi",
    "甘肃省": "Gansu", "青海省": "Qinghai", "宁夏回族自治区": "Ningxia",
    "新疆维吾尔自治区": "Xinjiang", "台湾省": "Taiwan", "香港特别行政区": "Hong Kong",
    "澳门特别行政区": "Macao",
}


def province_name(name, lang: str) -> str:
    """A province as the group files write it (山西省), in ``lang`` (Shanxi)."""
    name = "" if name is None or name != name else str(name)
    return PROVINCE_EN.get(name, name) if lang == "en" else name

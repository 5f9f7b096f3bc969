"""Edit the targets and recipients of a city's site configuration (the administrators'
page uses this).

The edit is made on the text of the city's editable copy (store/site_copies.py: the
newest saved version, kept in the database with its history) — never on the site
files shipped in config/sites/, which git tracks. The new sections are validated
exactly as ``lantian init`` validates a site file; comments and the layout of the
rest of the file are kept (ruamel.yaml round trip). Nothing is returned (and so
nothing saved) when validation fails: the ConfigError names the row and the fix.
"""
from __future__ import annotations

import io
from pathlib import Path

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from .errors import ConfigError
from .sites import SiteConfig, Target, parse_site_config

TARGET_FIELDS = ("district", "pollutant", "statistic", "value", "unit", "years", "note")
RECIPIENT_FIELDS = ("scope", "email", "lang", "name")
CITY_SCOPE = "city"


def years_text(target: Target) -> str:
    if target.first_year is None:
        return ""
    if target.last_year == target.first_year:
        return str(target.first_year)
    return f"{target.first_year}-{target.last_year or ''}"


def target_rows(site: SiteConfig) -> list[dict]:
    return [{"district": t.district, "pollutant": t.pollutant, "statistic": t.statistic,
             "value": t.value, "unit": t.unit, "years": years_text(t), "note": t.note}
            for t in site.targets]


def recipient_rows(site: SiteConfig) -> list[dict]:
    rows = [{"scope": CITY_SCOPE, "email": r.email, "lang": r.lang, "name": r.name}
            for r in site.recipients.city]
    for district, people in site.recipients.districts:
        rows += [{"scope": district, "email": r.email, "lang": r.lang, "name": r.name}
                 for r in people]
    return rows


def _clean(value):
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else value


def _number(value):
    """A table cell's number (the grid may hand over text)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (int, float)) or value in ("", None):
        return value
    try:
        number = float(str(value).replace(",", "").strip())
    except ValueError:
        return value                    # parse_site_config names the row and the fix
    return int(number) if number.is_integer() else number


def _years(value):
    text = str(_clean(value))
    return int(text) if text.isdigit() else (text or None)


def _flow(mapping: dict) -> CommentedMap:
    out = CommentedMap((k, v) for k, v in mapping.items() if v not in ("", None))
    out.fa.set_flow_style()
    return out


def targets_section(rows: list[dict]) -> CommentedSeq:
    seq = CommentedSeq()
    for row in rows:
        row = {k: _clean(row.get(k)) for k in TARGET_FIELDS}
        if not any(row.values()):
            continue                    # an empty row added and never filled in
        row["value"] = _number(row["value"])
        row["years"] = _years(row["years"])
        seq.append(_flow(row))
    return seq


def recipients_section(rows: list[dict]) -> CommentedMap:
    city, districts = [], {}
    for row in rows:
        row = {k: _clean(row.get(k)) for k in RECIPIENT_FIELDS}
        if not any(row.values()):
            continue
        person = _flow({"email": row["email"], "lang": row["lang"] or "zh",
                        "name": row["name"]})
        scope = str(row["scope"] or CITY_SCOPE)
        (city if scope == CITY_SCOPE else districts.setdefault(scope, [])).append(person)
    out = CommentedMap()
    if city:
        out["city"] = CommentedSeq(city)
    if districts:
        out["districts"] = CommentedMap((d, CommentedSeq(p)) for d, p in districts.items())
    return out


def _yaml() -> YAML:
    rt = YAML()
    rt.preserve_quotes = True
    rt.width = 4096
    rt.indent(mapping=2, sequence=4, offset=2)     # "  - {…}", as the site files are written
    return rt


def _section_span(document: CommentedMap, lines: list[str], key: str) -> tuple[int, int] | None:
    """Lines [start, end) of the top-level ``key`` and its value, without the comment and
    blank lines that lead into the next section (they stay where they are)."""
    if key not in document:
        return None
    keys = list(document)
    start = document.lc.key(key)[0]
    at = keys.index(key)
    end = document.lc.key(keys[at + 1])[0] if at + 1 < len(keys) else len(lines)
    while end > start + 1 and (not lines[end - 1].strip()
                               or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return start, end


def _row_key(row: dict) -> tuple:
    """A target row compared by what it means (the grid hands numbers over as text)."""
    out = []
    for name in TARGET_FIELDS:
        value = _clean(row.get(name))
        if name == "value":
            value = _number(value)
        out.append("" if value is None else str(value))
    return tuple(out)


def _targets_text(document: CommentedMap, lines: list[str], old: SiteConfig,
                  rows: list[dict]) -> str:
    """The new ``targets:`` section: an unchanged row keeps its line exactly as it was
    written (alignment, quotes), so a saved version differs from the last one only in
    the rows that changed."""
    kept: dict[tuple, list[str]] = {}
    seq = document.get("targets")
    old_rows = target_rows(old)
    if isinstance(seq, CommentedSeq):
        for i, item in enumerate(seq):
            line = lines[seq.lc.item(i)[0]]
            if i < len(old_rows) and isinstance(item, CommentedMap) and item.fa.flow_style() \
                    and line.rstrip().endswith("}") and line.lstrip().startswith("- {"):
                kept.setdefault(_row_key(old_rows[i]), []).append(line)
    section = _dump({"targets": targets_section(rows)})
    if not kept:
        return section
    head, *items = section.splitlines(keepends=True)
    filled = [row for row in rows if any(_clean(row.get(k)) not in ("", None)
                                         for k in TARGET_FIELDS)]
    if len(items) != len(filled):     # (one line per row; anything else: as dumped)
        return section
    out = [head]
    for row, dumped in zip(filled, items):
        same = kept.get(_row_key(row))
        out.append(same.pop(0) if same else dumped)
    return "".join(out)


def _dump(mapping: dict) -> str:
    buffer = io.StringIO()
    _yaml().dump(CommentedMap(mapping), buffer)
    return buffer.getvalue()


def _splice(text: str, key: str, section: str | None) -> str:
    """``text`` with the top-level ``key`` section replaced by ``section`` (None: removed;
    appended when absent). Every other line stays byte for byte."""
    lines = text.splitlines(keepends=True)
    span = _section_span(_yaml().load(text), lines, key)
    if span is None:
        if section is None:
            return text
        return text + ("" if not text or text.endswith("\n") else "\n") + "\n" + section
    start, end = span
    return "".join(lines[:start] + ([section] if section else []) + lines[end:])


def edit_site_text(text: str, path, *, targets: list[dict] | None = None,
                   recipients: list[dict] | None = None) -> tuple[SiteConfig, str]:
    """Replace the targets and/or recipients of the site configuration ``text``.

    Only the edited sections are rewritten: the other lines (comments, the districts
    and stations as they were aligned) stay byte for byte, and so do the target rows
    that did not change. Returns the validated new site and its text (``path`` is
    where the site is reported to come from in errors and in ``SiteConfig.path``).
    Raises ConfigError when the result is not a valid site file.
    """
    path = Path(path)
    if targets is not None:
        old = parse_site_config(yaml.safe_load(text), path)
        document = _yaml().load(text)
        text = _splice(text, "targets", _targets_text(
            document, text.splitlines(keepends=True), old, list(targets)))
    if recipients is not None:
        section = recipients_section(recipients)
        text = _splice(text, "recipients", _dump({"recipients": section}) if section else None)
    site = parse_site_config(yaml.safe_load(text), path)      # raises ConfigError
    return site, text

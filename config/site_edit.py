"""Edit a site file's targets and recipients (the administrators' page uses this).

The site file stays the one source of truth (``lantian init`` re-reads it, the
weekly reports read their recipients from it), so an edit made on the page is
an edit of that file: the new sections are validated exactly as ``lantian
init`` validates them, then written atomically (a temporary file renamed over
the old one) after a timestamped backup beside it. Comments and the layout of
the rest of the file are kept (ruamel.yaml round trip). Nothing is written when
validation fails: the ConfigError names the row and the fix.
"""
from __future__ import annotations

import io
import os
import shutil
import tempfile
from datetime import datetime
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


def _replace(document: CommentedMap, key: str, new) -> None:
    """Put ``new`` under ``key``, keeping the comment lines that followed the old section
    (ruamel keeps them at the end of the section they follow)."""
    old = document.get(key)
    end = getattr(getattr(old, "ca", None), "end", None) or []
    lines = [line[1:].strip() if line.startswith("#") else None
             for token in end for line in token.value.splitlines()]
    keys = list(document)
    document[key] = new
    after = keys[keys.index(key) + 1] if key in keys and keys.index(key) + 1 < len(keys) else None
    comment = [line for line in lines if line is not None]
    if after is not None and comment:
        document.yaml_set_comment_before_after_key(after, before="\n".join(comment), indent=0)


def edit_site_file(path, *, targets: list[dict] | None = None,
                   recipients: list[dict] | None = None) -> tuple[SiteConfig, Path]:
    """Replace the targets and/or recipients of the site file at ``path``.

    Returns the validated new site and the backup of the old file. Raises
    ConfigError (nothing written) when the result is not a valid site file or
    the file cannot be written.
    """
    path = Path(path)
    rt = YAML()
    rt.preserve_quotes = True
    rt.width = 4096
    rt.indent(mapping=2, sequence=4, offset=2)     # "  - {…}", as the site files are written
    try:
        document = rt.load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, "(file)", "the site file is gone",
                          "run 'lantian init --sites <file>' with the city's site file") from None
    if targets is not None:
        _replace(document, "targets", targets_section(targets))
    if recipients is not None:
        section = recipients_section(recipients)
        if section:
            _replace(document, "recipients", section)
        elif "recipients" in document:
            del document["recipients"]
    buffer = io.StringIO()
    rt.dump(document, buffer)
    text = buffer.getvalue()
    site = parse_site_config(yaml.safe_load(text), path)      # raises ConfigError
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.{stamp}.bak")
    try:
        shutil.copy2(path, backup)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(path, "(file)", f"cannot write the site file ({exc.strerror})",
                          "give the web server's user write access to the file and its "
                          "folder, or edit the file by hand and run 'lantian init'") from None
    return site, backup

"""The editable copy of each city's site configuration, with every saved version.

The site files shipped in ``config/sites/`` are tracked by git: nothing here (or
anywhere in Lantian) writes them. A city's configuration is the newest of its
versions in the ``site_versions`` table:

- ``lantian init --sites FILE`` stores FILE's text as a version (``shipped``);
- each save on the administrators' page adds one (``admin``: who, when, what
  changed), validated like a site file first;
- ``lantian init`` without ``--sites`` loads every city's newest version again;
- a database loaded before copies existed gets its first version from the file its
  ``cities.site_file`` names (``file``), at the next ``lantian init`` or edit.

Every version is kept: ``lantian sites history --city C`` lists them (who, when,
what), ``lantian sites show`` prints one and ``lantian sites diff`` compares two.

Each version is also written, read-only, to the data directory as
``<data dir>/sites/<city>/<NNNN>-<sha8>.yaml``, and ``cities.site_file`` names the
newest one, since the weekly reports and the alerts read the recipients from a file.
The name carries the version and the hash of its text, so databases that share a
data directory (tests, a staging copy) never overwrite each other's files; ``lantian
init`` writes the file again where it is missing (another server).

Loading a site file again (``lantian init --sites FILE``) for a city that has a copy
(:func:`plan_load`) never silently overwrites an edit:

- FILE's text is the newest version's: nothing changes (``same``);
- FILE is the file the edits were made on (the text of the newest loaded version,
  edits after it): the edited copy is kept and loaded (``kept``), so re-running
  the same ``init`` after an edit (a deployment script) changes nothing;
- FILE changed and nobody edited the copy since it was loaded: FILE becomes the
  next version (``follow``: an updated checkout is followed);
- FILE changed and the copy was edited since: refused (:class:`SiteCopyConflict`,
  naming the edits, who and when) unless ``replace_edits`` (``--replace``); then
  FILE becomes the next version (``replace``) and the edits stay in the history.
"""
from __future__ import annotations

import getpass
import hashlib
import os
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import yaml
from sqlalchemy import func, select

from config.errors import ConfigError
from config.sites import SiteConfig, parse_site_config

from . import schema
from .sites import sync_site_config
from .users import now

#: Sources of a version (``site_versions.source``).
SHIPPED, REPLACE, ADMIN, FILE = "shipped", "replace", "admin", "file"
#: Sources that load a whole file: the base an edit is made on.
LOADED = (SHIPPED, REPLACE, FILE)
#: Folder of the version files in the data directory.
FOLDER = "sites"


class SiteCopyConflict(ConfigError):
    """A site file that would overwrite edits made to the city's copy since it was loaded."""

    def __init__(self, path, city: str, edits: list["SiteVersion"]):
        last = edits[-1]
        who = ", ".join(sorted({e.saved_by for e in edits}))
        when = f"{last.saved_at:%Y-%m-%d %H:%M}"
        super().__init__(
            path, "(file)",
            f"city {city} has {len(edits)} edit(s) made since its copy was loaded "
            f"(newest: version {last.version} by {last.saved_by} at {when}; by {who}) and "
            "this file differs from the one those edits were made on; nothing was loaded",
            f"'lantian init' without --sites keeps and loads the edited copy; 'lantian sites "
            f"diff --city {city}' shows the edits; add --replace to make this file the "
            f"city's configuration (the edits stay in 'lantian sites history --city {city}')")
        self.city = city
        self.edits = edits


@dataclass(frozen=True)
class SiteVersion:
    """One saved version of a city's site configuration."""

    city: str
    version: int
    content: str
    sha256: str
    source: str
    origin: str
    saved_by: str
    saved_at: datetime
    note: str = ""

    @property
    def short(self) -> str:
        return self.sha256[:8]


@dataclass(frozen=True)
class Loaded:
    """What loading a site file or a city's copy did."""

    site: SiteConfig
    version: SiteVersion
    action: str            # new | same | kept | follow | replace | current
    counts: dict
    edits: tuple = ()      # the edits kept on top of the file (action ``kept``)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cli_actor() -> str:
    """Who runs the command line (recorded as ``saved_by``)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):        # no name for the uid (containers)
        name = str(os.getuid()) if hasattr(os, "getuid") else "?"
    return f"{name[:40]} (cli)"


# -- reading ------------------------------------------------------------------------------

_COLUMNS = ("city_id", "version", "content", "sha256", "source", "origin", "saved_by",
            "saved_at", "note")


def _version(row) -> SiteVersion:
    return SiteVersion(city=row.city_id, version=int(row.version), content=row.content,
                       sha256=row.sha256, source=row.source, origin=row.origin or "",
                       saved_by=row.saved_by or "", saved_at=row.saved_at, note=row.note or "")


def versions(conn, city: str) -> list[SiteVersion]:
    """Every version of ``city``'s copy, oldest first."""
    v = schema.site_versions.c
    rows = conn.execute(select(*[v[c] for c in _COLUMNS]).where(v.city_id == city)
                        .order_by(v.version)).all()
    return [_version(r) for r in rows]


def newest(conn, city: str) -> SiteVersion | None:
    v = schema.site_versions.c
    row = conn.execute(select(*[v[c] for c in _COLUMNS]).where(v.city_id == city)
                       .order_by(v.version.desc()).limit(1)).first()
    return _version(row) if row else None


def version_of(conn, city: str, number: int) -> SiteVersion | None:
    v = schema.site_versions.c
    row = conn.execute(select(*[v[c] for c in _COLUMNS]).where(
        (v.city_id == city) & (v.version == int(number)))).first()
    return _version(row) if row else None


def cities_with_copies(conn) -> list[str]:
    v = schema.site_versions.c
    return [r[0] for r in conn.execute(select(v.city_id).distinct().order_by(v.city_id))]


def parse(text: str, path, check_peers: bool = True) -> SiteConfig:
    """The validated site configuration of ``text`` (errors name ``path``)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark else "(file)"
        raise ConfigError(path, line, f"not valid YAML: {getattr(exc, 'problem', exc)}",
                          "fix the YAML syntax (indentation, colons, quotes)") from None
    return parse_site_config(data, Path(path), check_peers)


def stored(version: "SiteVersion", label: str | None = None) -> SiteConfig:
    """The configuration of a stored copy. A copy saved before the plan's peer groups
    were checked (a city without ``national_name``) stays readable: its rank objectives
    then say what the site file lacks."""
    return parse(version.content, label or f"site copy of {version.city} "
                 f"(version {version.version})", check_peers=False)


def read_text(path) -> str:
    """A site file's text (ConfigError when missing or not UTF-8)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "(file)", "no such site file",
                          "give the path of a YAML site file, e.g. config/sites/beijing.yaml")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(path, "(file)", "not UTF-8 text", "save the file as UTF-8") from None


# -- the version files in the data directory ----------------------------------------------

def copy_path(data_dir, version: SiteVersion) -> Path:
    return Path(data_dir) / FOLDER / version.city / f"{version.version:04d}-{version.short}.yaml"


def write_copy(data_dir, version: SiteVersion) -> Path:
    """The read-only file of ``version`` in the data directory (written when missing)."""
    path = copy_path(data_dir, version)
    data = version.content.encode("utf-8")
    try:
        if path.is_file() and path.read_bytes() == data:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o444)           # a saved version is not edited by hand
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(path, "(file)", f"cannot write the city's site copy ({exc.strerror})",
                          "give Lantian's user write access to its data directory "
                          "(LANTIAN_DATA_DIR)") from None
    return path


# -- writing ------------------------------------------------------------------------------

def add_version(conn, city: str, text: str, *, source: str, origin: str, saved_by: str,
                data_dir, note: str = "") -> tuple[SiteVersion, SiteConfig, dict]:
    """Save ``text`` as the next version of ``city``'s copy and load it into the database
    (in ``conn``'s transaction): (version, site, counts of ``sync_site_config``).

    Two saves of one city at once: the second fails on the primary key (nothing of it
    is kept) instead of losing the first.
    """
    v = schema.site_versions.c
    site = parse(text, origin)                 # validated before anything is written
    if site.city.id != city:
        raise ConfigError(origin, "city.id", f"is {site.city.id!r}, not {city!r}",
                          "a city's configuration keeps its city id")
    number = (conn.execute(select(func.max(v.version)).where(v.city_id == city)).scalar()
              or 0) + 1
    version = SiteVersion(city=city, version=number, content=text, sha256=digest(text),
                          source=source, origin=str(origin), saved_by=str(saved_by)[:64],
                          saved_at=now(), note=note)
    site = replace(site, path=write_copy(data_dir, version))
    counts = sync_site_config(conn, site)      # creates the city row on the first load
    conn.execute(schema.site_versions.insert().values(
        city_id=city, version=number, content=text, sha256=version.sha256, source=source,
        origin=version.origin, saved_by=version.saved_by, saved_at=version.saved_at,
        note=note))
    return version, site, counts


def load_version(conn, version: SiteVersion, data_dir) -> tuple[SiteConfig, dict]:
    """Load a saved version into the database again (its file written where missing)."""
    site = parse(version.content, write_copy(data_dir, version), check_peers=False)
    return site, sync_site_config(conn, site)


def plan_load(conn, city: str, text: str) -> tuple[str, list[SiteVersion]]:
    """What loading a site file of ``city`` with ``text`` does (module docstring):
    (``new`` | ``same`` | ``kept`` | ``follow`` | ``conflict``, the edits made since the
    newest loaded version)."""
    history = versions(conn, city)
    if not history:
        return "new", []
    bases = [n for n, h in enumerate(history) if h.source in LOADED]
    base = bases[-1] if bases else -1
    edits = history[base + 1:]
    if history[-1].content == text:
        return "same", edits
    if base >= 0 and history[base].content == text:
        return "kept", edits
    return ("conflict" if edits else "follow"), edits


def load_file(conn, path, *, data_dir, saved_by: str | None = None, replace_edits: bool = False,
              text: str | None = None) -> Loaded:
    """Load the site file at ``path`` under the rules of :func:`plan_load`, in ``conn``'s
    transaction (raises :class:`SiteCopyConflict` before writing anything)."""
    text = read_text(path) if text is None else text
    site = parse(text, path)
    city = site.city.id
    action, edits = plan_load(conn, city, text)
    origin = str(Path(path).resolve())
    saved_by = saved_by or cli_actor()
    if action == "conflict" and not replace_edits:
        raise SiteCopyConflict(path, city, edits)
    if action in ("same", "kept"):
        current = newest(conn, city)
        site, counts = load_version(conn, current, data_dir)
        return Loaded(site, current, action, counts, tuple(edits) if action == "kept" else ())
    source, note = SHIPPED, ""
    if action == "conflict":
        action, source = "replace", REPLACE
        note = f"replaced {len(edits)} edit(s): versions " + \
            ", ".join(str(e.version) for e in edits)
    version, site, counts = add_version(conn, city, text, source=source, origin=origin,
                                        saved_by=saved_by, data_dir=data_dir, note=note)
    return Loaded(site, version, action, counts)


def adopt(conn, city: str, data_dir, saved_by: str | None = None) -> SiteVersion | None:
    """``city``'s newest version; for a city loaded before copies existed, a first version
    made from the file its ``cities.site_file`` names (None: no copy and no file)."""
    current = newest(conn, city)
    if current is not None:
        return current
    path = conn.execute(select(schema.cities.c.site_file).where(
        schema.cities.c.id == city)).scalar()
    if not path or not Path(path).is_file():
        return None
    version, _site, _counts = add_version(conn, city, read_text(path), source=FILE,
                                          origin=str(path), saved_by=saved_by or cli_actor(),
                                          data_dir=data_dir,
                                          note="the site file this database had loaded")
    return version


def load_current(conn, data_dir, saved_by: str | None = None) -> list[Loaded]:
    """Every city's newest version loaded again (``lantian init`` without ``--sites``);
    cities loaded before copies existed are adopted (:func:`adopt`) first."""
    known = [r[0] for r in conn.execute(select(schema.cities.c.id).order_by(schema.cities.c.id))]
    out = []
    for city in known:
        had = newest(conn, city) is not None
        current = adopt(conn, city, data_dir, saved_by)
        if current is None:
            continue
        site, counts = load_version(conn, current, data_dir)
        out.append(Loaded(site, current, "current" if had else "new", counts))
    return out


class StaleEdit(ConfigError):
    """An edit made on a version of the city's copy that is no longer the newest."""

    def __init__(self, city: str, edited: int, newest: SiteVersion):
        super().__init__(
            f"city {city}", "site_file",
            f"the edit was made on version {edited}, but {newest.saved_by} saved version "
            f"{newest.version} at {newest.saved_at:%Y-%m-%d %H:%M} since; nothing was saved",
            "reload the page to edit the newest version")
        self.city, self.edited, self.newest = city, edited, newest


def save_edit(conn, city: str, *, data_dir, saved_by: str, edit, note: str = "",
              edited_version: int | None = None
              ) -> tuple[SiteConfig, SiteConfig, SiteVersion | None]:
    """Apply ``edit(text, path) -> (site, new text)`` to ``city``'s newest version and save
    the result as the next version (source ``admin``), in ``conn``'s transaction.

    Returns (site before, site after, the new version or None when nothing changed).
    Raises ConfigError (nothing saved) when the city has no copy or the edit is invalid,
    and :class:`StaleEdit` when ``edited_version`` (the version the editor showed) is no
    longer the newest: a save from a stale page would silently undo the newer version.
    """
    current = adopt(conn, city, data_dir, saved_by)
    if current is None:
        raise ConfigError(f"city {city}", "site_file", "no site configuration is stored",
                          "load the city's site file with 'lantian init --sites FILE'")
    if edited_version is not None and int(edited_version) != current.version:
        raise StaleEdit(city, int(edited_version), current)
    label = f"{city} version {current.version}"
    before = parse(current.content, label, check_peers=False)
    after, text = edit(current.content, label)
    if text == current.content:
        return before, after, None
    version, site, _counts = add_version(conn, city, text, source=ADMIN, origin="admin page",
                                         saved_by=saved_by, data_dir=data_dir, note=note)
    return before, site, version

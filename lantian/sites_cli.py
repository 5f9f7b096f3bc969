"""``lantian sites``: the saved versions of each city's site configuration.

``lantian init --sites FILE`` stores a site file as the city's editable copy and the
administrators' page saves every edit as a new version (store/site_copies.py); these
commands list the versions (who, when, what), print one and compare two.
"""
from __future__ import annotations

import difflib
from typing import Annotated, Optional

import typer

from lantian.cli import UserError, _engine, app, out, user_errors

sites_app = typer.Typer(help="The saved versions of each city's site configuration "
                        "(history, show, diff).", no_args_is_help=True)
app.add_typer(sites_app, name="sites")

CityArg = Annotated[str, typer.Option("--city", help="The city id, e.g. beijing.")]


def _history(city: str):
    from store import site_copies
    with _engine().connect() as conn:
        found = site_copies.versions(conn, city)
    if not found:
        raise UserError(f"city {city!r} has no saved site configuration (load its site file "
                        "with 'lantian init --sites FILE')")
    return found


def _pick(found, number: int | None):
    if number is None:
        return found[-1]
    for version in found:
        if version.version == number:
            return version
    raise UserError(f"{found[0].city} has no version {number} (versions 1–{found[-1].version})")


@sites_app.command("history")
@user_errors
def sites_history(city: CityArg):
    """Every saved version of a city's site configuration: who saved it, when, from what."""
    from store.site_copies import LOADED
    found = _history(city)
    out.print(f"{city}: {len(found)} version(s), the current one is {found[-1].version} "
              "(* below)", markup=False)
    previous = None
    for v in found:
        what = v.origin
        if previous is not None and v.source not in LOADED:
            diff = list(difflib.unified_diff(previous.content.splitlines(),
                                             v.content.splitlines(), lineterm="", n=0))
            added = sum(1 for line in diff if line.startswith("+") and
                        not line.startswith("+++"))
            removed = sum(1 for line in diff if line.startswith("-") and
                          not line.startswith("---"))
            what = f"{v.origin}: +{added} -{removed} lines"
        if v.note:
            what += f" ({v.note})"
        mark = "*" if v is found[-1] else " "
        out.print(f"{mark} {v.version:>3}  {v.saved_at:%Y-%m-%d %H:%M:%S}  {v.saved_by:<16}  "
                  f"{v.source:<8}  sha256 {v.short}  {what}", markup=False)
        previous = v


@sites_app.command("show")
@user_errors
def sites_show(city: CityArg, version: Annotated[Optional[int], typer.Option(
        "--version", help="Version number (default the current one).")] = None):
    """Print one version of a city's site configuration (YAML)."""
    chosen = _pick(_history(city), version)
    typer.echo(chosen.content, nl=not chosen.content.endswith("\n"))


@sites_app.command("diff")
@user_errors
def sites_diff(city: CityArg,
               old: Annotated[Optional[int], typer.Option(
                   "--from", help="Older version (default: the one before --to).")] = None,
               new: Annotated[Optional[int], typer.Option(
                   "--to", help="Newer version (default the current one).")] = None):
    """What changed between two versions of a city's site configuration (unified diff)."""
    found = _history(city)
    after = _pick(found, new)
    if old is None:
        if after.version == 1:
            raise UserError(f"{city} version 1 is the first one: nothing to compare with")
        old = after.version - 1
    before = _pick(found, old)
    diff = difflib.unified_diff(before.content.splitlines(keepends=True),
                                after.content.splitlines(keepends=True),
                                fromfile=f"{city} version {before.version}",
                                tofile=f"{city} version {after.version}")
    text = "".join(diff)
    typer.echo(text if text else f"versions {before.version} and {after.version} are the same",
               nl=not text.endswith("\n"))

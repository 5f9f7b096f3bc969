"""Table downloads: ``/export/<table>.csv`` and ``/export/<table>.xlsx``.

Column headers are written in the page's language (``?lang=``); ``&codes=1`` keeps the
stable machine-readable column names (``date``, ``area``, ``PM2.5_flag`` …) for scripts.

A page registers the function that builds one of its tables
(:func:`register_export`); the route resolves the same URL state as the page
(the query string), builds the same frame and sends it as CSV (UTF-8 with BOM,
so Excel opens Chinese text correctly) or as an Excel workbook. The export is
a plain GET link, so it can be shared like the page and checked by the server's
access rules (staff accounts) like any other route.
"""
from __future__ import annotations

import io
import re
from typing import Callable

import pandas as pd
from flask import Response, abort, request

from store.export_safety import neutralise_formulas

from .auth import scope_of
from .context import engine_of
from .i18n import has, t
from .queries import catalog
from .state import View, resolve

#: name → (builder(view, catalog, engine) -> DataFrame, page_keys)
EXPORTS: dict[str, tuple[Callable, tuple]] = {}
#: names of the exports whose builders honour a district scope (see register_export)
SCOPED_EXPORTS: set[str] = set()
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,40}$")


def register_export(name: str, build: Callable[[View, object, object], pd.DataFrame],
                    page_keys: tuple = (), scoped: bool = False) -> None:
    """``scoped``: the builder reads areas only through the catalogue it is given, so a
    district-scoped account may use it (it then gets a scoped catalogue)."""
    if not _NAME.match(name):
        raise ValueError(f"bad export name {name!r}")
    EXPORTS[name] = (build, tuple(page_keys))
    if scoped:
        SCOPED_EXPORTS.add(name)


def export_url(name: str, fmt: str, view: View) -> str:
    from dash import get_relative_path
    return get_relative_path(f"/export/{name}.{fmt}") + view.search()


def headers(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """``frame`` with its machine-readable column names in ``lang`` (a name without a
    translation, e.g. ``PM2.5``, stays as it is)."""
    def name(column) -> str:
        column = str(column)
        if column.endswith("_flag"):
            return t("exp.col.flag", lang, pollutant=column[:-len("_flag")])
        key = f"exp.col.{column}"
        return t(key, lang) if has(key) else column
    return frame.rename(columns={c: name(c) for c in frame.columns})


def frame_bytes(frame: pd.DataFrame, fmt: str, sheet: str = "data") -> bytes:
    """The one writer of dashboard downloads: ``frame`` as CSV or xlsx bytes, with text cells
    that a spreadsheet would run as a formula neutralised (:mod:`store.export_safety`)."""
    frame = neutralise_formulas(frame)
    if fmt == "csv":
        return frame.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        frame.to_excel(writer, index=False, sheet_name=sheet[:31])
    return buffer.getvalue()


MIME = {"csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def register_routes(server) -> None:
    @server.route("/export/<name>.<fmt>")
    def export_table(name: str, fmt: str):
        if name not in EXPORTS or fmt not in MIME:
            abort(404)
        build, page_keys = EXPORTS[name]
        engine = engine_of(server)
        # a district-scoped account exports only what its pages show (dashboard/auth.py
        # lets it reach only the exports of pages that honour the scope)
        cat = catalog(engine).scoped(scope_of())
        view = resolve(request.args.to_dict(), cat.city_ids(), cat.spans, cat.default_city(),
                       page_keys)
        frame = build(view, cat, engine)
        stem = f"lantian-{name}-{view.city}-{view.start}-{view.end}"
        if cat.is_synthetic(view.city):
            stem += "-SYNTHETIC"
            frame = frame.assign(note="SYNTHETIC demo data, not measurements")
        if request.args.get("codes") != "1":
            frame = headers(frame, view.lang)
        body = frame_bytes(frame, fmt, sheet=name)
        return Response(body, mimetype=MIME[fmt], headers={
            "Content-Disposition": f'attachment; filename="{stem}.{fmt}"',
            "Cache-Control": "no-store"})

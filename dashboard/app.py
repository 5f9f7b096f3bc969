"""The app factory: :func:`create_app` is the one way to build the dashboard.

Pages live in ``dashboard/pages/`` (one module per page) and are registered
explicitly here rather than discovered: Dash's discovery re-executes every page
module on each ``Dash(...)`` call, and its page registry is global per process.
Registering explicitly, after clearing the registry, makes ``create_app``
safe to call several times in one process (tests) and loads every page module
exactly once. Page layouts are functions that find the database through the
Flask server of the app serving the request (:mod:`dashboard.context`), so
each app reads its own database even though the registry is shared.

Everything is served locally (``serve_locally=True``, CSS in ``assets/``):
the dashboard must work on a machine without internet access.
"""
from __future__ import annotations

import dash
from dash import Dash, dcc, html

from . import ids
from .cache import init_cache
from .context import attach_engine, engine_of
from .exports import register_routes
from .i18n import HTML_LANG, t
from .layout import register_callbacks
from .pages import PAGES

INDEX_STRING = f"""<!DOCTYPE html>
<html lang="{HTML_LANG['zh']}">
    <head>
        {{%metas%}}
        <title>{{%title%}}</title>
        {{%favicon%}}
        {{%css%}}
    </head>
    <body>
        {{%app_entry%}}
        <footer>
            {{%config%}}
            {{%scripts%}}
            {{%renderer%}}
        </footer>
    </body>
</html>"""


def register_pages() -> None:
    """Reset Dash's global page registry to exactly this app's pages."""
    dash.page_registry.clear()
    for order, page in enumerate(PAGES):
        dash.register_page(page.__name__, path=page.PATH, name=page.NAME, title=page.TITLE,
                           order=order, layout=page.layout, description=t("app.tagline"),
                           name_en=getattr(page, "NAME_EN", page.NAME))


def root_layout() -> html.Div:
    """The frame around every page. Served by ``/_dash-layout`` to anyone: no data here."""
    nav = [dcc.Link(page["name"], href=page["relative_path"], className="lt-nav-link",
                    id={"type": ids.NAV_LINK, "page": page["path"]})
           for page in dash.page_registry.values()]
    return html.Div(className="lt-app", children=[
        html.Header(id=ids.HEADER, className="lt-header", children=[
            html.Div(className="lt-header-inner", children=[
                html.Div(className="lt-brand", children=[
                    html.Span(t("app.brand"), className="lt-brand-zh"),
                    html.Span("Lantian", className="lt-brand-en"),
                    html.Span(t("app.tagline"), className="lt-tagline"),
                ]),
                html.Nav(id=ids.NAV, className="lt-nav", children=nav),
            ]),
        ]),
        html.Main(id=ids.MAIN, className="lt-main", children=dash.page_container),
    ])


def create_app(database_url: str | None = None, cache_url: str | None = None) -> Dash:
    """Build the dashboard for ``database_url`` (default: the configured database).

    ``cache_url``: Redis URL of a cache shared by several processes; default
    the configured one (empty: a cache inside this process).
    """
    from config.settings import load_settings
    from store.db import make_engine

    if database_url is None or cache_url is None:
        settings = load_settings()
        database_url = settings.database_url if database_url is None else database_url
        cache_url = settings.cache_url if cache_url is None else cache_url
    app = Dash(
        "dashboard",
        use_pages=True,
        pages_folder="",            # pages are registered explicitly (see module docstring)
        serve_locally=True,
        compress=True,              # gzip: page payloads are mostly repetitive JSON
        title=t("app.title"),
        update_title=None,
        index_string=INDEX_STRING,
        # Page components only exist once their page is rendered; layouts read the
        # database, so Dash must not render every page up front to validate callbacks.
        suppress_callback_exceptions=True,
    )
    attach_engine(app.server, make_engine(database_url))
    init_cache(app.server, cache_url)
    register_routes(app.server)
    register_pages()
    app.layout = root_layout()
    register_callbacks(app)
    return app


__all__ = ["create_app", "engine_of", "register_pages", "root_layout", "PAGES"]

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
from dash import Dash, Input, Output, dcc, html, no_update

from . import ids
from .auth import PUBLIC, csrf_token, init_auth, signed_in_user
from .cache import init_cache
from .context import attach_engine, engine_of
from .exports import register_routes
from .i18n import HTML_LANG, referrer_lang, search_lang, t
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


def page_title(page):
    """The browser tab's title of ``page`` in the language of the request (Dash calls it
    for the page's HTML and for each page the router builds)."""
    def title() -> str:
        return page.TITLE if request_lang() == "zh" else \
            f"{getattr(page, 'NAME_EN', page.NAME)} · Lantian"
    return title


def request_lang() -> str:
    """The language of this request: a page's ``?lang=``, or for the pages router the
    ``?lang=`` of the location it builds a page for, else the referring page's."""
    from flask import g, has_request_context, request

    from .i18n import DEFAULT_LANG, normalize_lang, referrer_lang
    if not has_request_context():
        return DEFAULT_LANG
    if request.method == "GET":
        return normalize_lang(request.args.get("lang"))
    call = g.get("callback_call")
    if call is not None and ("_pages_location", "search") in call.declared:
        search = call.value_of("_pages_location", "search")
        if isinstance(search, str):
            return search_lang(search)
    return referrer_lang()


def register_pages() -> None:
    """Reset Dash's global page registry to exactly this app's pages."""
    dash.page_registry.clear()
    for order, page in enumerate(PAGES):
        dash.register_page(page.__name__, path=page.PATH, name=page.NAME, title=page_title(page),
                           order=order, layout=page.layout, description=t("app.tagline"),
                           name_en=getattr(page, "NAME_EN", page.NAME),
                           # who may open it (dashboard/auth.py): its lowest role, and
                           # whether it honours a district-scoped account's scope
                           access=getattr(page, "ACCESS", "viewer"),
                           scoped=getattr(page, "SCOPED", False),
                           callback_prefix=getattr(page, "CALLBACK_PREFIX", None))


def visible_pages(user) -> list[dict]:
    """The pages ``user`` (None: an anonymous visitor) may open, in navigation order."""
    out = []
    for page in dash.page_registry.values():
        if page.get("access") == PUBLIC:
            out.append(page)
        elif user is not None and user.may(page.get("access", "viewer")) and (
                not user.account.scoped or page.get("scoped")):
            out.append(page)
    return out


def user_box(user) -> html.Div:
    """Who is signed in, and the sign-out form (a POST with the session's CSRF token)."""
    if user is None:
        return html.Div(className="lt-user", children=[
            html.A(t("auth.login"), href="/login", id=ids.LOGIN_LINK, className="lt-nav-link")])
    account = user.account
    lang = referrer_lang()
    return html.Div(className="lt-user", children=[
        html.Span(user_label(account, lang), id=ids.USER_NAME, className="lt-user-name"),
        html.Form(action="/logout", method="POST", className="lt-logout", children=[
            dcc.Input(type="hidden", name="csrf_token", value=csrf_token(), id=ids.LOGOUT_TOKEN),
            html.Button(t("auth.logout", lang), type="submit", id=ids.LOGOUT, className="lt-logout-btn"),
        ]),
    ])


def register_header_callbacks(app: Dash) -> None:
    """The header's words follow the language of the page shown: the frame is built once
    per load, the language changes with the address (``?lang=en``) without a reload."""
    @app.callback(Output(ids.LOGIN_LINK, "children"), Output(ids.LOGIN_LINK, "href"),
                  Input("_pages_location", "search"))
    def login_link(search):
        lang = search_lang(search)
        return t("auth.login", lang), "/login" + ("?lang=en" if lang == "en" else "")

    @app.callback(Output(ids.USER_NAME, "children"), Output(ids.LOGOUT, "children"),
                  Input("_pages_location", "search"))
    def user_words(search):
        user = signed_in_user()
        if user is None:
            return no_update, no_update
        return user_label(user.account, search_lang(search)), \
            t("auth.logout", search_lang(search))


def user_label(account, lang: str) -> str:
    """``boss (administrator)`` / ``boss（管理）``, with a scoped account's district."""
    scope = f" · {account.district_code}" if account.scoped else ""
    return f"{account.username} ({t('role.' + account.role, lang)}{scope})"


def root_layout() -> html.Div:
    """The frame around every page, built per request for the signed-in user.

    Served by ``/_dash-layout`` to anyone, so it holds no data: an anonymous
    visitor sees only the public page and the sign-in link.
    """
    user = signed_in_user()
    nav = [dcc.Link(page["name"], href=page["relative_path"], className="lt-nav-link",
                    id={"type": ids.NAV_LINK, "page": page["path"]})
           for page in visible_pages(user)]
    return html.Div(className="lt-app", children=[
        html.Header(id=ids.HEADER, className="lt-header", children=[
            html.Div(className="lt-header-inner", children=[
                html.Div(className="lt-brand", children=[
                    html.Span(t("app.brand"), className="lt-brand-zh"),
                    html.Span("Lantian", className="lt-brand-en"),
                    html.Span(t("app.tagline"), className="lt-tagline"),
                ]),
                html.Nav(id=ids.NAV, className="lt-nav", children=nav),
                user_box(user),
            ]),
        ]),
        html.Main(id=ids.MAIN, className="lt-main", children=dash.page_container),
    ])


def create_app(database_url: str | None = None, cache_url: str | None = None, *,
               settings=None, cookie_secure: bool | None = None) -> Dash:
    """Build the dashboard for ``database_url`` (default: the configured database).

    ``cache_url``: Redis URL of a cache shared by several processes; default
    the configured one (empty: a cache inside this process). ``settings``:
    default the configured ones (login secret, session lifetime, lockout …).
    ``cookie_secure``: override the settings' ``cookie_secure`` (True/False).
    """
    from config.settings import load_settings
    from store.db import make_engine

    settings = settings or load_settings()
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
    app.layout = root_layout
    register_callbacks(app)
    register_header_callbacks(app)
    for page in PAGES:
        # a page's own callbacks, registered on this app (dash.callback in a page module
        # would reach only the first app built in a process)
        if hasattr(page, "register_callbacks"):
            page.register_callbacks(app)
    init_auth(app, settings, cookie_secure)
    guard_component_suites(app.server)
    return app


def guard_component_suites(server) -> None:
    """A script address Dash does not know (``/_dash-component-suites/…``: unknown
    package, unregistered or traversing path) is 404, not a 500 with a traceback:
    Dash's view raises for them."""
    from dash.exceptions import DependencyException
    from werkzeug.exceptions import NotFound

    for rule in server.url_map.iter_rules():
        if not rule.rule.startswith("/_dash-component-suites/"):
            continue
        view = server.view_functions[rule.endpoint]
        if getattr(view, "guarded", False):
            continue

        def serve(*args, _view=view, **kwargs):
            try:
                return _view(*args, **kwargs)
            except (DependencyException, OSError, KeyError, ValueError) as error:
                raise NotFound() from error

        serve.guarded = True
        server.view_functions[rule.endpoint] = serve


__all__ = ["create_app", "engine_of", "register_pages", "root_layout", "PAGES"]

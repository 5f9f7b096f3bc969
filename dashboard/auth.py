"""Staff login and access control, enforced on the server for every request.

One ``before_request`` check (:func:`enforce`) decides every request from what
it asks for, not from which links a page shows:

- public: the public summary page and its callbacks, the login page, the
  static files and Dash's layout/dependency endpoints (which carry no data:
  the root layout is built per user and shows an anonymous visitor nothing
  but the public page and the login link);
- every other page, callback and export needs a staff session; a page's
  ``ACCESS`` names its lowest role (viewer < analyst < admin), and applies to
  the page's own callbacks (their output ids start with its ``CALLBACK_PREFIX``);
  exports need ``analyst``; a callback no page claims needs ``admin``.
- a district-scoped account (:func:`scope_of`) may open only the pages that honour
  the scope (:func:`honours_scope`: ``SCOPED = True`` in the page module, or listed
  in :data:`SCOPED_PATHS`): the overview, district, station, exceedances, ranking
  and objectives pages. They are built on the scoped catalogue (``Catalog.scoped``: the
  account's city, district and stations only), so they show its district and no
  other district's values (the ranking page ranks every district but sends only
  the account's own values); the city-wide rows (the city strip, the "whole city"
  row of the exceedances grid) are left out, as on the district page. A URL naming
  another district, station or city is answered with the account's own district
  and the notice "not in your scope" (:mod:`dashboard.layout`). The other pages
  (map, data, standards, upload, admin) and their exports stay refused.

A refused page address (or export link) opened in the browser gets an HTML page
saying why, with links to the account's start page and the public page; a
refused callback gets JSON.

A callback request is judged only after it matched its callback's declaration
(:mod:`dashboard.dispatch`, 400 otherwise), from the values the function will
receive by position, and its body is capped by the session before it is read
(:func:`body_limit`, 413).

Without a session a Dash callback gets 401 and a page address redirects to
``/login``; a session of too low a role gets 403. Anything the rules do not
name is refused (default deny), so a new page or route is protected without
anyone remembering to protect it.

Sessions are Flask's signed cookies (``lantian_session``: HttpOnly,
SameSite=Lax, Secure unless configured off for a local trial) that name a row of
the ``sessions`` table, checked on every request (one query, joined with the
account): signing out ends that row, so a copy of the cookie stops working on
every server while the account's other sessions (other devices) go on. A
session ends ``session_hours`` after sign-in however active it is (absolute
lifetime, from the row), and after ``session_hours`` without a request (the
cookie's signed timestamp). Changing a password, the role or disabling an
account bumps its ``session_epoch`` and ends all its sessions at their next
request.

CSRF: the login and logout forms carry a per-session token; every POST of a
signed-in session (callbacks, uploads) must send the same token in the
``X-CSRFToken`` header, which Dash's renderer copies from the ``_csrf_token``
cookie (double submit: a cross-site page can neither read the cookie nor
set the header).

Brute force: ``login_max_failures`` failures in a row of one username from one
address lock that pair for ``lockout_minutes`` (store.users.authenticate: counted
atomically before the password check, so parallel attempts check at most that
many); the account still signs in from other addresses, so an attacker cannot
lock its owner out. Unknown names are counted and answered exactly like known
ones. ``lantian users unlock`` (or the admin page) lifts a lock. Each address is
also slowed after five failures in 15 minutes (2, 4, 8 … up to 300 s between
attempts, HTTP 429 with Retry-After). Both count from the database, so they
hold across workers. Behind reverse proxies set ``trusted_proxies`` so that the
address is the client's (X-Forwarded-For), not the proxy's.
"""
from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import dash
from flask import (Response, abort, current_app, g, has_request_context, jsonify, redirect,
                   render_template_string, request, session)
from sqlalchemy.exc import SQLAlchemyError
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from store.users import (MAX_PASSWORD, ROLE_RANK, USERNAME, Account, audit, authenticate,
                         clean_text, dummy_password_check, end_session, now, recent_failures,
                         session_account, start_session)

from . import ids
from .cache import ROUTER_OUTPUT
from .context import engine_of
from .dispatch import BadCallback, CallbackCall, match_call, read_body
from .i18n import normalize_lang, t

log = logging.getLogger("lantian.auth")

PUBLIC = "public"
EXTENSION = "lantian_auth"
DASH_APP = "lantian_dash_app"
CSRF_COOKIE = "_csrf_token"
CSRF_HEADER = "X-CSRFToken"
SESSION_COOKIE = "lantian_session"
ADDRESS_WINDOW = timedelta(minutes=15)
ADDRESS_FREE_FAILURES = 5
ADDRESS_MAX_DELAY = 300
#: Flask endpoints anyone may call: static files and Dash's data-free endpoints.
PUBLIC_ENDPOINTS = {"static", "_dash_assets.static", "/_dash-layout", "/_dash-dependencies",
                    "/_favicon.ico", "/_reload-hash", "auth_login", "auth_logout"}
PUBLIC_PREFIXES = ("/_dash-component-suites/",)
STATIC_ENDPOINTS = {"static", "_dash_assets.static", "/_favicon.ico"}
#: Dash's own page-index routes (the HTML shell; the page content is a callback).
INDEX_ENDPOINTS = {"/", "/<path:path>"}
#: Roles for routes that are not pages or callbacks.
ROUTE_ACCESS = {"export_table": "analyst"}
#: Callbacks that carry no data (their outputs are URLs and link labels, and the header's
#: words in the page's language: the signed-in account's own name and role at most).
PUBLIC_OUTPUTS = {"_pages_location.search",
                  f"..{ids.LOGIN_LINK}.children...{ids.LOGIN_LINK}.href..",
                  f"..{ids.USER_NAME}.children...{ids.LOGOUT}.children.."}
#: Pages that honour a district scope besides those whose module says ``SCOPED = True``
#: (district, station, exceedances): the overview narrows its cards to the scoped
#: catalogue's districts, the ranking page ranks every district but shows only the
#: account's own values (``catalog.scope``), the objectives page lists the account's
#: district's objectives only. See :func:`honours_scope`.
SCOPED_PATHS = frozenset({"/", "/ranking", "/objectives"})
#: Body limits (bytes), see :func:`body_limit`.
ANONYMOUS_BODY_LIMIT = 64 * 1024
CALLBACK_BODY_LIMIT = 1024 * 1024



class StaffUser(UserMixin):
    """The signed-in account; its id carries the account, its session epoch and the
    token of its row in ``sessions`` (see module docstring)."""

    def __init__(self, account: Account, session_token: str = ""):
        self.account = account
        self.session_token = session_token

    def get_id(self) -> str:
        return f"{self.account.id}:{self.account.session_epoch}:{self.session_token}"

    @property
    def is_active(self) -> bool:
        return self.account.active

    @property
    def username(self) -> str:
        return self.account.username

    def may(self, role: str) -> bool:
        return role == PUBLIC or self.account.at_least(role)


# -- configuration ---------------------------------------------------------------------

def secret_key_of(settings) -> str:
    """The configured key, else one kept in the data folder (created once, mode 0600)."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "secret_key"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def init_auth(app: dash.Dash, settings, cookie_secure: bool | None = None) -> None:
    """Sessions, the login manager, the login/logout routes and the request check."""
    server = app.server
    if cookie_secure is None:
        secure = {"true": True, "false": False}.get(settings.cookie_secure, AUTO)
    else:
        secure = cookie_secure
    server.session_interface = StaffSessionInterface()
    server.config.update(
        SECRET_KEY=secret_key_of(settings),
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure is True,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        # uploads arrive base64-encoded inside a callback body (4/3 of the file)
        MAX_CONTENT_LENGTH=int(settings.upload_max_mb * 1024 * 1024 * 4 / 3) + 1024 * 1024,
    )
    server.extensions[DASH_APP] = app
    server.extensions[EXTENSION] = {
        "max_failures": settings.login_max_failures,
        "lockout": timedelta(minutes=settings.lockout_minutes),
        "lifetime": timedelta(hours=settings.session_hours),
        "secure": secure, "upload_max_mb": settings.upload_max_mb,
        # where the versions of the cities' site configurations are written (admin page)
        "data_dir": settings.data_dir,
        # a file travels base64-encoded (4/3) inside the upload callback's body
        "upload_body": int(settings.upload_max_mb * 1024 * 1024 * 4 / 3) + 64 * 1024,
    }
    if settings.trusted_proxies:
        # behind N reverse proxies: the client's address is the Nth from the right of
        # X-Forwarded-For (what the nearest proxy saw), the scheme from X-Forwarded-Proto;
        # without trusted proxies both headers are ignored (a client cannot spoof them)
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=settings.trusted_proxies,
                                   x_proto=settings.trusted_proxies)
    manager = LoginManager(server)
    manager.session_protection = "basic"

    @manager.user_loader
    def load_user(user_id: str):
        """The account of the session in the cookie: one query (the session row joined
        with its account). Refused when the session was signed out, is older than
        ``session_hours`` since sign-in, or the account was disabled or changed."""
        try:
            account_id, epoch, token = user_id.split(":", 2)
            account_id, epoch = int(account_id), int(epoch)
        except ValueError:
            g.session_ended = True
            return None
        try:
            with engine_of(server).connect() as conn:
                found = session_account(conn, token, account_id) if token else None
        except SQLAlchemyError:
            # the database is down, not the session: say so (503), never "sign in"
            log.warning("reading the signed-in account failed: the database is unreachable")
            g.database_down = True
            return None
        if found is None:
            g.session_ended = True
            return None
        account, started, ended = found
        lifetime = server.extensions[EXTENSION]["lifetime"]
        if ended is not None or started + lifetime <= now() or not account.active \
                or account.session_epoch != epoch:
            g.session_ended = True
            return None
        return StaffUser(account, token)

    mark_scoped_pages()
    server.add_url_rule("/login", "auth_login", login_view, methods=["GET", "POST"])
    server.add_url_rule("/logout", "auth_logout", logout_view, methods=["POST"])
    server.before_request(enforce)
    server.after_request(after_request)


AUTO = "auto"


class StaffSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions; with ``cookie_secure: auto`` the cookie is
    Secure whenever the request came over HTTPS (behind a TLS proxy, set it to
    ``true``), so a local trial over http://127.0.0.1 still works."""

    def get_cookie_secure(self, app) -> bool:
        return cookie_is_secure(app)


def cookie_is_secure(app) -> bool:
    secure = app.extensions[EXTENSION]["secure"]
    if secure == AUTO:
        return bool(has_request_context() and request.is_secure)
    return bool(secure)


# -- what a request needs -----------------------------------------------------------------

def page_of(pathname) -> dict | None:
    """The registered page the pages router renders for ``pathname`` (None: its 404).

    Dash's own lookup (``_path_to_page`` on the stripped path), so the page judged
    here is exactly the page the router will build.
    """
    if not isinstance(pathname, str):
        return None
    from dash._pages import _path_to_page
    page, _ = _path_to_page(dash_app().strip_relative_path(pathname or "/") or "")
    return page or None


def page_access(page: dict | None) -> str:
    return (page or {}).get("access", "viewer")


def honours_scope(page: dict | None) -> bool:
    """Whether a district-scoped account may open ``page`` (it shows only its district)."""
    return bool(page) and (bool(page.get("scoped")) or page.get("path") in SCOPED_PATHS)


def mark_scoped_pages() -> None:
    """Record :func:`honours_scope` in the page registry (``scoped``), which the
    navigation reads (``dashboard.app.visible_pages``)."""
    for page in dash.page_registry.values():
        if honours_scope(page):
            page["scoped"] = True


def callback_access(call: CallbackCall) -> tuple[str, dict | None]:
    """(lowest role, page or None) of a callback request that matched its declaration.

    The router is judged by the pathname the router function receives (by
    position, :meth:`CallbackCall.value_of`), never by a label of the body.
    """
    output = call.output
    if output in PUBLIC_OUTPUTS or _is_nav_output(output):
        return PUBLIC, None
    if output == ROUTER_OUTPUT:
        page = page_of(call.value_of("_pages_location", "pathname"))
        return (page_access(page) if page else "viewer"), page
    page = page_of_callback(output)
    if page is not None:
        return page_access(page), page
    return "admin", None                 # a callback no page claims: administrators only


def page_of_callback(output: str) -> dict | None:
    """The page whose ``CALLBACK_PREFIX`` starts the ids of this callback's outputs
    (every output must carry it: one page's callback cannot borrow another's rights)."""
    targets = [part.split(".", 1)[0] for part in output.strip(".").split("...")]
    for page in dash.page_registry.values():
        prefix = page.get("callback_prefix")
        if prefix and all(target.startswith(prefix) for target in targets):
            return page
    return None


def _is_nav_output(output: str) -> bool:
    """The navigation-links callback (hrefs and labels of the nav links only)."""
    link = json.dumps({"page": ["ALL"], "type": ids.NAV_LINK}, separators=(",", ":"))
    return output == f"..{link}.href...{link}.children.."


def required_access() -> tuple[str, dict | None]:
    """(lowest role, page or None) of the current request; unknown → viewer."""
    endpoint = request.endpoint
    if endpoint in PUBLIC_ENDPOINTS or request.path.startswith(PUBLIC_PREFIXES):
        return PUBLIC, None
    if endpoint in INDEX_ENDPOINTS:
        page = page_of(request.path)
        return (page_access(page) if page else "viewer"), page
    if endpoint == "/_dash-update-component":
        return callback_access(callback_call())
    return ROUTE_ACCESS.get(endpoint, "viewer"), None


def dash_app() -> dash.Dash:
    """The Dash app serving this request (``dash.get_app()`` is the newest app built in
    the process, which is another one when a process builds several, as tests do)."""
    return current_app.extensions.get(DASH_APP) or dash.get_app()


def body_limit(user) -> int:
    """Bytes a request body may have, decided from the session before it is read:
    small for anonymous visitors (public callbacks and the login form), 1 MB for a
    staff callback, the upload limit for analysts (a file travels in the body)."""
    if user is None:
        return ANONYMOUS_BODY_LIMIT
    if user.may("analyst"):
        return max(CALLBACK_BODY_LIMIT, current_app.extensions[EXTENSION]["upload_body"])
    return CALLBACK_BODY_LIMIT


def callback_call() -> CallbackCall:
    """This request's callback, matched to its declaration (kept on ``g`` for the
    answer cache and the callback itself); raises :class:`BadCallback`."""
    call = g.get("callback_call")
    if call is None:
        body = read_body(request.max_content_length or CALLBACK_BODY_LIMIT)
        call = match_call(body, dash_app().callback_map)
        if (request.content_length or 0) > CALLBACK_BODY_LIMIT and not call.takes_upload:
            raise BadCallback(413, "too_large")
        g.callback_call = call
    return call


def enforce():
    """The access check of every request (registered with ``before_request``).

    Decided from the path and the session first: the body is capped by what the
    session may send (413) before a byte of it is parsed, and a callback body is
    only interpreted once it matches its callback's declaration (400 otherwise).
    """
    user = current_user
    signed_in = bool(user and user.is_authenticated)
    limit = body_limit(user if signed_in else None)
    request.max_content_length = limit
    if (request.content_length or 0) > limit:
        return _refuse(413, "too_large")
    if signed_in and request.method == "POST" and request.endpoint not in PUBLIC_ENDPOINTS:
        if not csrf_header_ok():
            return _refuse(403, "csrf")
    try:
        need, page = required_access()
    except BadCallback as refused:
        log.info("callback refused (%s): %s", refused.reason, refused.detail[:200])
        return _refuse(refused.status, refused.reason)
    if need == PUBLIC:
        return None
    if not signed_in and getattr(g, "database_down", False):
        return _database_down()
    if not signed_in:
        if request.method == "GET" and request.endpoint in INDEX_ENDPOINTS:
            query = {"next": request.full_path.rstrip("?")}
            if getattr(g, "session_ended", False):
                query["ended"] = "1"
            return redirect("/login?" + urlencode(query))
        return _refuse(401, "login")
    if not user.may(need):
        return _refuse(403, "role")
    if user.account.scoped:
        if page is not None and not honours_scope(page):
            return _refuse(403, "scope")
        if request.endpoint == "export_table":
            from .exports import SCOPED_EXPORTS
            if (request.view_args or {}).get("name") not in SCOPED_EXPORTS:
                return _refuse(403, "scope")
    return None


def _refuse(status: int, why: str):
    lang = normalize_lang(request.args.get("lang"))
    message = t({401: "login.required", 400: "auth.bad_request",
                 413: "auth.too_large"}.get(status, "auth.forbidden"), lang)
    if why == "csrf":
        message = t("login.csrf", lang)
    if _wants_page():
        # a page address (or an export link) opened in the browser: a page, not JSON,
        # with a way on
        user = signed_in_user()
        home = "/district" if user is not None and user.account.scoped else "/"
        if why == "scope":
            message = t("auth.not_in_scope", lang)
        query = "?lang=en" if lang == "en" else ""
        response = Response(render_template_string(
            REFUSED_PAGE, message=message, css=dash.get_asset_url("style.css"),
            html_lang="zh-CN" if lang == "zh" else "en", home=home + query,
            home_label=t("auth.home", lang), public=f"/public{query}",
            public_label=t("login.public", lang)), status=status, mimetype="text/html")
    else:
        response = jsonify(error=message, reason=why, status=status)
        response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def _wants_page() -> bool:
    """A refusal is an HTML page for a page address opened in the browser, and for any
    other GET (an export link) whose client asks for HTML first; JSON otherwise (Dash's
    callbacks, scripts)."""
    if request.method != "GET":
        return False
    if request.endpoint in INDEX_ENDPOINTS:
        return True
    accept = request.accept_mimetypes
    return request.endpoint != "/_dash-update-component" and bool(accept) and \
        accept.best_match(["application/json", "text/html"]) == "text/html" and \
        accept["text/html"] > accept["application/json"]


REFUSED_PAGE = """<!DOCTYPE html><html lang="{{ html_lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>蓝天 Lantian</title>
<link rel="stylesheet" href="{{ css }}"></head><body class="lt-login-body">
<main class="lt-login"><div class="lt-brand"><span class="lt-brand-zh">蓝天</span>
<span class="lt-brand-en">Lantian</span></div>
<p class="lt-login-error" role="alert" id="refused">{{ message }}</p>
<p class="lt-login-links"><a href="{{ home }}" id="refused-home">{{ home_label }}</a> ·
<a href="{{ public }}">{{ public_label }}</a></p></main></body></html>"""


def _database_down():
    """503 while the database cannot be read: the session is kept for when it is back."""
    lang = normalize_lang(request.args.get("lang"))
    message = t("auth.database_down", lang)
    if request.method == "GET" and request.endpoint in INDEX_ENDPOINTS:
        response = Response(render_template_string(DOWN_PAGE, message=message,
                                                   css=dash.get_asset_url("style.css")),
                            status=503, mimetype="text/html")
    else:
        response = jsonify(error=message, reason="database", status=503)
        response.status_code = 503
    response.headers["Retry-After"] = "30"
    response.headers["Cache-Control"] = "no-store"
    return response


DOWN_PAGE = """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="30"><title>蓝天 Lantian</title>
<link rel="stylesheet" href="{{ css }}"></head><body class="lt-login-body">
<main class="lt-login"><div class="lt-brand"><span class="lt-brand-zh">蓝天</span>
<span class="lt-brand-en">Lantian</span></div>
<p class="lt-login-error" role="alert" id="database-down">{{ message }}</p></main></body></html>"""


def scope_of(user=None) -> tuple[str, str] | None:
    """(city, district) of a district-scoped account, or None (sees everything)."""
    if not has_request_context():
        return None
    user = current_user if user is None else user
    if not user or not user.is_authenticated or not user.account.scoped:
        return None
    return user.account.city_id, user.account.district_code


def signed_in_user() -> StaffUser | None:
    if not has_request_context():
        return None
    return current_user if current_user and current_user.is_authenticated else None


# -- CSRF ---------------------------------------------------------------------------------

def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


def csrf_header_ok() -> bool:
    return _same(request.headers.get(CSRF_HEADER), session.get("csrf"))


def csrf_form_ok() -> bool:
    return _same(request.form.get("csrf_token"), session.get("csrf"))


def after_request(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    static = request.endpoint in STATIC_ENDPOINTS or request.path.startswith(PUBLIC_PREFIXES)
    if not static and signed_in_user() is not None:
        token = csrf_token()
        if request.cookies.get(CSRF_COOKIE) != token:
            response.set_cookie(CSRF_COOKIE, token, httponly=False, samesite="Strict",
                                secure=cookie_is_secure(current_app))
        # staff data must not stay in shared or browser caches (the JS bundles may)
        response.headers["Cache-Control"] = "no-store"
    return response


# -- login and logout ----------------------------------------------------------------------

LOGIN_PAGE = """<!DOCTYPE html>
<html lang="{{ html_lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · 蓝天 Lantian</title>
<link rel="stylesheet" href="{{ css }}"></head>
<body class="lt-login-body"><main class="lt-login">
<div class="lt-brand"><span class="lt-brand-zh">蓝天</span><span class="lt-brand-en">Lantian</span></div>
<h1>{{ title }}</h1>
{% if message %}<p class="lt-login-error" id="login-message" role="alert">{{ message }}</p>{% endif %}
<form method="post" action="/login{{ lang_query }}" autocomplete="on">
<input type="hidden" name="csrf_token" value="{{ token }}">
<input type="hidden" name="next" value="{{ next }}">
<label>{{ username_label }}<input name="username" id="login-username" autocomplete="username"
 required maxlength="64" value="{{ username }}" autofocus></label>
<label>{{ password_label }}<input name="password" id="login-password" type="password"
 autocomplete="current-password" required maxlength="1024"></label>
<button type="submit" id="login-submit">{{ submit }}</button>
</form>
<p class="lt-login-links"><a href="/public{{ lang_query }}">{{ public }}</a> ·
<a href="/login?{{ other_query }}">{{ other_label }}</a></p>
</main></body></html>"""


def safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, host or ``//``): never an open redirect."""
    target = (target or "").strip()
    if len(target) > 2048 or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return "/"                      # CR/LF would split the Location header
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc \
            or "\\" in target:
        return "/"
    return target


def _login_page(lang: str, message: str = "", status: int = 200, username: str = "",
                retry_after: int | None = None) -> Response:
    try:
        next_target = safe_next(request.values.get("next"))
    except (BadRequest, RequestEntityTooLarge):   # a form that cannot be read
        next_target = safe_next(request.args.get("next"))
    other = "en" if lang == "zh" else "zh"
    body = render_template_string(
        LOGIN_PAGE, html_lang="zh-CN" if lang == "zh" else "en", title=t("login.title", lang),
        css=dash.get_asset_url("style.css"), message=message, token=csrf_token(),
        next=next_target, username=username, username_label=t("login.username", lang),
        password_label=t("login.password", lang), submit=t("login.submit", lang),
        public=t("login.public", lang), lang_query="?lang=en" if lang == "en" else "",
        other_query=urlencode({"lang": other, "next": next_target}),
        other_label="English" if other == "en" else "中文")
    response = Response(body, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def address_delay(engine, address: str) -> int:
    """Seconds this address must still wait before its next login attempt (0: none)."""
    stamp = now()
    with engine.connect() as conn:
        count, last = recent_failures(conn, address, stamp - ADDRESS_WINDOW)
    if count < ADDRESS_FREE_FAILURES or last is None:
        return 0
    wait = min(2 ** (count - ADDRESS_FREE_FAILURES + 1), ADDRESS_MAX_DELAY)
    remaining = wait - (stamp - last).total_seconds()
    return max(0, int(remaining + 0.999))


def _login_form() -> tuple[str, str] | None:
    """(username, password) of the posted form; None if the form cannot be read (too
    large, malformed). A password longer than any valid one is cut to one character
    more than the limit: it is checked (same work, same answer) and cannot match."""
    try:
        form = request.form
    except (BadRequest, RequestEntityTooLarge):
        return None
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")[:MAX_PASSWORD + 1]
    return username, password


def login_view():
    lang = normalize_lang(request.args.get("lang"))
    if request.method == "GET":
        message = ""
        if request.args.get("ended"):
            message = t("login.expired", lang)
        return _login_page(lang, message)
    form = _login_form()
    if form is None:
        return _login_page(lang, t("login.badform", lang), 400)
    username, password = form
    shown = clean_text(username, 64)
    if not csrf_form_ok():
        return _login_page(lang, t("login.csrf", lang), 400, shown)
    address = clean_text(request.remote_addr or "", 64)
    settings = current_app.extensions[EXTENSION]
    engine = engine_of(current_app)
    try:
        wait = address_delay(engine, address)
        if wait:
            with engine.begin() as conn:
                audit(conn, "login_throttled", username, address, f"wait {wait} s")
            return _login_page(lang, t("login.slow", lang, seconds=wait), 429, shown, wait)
        if USERNAME.match(username):
            outcome = authenticate(engine, username, password, remote_addr=address,
                                   max_failures=settings["max_failures"],
                                   lockout=settings["lockout"])
        else:
            # no account can have this name: the same answer and work as a wrong password
            dummy_password_check(password)
            with engine.begin() as conn:
                audit(conn, "login_failed", username, address, "invalid username")
            outcome = None
        if outcome is not None and outcome.ok:
            with engine.begin() as conn:
                token = start_session(conn, outcome.account.id, address,
                                      lifetime=settings["lifetime"])
    except SQLAlchemyError:
        log.exception("login: reading the accounts failed")
        return _login_page(lang, t("login.dberror", lang), 503, shown)
    if outcome is None or not outcome.ok:
        minutes = int(settings["lockout"].total_seconds() // 60) or 1
        reason = outcome.reason if outcome is not None else "bad"
        message = {"locked": t("login.locked", lang, minutes=minutes),
                   "disabled": t("login.disabled", lang)}.get(reason, t("login.bad", lang))
        return _login_page(lang, message, 401, shown)
    target = safe_next(request.form.get("next"))
    if outcome.account.scoped and target == "/":
        target = "/district"            # the overview is city-wide; its district is its home
    session.clear()                     # a new session: no fixation of an earlier one
    session.permanent = True
    login_user(StaffUser(outcome.account, token))
    csrf_token()
    log.info("login %s from %s", username, address)
    return redirect(target)


def logout_view():
    """Sign out: the session's row is ended (a copy of the cookie no longer works,
    on any server); the account's other sessions go on."""
    user = signed_in_user()
    if user is not None:
        if not csrf_form_ok():
            abort(400)
        try:
            with engine_of(current_app).begin() as conn:
                end_session(conn, user.session_token)
                audit(conn, "logout", user.username, clean_text(request.remote_addr, 64))
        except SQLAlchemyError:
            log.exception("logout: ending the session of %s failed", user.username)
            return _database_down()
    logout_user()
    session.clear()
    response = redirect("/login")
    response.delete_cookie(CSRF_COOKIE)
    return response

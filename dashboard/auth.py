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
  exports need ``analyst``; a callback no page claims needs ``admin``. A district-scoped account may open only the pages
  that honour the scope (``SCOPED = True``), and those pages show only its
  district (:func:`scope_of`).

Without a session a Dash callback gets 401 and a page address redirects to
``/login``; a session of too low a role gets 403. Anything the rules do not
name is refused (default deny), so a new page or route is protected without
anyone remembering to protect it.

Sessions are Flask's signed cookies (``lantian_session``: HttpOnly,
SameSite=Lax, Secure unless configured off for a local trial) with a
server-checked lifetime. Changing a password, the role or disabling an account
bumps its ``session_epoch`` and ends its sessions at their next request.

CSRF: the login and logout forms carry a per-session token; every POST of a
signed-in session (callbacks, uploads) must send the same token in the
``X-CSRFToken`` header, which Dash's renderer copies from the ``_csrf_token``
cookie (double submit: a cross-site page can neither read the cookie nor
set the header).

Brute force: each account locks after ``login_max_failures`` failures in a
row for ``lockout_minutes``; each address is slowed after five failures in
15 minutes (2, 4, 8 … up to 300 s between attempts, HTTP 429 with
Retry-After). Both count from the database, so they hold across workers.
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
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from store.users import (ROLE_RANK, Account, audit, authenticate, get_account, now,
                         recent_failures)

from . import ids
from .context import engine_of
from .i18n import normalize_lang, register, t

log = logging.getLogger("lantian.auth")

PUBLIC = "public"
EXTENSION = "lantian_auth"
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
#: Callbacks that carry no data (their outputs are URLs and link labels).
PUBLIC_OUTPUTS = {"_pages_location.search"}

register({
    "login.title": ("工作人员登录", "Staff sign-in"),
    "login.username": ("用户名", "Username"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.public": ("不需要登录：查看公众空气质量概况", "No account needed: the public summary"),
    "login.bad": ("用户名或密码错误。", "Wrong username or password."),
    "login.locked": ("连续登录失败次数过多，账号已暂时锁定，请 {minutes} 分钟后再试或联系管理员。",
                     "Too many failed sign-ins: the account is locked for {minutes} minutes. "
                     "Try again later or ask an administrator."),
    "login.disabled": ("账号已停用，请联系管理员。", "This account is disabled; ask an administrator."),
    "login.slow": ("来自您地址的失败登录过多，请 {seconds} 秒后再试。",
                   "Too many failed sign-ins from your address: try again in {seconds} s."),
    "login.csrf": ("表单已过期，请重新登录。", "The form expired; please sign in again."),
    "login.expired": ("登录已过期或已在别处结束，请重新登录。",
                      "Your session ended; please sign in again."),
    "login.dberror": ("无法读取账号数据库：数据库未初始化或不可用（管理员：lantian init）。",
                      "Cannot read the accounts: the database is not initialised or is "
                      "unavailable (administrators: run lantian init)."),
    "login.required": ("请先登录。", "Please sign in first."),
    "auth.logout": ("退出", "Sign out"),
    "auth.login": ("工作人员登录", "Staff sign-in"),
    "auth.database_down": ("暂时无法读取数据库，请稍后再试（页面每 30 秒自动重试；您的登录仍然有效）。",
                           "The database cannot be read at the moment. Please try again "
                           "shortly (this page retries every 30 s; you stay signed in)."),
    "auth.forbidden": ("您的账号无权访问此内容。", "Your account may not open this."),
    "role.viewer": ("查看", "viewer"),
    "role.analyst": ("分析", "analyst"),
    "role.admin": ("管理", "admin"),
})


class StaffUser(UserMixin):
    """The signed-in account; its id carries the session epoch (see module docstring)."""

    def __init__(self, account: Account):
        self.account = account

    def get_id(self) -> str:
        return f"{self.account.id}:{self.account.session_epoch}"

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
    server.extensions[EXTENSION] = {
        "max_failures": settings.login_max_failures,
        "lockout": timedelta(minutes=settings.lockout_minutes),
        "secure": secure, "upload_max_mb": settings.upload_max_mb,
    }
    manager = LoginManager(server)
    manager.session_protection = "basic"

    @manager.user_loader
    def load_user(user_id: str):
        try:
            account_id, epoch = (int(part) for part in user_id.split(":"))
        except ValueError:
            return None
        try:
            with engine_of(server).connect() as conn:
                account = get_account(conn, user_id=account_id)
        except SQLAlchemyError:
            # the database is down, not the session: say so (503), never "sign in"
            log.warning("reading the signed-in account failed: the database is unreachable")
            g.database_down = True
            return None
        if account is None or not account.active or account.session_epoch != epoch:
            g.session_ended = True
            return None
        return StaffUser(account)

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

def _strip(pathname: str) -> str:
    app = dash.get_app()
    path = "/" + (app.strip_relative_path(pathname or "/") or "")
    return path.rstrip("/") or "/"


def page_of(pathname: str) -> dict | None:
    path = _strip(pathname)
    for page in dash.page_registry.values():
        if page["path"] == path:
            return page
    return None


def page_access(page: dict | None) -> str:
    return (page or {}).get("access", "viewer")


def callback_access(body: dict) -> tuple[str, dict | None]:
    """(lowest role, page or None) of one ``/_dash-update-component`` request.

    Only exact outputs of registered callbacks are recognised; anything else
    needs a staff session (and Dash refuses it anyway).
    """
    output = str(body.get("output", ""))
    registered = dash.get_app().callback_map
    if output not in registered:
        return "viewer", None
    if output in PUBLIC_OUTPUTS or _is_nav_output(output):
        return PUBLIC, None
    if output.startswith(".._pages_content.children..."):
        pathname = next((item.get("value") for item in body.get("inputs", [])
                         if isinstance(item, dict) and item.get("id") == "_pages_location"
                         and item.get("property") == "pathname"), None)
        page = page_of(str(pathname or "/"))
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
        body = request.get_json(silent=True)
        return callback_access(body if isinstance(body, dict) else {})
    return ROUTE_ACCESS.get(endpoint, "viewer"), None


def enforce():
    """The access check of every request (registered with ``before_request``)."""
    need, page = required_access()
    user = current_user
    signed_in = bool(user and user.is_authenticated)
    if signed_in and request.method == "POST" and request.endpoint not in PUBLIC_ENDPOINTS:
        if not csrf_header_ok():
            return _refuse(403, "csrf")
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
        if page is not None and not page.get("scoped", False):
            return _refuse(403, "scope")
        if request.endpoint == "export_table":
            from .exports import SCOPED_EXPORTS
            if (request.view_args or {}).get("name") not in SCOPED_EXPORTS:
                return _refuse(403, "scope")
    return None


def _refuse(status: int, why: str):
    lang = normalize_lang(request.args.get("lang"))
    message = t("login.required" if status == 401 else "auth.forbidden", lang)
    if why == "csrf":
        message = t("login.csrf", lang)
    response = jsonify(error=message, reason=why, status=status)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


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
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc \
            or "\\" in target:
        return "/"
    return target


def _login_page(lang: str, message: str = "", status: int = 200, username: str = "",
                retry_after: int | None = None) -> Response:
    next_target = safe_next(request.values.get("next"))
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


def address_delay(conn, address: str) -> int:
    """Seconds this address must still wait before its next login attempt (0: none)."""
    stamp = now()
    count, last = recent_failures(conn, address, stamp - ADDRESS_WINDOW)
    if count < ADDRESS_FREE_FAILURES or last is None:
        return 0
    wait = min(2 ** (count - ADDRESS_FREE_FAILURES + 1), ADDRESS_MAX_DELAY)
    remaining = wait - (stamp - last).total_seconds()
    return max(0, int(remaining + 0.999))


def login_view():
    lang = normalize_lang(request.args.get("lang"))
    if request.method == "GET":
        message = ""
        if request.args.get("ended"):
            message = t("login.expired", lang)
        return _login_page(lang, message)
    username = (request.form.get("username") or "").strip()[:64]
    password = request.form.get("password") or ""
    if not csrf_form_ok():
        return _login_page(lang, t("login.csrf", lang), 400, username)
    address = request.remote_addr or ""
    settings = current_app.extensions[EXTENSION]
    engine = engine_of(current_app)
    try:
        with engine.begin() as conn:
            wait = address_delay(conn, address)
            if wait:
                audit(conn, "login_throttled", username, address, f"wait {wait} s")
        if wait:
            return _login_page(lang, t("login.slow", lang, seconds=wait), 429, username, wait)
        with engine.begin() as conn:
            outcome = authenticate(conn, username, password, remote_addr=address,
                                   max_failures=settings["max_failures"],
                                   lockout=settings["lockout"])
    except SQLAlchemyError:
        log.exception("login: reading the accounts failed")
        return _login_page(lang, t("login.dberror", lang), 503, username)
    if not outcome.ok:
        minutes = int(settings["lockout"].total_seconds() // 60) or 1
        message = {"locked": t("login.locked", lang, minutes=minutes),
                   "disabled": t("login.disabled", lang)}.get(outcome.reason,
                                                               t("login.bad", lang))
        return _login_page(lang, message, 401, username)
    target = safe_next(request.form.get("next"))
    if outcome.account.scoped and target == "/":
        target = "/district"            # the overview is city-wide; its district is its home
    session.clear()                     # a new session: no fixation of an earlier one
    session.permanent = True
    login_user(StaffUser(outcome.account))
    csrf_token()
    log.info("login %s from %s", username, address)
    return redirect(target)


def logout_view():
    user = signed_in_user()
    if user is not None:
        if not csrf_form_ok():
            abort(400)
        with engine_of(current_app).begin() as conn:
            audit(conn, "logout", user.username, request.remote_addr or "")
    logout_user()
    session.clear()
    response = redirect("/login")
    response.delete_cookie(CSRF_COOKIE)
    return response

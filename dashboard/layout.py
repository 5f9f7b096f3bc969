"""What every staff page shares: the frame, the global controls, tables, messages.

A staff page is ``layout(**query)`` returning :func:`staff_page`: it resolves
the URL's query into a :class:`dashboard.state.View` (valid for the loaded
data), draws the title, the synthetic-data banner, notices about replaced URL
values, the control bar and the page body. Controls do not drive callbacks of
their own: one callback (:func:`register_callbacks`) writes every control's
value into the URL, and Dash Pages renders the page again from it. So the
address always says what is shown, a view can be shared by copying it, and a
page is a plain function of its query that tests call directly.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Callable, Iterable
from urllib.parse import parse_qsl, urlencode

import dash
import dash_ag_grid as dag
import pandas as pd
from dash import ALL, Input, Output, State, callback_context, dcc, html, no_update
from sqlalchemy.exc import SQLAlchemyError

from config.errors import ConfigError
from config.standards import load_profile

from . import ids
from .auth import scope_of
from .cache import cached_local
from .context import current_engine
from .exports import export_url
from .i18n import HTML_LANG, SYNTHETIC_BANNER, normalize_lang, search_lang, t
from .queries import Catalog, catalog
from .state import SHARED_KEYS, View, profile_choices, resolve

log = logging.getLogger(__name__)



# -- the frame ------------------------------------------------------------------------

def page_head(title: str, subtitle: str, lang: str, switch_href: str) -> html.Div:
    return html.Div(className="lt-page-head", children=[
        html.Div([html.H1(title), html.P(subtitle, className="lt-subtitle")]),
        dcc.Link(t("page.switch", lang), href=switch_href, id=ids.PAGE_LANG,
                 className="lt-lang", title="中文 / English"),
    ])


def banner(kind: str, title: str, *lines, id=None) -> html.Div:
    """A message box: kind ``info`` | ``warn`` | ``error`` | ``synthetic``."""
    children = [html.Strong(title)]
    for line in lines:
        children.append(line if not isinstance(line, str) else html.P(line))
    extra = {"role": "alert"} if kind in ("error", "synthetic") else {}
    return html.Div(className=f"lt-banner lt-banner-{kind}", children=children, **_id(id),
                    **extra)


def empty_state(message: str, hint: str | None = None) -> html.Div:
    """What a page shows where a choice has no data (never a blank space)."""
    return html.Div(className="lt-empty", children=[
        html.Div("∅", className="lt-empty-icon", **{"aria-hidden": "true"}),
        html.P(message, className="lt-empty-text"),
        *([html.P(hint, className="lt-muted")] if hint else []),
    ])


def card(title, *children, id=None, className: str = "") -> html.Section:
    head = [html.H2(title)] if title else []
    return html.Section(className=f"lt-card {className}".strip(), children=head + list(children),
                        **_id(id))


def _id(id) -> dict:
    """``{"id": id}``, or nothing: Dash components refuse ``id=None``."""
    return {} if id is None else {"id": id}


def graph(figure, id=None, height: int = 360) -> dcc.Graph:
    """A chart with the interaction bar trimmed, Chinese locale, local assets."""
    return dcc.Graph(figure=figure, style={"height": f"{height}px"},
                     config={"displaylogo": False, "responsive": True, "locale": "zh-CN",
                             "modeBarButtonsToRemove": ["lasso2d", "select2d"],
                             "toImageButtonOptions": {"format": "png", "scale": 2}},
                     **_id(id))


def chart_card(figure, *below, id=None, height: int = 360) -> html.Section:
    """A card holding one chart and what goes under it (texts become ``lt-note`` paragraphs)."""
    return card(None, graph(figure, id=id, height=height), *notes(*below))


def notes(*texts) -> list:
    """Paragraphs of explanation (``lt-note``); components pass as they are, empty texts
    are left out."""
    return [html.P(x, className="lt-note") if isinstance(x, str) else x for x in texts if x]


def notices(messages: list[str], id=None) -> html.Div:
    """Notices about the page's choices (an unknown value replaced …)."""
    return html.Div(className="lt-notices", children=[html.P(m) for m in messages], **_id(id))


def stat_tile(value, label: str, unit: str = "", note: str | None = None,
              invalid: bool = False) -> html.Div:
    """A summary tile: the value (and unit) large, its label, and a note under it."""
    children = [html.Div([value, html.Span(unit, className="lt-unit")],
                         className="lt-stat-value" + (" lt-stat-invalid" if invalid else "")),
                html.Div(label, className="lt-stat-label")]
    if note:
        children.append(html.Div(note, className="lt-stat-why"))
    return html.Div(className="lt-stat", children=children)


def export_links(label: str, name: str, view, *, className: str,
                 ids: tuple = (None, None)) -> html.P:
    """"Download …: CSV · Excel": the links to ``/export/<name>.csv|xlsx`` of the view."""
    csv_id, xlsx_id = ids
    return html.P(className=className, children=[
        label, " ", html.A("CSV", href=export_url(name, "csv", view), **_id(csv_id)), " · ",
        html.A("Excel", href=export_url(name, "xlsx", view), **_id(xlsx_id))])


def synthetic_title(text: str, synthetic: bool, lang: str) -> str:
    """A chart or table title, marked when it shows synthetic demo data."""
    return f"{t('page.synthetic', lang)} — {text}" if synthetic else text


#: AG Grid's Alpine theme as drawn (Chromium): header (48 px and its 1 px rule), row and
#: pagination-panel heights, and the grid's border (px).
GRID_HEADER_PX, GRID_ROW_PX, GRID_PAGER_PX, GRID_BORDER_PX = 49, 42, 48, 2
GRID_MAX_PX = 560


def grid_height(rows: int, page_size: int | None = None) -> int:
    """Pixels that show the header and ``rows`` rows (one page of them) without an inner
    scroll bar, up to :data:`GRID_MAX_PX` (a longer table scrolls inside)."""
    shown = max(min(rows, page_size) if page_size else rows, 1)
    height = GRID_HEADER_PX + GRID_ROW_PX * shown + GRID_BORDER_PX
    return min(height + (GRID_PAGER_PX if page_size else 0), GRID_MAX_PX)


def grid(frame: pd.DataFrame, columns: list[dict], *, id=None, lang: str = "zh",
         height: int | None = None, page_size: int | None = None, auto_height: bool = False,
         **options) -> html.Div:
    """A sortable, filterable AG Grid of ``frame`` (rows as records).

    ``columns`` are AG Grid column definitions (``field``, ``headerName``,
    ``type: "numericColumn"`` …). Values are sent as they are: format them
    (reported values, dates as text) before calling.

    Height: ``height`` pixels, by default :func:`grid_height` (every row, or
    one page, of AG Grid's 42 px rows; a long table scrolls inside). With
    ``auto_height`` the grid grows with its rows instead (AG Grid's ``domLayout:
    "autoHeight"``): for tables whose wrapped cells make rows taller than 42 px
    — keep those short or paged, every row is then in the page.
    """
    if frame.empty:
        return empty_state(t("table.empty", lang))
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    grid_options = {"animateRows": False, "enableCellTextSelection": True,
                    "ensureDomOrder": True, "suppressFieldDotNotation": True,
                    "localeText": GRID_LOCALE_ZH if lang == "zh" else {}}
    if page_size:
        grid_options.update(pagination=True, paginationPageSize=page_size,
                            paginationPageSizeSelector=False)
    if auto_height:
        grid_options["domLayout"] = "autoHeight"
        style = {"width": "100%"}
    else:
        style = {"height": f"{height or grid_height(len(records), page_size)}px",
                 "width": "100%"}
    grid_options.update(options.pop("dashGridOptions", {}))
    return html.Div(className="lt-grid", children=dag.AgGrid(
        rowData=records, columnDefs=columns,
        defaultColDef={"sortable": True, "filter": True, "resizable": True, "minWidth": 80,
                       "flex": 1},
        dashGridOptions=grid_options, className="ag-theme-alpine", style=style, **_id(id),
        **options))


GRID_LOCALE_ZH = {
    "page": "页", "of": "/", "to": "至", "more": "更多", "next": "下一页", "last": "末页",
    "first": "首页", "previous": "上一页", "loadingOoo": "加载中…", "noRowsToShow": "没有记录",
    "filterOoo": "筛选…", "equals": "等于", "notEqual": "不等于", "contains": "包含",
    "notContains": "不包含", "startsWith": "开头是", "endsWith": "结尾是",
    "lessThan": "小于", "greaterThan": "大于", "lessThanOrEqual": "小于等于",
    "greaterThanOrEqual": "大于等于", "inRange": "介于", "andCondition": "且", "orCondition": "或",
    "blank": "空白", "notBlank": "非空白", "searchOoo": "搜索…", "selectAll": "全选",
}


# -- controls ---------------------------------------------------------------------

def control(name: str) -> dict:
    return {"type": ids.CONTROL, "name": name}


def labelled(label: str, component, className: str = "") -> html.Div:
    # A Div, not a Label: radio items are labels themselves, and a label inside a
    # label sends every click to the first radio button.
    return html.Div(className=f"lt-control {className}".strip(), role="group",
                    **{"aria-label": label}, children=[
                        html.Span(label, className="lt-control-label"), component])


def dropdown(name: str, options: list, value, label: str, *, width: int = 160,
             clearable: bool = False, searchable: bool = False) -> html.Label:
    """A control whose value goes to the URL as ``name``."""
    return labelled(label, dcc.Dropdown(id=control(name), options=options, value=value,
                                        clearable=clearable, searchable=searchable,
                                        style={"width": f"{width}px"}))


def global_controls(view: View, cat: Catalog, *, profile: bool = True) -> list:
    """City, period (year / year to date / month / custom range), year, month, profile."""
    lang = view.lang
    cities = [{"label": city_label(cat, c, lang), "value": c} for c in cat.city_ids()]
    first, last = cat.spans.get(view.city, (view.start, view.end))
    years = [{"label": str(y), "value": str(y)} for y in range(last.year, first.year - 1, -1)]
    out = [dropdown("city", cities, view.city, t("ctl.city", lang), width=220),
           labelled(t("ctl.period", lang), dcc.RadioItems(
               id=control("period"), value=view.period, inline=True,
               className="lt-segmented", inputClassName="lt-seg-input",
               labelClassName="lt-seg-label",
               options=[{"label": t(f"period.{p}", lang), "value": p}
                        for p in ("year", "ytd", "month", "range")]))]
    if view.period != "range":
        out.append(dropdown("year", years, str(view.year), t("ctl.year", lang), width=100))
    if view.period == "month":
        months = [{"label": (f"{m}月" if lang == "zh" else f"{m:02d}"), "value": str(m)}
                  for m in range(1, 13)]
        out.append(dropdown("month", months, str(view.month), t("ctl.month", lang), width=90))
    if view.period == "range":
        out.append(labelled(t("ctl.range", lang), dcc.DatePickerRange(
            id={"type": ids.CONTROL_RANGE, "name": "range"},
            start_date=view.start.isoformat(), end_date=view.end.isoformat(),
            min_date_allowed=first.isoformat(), max_date_allowed=last.isoformat(),
            display_format="YYYY-MM-DD", first_day_of_week=1, minimum_nights=0)))
    if profile:
        profiles = [{"label": profile_label(p, lang), "value": p} for p in profile_choices()]
        out.append(dropdown("profile", profiles, view.profile, t("ctl.profile", lang), width=210))
    return out


def profile_label(profile: str, lang: str = "zh") -> str:
    """A profile's display name (its YAML's ``display.label_zh/label_en``); "" is the
    profile in force by date."""
    if not profile:
        return t("profile.auto", lang)
    try:
        return load_profile(profile).label(lang)
    except ConfigError:
        return profile


def city_label(cat: Catalog, city: str, lang: str) -> str:
    name = cat.name("city", city, lang)
    if city not in cat.spans:
        name += " (无数据)" if lang == "zh" else " (no data)"
    if cat.is_synthetic(city):
        name += " · 合成" if lang == "zh" else " · synthetic"
    return name


# -- the page -------------------------------------------------------------------------

def staff_page(*, page: str, title: tuple[str, str], subtitle: tuple[str, str], query: dict,
               body: Callable[[View, Catalog, object], list], path: str,
               page_keys: tuple = (), extra_controls: Callable | None = None,
               profile_control: bool = True, period_control: bool = True,
               cache: bool = True, needs_data: bool = True) -> html.Div:
    """The whole page for ``query``: frame, controls and ``body(view, catalog, engine)``.

    ``extra_controls(view, catalog)`` adds page-specific controls (their names
    must be in ``page_keys`` so they survive in the URL). ``cache=False`` for a
    body that shows more than the readings (accounts, the audit log): it is
    built on every request instead of kept per data version.
    """
    lang = normalize_lang(query.get("lang"))
    try:
        engine = current_engine()
        scope = scope_of()
        everything = catalog(engine)
        cat = everything.scoped(scope)
        query, outside = outside_scope(query, everything, cat)
    except SQLAlchemyError:
        log.exception("%s: reading the database failed", page)
        return _frame(page, lang, title, subtitle, path, None, [
            banner("error", t("dberror.title", lang), t("dberror.hint", lang),
                   html.Pre("lantian init --sites config/sites/<city>.yaml"),
                   id=ids.PAGE_DB_ERROR)])
    if cat.cities.empty:
        return _frame(page, lang, title, subtitle, path, None, [
            banner("info", t("page.no_city", lang), t("page.no_city_hint", lang),
                   html.Pre("lantian init --sites config/sites/beijing.yaml\n"
                            "lantian ingest prsa /path/to/PRSA_Data_folder/\n"
                            "lantian demo"), id=ids.PAGE_EMPTY)])
    view = resolve(query, cat.city_ids(), cat.spans, cat.default_city(), page_keys)
    if outside:
        view = replace(view, notices=tuple(scope_notices(outside, view, cat)) + view.notices)
    children: list = []
    if cat.is_synthetic(view.city):
        children.append(banner("synthetic", SYNTHETIC_BANNER, t("synthetic.city", lang),
                               id=ids.PAGE_SYNTHETIC_BANNER))
    if view.notices:
        children.append(html.Div(id=ids.PAGE_NOTICES, className="lt-notices", children=[
            html.P(zh if lang == "zh" else en) for zh, en in view.notices]))
    controls = global_controls(view, cat, profile=profile_control)
    if not period_control:            # a page about the city, not a period: the city only
        controls = controls[:1]
    controls_at = len(children)
    children.append(html.Div(id=ids.PAGE_CONTROLS, className="lt-controls", children=controls))
    if needs_data and view.city not in cat.spans:
        children.append(html.Div(id=ids.PAGE_EMPTY, children=empty_state(
            t("page.no_data", lang), "lantian status")))
        return _frame(page, lang, title, subtitle, path, view, children)
    try:
        if extra_controls is not None:
            children[controls_at].children = controls + list(extra_controls(view, cat))
        # A page body is a function of its view and the data: cache it under the data
        # version, so a view someone opened before (the morning overview) is instant.
        content = cached_local(f"page:{page}", cat.version,
                               (str(engine.url), repr(view), scope),
                               lambda: body(view, cat, engine)) if cache else \
            body(view, cat, engine)
    except SQLAlchemyError:
        log.exception("%s: reading the database failed", page)
        content = [banner("error", t("dberror.title", lang), t("dberror.hint", lang),
                          id=ids.PAGE_DB_ERROR)]
    except Exception:  # noqa: BLE001 - a page must say it failed, not show a traceback
        log.exception("%s: rendering failed for %s", page, view)
        content = [banner("error", t("page.error", lang), t("page.error_hint", lang),
                          id=ids.PAGE_ERROR)]
    children.append(html.Div(id=ids.PAGE_BODY, children=content))
    return _frame(page, lang, title, subtitle, path, view, children)


#: URL keys that name a place, checked against a district-scoped account's scope.
PLACE_KEYS = ("city", "district", "station")


def outside_scope(query: dict, everything: Catalog, cat: Catalog) -> tuple[dict, list]:
    """``query`` without the places a district-scoped account may not see, and those
    places as (key, value) pairs (nothing for an account that sees everything).

    A city, district or station that exists but lies outside the scope (another
    district, the whole city, another district's station) is dropped here, so the page
    shows the account's own district with the notice "not in your scope" instead of
    "unknown district"; values that exist nowhere are left to the page (unknown).
    """
    if cat.scope is None:
        return query, []
    known = {"city": set(everything.cities["id"].astype(str)),
             "district": set(everything.districts["id"].astype(str))
             | set(everything.cities["id"].astype(str)),
             "station": set(everything.stations["code"].astype(str))}
    allowed = {"city": set(cat.cities["id"].astype(str)),
               "district": set(cat.districts["id"].astype(str)),
               "station": set(cat.stations["code"].astype(str))}
    kept, outside = dict(query), []
    for key in PLACE_KEYS:
        value = query.get(key)
        if isinstance(value, str) and value in known[key] and value not in allowed[key]:
            outside.append((key, value))
            kept.pop(key)
    return kept, outside


def scope_notices(outside: list, view: View, cat: Catalog) -> list[tuple[str, str]]:
    """(zh, en) notices "“chengqu” 不在您的权限范围内，已显示 矿区。" (the account's district)."""
    district = cat.districts["id"].iloc[0] if len(cat.districts) else view.city
    level = "district" if len(cat.districts) else "city"
    return [tuple(t("auth.not_in_scope_value", lang, value=value[:40],
                    name=cat.name(level, district, lang)) for lang in ("zh", "en"))
            for _key, value in outside]


def period_caption(view: View) -> str:
    """"2015 年", "2015-03", "2026-01-01 – 2026-11-28 年初至今" … for titles."""
    lang = view.lang
    if view.period == "year":
        return f"{view.year} 年" if lang == "zh" else str(view.year)
    if view.period == "month":
        return f"{view.year} 年 {view.month} 月" if lang == "zh" else f"{view.year}-{view.month:02d}"
    if view.period == "ytd":
        return (f"{view.year} 年初至 {view.end:%m-%d}" if lang == "zh"
                else f"{view.year} to {view.end:%m-%d}")
    return f"{view.start} – {view.end}"


def stats_caption(view: View) -> str:
    """The period the statistics cover (a custom range: exactly its days)."""
    return period_caption(view)


def _frame(page: str, lang: str, title, subtitle, path: str, view: View | None,
           children: list) -> html.Div:
    other = "en" if lang == "zh" else "zh"
    if view is not None:
        switch = path + view.search(lang=other if other == "en" else None)
    else:
        switch = path + ("?lang=en" if other == "en" else "")
    head = page_head(title[lang == "en"], subtitle[lang == "en"], lang,
                     dash.get_relative_path(switch))
    return html.Div(id=ids.PAGE, lang=HTML_LANG[lang], className=f"lt-page lt-page-{page}",
                    children=[head, *children])


# -- the callbacks every page relies on ----------------------------------------------

def _query_with(search: str | None, controls: Iterable[tuple[str, object]],
                changed: str | None) -> dict:
    query = dict(parse_qsl((search or "").lstrip("?"), keep_blank_values=False))
    for name, value in controls:
        if isinstance(value, list):
            value = ",".join(map(str, value))
        if value in (None, ""):
            query.pop(name, None)
        else:
            query[name] = str(value)
    if changed == "city":
        # another city has other years and districts: start from its defaults
        for key in ("year", "month", "from", "to", "district", "station"):
            query.pop(key, None)
    if query.get("period") != "range":
        query.pop("from", None)
        query.pop("to", None)
    if query.get("period") != "month":
        query.pop("month", None)
    return query


def register_callbacks(app: dash.Dash) -> None:
    """The control → URL callback and the navigation links that carry the shared state."""

    @app.callback(
        Output("_pages_location", "search"),
        Input({"type": ids.CONTROL, "name": ALL}, "value"),
        Input({"type": ids.CONTROL_RANGE, "name": ALL}, "start_date"),
        Input({"type": ids.CONTROL_RANGE, "name": ALL}, "end_date"),
        State("_pages_location", "search"),
        prevent_initial_call=True,
    )
    def controls_to_url(values, starts, ends, search):
        if callback_context.triggered_id is None or len(callback_context.triggered) != 1:
            # fired because a page's controls appeared (every input "triggers"), not
            # because a user changed one: the URL already says what is shown
            return no_update
        names = [item["id"]["name"] for item in callback_context.inputs_list[0]]
        pairs = list(zip(names, values))
        if starts and ends:
            pairs += [("from", (starts[0] or "")[:10]), ("to", (ends[0] or "")[:10])]
        triggered = callback_context.triggered_id
        changed = triggered.get("name") if isinstance(triggered, dict) else None
        query = _query_with(search, pairs, changed)
        new = "?" + urlencode(query) if query else ""
        return no_update if new == (search or "") else new

    @app.callback(
        Output({"type": ids.NAV_LINK, "page": ALL}, "href"),
        Output({"type": ids.NAV_LINK, "page": ALL}, "children"),
        Input("_pages_location", "search"),
        State({"type": ids.NAV_LINK, "page": ALL}, "id"),
    )
    def nav_links(search, link_ids):
        query = dict(parse_qsl((search or "").lstrip("?")))
        shared = {k: v for k, v in query.items() if k in SHARED_KEYS}
        lang = search_lang(search)
        suffix = ("?" + urlencode(shared)) if shared else ""
        pages = {p["path"]: p for p in dash.page_registry.values()}
        hrefs, labels = [], []
        for link in link_ids:
            # only registered pages get a link (a crafted id names none: it goes home)
            page = pages.get(link.get("page") if isinstance(link, dict) else None)
            if page is None:
                hrefs.append(dash.get_relative_path("/"))
                labels.append("")
                continue
            hrefs.append(dash.get_relative_path(page["path"]) + suffix)
            labels.append(page.get("name_en" if lang == "en" else "name", page["path"]))
        return hrefs, labels

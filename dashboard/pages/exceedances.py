"""Page ``/exceedances`` — 超标 / Exceedances: which districts exceeded which limit, on which days.

For the chosen period (year, year to date, month or a custom range):

- first, the period's last day hour by hour (real time, before its daily mean exists):
  every station, district and city hour above a 1-h limit of the profile in force or with
  an hourly AQI above 100 (:func:`dashboard.realtime_queries.hourly_exceedance_list`,
  ``indicators.realtime``), newest first;
- per district (and the city) the number of exceedance days per pollutant,
  the days with any exceedance and the days with AQI > 100;
- a district × day grid coloured by the daily AQI level, or — for one
  pollutant — by whether the day's value (O3: MDA8) exceeded its daily limit
  (optionally also marking days above the district's annual *target* level,
  clearly labelled as an indication only);
- an openair-style calendar of one district (page key ``district``);
- the table of exceedance days (date, area, pollutant, value, limit,
  exceedance multiple, AQI, level, primary pollutant), downloadable as CSV and
  Excel (``/export/exceedances.csv|xlsx``, built by :func:`table_frame`, the
  function that builds the table on the page).

Page keys: ``pollutant`` (AQI | SO2 | NO2 | PM10 | PM2.5 | CO | O3; default
AQI = every pollutant), ``basis`` (limit | target; default limit) and
``district`` (the calendar's area; default the city). A district-scoped account
(dashboard/auth.py) sees its own district only: the grid, the calendar, the
summary, the hourly list and the table (and its download) hold that district's
rows (and its stations' hours), without the whole-city row. Every number comes
from indicators through :func:`dashboard.queries.exceedance_data`: the
exceedances and multiples from ``indicators.statistics.exceedances``, the
daily limits from ``indicators.daily_limits``, the AQI from ``indicators.aqi``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from dash import dcc, get_relative_path, html

from config.standards import load_profile, load_schedule
from config.vocabulary import POLLUTANTS, unit_of

from .. import ids
from ..cache import cached
from ..exports import export_url, register_export
from ..figures import AQI_LEVELS, level_rows
from ..figures import exceedances as fx
from ..i18n import t
from ..layout import (card, dropdown, empty_state, graph, grid, notices, period_caption,
                      profile_label, staff_page)
from ..queries import current_version, exceedance_data
from ..realtime_queries import hourly_exceedance_list

PATH = "/exceedances"
NAME = "超标"
NAME_EN = "Exceedances"
TITLE = "超标 · 蓝天 Lantian"
PAGE_KEYS = ("pollutant", "basis", "district")
SCOPED = True              # honours a district-scoped account (its district only)
CHOICES = ("AQI", *POLLUTANTS)
BASES = ("limit", "target")
TABLE_COLUMNS = ["date", "area", "area_name", "pollutant", "averaging", "value", "unit",
                 "limit", "multiple", "aqi", "aqi_level", "primary_pollutant", "profile"]
#: The table's columns shown on the page (the download has all of TABLE_COLUMNS).
GRID_COLUMNS = ["date", "area_name", "pollutant", "value", "unit", "limit", "multiple", "aqi",
                "aqi_level", "primary_pollutant"]



# -- choices (page keys, validated) ------------------------------------------------------

@dataclass(frozen=True)
class Choice:
    pollutant: str                 # AQI or one of the six
    basis: str                     # limit | target (target only when a target exists)
    district: str                  # calendar area: the city id or a district id
    notices: tuple = ()            # messages about replaced URL values
    targets: tuple = ()            # ((area, value), …) annual-mean targets used (basis target)


def _annual_targets(frame: pd.DataFrame, pollutant: str, year: int) -> dict:
    """Area → annual-mean target value of ``pollutant`` applying in ``year``."""
    if frame.empty or pollutant == "AQI":
        return {}
    rows = frame[(frame["pollutant"] == pollutant) & (frame["statistic"] == "annual_mean")]
    first = pd.to_numeric(rows["first_year"], errors="coerce")
    last = pd.to_numeric(rows["last_year"], errors="coerce")
    rows = rows[(first.isna() | (first <= year)) & (last.isna() | (last >= year))]
    return {str(a): float(v) for a, v in zip(rows["area"], rows["value"])}


def choices(view, cat, targets: pd.DataFrame | None = None) -> Choice:
    """The page keys of ``view`` checked against the catalogue (unknown values fall back)."""
    lang = view.lang
    messages = []
    pollutant = view.params.get("pollutant", "AQI")
    if pollutant not in CHOICES:
        upper = {c.upper(): c for c in CHOICES}
        if pollutant.upper() in upper:
            pollutant = upper[pollutant.upper()]
        else:
            messages.append(t("exc.bad_pollutant", lang, value=pollutant[:40]))
            pollutant = "AQI"
    basis = view.params.get("basis", "limit")
    if basis not in BASES:
        messages.append(t("exc.bad_basis", lang, value=basis[:40]))
        basis = "limit"
    found = {}
    if basis == "target":
        found = _annual_targets(targets if targets is not None else pd.DataFrame(), pollutant,
                                view.end.year)
        if not found:
            if pollutant != "AQI":
                messages.append(t("exc.no_target", lang, pollutant=pollutant))
            basis = "limit"
    areas = _area_order(view, cat)
    district = view.params.get("district", areas[0] if areas else view.city)
    if district not in areas:
        messages.append(t("exc.bad_district", lang, value=district[:40]))
        district = areas[0] if areas else view.city
    return Choice(pollutant, basis, district, tuple(messages), tuple(sorted(found.items())))


def _area_order(view, cat) -> list[str]:
    """The city then its districts; a district-scoped catalogue: its district only."""
    districts = cat.city_districts(view.city)["id"].astype(str).tolist()
    return districts if cat.scope is not None else [view.city] + districts


def scoped_data(data, cat):
    """``data`` (:class:`ExceedanceData`) as the catalogue's account may see it: a
    district-scoped catalogue keeps its district's rows only (no city row, no other
    district), so nothing else is drawn, counted, cached for it or sent."""
    if cat.scope is None:
        return data
    areas = set(cat.districts["id"].astype(str))

    def mine(frame: pd.DataFrame) -> pd.DataFrame:
        if "area" not in frame:
            return frame
        keep = frame["area"].astype(str).isin(areas)
        if "level" in frame:
            keep &= frame["level"].astype(str) == "district"
        return frame[keep].reset_index(drop=True)
    return replace(data, days=mine(data.days), aqi=mine(data.aqi), rows=mine(data.rows),
                   targets=mine(data.targets),
                   grades={a: g for a, g in data.grades.items() if a in areas})


def _data(engine, view, cat):
    return scoped_data(exceedance_data(engine, view), cat)


def _row_names(view, cat) -> dict:
    names = cat.names("district", view.lang)
    names[view.city] = t("exc.city_row", view.lang)
    return names


def _table_names(view, cat) -> dict:
    names = cat.names("district", view.lang)
    names[view.city] = cat.name("city", view.city, view.lang)
    return names


def _levels(view) -> list:
    """AQI levels of the view's profile: HJ 633 unless the US EPA AQI is chosen."""
    if view.profile:
        prof = load_profile(view.profile)
        if prof.kind == "us-aqi":
            return level_rows(prof.aqi_levels)
    return AQI_LEVELS


def _titled(text: str, view, synthetic: bool) -> str:
    """A chart or table title, marked when the city's data is synthetic."""
    return f"{t('exc.synthetic', view.lang)} — {text}" if synthetic else text


def _memo(name: str, engine, view, choice: "Choice", compute, scope=None):
    """Presentation frames of this view and choice, cached by data version (warm renders
    only draw). The key holds everything they depend on (the district scope of the
    catalogue too), never the calendar's area."""
    parts = (str(engine.url), view.city, view.start.isoformat(), view.end.isoformat(),
             view.profile_arg, view.lang, choice.pollutant, choice.basis, choice.targets,
             scope)
    return cached(f"exc_{name}", current_version(engine), parts, compute)


# -- the table (and its export) ----------------------------------------------------------

def _published(values: pd.Series) -> np.ndarray:
    """Numbers as published: whole numbers as int (``154``, not ``154.0``), None for NaN."""
    x = pd.to_numeric(values).astype("float64").to_numpy()
    out = np.empty(len(x), dtype=object)
    out[:] = None
    ok = ~np.isnan(x)
    whole = ok & (x == np.round(x))
    out[whole] = x[whole].astype(np.int64)
    frac = ok & ~whole
    out[frac] = x[frac]
    return out


def table_frame(view, cat, engine) -> pd.DataFrame:
    """The exceedance days of the view (rows of ``indicators.statistics.exceedances`` for the
    city and its districts), filtered by the chosen pollutant, with the day's AQI.

    Columns ``TABLE_COLUMNS``: date (YYYY-MM-DD), area (id), area_name, pollutant,
    averaging, value (reported), unit, limit, multiple ((C − S)/S), aqi, aqi_level,
    primary_pollutant, profile. Sorted by date, area (city first), pollutant.
    Used by the page's grid and by ``/export/exceedances.csv|xlsx``.
    """
    data = _data(engine, view, cat)
    choice = choices(view, cat, data.targets)
    return _memo("table", engine, view, choice, lambda: _table(view, cat, data, choice),
                 cat.scope)


def _table(view, cat, data, choice: Choice) -> pd.DataFrame:
    lang = view.lang
    rows = data.rows
    if choice.pollutant != "AQI":
        rows = rows[rows["pollutant"] == choice.pollutant]
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in TABLE_COLUMNS})
    rows = rows.assign(level=rows["level"].astype(str), area=rows["area"].astype(str),
                       date=pd.to_datetime(rows["date"]).to_numpy("datetime64[s]"))
    aqi = data.aqi
    cat_col = "category_zh" if lang == "zh" else "category_en"
    extra = aqi[["level", "area", "date", "aqi"]].assign(
        aqi_level=aqi[cat_col].fillna("").astype(str) if cat_col in aqi else "",
        primary_pollutant=(fx.primary_labels(aqi["primary"]) if "primary" in aqi else ""))
    rows = rows.merge(extra, on=["level", "area", "date"], how="left", validate="many_to_one")
    order = {a: i for i, a in enumerate(_area_order(view, cat))}
    p_order = {p: i for i, p in enumerate(POLLUTANTS)}
    rows = rows.assign(_a=rows["area"].map(order).fillna(len(order)),
                       _p=rows["pollutant"].map(p_order)).sort_values(
        ["date", "_a", "_p"], kind="stable").reset_index(drop=True)
    names = _table_names(view, cat)
    averaging = {"24h": t("exc.avg.24h", lang), "mda8": t("exc.avg.mda8", lang)}
    out = pd.DataFrame({
        "date": rows["date"].dt.strftime("%Y-%m-%d"),
        "area": rows["area"],
        "area_name": rows["area"].map(names).fillna(rows["area"]),
        "pollutant": rows["pollutant"],
        "averaging": rows["averaging"].map(averaging).fillna(rows["averaging"]),
        "value": _published(rows["value"]),
        "unit": np.array([unit_of(p) for p in rows["pollutant"].astype(str)]),
        "limit": _published(rows["limit"]),
        "multiple": rows["multiple"].astype("float64"),
        "aqi": rows["aqi"].astype("Int64"),
        "aqi_level": rows["aqi_level"].fillna(""),
        "primary_pollutant": rows["primary_pollutant"].fillna(""),
        "profile": rows["profile"].astype(str),
    })
    return out[TABLE_COLUMNS]


register_export("exceedances", table_frame, PAGE_KEYS, scoped=True)


def _table_card(view, cat, engine, choice: Choice, synthetic: bool) -> html.Section:
    lang = view.lang
    frame = table_frame(view, cat, engine)[GRID_COLUMNS]
    what = t("exc.all", lang) if choice.pollutant == "AQI" else \
        fx.pollutant_label(choice.pollutant, lang)
    links = html.Div(className="lt-exc-export", children=[
        html.A(t("exc.export_csv", lang), href=export_url("exceedances", "csv", view),
               id=ids.EXCEEDANCES_EXPORT_CSV, className="lt-exc-button", download=""),
        html.A(t("exc.export_xlsx", lang), href=export_url("exceedances", "xlsx", view),
               id=ids.EXCEEDANCES_EXPORT_XLSX, className="lt-exc-button", download=""),
        html.Span(t("exc.export_hint", lang), className="lt-muted"),
    ])
    if frame.empty:
        content = empty_state(t("exc.table_none", lang))
    else:
        def col(field, width, numeric=False, **extra):
            spec = {"field": field, "headerName": t(f"exc.tcol.{field}", lang), "minWidth": width,
                    "flex": 1 if not numeric else 0.6, **extra}
            return {**spec, "type": "numericColumn"} if numeric else spec
        columns = [col("date", 120, sort="asc"), col("area_name", 120), col("pollutant", 100),
                   col("value", 90, True), col("unit", 80), col("limit", 80, True),
                   col("multiple", 100, True), col("aqi", 80, True),
                   col("aqi_level", 170 if lang == "en" else 120),
                   col("primary_pollutant", 150 if lang == "en" else 120)]
        content = html.Div(className="lt-exc-tablewrap", children=[
            html.P(t("exc.table_count", lang, n=len(frame), what=what), className="lt-note"),
            grid(frame, columns, id=ids.EXCEEDANCES_TABLE, lang=lang,
                 page_size=25 if len(frame) > 25 else None),
        ])
    return card(_titled(f"{t('exc.table', lang)} · {period_caption(view)}", view, synthetic),
                links, content)


# -- today's hourly exceedances (real time) ----------------------------------------------

HOURLY_COLUMNS = ["hour", "level", "area", "item", "value", "threshold", "multiple",
                  "category", "primary", "heavy"]


def _limits_text(limits: dict, lang: str) -> str:
    """"SO2 500、NO2 200、O3 200 µg/m³，CO 10 mg/m³" of the profiles' grade II 1-h limits."""
    parts = []
    for pid, values in limits.items():
        ug = [f"{p} {v:g}" for p, v in values.items() if p != "CO"]
        sep = "、" if lang == "zh" else ", "
        text = sep.join(ug) + " µg/m³" if ug else ""
        if "CO" in values:
            text += ("，" if lang == "zh" else "; ") + f"CO {values['CO']:g} mg/m³"
        if len(limits) > 1:
            text = f"{profile_label(pid, lang)}: {text}"
        parts.append(text)
    return ("；" if lang == "zh" else "; ").join(parts)


def hourly_table_frame(view, cat, data) -> pd.DataFrame:
    """The rows of :func:`dashboard.realtime_queries.hourly_exceedance_list` for the page:
    hour (its end, ``YYYY-MM-DD HH:MM``), level and area names, item, value (as
    published), threshold, multiple, category, primary, heavy (AQI above 200)."""
    from ..figures.realtime import hour_end, primary_text

    lang = view.lang
    rows = data.rows
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in HOURLY_COLUMNS})
    names = {"station": cat.names("station", lang), "district": cat.names("district", lang),
             "city": cat.names("city", lang)}
    cat_col = "category_zh" if lang == "zh" else "category_en"
    items = [t("exc.hourly.item.aqi", lang) if k == "aqi"
             else t("exc.hourly.item.limit", lang, pollutant=p)
             for k, p in zip(rows["kind"], rows["pollutant"])]
    return pd.DataFrame({
        "hour": [f"{hour_end(x):%Y-%m-%d %H:%M}" for x in rows["time"]],
        "level": [t(f"level.{lv}", lang) for lv in rows["level"]],
        "area": [names[lv].get(a, a) + (f" {a}" if lv == "station" else "")
                 for lv, a in zip(rows["level"], rows["area"])],
        "item": items,
        "value": _published(rows["value"]),
        "threshold": _published(rows["threshold"]),
        "multiple": rows["multiple"].astype("float64"),
        "category": rows[cat_col].fillna("").astype(str),
        "primary": [primary_text(p) for p in rows["primary"]],
        "heavy": rows["heavy"].astype(bool),
    })[HOURLY_COLUMNS]


def scoped_hours(data, cat):
    """The hourly list as the catalogue's account may see it: a district-scoped one keeps
    its district's row and its stations' rows (no city, no other district)."""
    if cat.scope is None or data.rows.empty:
        return data
    rows = data.rows
    level, area = rows["level"].astype(str), rows["area"].astype(str)
    keep = ((level == "district") & area.isin(set(cat.districts["id"].astype(str)))) | \
        ((level == "station") & area.isin(set(cat.stations["code"].astype(str))))
    return replace(data, rows=rows[keep].reset_index(drop=True))


def hourly_card(view, cat, engine, synthetic: bool) -> html.Section:
    """Today's (the period's last day's) hourly exceedances: 1-h limits and AQI > 100."""
    from ..figures.realtime import hour_end

    lang = view.lang
    until = pd.Timestamp(view.end) + pd.Timedelta(hours=23)
    data = scoped_hours(hourly_exceedance_list(engine, view.city, until=until), cat)
    if data.hour is None or data.day != view.end:
        return card(_titled(t("exc.hourly.title", lang, day=view.end.isoformat(), label="—"),
                            view, synthetic), empty_state(t("exc.hourly.no_data", lang)),
                    id=ids.EXCEEDANCES_HOURLY)
    title = _titled(t("exc.hourly.title", lang, day=data.day.isoformat(),
                      label=f"{hour_end(data.hour):%Y-%m-%d %H:%M}"), view, synthetic)
    rule = html.P(t("exc.hourly.rule", lang, limits=_limits_text(data.limits, lang))
                  + (t("exc.hourly.scoped", lang) if cat.scope is not None else ""),
                  className="lt-note")
    frame = hourly_table_frame(view, cat, data)
    if frame.empty:
        return card(title, rule, empty_state(t("exc.hourly.none", lang, hours=data.hours)),
                    id=ids.EXCEEDANCES_HOURLY)
    rows = data.rows
    station = rows["level"] == "station"
    aqi_rows = station & (rows["kind"] == "aqi")
    counts = html.P(t("exc.hourly.counts", lang, n100=int(aqi_rows.sum()),
                      n200=int((aqi_rows & rows["heavy"]).sum()),
                      nlim=int((station & (rows["kind"] == "limit")).sum())),
                    className="lt-exc-hourly-counts")

    def col(field, width, numeric=False, **extra):
        spec = {"field": field, "headerName": t(f"exc.hourly.col.{field}", lang),
                "minWidth": width, "flex": 1 if not numeric else 0.6, **extra}
        return {**spec, "type": "numericColumn"} if numeric else spec
    heavy = {"lt-exc-hourly-heavy": "params.data.heavy"}
    columns = [col("hour", 140), col("level", 70), col("area", 140), col("item", 120),
               col("value", 80, True, cellClassRules=heavy), col("threshold", 90, True),
               col("multiple", 90, True), col("category", 110), col("primary", 110)]
    table = grid(frame, columns, id=ids.EXCEEDANCES_HOURLY_TABLE, lang=lang,
                 page_size=20 if len(frame) > 20 else None)
    return card(title, rule, counts, html.Div(table, className="lt-exc-tablewrap"),
                id=ids.EXCEEDANCES_HOURLY)


# -- summary ---------------------------------------------------------------------------

def good_aqi_max(data) -> np.ndarray:
    """The highest AQI of a good day for each row of ``data.aqi``, from the AQI's profile:
    the day's profile when it has an AQI of its own (HJ 633, US EPA), else the Chinese one
    in force on the date (a guideline brings limits only, standards.md §8)."""
    dates = pd.to_datetime(data.aqi["date"])
    if dates.empty:
        return np.array([], dtype="float64")
    by_date = data.days.drop_duplicates("date").set_index("date")["profile"] \
        if len(data.days) else pd.Series(dtype=object)
    unique = pd.DatetimeIndex(dates.unique())
    day_profile = by_date.reindex(unique).astype(object).to_numpy()
    in_force = load_schedule().in_force(unique.to_numpy("datetime64[D]"))
    value = {}
    for day, pid, fallback in zip(unique, day_profile, in_force):
        prof = load_profile(pid) if isinstance(pid, str) and pid else None
        value[day] = (prof if prof is not None and prof.has_aqi
                      else load_profile(str(fallback))).good_aqi_max
    return dates.map(value).to_numpy("float64")


def summary_frame(data, order: list) -> pd.DataFrame:
    """Per area (rows in ``order``): days with any exceedance (``AQI``), exceedance days per
    pollutant, days that are not good (``aqi100``: AQI above :func:`good_aqi_max`, 100 under
    HJ 633) and days with a valid AQI (``valid``) — counts of the rows of ``exceedances``
    and of the daily AQI frame."""
    rows = data.rows
    cols = ["AQI", *POLLUTANTS, "aqi100", "valid"]
    out = pd.DataFrame(0, index=pd.Index(order, name="area"), columns=cols, dtype="int64")
    if len(rows):
        area = rows["area"].astype(str)
        counts = rows.groupby([area, rows["pollutant"].astype(str)]).size().unstack(fill_value=0)
        counts = counts.reindex(index=order, columns=list(POLLUTANTS), fill_value=0)
        out[list(POLLUTANTS)] = counts.to_numpy()
        out["AQI"] = rows["date"].groupby(area).nunique().reindex(order, fill_value=0).to_numpy()
    if len(data.aqi):
        aqi = pd.to_numeric(data.aqi["aqi"]).astype("float64")
        area = data.aqi["area"].astype(str)
        out["valid"] = aqi.notna().groupby(area).sum().reindex(order, fill_value=0).to_numpy()
        not_good = aqi.to_numpy() > good_aqi_max(data)
        out["aqi100"] = pd.Series(not_good, index=aqi.index).groupby(area).sum().reindex(
            order, fill_value=0).to_numpy()
    return out


def _summary_card(view, cat, counts: pd.DataFrame, choice: Choice, names: dict,
                  synthetic: bool) -> html.Section:
    lang = view.lang
    hl = choice.pollutant

    def th(label, key=None):
        return html.Th(label, className="lt-num" + (" lt-exc-hl" if key == hl else ""))

    def num(value, key=None, strong=False):
        value = int(value)
        cls = "lt-num" + (" lt-exc-hl" if key == hl else "") + \
            (" lt-exc-zero" if value == 0 else (" lt-exc-pos" if strong else ""))
        return html.Td(str(value), className=cls)

    head = html.Tr([html.Th(t("exc.col.area", lang)), th(t("exc.col.any", lang), "AQI"),
                    *[th("O3 (8h)" if p == "O3" else p, p) for p in POLLUTANTS],
                    th(t("exc.col.aqi100", lang)), th(t("exc.col.valid", lang))])
    body = []
    for area, row in counts.iterrows():      # one row per area (≤ a few dozen)
        href = get_relative_path(PATH) + view.search(district=area if area != view.city else None)
        link = dcc.Link(names.get(area, area), href=href,
                        className="lt-exc-area" + (" lt-exc-current" if area == choice.district
                                                   else ""))
        cells = [html.Td(link), num(row["AQI"], "AQI", True)]
        cells += [num(row[p], p, True) for p in POLLUTANTS]
        cells += [num(row["aqi100"]), num(row["valid"])]
        body.append(html.Tr(cells, className="lt-exc-city" if area == view.city else None))
    table = html.Div(className="lt-table-wrap", children=html.Table(
        className="lt-table lt-exc-summary", children=[html.Thead(head), html.Tbody(body)]))
    return card(_titled(f"{t('exc.summary', lang)} · {period_caption(view)}", view, synthetic),
                table, html.P(t("exc.summary_hint", lang), className="lt-note"),
                id=ids.EXCEEDANCES_SUMMARY)


# -- the page ------------------------------------------------------------------------------

def _controls(view, cat) -> list:
    lang = view.lang
    choice = choices(view, cat)
    options = [{"label": t("exc.all", lang) if c == "AQI" else fx.pollutant_label(c, lang),
                "value": c} for c in CHOICES]
    out = [dropdown("pollutant", options, choice.pollutant, t("exc.ctl.pollutant", lang),
                    width=190)]
    # the basis choice only where a local annual target exists for the pollutant
    if choice.pollutant != "AQI" and view.city in cat.spans:
        from sqlalchemy.exc import SQLAlchemyError

        from ..context import current_engine
        try:
            targets = _data(current_engine(), view, cat).targets
        except SQLAlchemyError:         # the page body reports the database error
            targets = pd.DataFrame()
        if _annual_targets(targets, choice.pollutant, view.end.year):
            basis = view.params.get("basis", "limit")
            out.append(dropdown("basis", [{"label": t(f"exc.basis.{b}", lang), "value": b}
                                          for b in BASES],
                                basis if basis in BASES else "limit",
                                t("exc.ctl.basis", lang), width=220))
    return out


def layout(**query) -> html.Div:
    return staff_page(page="exceedances", title=(t("exc.title"), t("exc.title", "en")),
                      subtitle=(t("exc.subtitle"), t("exc.subtitle", "en")), query=query,
                      body=body, path=PATH, page_keys=PAGE_KEYS, extra_controls=_controls)


def _rule_note(view, choice: Choice) -> html.Div:
    lang = view.lang
    lines = [t("exc.rule", lang)]
    if view.profile and _levels(view) is not AQI_LEVELS:
        lines.append(t("exc.rule.us", lang))
    elif view.profile:
        lines.append(t("exc.rule.forced", lang, profile=profile_label(view.profile, lang)))
    else:
        lines.append(t("exc.rule.auto", lang))
    children = [html.P(" ".join(lines))]
    if choice.basis == "target":
        children.append(html.P(t("exc.target_note", lang), className="lt-exc-target-note"))
    return html.Div(id=ids.EXCEEDANCES_NOTE, className="lt-note lt-exc-note", children=children)


def _cells(view, cat, data, choice: Choice) -> pd.DataFrame | None:
    """Grid cells of every area (None: the standard has no daily limit for the pollutant)."""
    if choice.pollutant == "AQI":
        return fx.aqi_cells(data.aqi, data.days, view.lang, _levels(view))
    mine = data.days[data.days["pollutant"] == choice.pollutant]
    if mine.empty or mine["limit"].isna().all():
        return None
    targets = dict(choice.targets) if choice.basis == "target" else None
    return fx.pollutant_cells(data.days, data.aqi, choice.pollutant, view.lang, targets)


def body(view, cat, engine) -> list:
    lang = view.lang
    data = _data(engine, view, cat)
    choice = choices(view, cat, data.targets)
    out: list = []
    if choice.notices:
        out.append(notices(choice.notices, id=ids.EXCEEDANCES_NOTICES))
    if data.empty:
        return out + [empty_state(t("exc.no_data", lang))]
    synthetic = cat.is_synthetic(view.city)
    out.append(hourly_card(view, cat, engine, synthetic))
    out.append(_rule_note(view, choice))
    row_names = _row_names(view, cat)
    order = _area_order(view, cat)
    counts = _memo("summary", engine, view, choice, lambda: summary_frame(data, order),
                   cat.scope)
    out.append(_summary_card(view, cat, counts, choice, _table_names(view, cat), synthetic))
    caption = period_caption(view)
    if choice.pollutant == "AQI":
        legend = fx.aqi_state_legend(_levels(view), lang)
        grid_title = t("exc.grid.aqi", lang)
    else:
        legend = fx.pollutant_state_legend(lang, target=choice.basis == "target")
        grid_title = t("exc.grid.pollutant", lang,
                       pollutant=fx.pollutant_label(choice.pollutant, lang))
    cells = _memo("cells", engine, view, choice, lambda: _cells(view, cat, data, choice),
                  cat.scope)
    if cells is None:
        message = empty_state(t("exc.no_limit", lang, pollutant=choice.pollutant))
        out.append(card(_titled(f"{grid_title} · {caption}", view, synthetic), message,
                        id=ids.EXCEEDANCES_GRID))
    else:
        fig = fx.day_grid(cells, order, row_names, view.start, view.end, legend=legend,
                          title=_titled(f"{grid_title} · {caption}", view, synthetic), lang=lang)
        out.append(card(None, graph(fig, id=ids.EXCEEDANCES_GRID,
                                    height=int(fig.layout.height))))
        out.append(_calendar_card(view, cat, cells, choice, legend, row_names, synthetic))
    out.append(_table_card(view, cat, engine, choice, synthetic))
    return out


def _calendar_card(view, cat, cells: pd.DataFrame, choice: Choice, legend, names,
                   synthetic: bool) -> html.Section:
    lang = view.lang
    options = [{"label": names.get(a, a), "value": a} for a in _area_order(view, cat)]
    control = dropdown("district", options, choice.district, t("exc.ctl.district", lang),
                       width=200)
    mine = cells[cells["area"] == choice.district]
    area = names.get(choice.district, choice.district)
    if choice.district == view.city:
        area = cat.name("city", view.city, lang)
    if choice.pollutant == "AQI":
        what = t("exc.calendar.aqi", lang)
        fig = fx.calendar(mine, view.start, view.end, mode="aqi", legend=legend, lang=lang,
                          title=_titled(f"{t('exc.calendar', lang, area=area)} · {what}",
                                        view, synthetic))
    else:
        what = f"{fx.pollutant_label(choice.pollutant, lang)} {t('exc.calendar.ratio', lang)}"
        fig = fx.calendar(mine, view.start, view.end, mode="ratio", lang=lang,
                          ratio_title=t("exc.ratio_bar", lang),
                          title=_titled(f"{t('exc.calendar', lang, area=area)} · {what}",
                                        view, synthetic))
    return card(None, html.Div(className="lt-exc-calctl", children=control),
                graph(fig, id=ids.EXCEEDANCES_CALENDAR, height=int(fig.layout.height)))

"""ScopeReport → subject, plain text and HTML (Jinja2 templates, CSS inlined with css-inline).

The templates (``reports/templates/``) receive preformatted strings only: every
number is formatted here, with the published decimals (concentrations as
integers, CO to 0.1 mg/m³, multiples to 0.01).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import css_inline
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from evaluation.objectives import NO_DATA
from indicators.targets import (AT_RISK, EXCEEDED, INSUFFICIENT, MET, NO_LIMIT, NOT_MET,
                                ON_TRACK, REFERENCE, RUNNING, status_text)

from . import texts
from .charts import Chart
from .data import CITY_SCOPE, ScopeReport
from .weeks import CST

TEMPLATES = Path(__file__).resolve().parent / "templates"
SYNTHETIC_TAG = "SYNTHETIC DEMO DATA 合成演示数据"
#: colour of each status word (indicators.targets.judge)
OUTLOOK_COLOUR = {MET: "#1a7f37", ON_TRACK: "#1a7f37", AT_RISK: "#b35900", NOT_MET: "#b00020",
                  EXCEEDED: "#b00020", INSUFFICIENT: "#666666", REFERENCE: "#666666",
                  NO_LIMIT: "#666666", NO_DATA: "#666666"}
#: objective statuses that need attention, worst first (listed one line each)
OBJECTIVE_ATTENTION = (NOT_MET, EXCEEDED, AT_RISK, INSUFFICIENT, NO_DATA)
#: the order of the objective counts ("19 项目标：达标进度正常 12，有超标风险 4，无数据 3")
OBJECTIVE_COUNT_ORDER = (MET, ON_TRACK, AT_RISK, EXCEEDED, NOT_MET, INSUFFICIENT, NO_DATA)


@dataclass
class Rendered:
    subject: str
    text: str
    html: str            # CSS inlined; images as cid:
    charts: list[Chart]

    def preview_html(self, names: dict[str, str]) -> str:
        """The HTML with each ``cid:`` replaced by a file name (for review in a browser)."""
        html = self.html
        for chart in self.charts:
            html = html.replace(f"cid:{chart.cid}", names[chart.cid])
        return html


_env: Environment | None = None


def environment() -> Environment:
    global _env
    if _env is None:
        _env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                           autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
                           trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    return _env


def _decimals(pollutant: str) -> int:
    return 1 if pollutant == "CO" else 0


def _value(value, pollutant: str, unit: bool = True) -> str:
    if value is None or pd.isna(value):
        return "—"
    text = texts.number(float(value), _decimals(pollutant))
    return f"{text} {texts.UNIT.get(pollutant, '')}".strip() if unit else text


def _dates(days, lang: str) -> str:
    sep = "、" if lang == "zh" else ", "
    return sep.join(texts.day_label(d, lang, weekday=False) for d in days)


def context(report: ScopeReport, lang: str, charts: list[Chart],
            generated: datetime | None = None) -> dict:
    """Everything the templates show, as strings."""
    t = lambda key, **kw: texts.t(key, lang, **kw)  # noqa: E731
    area, city, week = report.area, report.city, report.week
    is_city = report.scope == CITY_SCOPE
    title_area = city.name(lang) if is_city else (
        f"{city.name_zh}{area.name_zh}" if lang == "zh" else f"{area.name_en}, {city.name_en}")
    week_range = t("week_range", start=texts.full_date(week.start, lang),
                   end=texts.full_date(week.end, lang))
    if report.exceedance_days:
        summary = t("summary_exc", n=report.exceedance_days,
                    days=texts.days(report.exceedance_days, lang),
                    main=texts.pollutant(report.main_pollutant, lang))
    else:
        summary = t("summary_none")
    summary_extra = ""
    if report.unevaluated_days:
        summary_extra = t("summary_unevaluated", n=report.unevaluated_days,
                          days=texts.days(report.unevaluated_days, lang))

    exceedances = []
    for r in report.exceedances.itertuples(index=False):
        p = "O3_MDA8" if r.pollutant == "O3" else r.pollutant
        exceedances.append({
            "date": texts.day_label(r.date.date(), lang),
            "pollutant": texts.pollutant(p, lang),
            "value": _value(r.value, r.pollutant), "limit": _value(r.limit, r.pollutant),
            "multiple": f"{r.multiple:.2f}",
            "aqi": "—" if pd.isna(r.aqi) else
            f"{int(r.aqi)} {r.category_zh if lang == 'zh' else r.category_en}",
            "colour": "#ffffff" if pd.isna(r.aqi) else str(r.colour),
            "dark": (not pd.isna(r.aqi)) and int(r.aqi) > 150})
    grade = area.grade
    profiles = ", ".join(report.profiles)

    standing = []
    for r in report.standing.itertuples(index=False):
        standing.append(_standing_row(r, lang, t))

    rank_line = ""
    if report.rank is not None:
        rk = report.rank
        if rk["rank"] is not None:
            n = rk["n_ranked"]
            if rk.get("provisional"):
                # ranked with the others although its index fails a capture rule
                # (standards.md §7): "rank 3 of 8 (provisional: …)"
                rank_line = t("rank_line_prov", value=f"{rk['reported']:.2f}", rank=rk["rank"],
                              n=n, reason=_reason(rk["reason"], lang, prefix=False))
            else:
                rank_line = t("rank_line", value=f"{rk['reported']:.2f}", rank=rk["rank"], n=n)
            if rk["n_areas"] > n:
                rank_line += (f" 另有 {rk['n_areas'] - n} 个区县因数据不足未排名。" if lang == "zh"
                              else f" {rk['n_areas'] - n} more districts are not ranked "
                              "(insufficient data).")
        else:
            rank_line = t("rank_none", reason=_reason(rk["reason"], lang))
    overview = []
    if report.overview is not None:
        for r in report.overview.itertuples(index=False):
            overview.append({
                "name": r.name_zh if lang == "zh" else r.name_en,
                "exceedance_days": str(r.exceedance_days),
                "main": "—" if r.main_pollutant is None or pd.isna(r.main_pollutant)
                else texts.pollutant(
                    "O3_MDA8" if r.main_pollutant == "O3" else r.main_pollutant, lang),
                "composite": "—" if r.composite is None or pd.isna(r.composite)
                else f"{r.composite:.2f}",
                "rank": t("insufficient") if r.rank is None or pd.isna(r.rank)
                else str(int(r.rank)),
                "prov": t("rank_prov") if getattr(r, "provisional", False) else "",
                "outlook": "—" if r.outlook is None else status_text(r.outlook, lang),
                "outlook_colour": OUTLOOK_COLOUR.get(r.outlook, "#333")})

    # the city summary: a note when some district's rank is provisional
    rank_note = t("rank_prov_note") if report.overview is not None and len(report.overview) \
        and "provisional" in report.overview and report.overview["provisional"].any() else ""

    caveats = []
    cav = report.caveats
    if len(cav):
        # one line per area and set of days: "SO₂、NO₂ …" rather than one line per pollutant
        cav = cav.assign(_days=[tuple(d) for d in cav["dates"]])
        for (level, area_id, days), rows in cav.groupby(["level", "area", "_days"], sort=False):
            first = rows.iloc[0]
            level_word = t("station") if level == "station" else ""
            name = first["name_zh"] if lang == "zh" else first["name_en"]
            where = (f"{name}{level_word}" if lang == "zh" else
                     (f"station {name}" if level == "station" else name))
            quantities = list(rows["quantity"])
            if len(quantities) == 7:
                what = t("all_quantities")
            else:
                what = ("、" if lang == "zh" else ", ").join(
                    texts.pollutant(q, lang) for q in quantities)
            caveats.append(t("caveat_line", where=where, n=len(days),
                             days=texts.days(len(days), lang), pollutant=what,
                             dates=_dates(days, lang)))

    generated = generated or datetime.now(CST)
    synthetic = report.synthetic
    subject_core = (f"{title_area}{t('subject_city') if is_city and lang == 'zh' else t('subject')}"
                    f" {week.label}" if lang == "zh" else
                    f"{title_area} {t('subject_city') if is_city else t('subject')} {week.label}")
    subject_tail = (f"：超标 {report.exceedance_days} 天" if lang == "zh" else
                    f": {report.exceedance_days} exceedance "
                    f"{texts.days(report.exceedance_days, lang)}")
    subject = (f"[{SYNTHETIC_TAG}] " if synthetic else "") + subject_core + subject_tail
    return {
        "lang": lang, "t": t, "synthetic": synthetic, "synthetic_tag": SYNTHETIC_TAG,
        "title": (f"{title_area}{t('subject_city') if is_city else t('subject')}" if lang == "zh"
                  else f"{title_area}: {t('subject_city') if is_city else t('subject')}"),
        "week_label": week.label, "week_range": week_range, "summary": summary,
        "summary_extra": summary_extra, "exceedances": exceedances,
        "exc_basis": t("exc_basis", grade=grade, profiles=profiles),
        # a week ending on 31 December closes the year: judged (met / not met), not a year to date
        "ytd_title": t("year_title" if (report.ytd_end.month, report.ytd_end.day) == (12, 31)
                       else "ytd_title", year=report.ytd_end.year,
                       start=texts.full_date(report.ytd_start, lang),
                       end=texts.full_date(report.ytd_end, lang)),
        "ytd_basis": t("ytd_basis", grade=grade), "standing": standing,
        "rank_line": rank_line, "rank_note": rank_note, "overview": overview, "is_city": is_city, "caveats": caveats,
        "objectives": objectives_section(report, lang),
        "charts": {c.name: c for c in charts},
        "footer": t("footer", generated=generated.strftime("%Y-%m-%d %H:%M") + " CST"),
        "subject": subject,
    }


def _objective_number(value, unit: str, lang: str, signed: bool = False) -> str:
    """An objective's value or target with its unit: ``28 µg/m³``, ``69.4%``, ``+2 个百分点``."""
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    text = "0" if text == "-0" else text
    if signed and float(value) > 0:
        text = "+" + text
    word = texts.objective_unit(unit if isinstance(unit, str) else "", lang, float(value))
    return text if not word else (f"{text}{word}" if word == "%" else f"{text} {word}")


def _objective_line(r, lang: str, running: bool, previous_reason: str = "") -> str:
    """One objective needing attention: what it is, its value and target, and what the rest
    of the year must achieve (the evaluation's reason; why there is no judgement said
    "as above" when it repeats the previous line's, as for a run of peer-group ranks
    lacking the same data)."""
    t = lambda key, **kw: texts.t(key, lang, **kw)  # noqa: E731
    zh = lang == "zh"
    value = target = ""
    if r.kind == "rank" and pd.notna(r.value):
        # a place in a peer group: "第 148 名（目标 第 142 名或更前）"
        value = t("obj_place", place=int(r.value))
        if pd.notna(r.target):
            target = t("obj_place_target", place=int(r.target))
    elif pd.notna(r.value):
        number = _objective_number(r.value, r.unit, lang, signed=r.kind == "change")
        value = t("obj_change" if r.kind == "change" else
                  "obj_so_far" if running else "obj_year", value=number)
    if r.kind != "rank" and pd.notna(r.target):
        op = getattr(r, "op", "") or ""
        target = t("obj_target", target=f"{op}{'' if zh or not op else ' '}"
                   f"{_objective_number(r.target, r.unit, lang)}")
    what = (f"{value}（{target}）" if zh else f"{value} ({target})") if value and target \
        else value or target
    reason = r.reason_zh if zh else r.reason
    reason = reason if isinstance(reason, str) else ""
    if reason and reason == previous_reason and r.status in (INSUFFICIENT, NO_DATA):
        reason = t("obj_as_above")
    line = r.text_zh if zh else r.text_en
    if what:
        line += ("：" if zh else ": ") + what
    if reason:
        line += (("；" if zh else "; ") if what else ("：" if zh else ": ")) + reason
    return line


def objectives_section(report: ScopeReport, lang: str) -> dict | None:
    """The objectives section (None: the city has no plan, the section is left out):
    counts per status, then one line per objective needing attention (a district's own
    first, then the city's), then where the full list is."""
    table = report.objectives
    if table is None or table.empty:
        return None
    t = lambda key, **kw: texts.t(key, lang, **kw)  # noqa: E731
    zh = lang == "zh"
    is_city = report.scope == CITY_SCOPE
    running = str(table["period_kind"].iloc[0]) == RUNNING
    year = report.ytd_end.year
    period = (t("obj_period_ytd", year=year, end=texts.full_date(report.ytd_end, lang))
              if running else t("obj_period_year", year=year))

    def count(n: int) -> str:
        return f"{n} {t('obj_objective' if n == 1 else 'obj_objectives')}"

    scope_note = ""
    if not is_city:
        n_own = int((table["scope"] == report.scope).sum())
        n_city = len(table) - n_own
        scope_note = t("obj_scope_district", district=report.area.name(lang), n_own=n_own,
                       n_city=n_city, own=count(n_own), city=count(n_city))
    statuses = table["status"].astype(str)
    tally = statuses.value_counts()
    order = list(OBJECTIVE_COUNT_ORDER) + sorted(set(tally.index) - set(OBJECTIVE_COUNT_ORDER))
    parts = ("，" if zh else ", ").join(f"{texts.objective_status(s, lang)} {int(tally[s])}"
                                       for s in order if s in tally.index)
    counts = t("obj_counts", n=len(table), objectives=t(
        "obj_objective" if len(table) == 1 else "obj_objectives"), parts=parts)
    need = table[statuses.isin(OBJECTIVE_ATTENTION)]
    first = CITY_SCOPE if is_city else report.scope
    need = need.assign(_s=(need["scope"] != first).astype(int),
                       _w=need["status"].map(OBJECTIVE_ATTENTION.index),
                       _o=range(len(need))).sort_values(["_s", "_w", "_o"])
    lines, previous = [], ""
    for r in need.itertuples(index=False):
        lines.append({"status": texts.objective_status(str(r.status), lang),
                      "colour": OUTLOOK_COLOUR.get(str(r.status), "#333"),
                      "line": _objective_line(r, lang, running, previous)})
        previous = (r.reason_zh if zh else r.reason) if r.status in (INSUFFICIENT,
                                                                     NO_DATA) else ""
    note = period + (("" if zh else " ") + scope_note if scope_note else "")
    return {"note": note, "counts": counts, "lines": lines}


_MONTH_RULE = re.compile(r"(\d{4})-(\d{2})(?: \(days 1–(\d+)\))?: (\d+) valid days?, needs (\d+)")
_MONTHS_NONE = re.compile(r"(\d{4})-(\d{2}) to (\d{4})-(\d{2}): no valid days")
_TOTAL_RULE = re.compile(r"^(\d+) valid days?, needs (\d+)$")
_INVALID = re.compile(r"invalid (\S+) (\w+) \((.*?)\)(?:; (?=invalid )|$)")


def _standing_row(r, lang: str, t) -> dict:
    """One row of the year-to-date table: value, capture, target (with the stricter national
    limit when that decides), status (``verdict``, :func:`indicators.targets.judge`), margin
    against the deciding figure, and what the rest of the year must average."""
    p = r.pollutant
    status = str(r.verdict) if isinstance(r.verdict, str) and r.verdict else INSUFFICIENT
    judged = status not in (INSUFFICIENT, REFERENCE, NO_LIMIT)
    rest = r.needed_zh if lang == "zh" else r.needed_en
    if not isinstance(rest, str) or not rest:
        rest = ""
    target = _value(r.target, p)
    if r.basis == "national":
        target += f" ({t('basis_national')})"
    elif r.binding_basis == "national":
        target += f" ({t('binding_national', limit=_value(r.national_limit, p, unit=False))})"
        if judged and r.verdict_target != r.verdict_national:
            each = t("each_status", st_target=status_text(r.verdict_target, lang),
                     st_limit=status_text(r.verdict_national, lang))
            rest = f"{rest}{'；' if lang == 'zh' else '; '}{each}" if rest else each
    margin = ""
    if judged and not pd.isna(r.margin):
        margin = "0" if r.margin == 0 else (("+" if r.margin > 0 else "")
                                           + _value(r.margin, p, unit=False))
    capture = "" if pd.isna(r.n_valid) else f"{int(r.n_valid)} / {int(r.n_required)}"
    note = "" if bool(r.valid) else capture_note(r.detail, lang)
    return {"pollutant": texts.pollutant(p, lang), "statistic": texts.statistic(r.statistic, lang),
            "value": _value(r.reported, p), "capture": capture, "capture_note": note,
            "target": target, "margin": margin, "outlook": status_text(status, lang),
            "outlook_colour": OUTLOOK_COLOUR.get(status, "#333"), "rest": rest}


def capture_note(detail, lang: str) -> str:
    """Why a year-to-date statistic is not valid, from the indicators' ``detail`` (English),
    without the ``provisional: …`` prefix; Chinese for the known rule texts."""
    if not isinstance(detail, str) or not detail:
        return ""
    parts = [p.strip() for p in detail.split(";")]
    parts = [p for p in parts if p and not p.startswith("provisional")]
    if lang == "en":
        return "; ".join(parts)
    out = []
    for p in parts:
        m, n, t = _MONTH_RULE.fullmatch(p), _MONTHS_NONE.fullmatch(p), _TOTAL_RULE.fullmatch(p)
        if m:
            y, mo, upto, got, need = m.groups()
            span = f"{int(y)}年{int(mo)}月" + (f"（1–{upto}日）" if upto else "")
            out.append(f"{span}有效 {got} 天，需 {need} 天")
        elif n:
            out.append(f"{int(n.group(1))}年{int(n.group(2))}月至{int(n.group(3))}年"
                       f"{int(n.group(4))}月无有效天")
        elif t:
            out.append(f"有效 {t.group(1)} 天，需 {t.group(2)} 天")
        else:
            out.append(p)
    return "；".join(out)


def _reason(reason: str, lang: str, prefix: bool = True) -> str:
    """The ranking's reason (the composite index's inputs that are not valid), shortened;
    ``prefix``: led by "insufficient data" (an unranked area; a provisional rank says
    "provisional" itself)."""
    found = _INVALID.findall(reason or "")
    if not found:
        if not prefix:
            return capture_note(reason, lang) or texts.t("insufficient", lang)
        return texts.t("insufficient", lang) + (f" ({reason})" if reason and lang == "en" else "")
    pollutant, statistic, detail = found[0]
    more = len(found) - 1
    head = f"{texts.pollutant(pollutant, lang)} {texts.statistic(statistic, lang)}"
    note = capture_note(detail, lang)
    if lang == "zh":
        text = (f"{texts.t('insufficient', lang)}：" if prefix else "") + f"{head}（{note}）"
        return text + (f"等 {more + 1} 项" if more else "")
    text = (f"{texts.t('insufficient', lang)}: " if prefix else "") + f"{head} ({note})"
    return text + (f" and {more} more" if more else "")


def render(report: ScopeReport, lang: str, charts: list[Chart],
           generated: datetime | None = None) -> Rendered:
    ctx = context(report, lang, charts, generated)
    env = environment()
    html = env.get_template("weekly.html.j2").render(**ctx)
    html = css_inline.inline(html)
    text = env.get_template("weekly.txt.j2").render(**ctx)
    return Rendered(subject=ctx["subject"], text=text, html=html, charts=charts)

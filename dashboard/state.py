"""What the user is looking at, read from and written back to the URL.

Every staff page takes its state from the query string (``?city=beijing&
period=month&year=2015&month=3&lang=en``), so a view can be shared by copying
the address. :func:`resolve` turns the raw (untrusted) query parameters into a
:class:`View` whose every field is valid for the loaded data: unknown cities,
years without data, malformed dates fall back to defaults, and each fallback
is reported in ``View.notices`` for the page to show. Nothing from the URL
reaches SQL unvalidated.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from urllib.parse import urlencode

from config.standards import selectable_profiles

from .i18n import normalize_lang

PERIODS = ("year", "ytd", "month", "range")
#: Shared between pages (carried by the navigation links); the rest is page-specific.
SHARED_KEYS = ("city", "period", "year", "month", "from", "to", "profile", "lang")
MAX_RANGE_DAYS = 366


def profile_choices() -> tuple[str, ...]:
    """The profiles a view may force, in menu order: "" (the Chinese profile in force on
    each date), then every profile whose YAML sets ``display.menu``."""
    return ("", *selectable_profiles())


def __getattr__(name: str):
    # PROFILES is read from the profile files at each access (a new YAML needs no code)
    if name == "PROFILES":
        return profile_choices()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class View:
    city: str
    period: str                    # year | ytd | month | range
    year: int
    month: int                     # 1-12 (used by period == "month")
    start: date                    # first day shown
    end: date                      # last day shown (never after the data's last day)
    profile: str = ""              # "" = in force by date
    lang: str = "zh"
    params: dict = field(default_factory=dict)   # page-specific, validated by the page
    notices: tuple = ()            # (zh, en) messages about values that were replaced

    # -- the statistics period ------------------------------------------
    @property
    def stats_period(self) -> str:
        """The period of the statistics: year, month or ytd (HJ 663), or range.

        A custom range is not an HJ 663 period: its statistics are those of exactly its
        days, marked provisional and never judged against an annual limit.
        """
        return {"year": "year", "month": "month", "range": "range"}.get(self.period, "ytd")

    @property
    def stats_end(self) -> date:
        """Last day of the statistics period (the view's end for ytd and range)."""
        return self.end

    @property
    def stats_label(self) -> str:
        """The statistics frame's ``period`` label of this view."""
        if self.stats_period == "year":
            return str(self.year)
        if self.stats_period == "month":
            return f"{self.year}-{self.month:02d}"
        if self.stats_period == "range":
            return f"{self.start}..{self.end}"
        return f"{self.end.year}-YTD-{self.end:%m-%d}"

    @property
    def profile_arg(self) -> str | None:
        return self.profile or None

    def previous_year(self) -> "View":
        """The same period one year earlier (for change rates)."""
        def back(d: date) -> date:
            return d.replace(year=d.year - 1) if not (d.month == 2 and d.day == 29) \
                else date(d.year - 1, 2, 28)
        return replace(self, year=self.year - 1, start=back(self.start), end=back(self.end),
                       notices=())

    # -- the URL ----------------------------------------------------------
    def query(self, **overrides) -> dict:
        q = {"city": self.city, "period": self.period, "year": str(self.year)}
        if self.period == "month":
            q["month"] = str(self.month)
        if self.period == "range":
            q["from"], q["to"] = self.start.isoformat(), self.end.isoformat()
        if self.profile:
            q["profile"] = self.profile
        if self.lang != "zh":
            q["lang"] = self.lang
        q.update({k: str(v) for k, v in self.params.items() if v not in (None, "")})
        for k, v in overrides.items():
            if v is None or v == "":
                q.pop(k, None)
            else:
                q[k] = str(v)
        return q

    def search(self, **overrides) -> str:
        return "?" + urlencode(self.query(**overrides))

    def shared_search(self, **overrides) -> str:
        """The query string of the state every page shares (for navigation links)."""
        q = {k: v for k, v in self.query(**overrides).items() if k in SHARED_KEYS}
        return "?" + urlencode(q)


def _int(value, lo: int, hi: int) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if lo <= number <= hi else None


def _date(value) -> date | None:
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except (TypeError, ValueError):
        return None


def month_bounds(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def default_period_of(first: date, last: date, today: date) -> tuple[str, int]:
    """(period, year) shown when the URL names none.

    Live data (the last day within a month of today): this year to date.
    An archive that stopped earlier: its latest complete calendar year, if it
    holds one, because a few weeks of a year are a poor first view.
    """
    if (today - last).days <= 31:
        return ("ytd" if last < date(last.year, 12, 31) else "year"), last.year
    if last == date(last.year, 12, 31):
        return "year", last.year
    if first <= date(last.year - 1, 1, 1):
        return "year", last.year - 1
    return "ytd", last.year


def resolve(query: dict, cities: list[str], spans: dict[str, tuple[date, date]],
            default_city: str | None = None, page_keys: tuple = ()) -> View:
    """A valid :class:`View` for the raw query parameters.

    Parameters
    ----------
    query : dict
        Raw query parameters (strings from the URL).
    cities : list of str
        City ids the user may choose (in display order).
    spans : dict
        City id → (first day, last day) with hourly data; cities without data
        are absent.
    default_city : str, optional
        City shown when the URL names none (default: the first with data).
    page_keys : tuple of str
        Page-specific parameters to keep in ``View.params`` (validated by the page).
    """
    notices: list[tuple[str, str]] = []
    lang = normalize_lang(query.get("lang"))
    with_data = [c for c in cities if c in spans]
    city = query.get("city")
    if city not in cities:
        if city:
            notices.append((f"未知城市 “{city}”，已显示默认城市。",
                            f"Unknown city “{city}”; showing the default city."))
        city = default_city if default_city in cities else (with_data or cities or [""])[0]
    today = date.today()
    first, last = spans.get(city, (date(today.year, 1, 1), today))

    default_period, default_year = default_period_of(first, last, today)
    year = _int(query.get("year"), 1900, 2200)
    if year is None or not (first.year <= year <= last.year):
        if query.get("year"):
            notices.append((f"{query.get('year')} 年没有数据，已显示 {default_year} 年。",
                            f"No data for {query.get('year')}; showing {default_year}."))
        year = default_year
    period = query.get("period") or ""
    if period not in PERIODS:
        if period:
            notices.append((f"未知时段 “{period}”。", f"Unknown period “{period}”."))
        # a chosen year still in progress: its year to date; a complete one: the year
        period = default_period if year == default_year else (
            "ytd" if year == last.year and last < date(year, 12, 31) else "year")
    month = _int(query.get("month"), 1, 12)
    if month is None:
        month = last.month if year == last.year else 12

    if period == "year":
        start, end = date(year, 1, 1), date(year, 12, 31)
    elif period == "ytd":
        start, end = date(year, 1, 1), date(year, 12, 31)
    elif period == "month":
        start, end = month_bounds(year, month)
        if start > last:
            month = last.month
            start, end = month_bounds(year, month)
    else:
        start, end = _date(query.get("from")), _date(query.get("to"))
        if start is None or end is None or start > end:
            if query.get("from") or query.get("to"):
                notices.append(("自定义时段无效，已显示最近 30 天。",
                                "Invalid custom range; showing the last 30 days."))
            end = last
            start = end - timedelta(days=29)
        if (end - start).days >= MAX_RANGE_DAYS:
            start = end - timedelta(days=MAX_RANGE_DAYS - 1)
            notices.append((f"自定义时段最长 {MAX_RANGE_DAYS} 天。",
                            f"A custom range covers at most {MAX_RANGE_DAYS} days."))
        year = end.year
    end = min(end, last)
    start = min(start, end)

    profile = query.get("profile") or ""
    if profile not in profile_choices():
        notices.append((f"未知标准 “{profile}”，已按日期适用的标准计算。",
                        f"Unknown profile “{profile}”; using the one in force by date."))
        profile = ""
    params = {k: str(query[k]) for k in page_keys if query.get(k) not in (None, "")}
    return View(city=city, period=period, year=year, month=month, start=start, end=end,
                profile=profile, lang=lang, params=params, notices=tuple(notices))

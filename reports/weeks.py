"""ISO weeks in China Standard Time: parsing ``2015-W05`` and the default week."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from .errors import ReportError

CST = ZoneInfo("Asia/Shanghai")
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)


class WeekError(ReportError, ValueError):
    """A week string that is not an ISO week."""


@dataclass(frozen=True)
class IsoWeek:
    year: int
    week: int

    @property
    def start(self) -> date:
        """Monday."""
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def end(self) -> date:
        """Sunday (the last day, inclusive)."""
        return self.start + timedelta(days=6)

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(7)]

    def __str__(self) -> str:
        return self.label

    @classmethod
    def containing(cls, day: date) -> "IsoWeek":
        y, w, _ = day.isocalendar()
        return cls(y, w)


def parse_week(text: str) -> IsoWeek:
    """``2015-W05`` (also ``2015W05``, ``2015-w5``) → :class:`IsoWeek`; WeekError otherwise."""
    m = _WEEK.match(str(text).strip())
    if not m:
        raise WeekError(f"--week {text!r} is not an ISO week; write YYYY-Www, e.g. 2015-W05")
    year, week = int(m.group(1)), int(m.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        last = date(year, 12, 28).isocalendar()[1]
        raise WeekError(f"--week {text!r}: {year} has ISO weeks 1 to {last}") from None
    return IsoWeek(year, week)


def last_complete_week(now: datetime | None = None) -> IsoWeek:
    """The last ISO week that has ended in China Standard Time.

    ``now`` may be naive (taken as CST) or aware (converted to CST). On a Monday
    (any hour) that is the week that ended at Sunday 24:00.
    """
    if now is None:
        now = datetime.now(CST)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=CST)
    today = now.astimezone(CST).date()
    this_monday = today - timedelta(days=today.weekday())
    return IsoWeek.containing(this_monday - timedelta(days=7))

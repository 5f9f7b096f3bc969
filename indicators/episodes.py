"""Pollution episodes in an hourly AQI series (the alerts' rule), pure numpy.

An hour is *above* when its AQI is strictly above the threshold; every other hour — AQI
at or below the threshold, or no AQI at all (no data, or an AQI not published under the
missing-input rule) — is *not above*. Scanning the hours in order:

- outside an episode, ``hours`` consecutive above hours start one; it starts at the first
  of them (shorter runs before it are not part of it);
- inside an episode, ``clear_hours`` consecutive not-above hours end it; it ended with its
  last above hour. Shorter spells not above (and short runs above) stay inside it, so a
  gap of fewer than ``clear_hours`` hours joins two runs into one episode;
- after it ends, a new episode needs ``hours`` consecutive above hours again.

After ``clear_hours`` consecutive not-above hours the scan is in the same state whatever
came before (outside an episode, no run), so the episodes that start after the first such
spell of a window do not depend on the hours before the window: :func:`find_episodes`
reports that hour as ``exact_from``. An episode starting before it may have begun earlier
(before the window), and the caller must read further back to name its start.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOUR = np.timedelta64(1, "h")


@dataclass(frozen=True)
class Episode:
    """One episode. Times are the start of the hour (CST, as stored)."""
    start: np.datetime64        # the first hour of the run that started it
    end: np.datetime64          # its last above hour (so far)
    ongoing: bool               # fewer than clear_hours not-above hours after ``end``
    hours_above: int            # above hours from start to end
    longest_run: int            # the longest run of consecutive above hours in it
    peak: int                   # its highest AQI
    peak_time: np.datetime64    # the first hour with that AQI


@dataclass(frozen=True)
class Scan:
    episodes: list[Episode]
    exact_from: np.datetime64 | None    # first hour after the first clear_hours spell


def hourly_grid(times, values, first, last) -> tuple[np.ndarray, np.ndarray]:
    """Every hour from ``first`` to ``last`` (inclusive) and its value (NaN when absent).

    ``times`` (start of the hour) and ``values`` are one area's hours, in any order.
    """
    first = np.datetime64(first, "h")
    last = np.datetime64(last, "h")
    n = max(int((last - first) / HOUR) + 1, 0)
    grid = first + np.arange(n) * HOUR
    out = np.full(n, np.nan)
    t = np.asarray(times, dtype="datetime64[h]")
    v = np.asarray(values, dtype=np.float64)
    at = ((t - first) / HOUR).astype(np.int64) if len(t) else np.zeros(0, np.int64)
    keep = (at >= 0) & (at < n)
    out[at[keep]] = v[keep]
    return grid, out


def find_episodes(times, aqi, threshold: float, hours: int, clear_hours: int) -> Scan:
    """The episodes of an hourly AQI series on a complete hourly grid.

    Parameters
    ----------
    times : array of datetime64
        Consecutive hours (start of the hour), e.g. from :func:`hourly_grid`; the last one
        is the last hour considered.
    aqi : array of float
        The hourly AQI of each hour, NaN when there is none.
    threshold : number
        An hour is above when its AQI is strictly greater.
    hours, clear_hours : int
        Consecutive above hours that start an episode; consecutive not-above hours that
        end it (both ≥ 1).
    """
    if hours < 1 or clear_hours < 1:
        raise ValueError("hours and clear_hours must be at least 1")
    times = np.asarray(times, dtype="datetime64[h]")
    aqi = np.asarray(aqi, dtype=np.float64)
    if len(times) > 1 and not (np.diff(times) == HOUR).all():
        raise ValueError("times must be consecutive hours (use hourly_grid)")
    with np.errstate(invalid="ignore"):
        above = aqi > threshold                      # NaN compares False: not above
    episodes: list[Episode] = []
    exact_from = None
    run = 0                   # consecutive above hours (outside an episode)
    quiet = 0                 # consecutive not-above hours
    start = end = None        # the open episode's first and last above hour (indices)
    runs = []                 # (first, last) above runs of the open episode

    def close(ongoing: bool):
        above_idx = np.flatnonzero(above[start:end + 1]) + start
        values = aqi[above_idx]
        peak_at = above_idx[int(np.argmax(values))]
        episodes.append(Episode(
            start=times[start], end=times[end], ongoing=ongoing,
            hours_above=int(len(above_idx)),
            longest_run=int(max(b - a + 1 for a, b in runs)),
            peak=int(aqi[peak_at]), peak_time=times[peak_at]))

    for i in range(len(times)):
        if above[i]:
            quiet = 0
            if start is not None:                    # inside an episode
                if runs[-1][1] == i - 1:
                    runs[-1] = (runs[-1][0], i)
                else:
                    runs.append((i, i))
                end = i
                continue
            run += 1
            if run >= hours:
                start, end = i - run + 1, i
                runs = [(start, i)]
                run = 0
        else:
            run = 0
            quiet += 1
            if quiet == clear_hours:
                if exact_from is None:
                    exact_from = times[i] + HOUR
                if start is not None:
                    close(ongoing=False)
                    start = end = None
    if start is not None:
        close(ongoing=True)
    return Scan(episodes, exact_from)

"""``lantian alerts``: hourly-AQI alert emails (reports/alerts.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from config.settings import load_settings
from lantian.cli import (CityOpt, Quiet, UserError, _check_out_dir, _engine, app, err, out,
                         user_errors)


def _listing(result, lang: str) -> list[str]:
    """What a run found (and would send), one block per episode."""
    from reports.alert_render import render_alert
    from reports.alerts import hour_label

    lines = []
    for item in result.episodes:
        e, rule = item.episode, item.rule
        state = "ongoing" if e.ongoing else f"ended (last hour above {hour_label(e.end)})"
        lines.append(f"{item.scope} {item.name(lang)}: episode {item.period} "
                     f"(first hour {hour_label(e.start)}, hour-ending), {e.hours_above} hours "
                     f"above {rule.threshold}, {e.longest_run} in a row, peak {e.peak} at "
                     f"{hour_label(e.peak_time)}, {state}")
        lines.append("  subject: " + render_alert(item, lang, result).subject)
        lines.append("  to: " + (", ".join(f"{r.email} ({r.lang})" for r in item.recipients)
                                 or "nobody (no recipients)"))
    return lines


@app.command("alerts")
@user_errors
def alerts(city: CityOpt = None,
           at: Annotated[Optional[str], typer.Option(
               "--at", help="\"YYYY-MM-DD HH:MM\" (CST): the hours that ended by then count "
               "(the feed's hour 20:00 is in --at \"… 20:00\"). Default: the end of the newest "
               "stored hour.")] = None,
           send: Annotated[bool, typer.Option(
               "--send", help="Send through SMTP (LANTIAN_SMTP_*) and log each delivery; an "
               "episode already sent to a recipient is not sent again.")] = False,
           out_dir: Annotated[Optional[Path], typer.Option(
               "--out", help="Write each alert as .eml and .html into this folder for review "
               "(nothing is sent or logged).")] = None,
           lang: Annotated[Optional[str], typer.Option(
               "--lang", help="zh or en: the language of the listing, and with --out the only "
               "language written (default: the recipients' languages).")] = None,
           sites: Annotated[Optional[Path], typer.Option(
               "--sites", help="Site file with the alerts and recipients (default: the one "
               "'lantian init' loaded for the city).")] = None,
           quiet: Quiet = False):
    """Hourly-AQI alerts: each district (and the city) whose hourly AQI has been above the
    site file's threshold for N consecutive hours, once per episode. Without --send or
    --out it lists what it would send."""
    from reports.alerts import cities_with_alerts, parse_at, run_alerts

    if send and out_dir is not None:
        raise UserError("choose one of --send (deliver by email) or --out DIR (write files "
                        "for review), or neither to list the alerts")
    if lang is not None and lang not in ("zh", "en"):
        raise UserError(f"--lang {lang!r}: use zh or en")
    if lang is not None and send:
        raise UserError("--lang is for the listing and --out: with --send each recipient gets "
                        "their own language")
    when = parse_at(at) if at else None
    _check_out_dir(out_dir)
    settings = load_settings()
    engine = _engine()
    if city is None and sites is None:
        chosen = cities_with_alerts(engine)
        if not chosen:
            raise UserError("no loaded city's site file has an 'alerts:' section; add e.g. "
                            "'alerts: {hourly_aqi: {threshold: 200, hours: 3}}' to it")
    else:
        chosen = [city]
    log = None if quiet else (lambda text: err.print(text, markup=False))
    failures, aborted = [], ""
    for name in chosen:
        result = run_alerts(engine, settings, city=name, at=when, send=send, out_dir=out_dir,
                            lang=lang, site_file=sites, log=log)
        head = (f"{result.city}: hours ending by {result.at:%Y-%m-%d %H:%M} CST: "
                f"{len(result.episodes)} episode(s) to alert")
        if result.synthetic:
            head += " [SYNTHETIC DEMO DATA]"
        for note in result.notes:
            err.print(f"note: {result.city} {note}", markup=False)
        if out_dir is not None:
            out.print(f"{head}; wrote {len(result.written)} files to {out_dir}", markup=False)
        elif send:
            out.print(f"{head}: {result.count('sent')} sent, {result.count('failed')} failed, "
                      f"{result.count('skipped')} already sent", markup=False)
            failures += result.failed
            aborted = aborted or result.aborted
            if aborted:
                break                     # the server is unreachable: not for the next city
        else:
            out.print(head, markup=False)
            for line in _listing(result, lang or "zh"):
                out.print(line, markup=False)
    if aborted:
        raise UserError(aborted + "; the alerts not delivered go out on the next run")
    if failures:
        raise UserError(f"{len(failures)} deliveries failed (logged as failed, retried on the "
                        "next run): " + "; ".join(f"{o.recipient} ({o.error})"
                                                  for o in failures))

"""The weekly report run: recipients → numbers → charts → messages → files or SMTP + sent log.

Recipients come from the ``recipients:`` section of the city's site file — the
file ``lantian init`` loaded (its absolute path is stored in ``cities.site_file``)
unless another is given — so an edited list applies from the next run without
re-running ``init``. A *recipient group* is one scope (a district id, or
``city`` for the city-wide summary) and one language: it shares one rendering
(one ``.eml`` and one ``.html`` with ``--out``), while ``--send`` delivers one
message per recipient and logs each delivery in ``report_deliveries``.
"""
from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from config import ConfigError
from config.sites import Recipient, load_site_config

from .data import CITY_SCOPE, ReportError, compute, load_inputs, load_objectives
from .mail import (Delivery, Mailer, SmtpUnavailable, build_message, for_recipient,
                   sending_lock)
from .weeks import CST, IsoWeek, last_complete_week

REPORT = "weekly"


@dataclass
class Group:
    scope: str
    lang: str
    recipients: list[Recipient]

    @property
    def key(self) -> str:
        return f"{self.scope}_{self.lang}"


@dataclass
class Outcome:
    scope: str
    lang: str
    recipient: str
    status: str                # sent | failed | skipped (already sent)
    attempts: int = 0
    message_id: str = ""
    error: str = ""


@dataclass
class RunResult:
    city: str
    week: IsoWeek
    synthetic: bool
    groups: list[Group]
    written: list[Path] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: dict = field(default_factory=dict)
    aborted: str = ""          # why sending stopped (SMTP unreachable), else ""

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def recipient_groups(recipients, scopes: list[str]) -> list[Group]:
    groups = []
    for scope in scopes:
        people = recipients.of(scope)
        for lang in ("zh", "en"):
            members = [r for r in people if r.lang == lang]
            if members:
                groups.append(Group(scope, lang, members))
    return groups


def _site(site_file, inputs):
    path = site_file or inputs.site_file
    if not path:
        raise ConfigError(f"city {inputs.city.id}", "site_file",
                          "the database does not say which site file holds the recipients",
                          "pass --sites FILE or re-run 'lantian init --sites FILE'")
    if not Path(path).is_file():
        raise ConfigError(path, "(file)", "the site file holding the recipients is gone",
                          "pass --sites FILE or re-run 'lantian init --sites FILE'")
    site = load_site_config(path)
    if site.city.id != inputs.city.id:
        raise ConfigError(path, "city.id", f"is {site.city.id!r}, not {inputs.city.id!r}",
                          f"give the site file of city {inputs.city.id}")
    return site


def run_weekly(engine, settings, *, city: str | None = None, send: bool = False,
               **options) -> RunResult:
    """:func:`make_weekly`; a ``send`` run holds the city's weekly-report job lock (two
    runs at once would both find a recipient unsent and both send)."""
    if not send:
        return make_weekly(engine, settings, city=city, **options)
    with sending_lock(engine, "weekly report", city, "lantian report weekly --send"):
        return make_weekly(engine, settings, city=city, send=True, **options)


def make_weekly(engine, settings, *, city: str | None = None, week: IsoWeek | None = None,
               districts: list[str] | None = None, out_dir: Path | None = None,
               send: bool = False, resend: bool = False, site_file=None,
               now: datetime | None = None, progress=None, mailer: Mailer | None = None,
               log=None) -> RunResult:
    """Make the weekly report of ``week`` (default: the last complete ISO week in CST).

    With ``out_dir``, write ``<week>_<city>_<scope>_<lang>.eml`` and ``.html`` per
    recipient group; with ``send``, deliver through SMTP and log each delivery
    (recipients already sent for this week are skipped unless ``resend``).
    ``districts`` limits the scopes (district ids, ``city`` = the city summary);
    by default every district with recipients and the city summary.
    """
    from store.deliveries import FAILED, SENT, record_delivery, sent_recipients

    if not send and out_dir is None:
        raise ReportError("choose --send or --out DIR")
    log = log or (lambda text: None)
    clock = {"start": time.perf_counter()}
    week = week or last_complete_week(now)
    inputs = load_inputs(engine, city, week)
    clock["load"] = time.perf_counter()
    site = _site(site_file, inputs)
    recipients = site.recipients
    known = [d.id for d in inputs.districts]
    if districts:
        unknown = [d for d in districts if d != CITY_SCOPE and d not in known]
        if unknown:
            raise ReportError(f"unknown district {', '.join(unknown)} in city {inputs.city.id!r}; "
                              f"known: {', '.join(known)} (or 'city' for the city-wide summary)")
        scopes = list(dict.fromkeys(districts))
        silent = [s for s in scopes if not recipients.of(s)]
        if silent:
            raise ConfigError(site.path, "recipients", f"no recipients for {', '.join(silent)}",
                              "add them under recipients.districts (or recipients.city)")
    else:
        scopes = [d for d in known if recipients.of(d)] + (
            [CITY_SCOPE] if recipients.of(CITY_SCOPE) else [])
    groups = recipient_groups(recipients, scopes)
    if not groups:
        raise ConfigError(site.path, "recipients", "no recipients are listed",
                          "add e.g. 'recipients: {city: [{email: head@example.org}]}'")
    result = RunResult(city=inputs.city.id, week=week, synthetic=inputs.synthetic, groups=groups)

    already: set = set()
    if send and not resend:
        with engine.connect() as conn:
            already = sent_recipients(conn, REPORT, week.label, inputs.city.id)
    todo = []
    for g in groups:
        pending = [r for r in g.recipients if (g.scope, r.email.casefold()) not in already]
        for r in g.recipients:
            if r not in pending and send:
                result.outcomes.append(Outcome(g.scope, g.lang, r.email, "skipped"))
        if pending or out_dir is not None:
            todo.append((g, pending))
    if not todo:
        log(f"{week.label}: every recipient was already sent this report (use --resend to "
            "send again)")
        result.seconds = {"total": time.perf_counter() - clock["start"]}
        return result

    # the action plan's objectives, year to date to the week's Sunday (None: no plan)
    objectives = load_objectives(engine, inputs.city.id, week)
    reports = compute(inputs, week, list(dict.fromkeys(g.scope for g, _ in todo)), objectives)
    clock["compute"] = time.perf_counter()
    from .charts import ChartSession, charts_for
    from .render import render

    task = None
    if progress is not None:
        n = sum(1 + (len(p) if send else 0) for _g, p in todo)
        task = progress.add_task(f"weekly report {week.label}", total=n)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    sender = settings.mail_from
    own_mailer = mailer is None and send
    mailer = mailer or (Mailer(settings, log=log) if send else None)
    t_render = t_send = 0.0
    try:
        with ChartSession() as session:
            for g, pending in todo:
                t0 = time.perf_counter()
                report = reports[g.scope]
                key = f"{week.label}.{inputs.city.id}.{g.scope}.{g.lang}"
                rendered = render(report, g.lang,
                                  charts_for(report, g.lang, session, key.replace("_", "-")),
                                  generated=datetime.now(CST))
                headers = {"X-Lantian-Report": f"{REPORT} {week.label} {inputs.city.id} {g.scope}"}
                if inputs.synthetic:
                    headers["X-Lantian-Synthetic"] = "yes"
                message = build_message(rendered, sender=sender,
                                        to=[r.email for r in g.recipients], headers=headers)
                if out_dir is not None:
                    stem = f"{week.label}_{inputs.city.id}_{g.scope}_{g.lang}"
                    eml, html = out_dir / f"{stem}.eml", out_dir / f"{stem}.html"
                    eml.write_bytes(message.as_bytes())
                    html.write_text(preview_html(rendered), encoding="utf-8")
                    result.written += [eml, html]
                t_render += time.perf_counter() - t0
                if task is not None:
                    progress.update(task, description=f"{week.label} {g.scope} ({g.lang})")
                    progress.advance(task)
                if not send:
                    continue
                for r in pending:
                    t1 = time.perf_counter()
                    started = datetime.now(CST).replace(tzinfo=None, microsecond=0)
                    one = for_recipient(message, r.email, sender)
                    try:
                        d = mailer.deliver(one, r.email)
                    except SmtpUnavailable as exc:
                        d = Delivery(r.email, FAILED, mailer.attempts, str(one["Message-ID"]),
                                     str(exc))
                        result.aborted = str(exc)
                    with engine.begin() as conn:
                        record_delivery(conn, report=REPORT, period=week.label,
                                        city=inputs.city.id, scope=g.scope, recipient=r.email,
                                        lang=g.lang, status=SENT if d.status == "sent" else FAILED,
                                        attempts=d.attempts, message_id=d.message_id,
                                        subject=rendered.subject, error=d.error,
                                        started_at=started,
                                        finished_at=datetime.now(CST).replace(tzinfo=None,
                                                                              microsecond=0))
                    result.outcomes.append(Outcome(g.scope, g.lang, r.email, d.status, d.attempts,
                                                   d.message_id, d.error))
                    log(f"{g.scope} {r.email}: {d.status}" + (f" ({d.error})" if d.error else ""))
                    t_send += time.perf_counter() - t1
                    if task is not None:
                        progress.advance(task)
                    if result.aborted:
                        return result
    finally:
        if own_mailer:
            mailer.close()
        end = time.perf_counter()
        result.seconds = {"load": clock["load"] - clock["start"],
                          "compute": clock.get("compute", end) - clock["load"],
                          "render": t_render, "send": t_send, "total": end - clock["start"]}
    return result


def preview_html(rendered) -> str:
    """The HTML for a person to review in a browser: each ``cid:`` image inlined as data.

    (Email clients block ``data:`` images; this file is for review, the ``.eml``
    is what is sent.)
    """
    names = {c.cid: "data:image/png;base64," + base64.b64encode(c.png).decode("ascii")
             for c in rendered.charts}
    return rendered.preview_html(names)

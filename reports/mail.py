"""Email messages and their delivery over SMTP (none | starttls | ssl), with retry and backoff.

Message layout (what mail clients expect)::

    multipart/alternative
      text/plain                 the plain-text report
      multipart/related
        text/html                the report, CSS inlined, <img src="cid:…" alt="…">
        image/png                one part per chart, Content-ID <…>

Delivery: each message goes to one recipient (one envelope RCPT), so that one
bad address cannot stop or hide the others. A 4xx reply, a dropped connection
or a timeout is retried ``mail_attempts`` times in all, waiting
``mail_backoff`` seconds and doubling; a 5xx reply (e.g. 550 no such user) is
final at once. When the server cannot be reached at all after the retries,
:class:`SmtpUnavailable` stops the run (nothing is marked sent).
"""
from __future__ import annotations

import smtplib
import socket
import ssl
import time
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from .render import Rendered


class SmtpUnavailable(Exception):
    """The SMTP server cannot be reached or refuses us as a whole (login, TLS)."""


@dataclass
class Delivery:
    recipient: str
    status: str                # sent | failed
    attempts: int
    message_id: str
    error: str = ""


def sender_domain(sender: str) -> str:
    address = parseaddr(sender)[1]
    return address.rsplit("@", 1)[1] if "@" in address else "lantian.localhost"


def build_message(rendered: Rendered, *, sender: str, to: list[str], headers: dict | None = None,
                  message_id: str | None = None, kind: str = "weekly") -> EmailMessage:
    """Plain text first, then the HTML alternative with the charts as related PNG parts."""
    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id or make_msgid(idstring=kind, domain=sender_domain(sender))
    msg["Auto-Submitted"] = "auto-generated"
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(rendered.text, subtype="plain", charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    html_part = msg.get_payload()[1]
    for chart in rendered.charts:
        html_part.add_related(chart.png, maintype="image", subtype="png", cid=f"<{chart.cid}>",
                              filename=f"{chart.name}.png", disposition="inline")
    return msg


def for_recipient(msg: EmailMessage, recipient: str, sender: str,
                  kind: str = "weekly") -> EmailMessage:
    """A copy of ``msg`` addressed to one recipient, with its own Message-ID."""
    import copy
    one = copy.deepcopy(msg)
    del one["To"]
    one["To"] = recipient
    del one["Message-ID"]
    one["Message-ID"] = make_msgid(idstring=kind, domain=sender_domain(sender))
    return one


def _transient(code: int) -> bool:
    return 400 <= code < 500


class Mailer:
    """One SMTP connection reused across messages, reopened after a failure."""

    def __init__(self, settings, sleep=time.sleep, log=None):
        self.host = settings.smtp_host
        self.port = int(settings.smtp_port)
        self.tls = settings.smtp_tls
        self.user = settings.smtp_user
        self.password = settings.smtp_password
        self.sender = settings.mail_from
        self.attempts = int(settings.mail_attempts)
        self.backoff = float(settings.mail_backoff)
        self.timeout = float(settings.smtp_timeout)
        self.sleep = sleep
        self.log = log or (lambda text: None)
        self._conn: smtplib.SMTP | None = None

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port} ({self.tls})"

    def _connect(self) -> smtplib.SMTP:
        if self._conn is not None:
            return self._conn
        if self.tls == "ssl":
            conn = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                    context=ssl.create_default_context())
        else:
            conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.tls == "starttls":
                conn.ehlo()
                conn.starttls(context=ssl.create_default_context())
                conn.ehlo()
        if self.user:
            try:
                conn.login(self.user, self.password)
            except smtplib.SMTPAuthenticationError as exc:
                conn.close()
                raise SmtpUnavailable(f"SMTP server {self.where} refused the login of "
                                      f"{self.user!r}: {exc.smtp_code} "
                                      f"{_text(exc.smtp_error)}") from None
        self._conn = conn
        return conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                self._conn.close()
            self._conn = None

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
            self._conn = None

    def deliver(self, msg: EmailMessage, recipient: str) -> Delivery:
        """Send ``msg`` to ``recipient``; retry transient failures with exponential backoff.

        Returns a :class:`Delivery` (sent or failed). Raises :class:`SmtpUnavailable`
        when the server could not be reached at all in any attempt.
        """
        message_id = str(msg["Message-ID"])
        delay = self.backoff
        error, reachable = "", False
        for attempt in range(1, self.attempts + 1):
            try:
                conn = self._connect()
                reachable = True
                conn.send_message(msg, from_addr=parseaddr(self.sender)[1] or self.sender,
                                  to_addrs=[recipient])
                return Delivery(recipient, "sent", attempt, message_id)
            except SmtpUnavailable:
                raise
            except smtplib.SMTPRecipientsRefused as exc:
                code, text = next(iter(exc.recipients.values()), (0, b""))
                error = f"{code} {_text(text)}"
                if not _transient(code):
                    return Delivery(recipient, "failed", attempt, message_id, error)
            except smtplib.SMTPResponseException as exc:
                error = f"{exc.smtp_code} {_text(exc.smtp_error)}"
                reachable = True
                self._drop() if exc.smtp_code == 421 else self._reset()
                if not _transient(exc.smtp_code):
                    return Delivery(recipient, "failed", attempt, message_id, error)
            except (smtplib.SMTPException, OSError, socket.timeout) as exc:
                error = f"{type(exc).__name__}: {exc}"
                self._drop()
            if attempt < self.attempts:
                self.log(f"{recipient}: attempt {attempt} failed ({error}); retrying in "
                         f"{delay:g} s")
                self.sleep(delay)
                delay *= 2
        if not reachable:
            raise SmtpUnavailable(f"SMTP server {self.where} unreachable after {self.attempts} "
                                  f"attempts: {error}")
        return Delivery(recipient, "failed", self.attempts, message_id, error)

    def _reset(self) -> None:
        if self._conn is not None:
            try:
                self._conn.rset()
            except (smtplib.SMTPException, OSError):
                self._drop()


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())


@contextmanager
def sending_lock(engine, job: str, city: str | None, command: str):
    """Hold the job lock of ``job`` for ``city`` (``store.db.job_lock``); a ReportError
    when another run holds it."""
    from store.db import JobBusy, job_lock

    from .data import city_row
    from .errors import ReportError

    with engine.connect() as conn:
        city_id = str(city_row(conn, city)["id"])
    try:
        with job_lock(engine, f"{job} {city_id}"):
            yield
    except JobBusy:
        raise ReportError(f"another '{command}' for city {city_id} is running; this one "
                          "sent nothing (wait for it to finish)") from None

"""The sent log of the report emails (table ``report_deliveries``).

A report counts as delivered to a recipient when any row for (report, period,
city, scope, recipient) has status ``sent``; failed deliveries are logged as
``failed`` with their error and attempts, never as sent.
"""
from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import and_, select

from . import schema

SENT, FAILED = "sent", "failed"
COLUMNS = ["id", "report", "period", "city_id", "scope", "recipient", "lang", "status",
           "attempts", "message_id", "subject", "error", "started_at", "finished_at"]


def sent_recipients(conn, report: str, period: str, city: str) -> set[tuple[str, str]]:
    """(scope, recipient) pairs already sent for one report and period (recipients case-folded)."""
    t = schema.report_deliveries
    rows = conn.execute(select(t.c.scope, t.c.recipient).where(and_(
        t.c.report == report, t.c.period == period, t.c.city_id == city,
        t.c.status == SENT))).all()
    return {(scope, recipient.casefold()) for scope, recipient in rows}


def record_delivery(conn, *, report: str, period: str, city: str, scope: str, recipient: str,
                    lang: str, status: str, attempts: int, message_id: str, subject: str,
                    error: str, started_at: datetime, finished_at: datetime) -> int:
    """Log one delivery (sent or failed) inside ``conn``'s transaction; returns its id."""
    if status not in (SENT, FAILED):
        raise ValueError(f"status must be {SENT!r} or {FAILED!r}, got {status!r}")
    return conn.execute(schema.report_deliveries.insert().values(
        report=report, period=period, city_id=city, scope=scope, recipient=recipient,
        lang=lang, status=status, attempts=int(attempts), message_id=message_id or "",
        subject=subject or "", error=error or "", started_at=started_at,
        finished_at=finished_at)).inserted_primary_key[0]


def deliveries(conn, report: str | None = None, period: str | None = None,
               city: str | None = None) -> pd.DataFrame:
    """The sent log (optionally of one report / period / city), oldest first."""
    t = schema.report_deliveries
    query = select(*[t.c[c] for c in COLUMNS]).order_by(t.c.id)
    for column, value in (("report", report), ("period", period), ("city_id", city)):
        if value is not None:
            query = query.where(t.c[column] == value)
    return pd.DataFrame(conn.execute(query).all(), columns=COLUMNS)

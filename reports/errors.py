"""Errors a user can cause when asking for a report (one line on the command line)."""


class ReportError(Exception):
    """A report that cannot be made (unknown city or district, bad week, no data)."""

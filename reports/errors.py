"""Errors a user can cause when asking for a report (one line on the command line)."""


from evaluation.errors import NoDataError


class ReportError(NoDataError):
    """A report that cannot be made (unknown city or district, bad week, no data)."""

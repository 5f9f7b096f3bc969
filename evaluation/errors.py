"""What an evaluation says when the data it needs are not there (a user's matter)."""


class NoDataError(Exception):
    """The database lacks what was asked for: an unknown city or area, no readings in the
    period. The message says what to load or choose."""


from indicators.dust import DustFileError  # noqa: E402,F401 - a bad dust-day file, named here

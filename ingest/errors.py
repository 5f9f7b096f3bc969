"""Errors a user's file can cause, explained on one line.

A message quotes what the file holds (a cell, a column name, a sheet name) only
through :func:`quote` (or :func:`clip` for an unquoted value): cut to
:data:`QUOTE_MAX` characters with "…", control characters escaped, so that a
5 MB cell or a CR/LF inside a value never makes a message huge or breaks it
into lines. The whole text of an :class:`IngestError` is cut to
:data:`MESSAGE_MAX` characters (:func:`cap`): what the command line prints, the
upload page shows and an ingest run records.
"""
from __future__ import annotations

import re

#: Longest user value quoted in a message [characters]; a longer one is cut and ends in "…".
QUOTE_MAX = 200
#: Longest whole message of a user error [characters].
MESSAGE_MAX = 1000
ELLIPSIS = "…"
# C0/C1 controls, line and paragraph separators, bidi and other format characters that
# would break a message into lines or reorder it on screen.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e"
                     "\u2060-\u2069\ufeff]")


def _escape(match: re.Match) -> str:
    ch = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return named.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}")


def clip(value, limit: int = QUOTE_MAX) -> str:
    """``value`` as text for a message, unquoted: on one line (control characters
    escaped as ``\\n``, ``\\x00`` …) and at most ``limit`` characters, a longer one cut
    and ending in "…". Only the start of a huge value is ever looked at."""
    text = value if isinstance(value, str) else str(value)
    cut = len(text) > limit
    text = _UNSAFE.sub(_escape, text[:limit + 1])     # escapes lengthen it: cut after
    if cut or len(text) > limit:
        text = text[:max(limit - 1, 0)] + ELLIPSIS
    return text


def quote(value, limit: int = QUOTE_MAX) -> str:
    """``value`` quoted for a message as ``repr`` would (``'1001A'``), but on one line and
    cut to about ``limit`` characters with "…" (a 5 MB cell stays short)."""
    if not isinstance(value, str):
        text = repr(value)
        return text if len(text) <= limit and not _UNSAFE.search(text) else clip(text, limit)
    if len(value) > limit:
        value = value[:limit - 1] + ELLIPSIS
    return _UNSAFE.sub(_escape, repr(value))


def clip_list(values, most: int = 20, limit: int = 60) -> str:
    """Codes or names from a file for a message: ``"A, B, C"``, each :func:`clip`-ped to
    ``limit`` characters, at most ``most`` of them (then " …")."""
    values = list(values)
    text = ", ".join(clip(v, limit) for v in values[:most])
    return text + (" …" if len(values) > most else "")


def cap(text, limit: int = MESSAGE_MAX) -> str:
    """A whole message on one line and at most ``limit`` characters (cut with "…")."""
    return clip(text, limit)


class IngestError(Exception):
    """A problem with an input file: names the file, row and column and what was expected.

    ``row`` is the 1-based line number in the file (the header is line 1). The message
    is one line of at most :data:`MESSAGE_MAX` characters; values from the file in
    ``problem`` must be quoted with :func:`quote` (the column is quoted here).
    """

    def __init__(self, file, problem: str, *, row: int | None = None,
                 column: str | None = None, expected: str = ""):
        self.file = str(file)
        self.row = row
        self.column = column
        self.problem = cap(problem)
        self.expected = cap(expected)
        where = clip(self.file, 2 * QUOTE_MAX)
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {quote(column)}"
        text = f"{where}: {self.problem}"
        if expected:
            text += f"; expected {self.expected}"
        super().__init__(cap(text))


class ExpandsTooFar(IngestError):
    """A compressed file (or a part of a workbook) expands to more than ``limit`` bytes:
    found while decompressing it in chunks, before more than ``limit`` bytes are held."""

    def __init__(self, file, limit: int):
        self.limit = int(limit)
        super().__init__(file, f"the compressed data expands to more than {self.limit:,} "
                         "bytes", expected=f"at most {self.limit:,} bytes uncompressed (split "
                         "the file)")


class DamagedArchive(IngestError):
    """The gzip or zip data is damaged, truncated or inconsistent; ``detail`` says how."""

    def __init__(self, file, detail: str, *, what: str = "compressed data",
                 expected: str = "a complete file (copy or download it again)"):
        self.detail = clip(detail)
        super().__init__(file, f"the {what} is damaged or truncated ({self.detail})",
                         expected=expected)

"""Errors a user's file can cause, explained on one line."""
from __future__ import annotations


class IngestError(Exception):
    """A problem with an input file: names the file, row and column and what was expected.

    ``row`` is the 1-based line number in the file (the header is line 1).
    """

    def __init__(self, file, problem: str, *, row: int | None = None,
                 column: str | None = None, expected: str = ""):
        self.file = str(file)
        self.row = row
        self.column = column
        self.problem = problem
        self.expected = expected
        where = self.file
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column!r}"
        text = f"{where}: {problem}"
        if expected:
            text += f"; expected {expected}"
        super().__init__(text)

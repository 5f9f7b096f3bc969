"""Ingest: readers for each source, one canonical frame, quality control, loader.

Every reader turns its source into the canonical long frame
(``station, time, pollutant, value, unit, flag``; see :mod:`ingest.frame`);
:mod:`ingest.qc` flags suspect values and :mod:`ingest.loader` writes them,
one transaction per file, recording an ingest run.
"""
from .errors import IngestError

__all__ = ["IngestError"]

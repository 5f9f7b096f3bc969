"""Indicators: every statistic Lantian reports, computed exactly as the standard says.

Pure functions — pandas/numpy in, pandas out, no database or web imports —
following ../shared/docs/standards.md (daily means, O3 8-h values, AQI, period
statistics, composite index, rankings, targets).
"""

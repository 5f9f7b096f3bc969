"""Weekly exceedance reports: build the data, render (Jinja2), draw the charts, send.

Data flow: database (``store.frames``) → indicators → :mod:`reports.data`
(one :class:`~reports.data.ScopeReport` per district and the city) →
:mod:`reports.render` (HTML with inlined CSS, plain text, charts from
:mod:`reports.charts`) → :mod:`reports.mail` (``EmailMessage``, SMTP with
retry, the sent log). :mod:`reports.weekly` runs the whole thing.
"""

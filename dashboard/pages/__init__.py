"""One module per page, in navigation order.

Each page module exposes ``PATH``, ``NAME`` (Chinese), ``NAME_EN``, ``TITLE``
and ``layout(**query)``; :func:`dashboard.app.create_app` registers them with
``dash.register_page`` — page modules never register themselves, so building
several apps in one process registers nothing twice.
"""
from . import data, overview

PAGES = [overview, data]

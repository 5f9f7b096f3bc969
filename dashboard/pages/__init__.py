"""One module per page, in navigation order.

Each page module exposes ``PATH``, ``NAME`` (Chinese), ``NAME_EN``, ``TITLE``
and ``layout(**query)``; :func:`dashboard.app.create_app` registers them with
``dash.register_page`` — page modules never register themselves, so building
several apps in one process registers nothing twice.
"""
import importlib
import importlib.util

# Navigation order. While pages are being added, a name whose module does not
# exist yet is skipped (never a placeholder page).
ORDER = ["overview", "ranking", "exceedances", "district", "station", "map", "standards",
         "public", "data", "upload", "admin"]
PAGES = [importlib.import_module(f"{__name__}.{name}") for name in ORDER
         if importlib.util.find_spec(f"{__name__}.{name}") is not None]

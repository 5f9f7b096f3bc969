"""One module per page, in navigation order.

Each page module exposes ``PATH``, ``NAME`` (Chinese), ``NAME_EN``, ``TITLE``
and ``layout(**query)``; :func:`dashboard.app.create_app` registers them with
``dash.register_page`` — page modules never register themselves, so building
several apps in one process registers nothing twice.

Every name in :data:`ORDER` must be an importable page module: a missing or
broken one raises :class:`ImportError` naming it (so the app fails to start)
rather than being skipped and leaving a page silently absent.
"""
import importlib

# Navigation order.
ORDER = ["overview", "ranking", "exceedances", "objectives", "district", "station", "map",
         "standards", "public", "data", "upload", "admin"]
REQUIRED = ("PATH", "NAME", "TITLE", "layout")


def load_pages(order=None) -> list:
    """The page modules named in ``order`` (default :data:`ORDER`), imported.

    Raises :class:`ImportError` naming the module when one is missing, fails to
    import or lacks one of :data:`REQUIRED`.
    """
    pages = []
    for name in ORDER if order is None else order:
        module_name = f"{__name__}.{name}"
        try:
            module = importlib.import_module(module_name)
        except Exception as error:
            missing = isinstance(error, ModuleNotFoundError) and error.name == module_name
            reason = "does not exist" if missing else f"failed to import: {error!r}"
            raise ImportError(f"page module {module_name} {reason}",
                              name=module_name) from error
        lacking = [attr for attr in REQUIRED if not hasattr(module, attr)]
        if lacking:
            raise ImportError(f"page module {module_name} lacks {', '.join(lacking)}",
                              name=module_name)
        pages.append(module)
    return pages


PAGES = load_pages()

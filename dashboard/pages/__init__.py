"""One module per page. Each exposes ``PATH``, ``TITLE`` (a callable of the
language) and ``layout(**query)``; :func:`dashboard.app.create_app` registers
them with ``dash.register_page`` — page modules never register themselves, so
building several apps in one process registers nothing twice.
"""

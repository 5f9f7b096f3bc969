"""The database engine of the app serving the current request.

The Dash page registry is global per process, so page layout functions cannot
close over an engine: :func:`dashboard.app.create_app` stores its engine on its
Flask server and layouts look it up with :func:`current_engine` at request time.
"""
from __future__ import annotations

from flask import current_app
from sqlalchemy.engine import Engine

EXTENSION = "lantian"


def attach_engine(server, engine: Engine) -> None:
    server.extensions.setdefault(EXTENSION, {})["engine"] = engine


def engine_of(server) -> Engine:
    """The engine attached to a Flask server by ``create_app``."""
    return server.extensions[EXTENSION]["engine"]


def current_engine() -> Engine:
    """The engine of the app handling the current request (needs a Flask app context)."""
    return engine_of(current_app)

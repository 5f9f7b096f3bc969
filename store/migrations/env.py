"""Alembic environment: runs against the engine Lantian hands over in
``config.attributes['engine']`` (no alembic.ini, no URL in a file)."""
from alembic import context

from store.db import include_object
from store.schema import metadata

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      compare_type=True, include_object=include_object)
    context.run_migrations()

"""Alembic's environment for repwatch: always run by :mod:`monitor.store.migrate` on a
connection it has already opened and locked (``config.attributes["connection"]``), inside
that connection's transaction, so an upgrade is all or nothing."""
from alembic import context

from monitor.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()

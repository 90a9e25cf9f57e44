"""Alembic migrations of the repwatch schema: ``env.py`` and ``versions/`` (package data),
driven by :mod:`monitor.store.migrate`. Revisions are written by hand with the guarded
operations of :mod:`.steps`, and each names what it adds in ``ADDS``; a change to
:mod:`monitor.store.tables` needs one (tests/test_migrations.py compares the upgraded schema
with the tables)."""

"""Alembic migrations of the repwatch schema: ``env.py`` and ``versions/`` (package data),
driven by :mod:`monitor.store.migrate`; :mod:`.steps` holds the guarded operations the
revisions are written with."""

"""``db upgrade`` and ``db current``: the database schema's version (:mod:`monitor.store.migrate`)."""
from __future__ import annotations

from monitor.cli.common import load


def cmd_db(args) -> int:
    """``upgrade`` migrates the database to the schema this version needs (a new database
    is created); both then print the revision it is at."""
    from monitor.store import migrate

    storage = load(args.config, need_secrets=False).storage
    if args.db_command == "upgrade":
        migrate.upgrade(storage.url)
    print(f"{storage.redacted_url}: revision {migrate.current(storage.url) or 'none (repwatch db upgrade)'}")
    return 0

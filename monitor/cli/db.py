"""``db upgrade`` and ``db current``: the database schema's revision (:mod:`monitor.store.migrate`)."""
from __future__ import annotations

from monitor.cli.common import load


def cmd_db(args) -> int:
    """``current`` prints the database's revision; ``upgrade`` brings it to the one this
    version needs (a new database is created at it) and says what it did."""
    from monitor.store import migrate

    storage = load(args.config, need_secrets=False).storage
    before = migrate.current(storage.url)
    if args.db_command == "current":
        print(f"{storage.redacted_url}: revision {before or 'none (repwatch db upgrade creates the schema)'}")
        return 0
    applied = migrate.upgrade(storage.url)
    now = migrate.current(storage.url)
    if before is None:
        print(f"{storage.redacted_url}: created at revision {now}")
    elif applied:
        print(f"{storage.redacted_url}: upgraded from revision {before} to {now} (applied {', '.join(applied)})")
    else:
        print(f"{storage.redacted_url}: revision {now}, up to date")
    return 0

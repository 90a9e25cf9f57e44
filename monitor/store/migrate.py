"""The schema's version, with Alembic (``migrations/``; the version table is ``alembic_version``).

Revisions, and the commit of ``monitor/storage.py`` each one stands for:

  0001  f339708  the schema of repwatch 0.1: the first landed storage (mentions,
                 mention_entities, source_state, alerts, deliveries)
  0002  1ab73b0  source health columns on source_state (this commit also brought the
                 hand-written ADD COLUMN that ran on every start until the version table)
  0003  aaf495e  source_state.last_warnings
  0004  bb96058  the crisis workflow: alert labels and status, deliveries per notification
                 (``alert_id`` optional, no foreign key), alert_groups, incidents,
                 notifications, silences; with 448264e, which let ``alerts.labels`` be NULL
  0005  eb1f685  judgment: parent_url, backfill, verdict, model answer, causes, human label
  0006  bb2da58  url_key (filled in for older rows) and edited_at, mention_versions, leases
  0007  --       what the hand-written migration left different from a fresh database
                 (missing indexes, 0.1's NOT NULL foreign key, a NOT NULL labels column)
  0008  --       queries that read the window (issue 16): the rule columns copied onto
                 mention_entities with composite indexes, mention_tallies, indexes for
                 the unscored mentions, detection time, and the alerting tables' reads
  0009  --       evidence and retention (issue 18): payloads, fetches, mention_evidence,
                 mention_tombstones, legal_holds (new tables only)

Commits 5625b44, 612eeb1 and d460362 did not change the schema (448264e only let
``alerts.labels`` be NULL, which 0004 does). The fixtures of the migration test were written
by f339708's own code (tests/fixtures/db_0_1/generate.py).

Opening a :class:`monitor.store.Store` calls :func:`prepare`, which brings the database to
the newest revision (auto-upgrade):

* an empty database gets today's tables (``create_all``) and is stamped ``head``;
* a database with repwatch's tables and no version table (made before it existed) is
  recognised by its tables and columns (each revision names what it adds in ``ADDS``),
  stamped at the last revision it fully has, and upgraded from there;
* a versioned database is upgraded when behind; one stamped with a revision this code does
  not know (made by a newer repwatch) is refused rather than touched.

Why automatic: the quick start is one command and every CLI command and the daemon open
the store, as the hand-written migration did; the revisions only add (columns, tables,
indexes, a relaxed NOT NULL), so old rows stay valid for old and new code alike; and each
upgrade is one transaction, so a failure leaves the database as it was. ``repwatch db
upgrade`` does the same explicitly (for an operator who wants to migrate before a deploy),
``repwatch db current`` tells the revision.

Concurrency: processes that open the same database at once must not migrate it twice. The
check-and-upgrade runs on one connection that first takes the database's write lock
(SQLite: ``BEGIN IMMEDIATE``) or a transaction-level advisory lock (PostgreSQL:
``pg_advisory_xact_lock``), and re-reads the version after the lock: the second process
waits, then finds the database at ``head`` and does nothing. A database already at ``head``
is recognised without taking any lock.
"""
from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from monitor.errors import StorageError
from monitor.store import evidence_tables  # noqa: F401  (its tables join ``metadata``)
from monitor.store.tables import metadata
from monitor.store.engine import make_engine

log = logging.getLogger("repwatch.storage")

MIGRATIONS = Path(__file__).with_name("migrations")
_UPGRADE_LOCK = 0x72657078  # PostgreSQL advisory lock held while the schema is checked and upgraded
VERSION_TABLE = "alembic_version"


def _config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


@cache
def _script() -> ScriptDirectory:
    """The revisions, read once per process."""
    return ScriptDirectory.from_config(_config())


def head() -> str:
    return _script().get_current_head()


def upgrade(url: str, revision: str = "head") -> list[str]:
    """Bring the database at ``url`` to ``revision``; return the revisions applied, oldest first
    (empty when it was already there; a new database is created at ``head`` with none)."""
    engine = make_engine(url)
    try:
        return prepare(engine, revision)
    finally:
        engine.dispose()


def current(url: str) -> str | None:
    """The database's revision: for one made before the version table, the revision it is
    recognised at (nothing is written); None for an empty database, or one without even
    0.1's tables (an upgrade creates what is missing)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return _read_version(conn) or _recognise(conn)
    finally:
        engine.dispose()


def prepare(engine: Engine, revision: str = "head") -> list[str]:
    """What opening a store does: create, recognise and upgrade as the module docstring says."""
    script = _script()
    target = script.get_current_head() if revision == "head" else revision
    with engine.connect() as conn:
        if _read_version(conn) == target:
            return []
    with engine.connect() as conn:
        _lock(conn)
        try:
            applied = _prepare_locked(conn, script, target)
            conn.commit()
        finally:
            _unlock(conn)
    if applied:
        log.info("database upgraded to %s (%s)", target, ", ".join(applied))
    return applied


def _prepare_locked(conn: Connection, script: ScriptDirectory, target: str) -> list[str]:
    found = _read_version(conn)
    if found is not None and found not in {r.revision for r in script.walk_revisions()}:
        raise StorageError(f"the database is at schema revision {found}, which this repwatch does not know "
                           "(made by a newer version?); refusing to change it")
    if found is None and not _our_tables(conn):
        metadata.create_all(conn)
        MigrationContext.configure(conn).stamp(script, "head")
        return []
    if found is None:
        found = _recognise(conn)
        if found is not None:
            log.info("database made before the schema version table: recognised at revision %s", found)
            MigrationContext.configure(conn).stamp(script, found)
    before = found
    command.upgrade(_config(conn), target)
    after = _read_version(conn)
    return [r.revision for r in reversed(list(script.iterate_revisions(after, before)))]


def _read_version(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _our_tables(conn: Connection) -> set[str]:
    return set(sa.inspect(conn).get_table_names()) & set(metadata.tables)


def _recognise(conn: Connection) -> str | None:
    """The last revision whose tables and columns (its ``ADDS``), and those of every revision
    before it, are all in the database; None when even 0001's are not."""
    insp = sa.inspect(conn)
    tables_present = set(insp.get_table_names())
    found = None
    for script in reversed(list(_script().walk_revisions())):  # oldest first
        adds: dict[str, list[str]] = getattr(script.module, "ADDS", {})
        if not adds:
            break
        for table, columns in adds.items():
            if table not in tables_present:
                return found
            present = {c["name"] for c in insp.get_columns(table)}
            if not set(columns) - {"*"} <= present:
                return found
        found = script.revision
    return found


def _lock(conn: Connection) -> None:
    """Take the lock that serialises schema changes among processes (see the module docstring)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # batch mode rebuilds tables; only outside a transaction
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK})


def _unlock(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.rollback()  # nothing left to undo after a commit; ends a failed upgrade's transaction
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")

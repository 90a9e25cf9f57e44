"""Leader election with a PostgreSQL advisory lock.

The leader is whoever holds ``pg_try_advisory_lock(key)`` on a connection of its own,
opened for that alone and held for as long as it leads. PostgreSQL frees a session's
advisory locks when the session ends, so a leader that dies (``kill -9``, a crash) frees
the lock as soon as its connection closes; candidates ask again every few seconds and
one of them takes it. A leader whose connection breaks (the database restarted, the
network) has lost the lock and must stop: :meth:`AdvisoryLock.alive` says so, and TCP
keepalives on the connection find a silent network within about 20 s.

The lock's connection carries ``application_name = "repwatch NAME HOST:PID"``, so
``pg_stat_activity`` (and :func:`leader`) shows who leads.
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket

log = logging.getLogger("repwatch.scale")

_KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3, "keepalives_count": 3}


def lock_key(name: str) -> int:
    """The advisory lock's 64-bit key for ``name`` (stable across processes and versions)."""
    return int.from_bytes(hashlib.sha256(f"repwatch:{name}".encode()).digest()[:8], "big", signed=True)


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as libpq takes it (no ``+driver``)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError("leader election needs PostgreSQL storage (pg_try_advisory_lock)")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class AdvisoryLock:
    """The advisory lock ``name`` on a dedicated autocommit connection."""

    def __init__(self, url: str, name: str, holder: str | None = None):
        self.url = libpq_url(url)
        self.name = name
        self.key = lock_key(name)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self.conn = None

    def try_acquire(self) -> bool:
        """Take the lock if it is free (or already ours); False while another session has it."""
        import psycopg

        if self.conn is None or self.conn.closed:
            self.conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10,
                                        application_name=f"repwatch {self.name} {self.holder}"[:63], **_KEEPALIVE)
        got = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()[0]
        return bool(got)

    def alive(self) -> bool:
        """Whether the connection holding the lock still answers (if not, the lock is lost)."""
        if self.conn is None or self.conn.closed:
            return False
        try:
            self.conn.execute("SELECT 1")
            return True
        except Exception as exc:
            log.error("%s lock: its connection failed (%s); leadership lost", self.name, type(exc).__name__)
            self.close()
            return False

    def release(self) -> None:
        """Give the lock up (closing the connection frees it in any case)."""
        if self.conn is not None and not self.conn.closed:
            try:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            except Exception:  # the session ends below, which frees it too
                pass
        self.close()

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None


def leader(url: str, name: str) -> str | None:
    """The ``application_name`` of the session holding the lock ``name``, or None."""
    import psycopg

    key = lock_key(name) & 0xFFFFFFFFFFFFFFFF
    with psycopg.connect(libpq_url(url), autocommit=True, connect_timeout=10) as conn:
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 1 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (key >> 32, key & 0xFFFFFFFF)).fetchone()
    return row[0] if row else None

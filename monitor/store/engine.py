"""The engine: a SQLite file by default (WAL, foreign keys, a busy timeout), PostgreSQL by URL
(``postgresql://`` means psycopg 3). Errors never quote SQL parameters (they hold mention text)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import create_engine

from monitor.errors import StorageError
from monitor.privacy import mask_phi


def describe_error(exc: BaseException) -> str:
    """An exception in one line for logs and source health: the database's own message,
    never the SQL statement or its parameters (they hold mention text), masked."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {mask_phi(lines[0] if lines else '')[:200]}"


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    kwargs: dict[str, Any] = {"hide_parameters": True}  # errors never quote mention text
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except Exception as exc:  # bad driver name, malformed URL
        raise StorageError(f"cannot use storage URL: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine

"""The base of :class:`monitor.store.Store`: the engine, sessions, opening (and migrating)
the database. Each repository module adds typed methods on top of it."""
from __future__ import annotations

import threading

from sqlalchemy import text
from sqlmodel import Session, select

from monitor.errors import StorageError
from monitor.store.engine import make_engine
from monitor.store.migrate import prepare


class StoreBase:
    """The engine and its sessions; thread-safe via sessions."""

    def __init__(self, url: str):
        self.engine = make_engine(url)
        try:
            prepare(self.engine)
        except StorageError:
            self.engine.dispose()
            raise
        except Exception as exc:
            self.engine.dispose()
            raise StorageError(f"cannot open storage: {exc}") from exc
        self.dialect = self.engine.dialect.name
        self._mentions_lock = threading.Lock()

    def close(self) -> None:
        self.engine.dispose()

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def _select(self, model, *where, order_by=None, limit: int | None = None) -> list:
        with self.session() as s:
            q = select(model)
            for w in where:
                q = q.where(w)
            q = q.order_by(order_by if order_by is not None else model.id)
            if limit:
                q = q.limit(limit)
            return list(s.exec(q))

    @staticmethod
    def _apply(s: Session, model, ident: int, values: dict) -> None:
        row = s.get(model, ident)
        for k, v in values.items():
            setattr(row, k, v)
        s.add(row)

    # ------------------------------------------------------------ generic: only the tests read rows this way now;
    # the application uses the typed methods of the repository modules

    def add(self, row):
        """Insert one row and return it with its id."""
        with self.session() as s:
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def get(self, model, ident):
        with self.session() as s:
            return s.get(model, ident)

    def update(self, model, ident, **values):
        """Set fields on one row; return the row (None when there is no such row)."""
        with self.session() as s:
            row = s.get(model, ident)
            if row is None:
                return None
            for k, v in values.items():
                setattr(row, k, v)
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def rows(self, model, *where, order_by=None, limit: int | None = None) -> list:
        return self._select(model, *where, order_by=order_by, limit=limit)

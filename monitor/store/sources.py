"""Sources: per-source fetch state (cursor, ETag/Last-Modified, health counters) and the
state of ops notices. The rules for how a fetch changes the state live in
:mod:`monitor.health`; this module only stores."""
from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Callable

from sqlalchemy import bindparam
from sqlmodel import select

from monitor.store.core import StoreBase
from monitor.store.tables import SourceStateRow

_TABLE = SourceStateRow.__table__
_COLUMNS = tuple(_TABLE.columns.keys())
_FETCH_STATE = tuple(c for c in _COLUMNS if c not in ("source_id", "notice_state", "notice_at"))  # what a fetch sets
# a poll's write when the row is still the one it read: one statement, built once
_UPDATE_SEEN = (_TABLE.update()
                .where(_TABLE.c.source_id == bindparam("b_id"), _TABLE.c.last_poll_at == bindparam("b_seen"))
                .values({c: bindparam(f"b_{c}") for c in _FETCH_STATE}))


class SourcesRepo(StoreBase):
    def source_state(self, source_id: str) -> SourceStateRow:
        """The source's state; a new (unsaved) row for a source never polled."""
        with self.session() as s:
            row = s.get(SourceStateRow, source_id)
            return row if row is not None else SourceStateRow(source_id=source_id)

    def source_states(self) -> dict[str, SourceStateRow]:
        with self.session() as s:
            return {r.source_id: r for r in s.exec(select(SourceStateRow))}

    def change_source_state(self, source_id: str, change: Callable[[SourceStateRow], None],
                            seen: SourceStateRow | None = None) -> tuple[str, str]:
        """Read the source's state, let ``change`` modify it, and save it, in one transaction;
        return (status before, status after). ``change`` must not touch the database.

        ``seen``: the state as :meth:`source_state` returned it before the fetch. While the
        stored row is still that one (its ``last_poll_at`` unchanged: no other poll of the
        source wrote since), the changed columns are written in one UPDATE that checks
        exactly that, without reading the row again; otherwise as above."""
        if seen is not None and seen.last_poll_at is not None:
            done = self._update_seen(source_id, change, seen)
            if done is not None:
                return done
        with self.session() as s:
            row = s.get(SourceStateRow, source_id) or SourceStateRow(source_id=source_id)
            before = row.status
            change(row)
            s.add(row)
            s.commit()
            return before, row.status

    def _update_seen(self, source_id: str, change: Callable[[SourceStateRow], None],
                     seen: SourceStateRow) -> tuple[str, str] | None:
        row = SimpleNamespace(**{c: getattr(seen, c) for c in _COLUMNS})  # a plain copy: change() only sets fields
        change(row)  # type: ignore[arg-type]
        binds = {f"b_{c}": getattr(row, c) for c in _FETCH_STATE}
        with self.engine.begin() as conn:
            updated = conn.execute(_UPDATE_SEEN, {**binds, "b_id": source_id, "b_seen": seen.last_poll_at}).rowcount
        return (seen.status, row.status) if updated == 1 else None

    def record_notice(self, source_id: str, state: str | None, at: datetime) -> None:
        with self.session() as s:
            row = s.get(SourceStateRow, source_id) or SourceStateRow(source_id=source_id)
            row.notice_state = state
            row.notice_at = at
            s.add(row)
            s.commit()

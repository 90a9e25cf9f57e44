"""The outbox: deliveries claimed while sending, finished after, with fallbacks. Notifications
and their deliveries are written, with the state they stand for, by :mod:`monitor.store.alerts`."""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import update
from sqlmodel import select

from monitor.store.core import StoreBase
from monitor.store.tables import DeliveryRow, NotificationRow


class OutboxRepo(StoreBase):
    def claim_deliveries(self, now: datetime, max_attempts: int, stale_before: datetime) -> list[DeliveryRow]:
        """Mark due deliveries as being sent and return them. Due: pending or retrying whose
        time has come, or "sending" with a claim older than ``stale_before`` (the process that
        claimed it died mid-send; sending again may repeat a page, never lose one).

        Two processes never claim one delivery: the claim is one UPDATE guarded by the same
        "due" condition, and only the rows it changed are returned (on SQLite the write lock
        orders the two UPDATEs; on PostgreSQL the second re-checks the condition on the rows
        the first changed, and ``SKIP LOCKED`` keeps it from waiting on them)."""
        # the first term is implied by the rest; it lets the index on status find them (an
        # OR alone makes both engines read every delivery ever made)
        due = DeliveryRow.status.in_(("pending", "retrying", "sending")) & (DeliveryRow.attempts < max_attempts) & (
            (DeliveryRow.status.in_(("pending", "retrying"))
             & (DeliveryRow.next_attempt_at.is_(None) | (DeliveryRow.next_attempt_at <= now)))
            | ((DeliveryRow.status == "sending") & (DeliveryRow.claimed_at <= stale_before))
        )
        with self.session() as s:
            q = select(DeliveryRow.id).where(due).order_by(DeliveryRow.id)
            if self.dialect == "postgresql":
                q = q.with_for_update(skip_locked=True)
            ids = list(s.exec(q))
            if not ids:
                s.commit()
                return []
            claim = (update(DeliveryRow).where(DeliveryRow.id.in_(ids), due)
                     .values(status="sending", claimed_at=now).returning(DeliveryRow.id)
                     .execution_options(synchronize_session=False))
            claimed = list(s.exec(claim).scalars())
            rows = list(s.exec(select(DeliveryRow).where(DeliveryRow.id.in_(claimed)).order_by(DeliveryRow.id)))
            s.commit()
            return rows

    def finish_delivery(self, delivery_id: int, ok: bool, error: str | None, at: datetime,
                        retry_at: datetime | None, max_attempts: int) -> DeliveryRow:
        with self.session() as s:
            row = s.get(DeliveryRow, delivery_id)
            row.attempts += 1
            row.claimed_at = None
            if ok:
                row.status, row.sent_at, row.last_error, row.next_attempt_at = "sent", at, None, None
            else:
                row.last_error = error
                give_up = row.attempts >= max_attempts or retry_at is None
                row.status = "failed" if give_up else "retrying"
                row.next_attempt_at = None if give_up else retry_at
            s.add(row)
            s.commit()
            return row

    def deliveries(self, notification_id: int | None = None, limit: int | None = None) -> list[DeliveryRow]:
        where = [DeliveryRow.notification_id == notification_id] if notification_id is not None else []
        order = DeliveryRow.id.desc() if limit else DeliveryRow.id
        return self._select(DeliveryRow, *where, order_by=order, limit=limit)

    def queue_fallback(self, notification_id: int, primary_ids: Sequence[int], targets: Sequence[tuple[str, int, str]],
                       at: datetime) -> None:
        """Mark primaries as having had their fallback considered and queue the fallback
        deliveries (none when another URL of the route already delivered), in one transaction."""
        with self.session() as s:
            note = s.get(NotificationRow, notification_id)
            for ident in primary_ids:
                row = s.get(DeliveryRow, ident)
                row.fallback_at = at
                s.add(row)
            for route_id, index, target in targets:
                s.add(DeliveryRow(alert_id=note.alert_id, notification_id=notification_id, route_id=route_id,
                                  target_index=index, target=target, created_at=at, next_attempt_at=at,
                                  fallback_for=primary_ids[0]))
            s.commit()

    def unsent_for_fallback(self, route_id: str, older_than: datetime) -> list[DeliveryRow]:
        """Deliveries on ``route_id`` made before ``older_than``, not sent, with no fallback queued yet."""
        return self._select(DeliveryRow, DeliveryRow.route_id == route_id, DeliveryRow.status != "sent",
                         DeliveryRow.fallback_at.is_(None), DeliveryRow.created_at <= older_than,
                         DeliveryRow.notification_id.is_not(None))

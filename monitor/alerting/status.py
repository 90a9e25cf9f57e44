"""The states an alert, an incident and a notification go through. str-valued, so the
values stored in the database are the words they always were.

An alert: new -> grouped -> notified, or new -> silenced | inhibited | unrouted; a
silenced alert whose silence ends while it still fires is new again. An incident:
open -> acked -> resolved (or open -> resolved)."""
from __future__ import annotations

from enum import StrEnum


class AlertStatus(StrEnum):
    NEW = "new"
    GROUPED = "grouped"
    NOTIFIED = "notified"
    SILENCED = "silenced"
    INHIBITED = "inhibited"
    UNROUTED = "unrouted"


class IncidentStatus(StrEnum):
    OPEN = "open"
    ACKED = "acked"
    RESOLVED = "resolved"


class NoteKind(StrEnum):
    """What a notification is: a first page, an update to its incident, a repeat or an
    escalation of an unacknowledged one, an acknowledgement, an ops notice, a digest, a
    weekly report."""

    PAGE = "page"
    UPDATE = "update"
    REPEAT = "repeat"
    ESCALATION = "escalation"
    ACK = "ack"
    OPS = "ops"
    DIGEST = "digest"
    REPORT = "report"


SEVERITY_RANK = {"critical": 3, "warning": 2, "info": 1}

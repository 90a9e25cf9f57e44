"""Storage with SQLModel: a SQLite file by default (WAL), PostgreSQL by URL.

Modules
  tables         the SQLModel tables (one docstring lists them) and :class:`UTCDateTime`
  evidence_tables  the evidence tables: raw payloads, fetches, versions' evidence,
                 tombstones, legal holds
  evidence, retention
                 raw payloads, tombstones and evidence reads; legal holds and the purge
  engine         :func:`make_engine` (SQLite pragmas, psycopg 3), :func:`describe_error`
  migrate        the schema's version (Alembic, ``migrations/``): what :class:`Store` does on
                 open, ``upgrade`` and ``current`` for ``repwatch db``
  core           :class:`~monitor.store.core.StoreBase`: engine, sessions, opening
  mentions, mention_reads, attack, sources, leases, outbox, incidents, alerts
                 typed repository methods, mixed into :class:`Store`
  reports        aggregate reads for the weekly report, mixed in too

All database access goes through :class:`Store`; all datetimes go in and come out as aware
UTC, on both engines.
"""
from __future__ import annotations

from monitor.store.alerts import AlertsRepo
from monitor.store.dashboard import DashboardReads
from monitor.store.attack import AttackQueries
from monitor.store.engine import describe_error, make_engine
from monitor.store.evidence import EvidenceRepo, MentionEvidence
from monitor.store.evidence_tables import FetchRow, HoldRow, MentionEvidenceRow, PayloadRow, TombstoneRow
from monitor.store.incidents import IncidentsRepo
from monitor.store.leases import Lease, LeasesRepo
from monitor.store.mention_reads import MentionQueries
from monitor.store.mentions import MentionsRepo, StoredMention
from monitor.store.outbox import OutboxRepo
from monitor.store.retention import PurgeCounts, RetentionRepo
from monitor.store.reports import ReportsRepo
from monitor.store.sources import SourcesRepo
from monitor.store.stats import Counts, StatsRepo
from monitor.store.tables import (
    RELEASED,
    AlertRow,
    DeliveryRow,
    GroupRow,
    IncidentRow,
    LeaseRow,
    MentionEntityRow,
    MentionRow,
    MentionTallyRow,
    MentionVersionRow,
    NotificationRow,
    SilenceRow,
    SourceStateRow,
    UTCDateTime,
)


class Store(MentionsRepo, AttackQueries, MentionQueries, SourcesRepo, IncidentsRepo, AlertsRepo, OutboxRepo,
            LeasesRepo, StatsRepo, DashboardReads, ReportsRepo, EvidenceRepo, RetentionRepo):
    """All database access. One instance per process; thread-safe via sessions. Opening it
    brings the database's schema up to date (:func:`monitor.store.migrate.prepare`)."""


__all__ = [
    "RELEASED", "AlertRow", "Counts", "DeliveryRow", "FetchRow", "GroupRow", "HoldRow", "MentionEvidence",
    "MentionEvidenceRow", "PayloadRow", "PurgeCounts", "TombstoneRow", "IncidentRow", "Lease", "LeaseRow",
    "MentionEntityRow",
    "MentionRow", "MentionTallyRow", "MentionVersionRow", "NotificationRow", "SilenceRow", "SourceStateRow", "Store",
    "StoredMention",
    "UTCDateTime", "describe_error", "make_engine",
]

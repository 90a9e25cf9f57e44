"""Schema migrations (Alembic) from a real repwatch 0.1 database, on SQLite and PostgreSQL.

The fixtures in tests/fixtures/db_0_1/ were written by repwatch 0.1's own code (commit
f339708; see generate.py there): its DDL and a few rows, and the same database after the
hand-written ADD COLUMN of the last code before the version table had opened it."""
from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from monitor.errors import StorageError
from monitor.matching import Match
from monitor.mention import Mention
from monitor.store import MentionEntityRow, MentionRow, MentionTallyRow, Store, UTCDateTime, migrate
from monitor.store.tables import metadata
from tests.conftest import T0, write_config

DB_0_1 = Path(__file__).parent / "fixtures" / "db_0_1"
HEAD = "0009"


def load(url: str, name: str) -> None:
    """Execute a fixture script (``name``: sqlite or postgresql, with a suffix) on the empty database at ``url``."""
    engine = sa.create_engine(url)
    dialect = engine.dialect.name
    sql = (DB_0_1 / f"{name.format(dialect=dialect)}.sql").read_text(encoding="utf-8")
    with engine.connect() as conn:
        if dialect == "sqlite":
            conn.connection.dbapi_connection.executescript(sql)
        else:
            conn.exec_driver_sql(sql)
            conn.commit()
    engine.dispose()


def schema_diffs(url: str) -> list:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    engine.dispose()
    return diffs


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    names = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    return names


def assert_old_rows_usable(url: str) -> None:
    store = Store(url)
    try:
        assert store.count_mentions() == 3
        by_id = {m.id: m for m in store.mentions()}
        assert by_id[1].title == "林志明醫師 態度很差" and by_id[1].label == "negative" and by_id[1].entities == ("dr-lin",)
        assert by_id[1].event_at == T0 - timedelta(hours=1, minutes=30) and by_id[1].backfill is False
        assert [m.id for m in store.negative_mentions("dr-lin", T0 - timedelta(hours=3), T0, 0.5)] == [1]
        assert store.entities_for_url("https://clinic.example/n/3") == ["renxin"]  # url_key filled in for 0.1 rows
        ga, rss = store.source_state("ga"), store.source_state("rss")
        assert (ga.status, ga.etag, ga.total_mentions, ga.backfilled) == ("ok", '"e1"', 2, None)
        assert (rss.status, rss.consecutive_failures, rss.last_error) == ("failing", 1, "HTTP 503")
        assert store.last_alert("negative-burst", "dr-lin").mention_id_set == {1}
        due = store.claim_deliveries(T0, 5, T0 - timedelta(minutes=5))  # 0.1's pending page is still sent
        assert [(d.id, d.alert_id, d.notification_id, d.status) for d in due] == [(1, 1, None, "sending")]
        new = store.add_mentions([(Mention("ga", "林志明", "新的一篇", url="https://forum.example.tw/t/9"),
                                   [Match("dr-lin", "林志明")])], T0)
        assert new == [4]  # ids (and PostgreSQL's sequences) carry on after 0.1's rows
        store.label_mention(2, "negative", ["attitude"], "amy", T0)
    finally:
        store.close()


def test_a_0_1_database_upgrades_to_todays_schema(db_url):
    load(db_url, "{dialect}")
    assert migrate.current(db_url) == "0001"  # recognised by its tables; nothing written yet
    assert "alembic_version" not in tables(db_url)
    assert migrate.upgrade(db_url) == ["0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009"]
    assert migrate.current(db_url) == HEAD
    assert schema_diffs(db_url) == []
    assert_old_rows_usable(db_url)


def test_a_database_the_hand_written_migration_changed_is_recognised_and_repaired(db_url):
    load(db_url, "{dialect}_hand_migrated")
    assert migrate.current(db_url) == "0006"
    assert schema_diffs(db_url) != []  # indexes it never made, 0.1's NOT NULL foreign key
    assert migrate.upgrade(db_url) == ["0007", "0008", "0009"]
    assert schema_diffs(db_url) == []
    assert_old_rows_usable(db_url)


def test_upgrading_twice_is_a_no_op(db_url):
    load(db_url, "{dialect}")
    assert migrate.upgrade(db_url)
    assert migrate.upgrade(db_url) == []
    assert migrate.current(db_url) == HEAD and schema_diffs(db_url) == []


def test_a_new_database_is_created_at_head(db_url):
    assert migrate.current(db_url) is None
    assert migrate.upgrade(db_url) == []
    assert migrate.current(db_url) == HEAD and schema_diffs(db_url) == []


def test_0008_copies_the_rule_columns_onto_the_links_and_counts_the_tallies(db_url):
    load(db_url, "{dialect}")
    assert migrate.upgrade(db_url, "0007")[-1] == "0007"
    mentions = sa.table("mentions", *(sa.column(c) for c in ("id", "fingerprint", "source_id", "title", "text",
                                                              "backfill", "sentiment_label", "negative_score")),
                        sa.column("detected_at", UTCDateTime()), sa.column("event_at", UTCDateTime()))
    links = sa.table("mention_entities", sa.column("mention_id"), sa.column("entity_id"), sa.column("alias"))
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:  # rows a 0007 database holds; ids far apart, so the copy takes several batches
        for k, ident in enumerate((10, 60_000, 120_001)):
            at = T0 - timedelta(days=k, minutes=7)
            conn.execute(sa.insert(mentions).values(
                id=ident, fingerprint=f"f{ident}", source_id="rss", title="t", text="x", backfill=k == 1,
                sentiment_label=(None, "negative", "neutral")[k], negative_score=(None, 0.8, 0.1)[k],
                detected_at=at, event_at=at - timedelta(hours=1)))
            conn.execute(sa.insert(links).values(mention_id=ident, entity_id="dr-lin", alias=""))
    engine.dispose()
    assert migrate.upgrade(db_url) == ["0008", "0009"] and schema_diffs(db_url) == []
    store = Store(db_url)
    try:
        rows = {m.id: m for m in store.rows(MentionRow)}
        copied = store.rows(MentionEntityRow, order_by=MentionEntityRow.mention_id)
        assert len(copied) == 6
        for link in copied:
            m = rows[link.mention_id]
            assert (link.event_at, link.detected_at, link.negative_score, bool(link.scored), bool(link.backfill)) == (
                m.event_at, m.detected_at, m.negative_score, m.sentiment_label is not None, bool(m.backfill))
        tallies = {t.source_id: (t.stored, t.negative)
                   for t in store.rows(MentionTallyRow, order_by=MentionTallyRow.source_id)}
        assert tallies == {"ga": (2, 1), "rss": (4, 1)}  # a negative verdict: sentiment_label "negative"
        assert [m.id for m in store.window_negatives(["dr-lin"], T0 - timedelta(days=3), T0, 0.5)["dr-lin"]] == [1]
        assert store.counts(T0, (60,)).mentions == [("ga", 2, 1), ("rss", 4, 1)]
    finally:
        store.close()


def test_opening_the_store_upgrades_a_0_1_database(db_url):
    load(db_url, "{dialect}")
    assert_old_rows_usable(db_url)
    assert migrate.current(db_url) == HEAD


def test_concurrent_upgrades_migrate_once(db_url):
    load(db_url, "{dialect}")
    results, errors = [], []

    def run():
        try:
            results.append(migrate.upgrade(db_url))
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results, key=len) == [[], [], [], ["0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009"]]
    assert schema_diffs(db_url) == []


def test_a_database_from_a_newer_repwatch_is_refused(db_url):
    migrate.upgrade(db_url)
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StorageError, match="9999"):
        Store(db_url)


CFG = """
[storage]
url = "{url}"

[[entities]]
id = "dr-lin"
name = "林志明醫師"

[[sources]]
id = "feed"
type = "rss"
url = "https://x.example/f"

[[routes]]
id = "crisis-team"
notify = ["json://127.0.0.1:9/x"]
"""


def test_the_db_commands_upgrade_and_show_the_revision(tmp_path, capsys):
    from monitor.cli import main

    url = f"sqlite:///{tmp_path / 'old.db'}"
    load(url, "{dialect}")
    cfg = str(write_config(tmp_path, CFG.format(url=url)))
    assert main(["db", "current", "--config", cfg]) == 0
    assert "0001" in capsys.readouterr().out
    assert main(["db", "upgrade", "--config", cfg]) == 0
    assert HEAD in capsys.readouterr().out
    assert migrate.current(url) == HEAD and schema_diffs(url) == []

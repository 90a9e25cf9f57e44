"""Shared fixtures: a clock, stores on SQLite and PostgreSQL, local servers, configs.

PostgreSQL: tests marked ``postgres`` use REPWATCH_TEST_PG_URL (scripts/test.sh and
.ci/run start a real server and set it). Without it they are skipped locally, but
under CI=true a missing server is an error, so CI can never pass without it.
"""
from __future__ import annotations

import os
import textwrap
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from monitor.clock import ManualClock
from monitor.localserver import FeedServer, Receiver

FIXTURES = Path(__file__).parent / "fixtures"
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)


# The slowest files run first: with --no-loadscope-reorder (scripts/test.sh) pytest-xdist's
# loadfile scheduling hands files out in collection order, and a long file handed out last leaves
# the other worker idle at the end (kill -9 and the browser test last made one worker run 34 s
# longer than the other; by default xdist orders files by how many tests they hold, not by time).
SLOW_FIRST = ("test_defence_alerts.py", "test_faults_fuzz.py", "test_scale.py", "test_daemon_cli.py",
              "test_onnx_encoder.py", "test_cli_ux.py", "test_faults_crash.py", "test_faults_concurrency.py",
              "test_bench_scale.py", "test_browser.py", "test_faults_daemon.py", "test_pollprocs.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


@pytest.fixture
def clock():
    return ManualClock(T0)


def _pg_url() -> str | None:
    url = os.environ.get("REPWATCH_TEST_PG_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("REPWATCH_TEST_PG_URL is not set under CI: .ci/run must start PostgreSQL")
        pytest.skip("REPWATCH_TEST_PG_URL not set (scripts/test.sh starts a PostgreSQL server)")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """A fresh database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'repwatch.db'}"
        return
    base = _pg_url()
    import sqlalchemy as sa

    name = "rw_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    head, _, _ = base.rpartition("/")
    yield f"{head}/{name}".replace("postgresql://", "postgresql+psycopg://")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def store(db_url):
    from monitor.store import Store

    s = Store(db_url)
    yield s
    s.close()


class Sleeps(list):
    """An injected sleep that records what it was asked to wait."""

    def __call__(self, seconds):
        self.append(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def router():
    """respx for a whole test: unmatched requests fail, unused routes are fine."""
    import respx

    with respx.mock(assert_all_called=False, assert_all_mocked=True) as r:
        yield r


@pytest.fixture
def feed_server():
    with FeedServer() as server:
        yield server


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


def write_config(tmp_path: Path, body: str, name: str = "repwatch.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


class FakeScorer:
    """Fixed scores by text, no model: for tests that write scores by hand or whose scores do
    not matter. ``negative``: text fragment -> P(negative); the first fragment a text holds
    decides, any other text gets ``default``."""

    name = "fake"

    def __init__(self, negative: dict[str, float] | None = None, default: float = 0.05):
        self.negative = dict(negative or {})
        self.default = default

    def score(self, texts):
        from monitor.sentiment import Score

        out = []
        for text in texts:
            p = next((v for fragment, v in self.negative.items() if fragment in text), self.default)
            out.append(Score("negative" if p >= 0.5 else "positive", max(p, 1 - p), p, 1 - p))
        return out


@pytest.fixture
def fake_scorer():
    return FakeScorer()


@pytest.fixture(scope="session")
def builtin_scorer():
    from monitor.sentiment import load_scorer

    return load_scorer("builtin")


def connected_before(config, at: datetime) -> None:
    """Record that every source of ``config`` was already polled once, at ``at``: its next
    poll is not its first, so what it brings can page (a first poll is history, never paged)."""
    from monitor.health import record_fetch
    from monitor.mention import FetchResult
    from monitor.store import Store

    store = Store(config.storage.url)
    for source in config.sources:
        record_fetch(store, source.id, FetchResult("not_modified"), 0, at, source.digest)
    store.close()

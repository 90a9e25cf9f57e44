"""Scoring what was stored: live mentions first, then history (backfill), which never
starves the polls.

A source's first poll stores its whole feed as history (scored, never paged): 10,000 new
sources bring some 40,000 texts at once. Scoring them flat out would take both cores from
the polls for minutes, so that first polls and then due polls start late. History is
therefore scored in small chunks and *paced*:

* live mentions (anything a rule may page on) are scored first, in ``SCORE_CHUNK``s, all
  of them, every run;
* then history in ``BACKFILL_CHUNK``s for at most ``BACKFILL_BUDGET_S`` seconds a run
  (the rest at the next run, after the rules: ``history_left`` asks the daemon for it at
  once; a poll that stored only history does not wake processing, the rules have nothing
  new to read, so runs are not spent on it while 10,000 first polls come in);
* after each chunk of history the run ends early if live mentions arrived meanwhile (the
  rules and the next run take them first), and while polls are running it waits as long
  as the chunk took, so history takes at most half the time the polls could use. That
  wait is a nap the daemon's processing loop cuts short when a poll stores a live mention
  (:meth:`monitor.processing.ProcessLoop.nap`; history stored and the outbox timer do not
  cut it, so the pacing holds): the run then ends, and the next one scores and pages the
  new mention at once instead of after the nap. A chunk is small
  (``BACKFILL_CHUNK``) so that a live mention that arrives while one is being scored
  waits a fraction of a second, not seconds.
* while new sources' first polls wait in the queue for a thread (10,000 new sources' first
  round), history gets one chunk per ``QUEUED_HISTORY_EVERY_S`` (the outbox tick's period:
  10 % slack for its jitter) and no more: the first polls are what is late, and history
  never pages. Once every source has polled, a queue (polls asleep in a host's rate
  limit) no longer holds history back.

Each chunk is one SELECT, one scorer call (the scorer batches as ``[sentiment]
batch_size`` says; 1 keeps each score independent of its neighbours) and one transaction
for the verdicts (see :mod:`monitor.verdict`). Star-only reviews are judged by their
rating alone.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from monitor.clock import Clock
from monitor.mention import join_title_text
from monitor.sentiment import Scorer
from monitor.store import Store
from monitor.verdict import decide

log = logging.getLogger("repwatch")

SCORE_CHUNK = 256  # live mentions read, scored and saved together (one SELECT, one scorer call, one commit)
BACKFILL_CHUNK = 16  # history the same way, in small steps: a live mention never waits long behind one
BACKFILL_BUDGET_S = 5.0  # seconds of history per processing run, pauses included
QUEUED_HISTORY_EVERY_S = 10.0  # while polls are queued: one chunk of history this often


@dataclass
class ScoreOutcome:
    scored: int = 0
    error: str | None = None  # the scorer failed: what is left stays unscored for the next run
    history_left: bool = False  # the run's budget ran out with history still unscored: run again


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


@dataclass
class Scoring:
    """Scores a store's unscored mentions with ``scorer``. ``polls_running`` says whether
    polls are going on now and ``polls_queued`` whether some wait for a thread (the
    daemon's scheduler); ``pause(seconds)`` waits between
    chunks of history and returns True when it was cut short by new work (the daemon's
    :meth:`~monitor.processing.ProcessLoop.nap`; a plain sleep otherwise); ``monotonic``
    is injected for tests."""

    store: Store
    scorer: Scorer
    clock: Clock
    polls_running: Callable[[], bool] = lambda: False
    polls_queued: Callable[[], bool] = lambda: False
    pause: Callable[[float], bool] = field(default=_sleep)
    monotonic: Callable[[], float] = field(default=time.monotonic)
    _queued_chunk_at: float | None = field(default=None, init=False)  # history's last chunk while polls queued

    def run(self, threshold: float) -> ScoreOutcome:
        """Live mentions, all of them; then history within the budget, paced behind polls."""
        out = ScoreOutcome()
        while rows := self.store.unscored(SCORE_CHUNK, backfill=False):
            if not self._score(rows, threshold, out):
                return out
        if self.polls_queued():  # polls are late: history waits, but for a chunk now and then
            now = self.monotonic()
            if self._queued_chunk_at is None or now - self._queued_chunk_at >= 0.9 * QUEUED_HISTORY_EVERY_S:
                self._queued_chunk_at = now
                if rows := self.store.unscored(BACKFILL_CHUNK, backfill=True):
                    self._score(rows, threshold, out)
            return out
        budget = self.monotonic() + BACKFILL_BUDGET_S
        while rows := self.store.unscored(BACKFILL_CHUNK, backfill=True):
            started = self.monotonic()
            if not self._score(rows, threshold, out):
                return out
            took = self.monotonic() - started
            if self.polls_running():  # history gets at most half of the time while polls go on
                if self.monotonic() + took > budget:
                    out.history_left = True
                    return out
                if self.pause(took):
                    return out  # woken by a live mention: the next run takes it first
            if self.store.unscored(1, backfill=False):
                return out  # live mentions arrived: the rules, then the next run takes them
            if self.monotonic() > budget:
                out.history_left = True  # the rest in the next run, right after the rules
                return out
        return out

    def _score(self, rows: list, threshold: float, out: ScoreOutcome) -> bool:
        texts = [join_title_text(r.title, r.text) for r in rows]
        worded = [i for i, t in enumerate(texts) if t.strip()]
        try:
            scores = self.scorer.score([texts[i] for i in worded]) if worded else []
        except Exception as exc:  # keep the mentions unscored; retried next cycle
            log.exception("scoring failed for %d mentions", len(rows))
            out.error = f"{type(exc).__name__}: {exc}"
            return False
        by_row = dict(zip(worded, scores))
        verdicts = [(r.id, decide(texts[i], r.rating, by_row.get(i), threshold)) for i, r in enumerate(rows)]
        self.store.save_scores(verdicts, self.scorer.name, self.clock.now())
        out.scored += len(rows)
        return True

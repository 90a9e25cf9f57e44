"""The scheduler, the poll pool and the processing loop, with a manual clock: no sleeping."""
import statistics
import threading
import time
from datetime import datetime, timedelta, timezone

from monitor.clock import ManualClock
from monitor.processing import ProcessLoop
from monitor.schedule import Every, PollPool, Scheduler, phase_offset

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)


class Inline:
    """A pool that runs each call at once, or holds it until released."""

    def __init__(self, hold: bool = False):
        self.hold, self.held = hold, []

    def submit(self, call):
        self.held.append(call) if self.hold else call()

    def release(self):
        calls, self.held = self.held, []
        for call in calls:
            call()

    def close(self):
        pass


def drive(scheduler, clock, until, step=timedelta(seconds=1)):
    while clock.now() < until:
        clock.advance(step)
        scheduler.run_pending(clock.now())


def test_phase_offset_is_stable_and_spread_within_30_seconds():
    offsets = [phase_offset(f"source-{i}", MINUTE, timedelta(seconds=30)) for i in range(1000)]
    assert offsets == [phase_offset(f"source-{i}", MINUTE, timedelta(seconds=30)) for i in range(1000)]
    seconds = [o.total_seconds() for o in offsets]
    assert 0 <= min(seconds) < 1 and 29 < max(seconds) < 30
    assert 13 < statistics.mean(seconds) < 17  # spread evenly, not bunched
    assert phase_offset("x", timedelta(seconds=10), timedelta(seconds=30)) < timedelta(seconds=10)  # min(every, 30 s)
    assert phase_offset("x", MINUTE, timedelta(0)) == timedelta(0)  # jitter = "0s": at once


def test_first_polls_fall_within_30_seconds_and_the_period_is_every_exactly():
    clock = ManualClock(T0)
    runs: dict[str, list[datetime]] = {}
    scheduler = Scheduler(clock, Inline())
    for i in range(200):
        sid = f"s{i}"
        scheduler.add_job(sid, lambda sid=sid: runs.setdefault(sid, []).append(clock.now()),
                          Every(MINUTE, phase_offset(sid, MINUTE, timedelta(seconds=30))))
    drive(scheduler, clock, T0 + 100 * MINUTE + timedelta(seconds=30), step=timedelta(milliseconds=500))
    firsts = [times[0] - T0 for times in runs.values()]
    assert len(runs) == 200 and max(firsts) <= timedelta(seconds=30)
    for times in runs.values():
        assert len(times) == 101
        periods = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
        assert statistics.mean(periods) == 60.0
        assert times[-1] - times[0] == 100 * MINUTE  # no drift over 100 periods
    assert scheduler.stats.started == 200 * 101 and scheduler.stats.skipped == 0


def test_a_late_tick_runs_each_job_at_its_due_time_grid_not_from_the_tick():
    clock = ManualClock(T0)
    seen = []
    scheduler = Scheduler(clock, Inline())
    scheduler.add_job("a", lambda: seen.append(clock.now()), Every(MINUTE, timedelta(seconds=10)))
    clock.advance(timedelta(seconds=13))  # the scheduler woke 3 s late
    scheduler.run_pending(clock.now())
    assert scheduler.next_due() == T0 + timedelta(seconds=70)  # 10 s + 60 s, not 13 s + 60 s
    clock.advance(timedelta(minutes=5))  # slept through several periods: one run, the rest counted missed
    assert scheduler.run_pending(clock.now()) == ["a"]
    assert scheduler.stats.missed == 4 and len(seen) == 2
    assert scheduler.next_due() == T0 + timedelta(seconds=370)


def test_a_poll_still_running_when_its_next_is_due_is_skipped_not_queued():
    clock = ManualClock(T0)
    pool = Inline(hold=True)
    scheduler = Scheduler(clock, pool)
    calls = []
    scheduler.add_job("slow", lambda: calls.append(clock.now()), Every(MINUTE))
    assert scheduler.run_pending(clock.now()) == ["slow"]
    for _ in range(3):  # its first run is still going (held in the pool) for three more periods
        clock.advance(MINUTE)
        assert scheduler.run_pending(clock.now()) == []
    assert scheduler.stats.skipped == 3 and len(pool.held) == 1
    pool.release()
    clock.advance(MINUTE)
    assert scheduler.run_pending(clock.now()) == ["slow"]
    pool.release()
    assert len(calls) == 2  # the skipped periods never ran later


def test_removed_and_replaced_jobs_keep_one_schedule():
    clock = ManualClock(T0)
    scheduler = Scheduler(clock, Inline())
    counts = {"a": 0, "b": 0}
    scheduler.add_job("a", lambda: counts.__setitem__("a", counts["a"] + 1), Every(MINUTE))
    scheduler.add_job("b", lambda: counts.__setitem__("b", counts["b"] + 1), Every(MINUTE))
    scheduler.add_job("a", lambda: counts.__setitem__("a", counts["a"] + 1), Every(2 * MINUTE))  # changed
    scheduler.remove_job("b")
    drive(scheduler, clock, T0 + 10 * MINUTE)
    assert counts == {"a": 6, "b": 0}
    assert [(j.id, j.trigger.interval) for j in scheduler.get_jobs()] == [("a", 2 * MINUTE)]


def test_the_pool_runs_polls_at_once_and_shutdown_abandons_a_stuck_one():
    clock = ManualClock(T0)
    scheduler = Scheduler(clock, PollPool(4))
    inside, release, stuck = threading.Barrier(4, timeout=5), threading.Event(), threading.Event()

    def poll():
        inside.wait()  # four polls are in at the same time, or this times out
        release.wait(5)

    for i in range(4):
        scheduler.add_job(f"p{i}", poll, Every(MINUTE))
    scheduler.add_job("stuck", lambda: stuck.wait(10), Every(MINUTE), inline=False)
    assert len(scheduler.run_pending(clock.now())) == 5
    release.set()
    assert scheduler.shutdown(grace=1.0) == 1  # the four finished; the stuck one is abandoned
    stuck.set()


def test_processing_runs_once_per_burst_of_wakes_and_once_more_on_stop():
    started, second, go = threading.Event(), threading.Event(), threading.Event()
    runs = []

    def process():
        runs.append(1)
        (second if len(runs) == 2 else started).set()
        go.wait(5)

    loop = ProcessLoop(process)
    loop.start()
    loop.wake()
    assert started.wait(5)
    for _ in range(50):  # polls storing while a run is going: coalesced into one more run
        loop.wake()
    go.set()
    assert second.wait(5)
    assert loop.stop(timeout=5)
    assert len(runs) == 3  # the first, one for the 50 wakes, and the last one on stop


def test_a_poll_writes_its_source_state_without_reading_it_again_unless_another_wrote(store):
    from monitor.health import record_fetch
    from monitor.mention import FetchResult

    ok = FetchResult("ok", etag='"e1"')
    assert record_fetch(store, "s", ok, 2, T0) == ("new", "ok")  # never polled: the plain path
    seen = store.source_state("s")
    statements = []
    from sqlalchemy import event

    def count(conn, cursor, statement, *args):
        statements.append(statement.split()[0].upper())

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        assert record_fetch(store, "s", FetchResult("not_modified"), 0, T0 + MINUTE, seen=seen) == ("ok", "ok")
        assert statements == ["UPDATE"]  # one statement, one commit
        seen = store.source_state("s")
        statements.clear()  # what that statement wrote is found again by the next one
        record_fetch(store, "s", FetchResult("not_modified"), 0, T0 + 90 * timedelta(seconds=1), seen=seen)
        assert statements == ["UPDATE"]
        record_fetch(store, "s", FetchResult("not_modified"), 0, T0 + MINUTE, seen=store.source_state("s"))
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    row = store.source_state("s")
    assert row.last_poll_at == T0 + MINUTE and row.etag == '"e1"' and row.total_mentions == 2

    # another poll of the source wrote since ``seen`` was read: read again, nothing lost
    record_fetch(store, "s", FetchResult("failed", error="boom"), 0, T0 + 2 * MINUTE, seen=row)
    assert record_fetch(store, "s", FetchResult("ok", etag='"e2"'), 3, T0 + 3 * MINUTE, seen=row) == ("failing", "ok")
    row = store.source_state("s")
    assert row.total_mentions == 5 and row.etag == '"e2"' and row.last_error == "boom"
    assert row.last_poll_at == T0 + 3 * MINUTE


def test_deadline_timers_run_in_order_on_one_thread_and_cancelled_ones_never_run():
    import time

    from connectors.deadline import Timers

    timers = Timers()
    fired, done = [], threading.Event()
    now = time.monotonic()
    handles = {name: timers.call_at(now + delay, lambda name=name: (fired.append((name, threading.get_ident())),
                                                                     name == "last" and done.set()))
               for name, delay in (("b", 0.2), ("a", 0.1), ("x", 0.15), ("last", 0.3))}
    timers.cancel(handles["x"])
    timers.cancel(handles["x"])  # twice is once
    assert done.wait(5)
    assert [name for name, _ in fired] == ["a", "b", "last"]
    assert len({ident for _, ident in fired}) == 1 and fired[0][1] != threading.get_ident()
    # a thousand requests armed and disarmed: no thread each, and the heap does not keep them
    before = threading.active_count()
    for _ in range(1000):
        timers.cancel(timers.call_at(time.monotonic() + 60, lambda: fired.append(("late", 0))))
    assert threading.active_count() == before and timers.pending() == 0 and len(timers._heap) <= 130
    timers.cancel(handles["a"])  # after it ran: nothing to do


def test_a_watchdog_cuts_a_stalled_read_at_its_deadline_from_the_shared_timer_thread():
    import socket
    import time

    from connectors.deadline import Timers, Watchdog

    class Stream:
        def __init__(self, sock):
            self.sock = sock

        def get_extra_info(self, key):
            return self.sock if key == "socket" else None

    server, client = socket.socketpair()
    timers = Timers()
    before = threading.active_count()
    dog = Watchdog(0.2, timers)
    dog.watch(Stream(client))
    started = time.monotonic()
    assert client.recv(10) == b""  # blocked until the watchdog shut the socket down
    assert 0.15 < time.monotonic() - started < 3 and dog.fired
    assert threading.active_count() <= before + 1  # the one timer thread at most
    calm = Watchdog(0.1, timers)
    calm.stop()  # disarmed before its time: never fires
    time.sleep(0.3)
    assert not calm.fired
    server.close()
    client.close()


class FakeClockScorer:
    """Scores each text 0.1 (calm) and advances a fake monotonic clock 0.01 s per text."""

    name = "fake"

    def __init__(self):
        self.now = 0.0
        self.calls: list[int] = []

    def monotonic(self) -> float:
        return self.now

    def score(self, texts):
        from monitor.sentiment import Score

        self.calls.append(len(texts))
        self.now += 0.01 * len(texts)
        return [Score("positive", 0.9, 0.1) for _ in texts]


def _stored(store, n: int, backfill: bool, tag: str) -> list[int]:
    from monitor.matching import Match
    from monitor.mention import Mention

    items = [(Mention("ga", f"{tag} {i}", f"{tag} text {i}", url=f"https://{tag}.example.tw/{i}"),
              [Match("dr-lin", "dr-lin")]) for i in range(n)]
    return store.add_mentions(items, T0, backfill_all=backfill)


def test_history_is_scored_in_paced_chunks_while_polls_run_and_a_live_mention_cuts_the_run_short(store, clock):
    from monitor.scoring import BACKFILL_BUDGET_S, BACKFILL_CHUNK, Scoring

    scorer = FakeClockScorer()
    pauses: list[float] = []
    polls = {"running": True}

    def pause(seconds):
        pauses.append(round(seconds, 6))
        scorer.now += seconds
        return False  # not woken: the nap ran its length

    run = Scoring(store, scorer, clock, polls_running=lambda: polls["running"], pause=pause,
                  monotonic=scorer.monotonic)
    live = _stored(store, 3, False, "live")
    _stored(store, 1000, True, "old")
    out = run.run(0.7)
    # the live ones first, then history in chunks, each followed by a pause as long as it took
    chunks = len(scorer.calls) - 1
    assert scorer.calls[0] == 3 and set(scorer.calls[1:]) == {BACKFILL_CHUNK} and chunks >= 2
    assert pauses == [round(0.01 * BACKFILL_CHUNK, 6)] * len(pauses) and len(pauses) in (chunks - 1, chunks)
    assert scorer.now <= 0.03 + BACKFILL_BUDGET_S + 1e-9  # within the budget, pauses included
    assert out.scored == 3 + BACKFILL_CHUNK * chunks and out.error is None
    assert {r.id for r in store.unscored(10, backfill=False)}.isdisjoint(live)

    polls["running"] = False  # no polls: history flat out, one budget a run
    scorer.calls.clear()
    pauses.clear()
    start = scorer.now
    out = run.run(0.7)
    assert pauses == [] and scorer.now - start <= BACKFILL_BUDGET_S + 0.01 * BACKFILL_CHUNK
    assert out.history_left  # the budget ran out with history left: the daemon runs again at once

    # a live mention stored while history is being scored ends the run after that chunk
    real_score = scorer.score

    def score_and_store_live(texts):
        if len(scorer.calls) == 1:
            _stored(store, 1, False, "late")
        return real_score(texts)

    scorer.score = score_and_store_live
    scorer.calls.clear()
    out = run.run(0.7)
    assert scorer.calls == [BACKFILL_CHUNK, BACKFILL_CHUNK] and out.scored == 2 * BACKFILL_CHUNK
    assert store.unscored(10, backfill=False)  # left for the next run, which takes it first
    scorer.calls.clear()
    run.run(0.7)
    assert scorer.calls[0] == 1 and not store.unscored(10, backfill=False)


def test_a_live_wake_cuts_the_nap_between_history_chunks_and_ends_the_run(store, clock):
    """The daemon's nap is its processing loop's urgent wake: a poll that stores a live
    mention ends the history part of the run at once, so the next run scores and pages it.
    A plain wake (history stored, the outbox timer) does not cut it: the pacing holds."""
    from monitor.app import PollReport
    from monitor.scoring import BACKFILL_CHUNK, Scoring

    loop = ProcessLoop(lambda: None)  # not started: only its wake and nap are used
    loop.wake()  # history stored: a run is asked for, the nap goes on
    started = time.monotonic()
    assert loop.nap(0.2) is False and time.monotonic() - started >= 0.19
    threading.Timer(0.05, loop.wake, kwargs={"urgent": True}).start()
    started = time.monotonic()
    assert loop.nap(10) is True and time.monotonic() - started < 5  # cut short, not 10 s
    assert loop.nap(0) is True  # the wake stays pending for the next run
    quiet = ProcessLoop(lambda: None)
    assert quiet.nap(0.01) is False

    # what the daemon wakes it for: live when a new mention is not history, or an edit
    assert PollReport("s", "ok", new=3, backfilled=2).live and PollReport("s", "ok", edited=1).live
    assert not PollReport("s", "ok", new=3, backfilled=3).live and not PollReport("s", "ok").live

    scorer = FakeClockScorer()
    woken = []

    def nap(seconds):
        woken.append(seconds)
        return True  # a poll stored something meanwhile

    _stored(store, 200, True, "old")
    out = Scoring(store, scorer, clock, polls_running=lambda: True, pause=nap, monotonic=scorer.monotonic).run(0.7)
    assert scorer.calls == [BACKFILL_CHUNK] and out.scored == BACKFILL_CHUNK and len(woken) == 1


def test_history_waits_while_polls_are_queued_but_for_a_chunk_every_ten_seconds(store, clock):
    """10,000 new sources' first round: polls wait for a thread, so history (never paged)
    gets one chunk per QUEUED_HISTORY_EVERY_S; live mentions are scored as always."""
    from monitor.scoring import BACKFILL_CHUNK, QUEUED_HISTORY_EVERY_S, Scoring

    scorer = FakeClockScorer()
    queued = {"now": True}
    run = Scoring(store, scorer, clock, polls_running=lambda: True, polls_queued=lambda: queued["now"],
                  pause=lambda s: False, monotonic=scorer.monotonic)
    _stored(store, 2, False, "live")
    _stored(store, 200, True, "old")
    out = run.run(0.7)
    assert scorer.calls == [2, BACKFILL_CHUNK]  # the live ones, then one chunk of history
    assert not out.history_left  # no run straight after: the queued polls come first
    scorer.calls.clear()
    _stored(store, 1, False, "later")
    run.run(0.7)
    assert scorer.calls == [1]  # within ten seconds: the live one only
    scorer.calls.clear()
    scorer.now += QUEUED_HISTORY_EVERY_S
    run.run(0.7)
    assert scorer.calls == [BACKFILL_CHUNK]
    scorer.calls.clear()
    queued["now"] = False  # the queue drained: history within its budget again
    run.run(0.7)
    assert len(scorer.calls) > 1 and set(scorer.calls[:-1]) == {BACKFILL_CHUNK}


def test_the_pool_reports_the_calls_waiting_for_a_thread():
    pool = PollPool(1, name="backlog-test")
    release = threading.Event()
    started = threading.Event()

    def hold():
        started.set()
        release.wait(10)

    pool.submit(hold)
    assert started.wait(5)
    assert pool.backlog() == 0  # the one call runs; none waits
    pool.submit(lambda: None)
    pool.submit(lambda: None)
    assert pool.backlog() == 2
    release.set()
    pool.close()
    deadline = time.monotonic() + 5
    while pool.backlog() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool.backlog() == 0

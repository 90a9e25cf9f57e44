"""First polls per second on the daemon's threads against poll processes, side by side.

    python bench/poll_processes.py [--sources 3000] [--processes 0,2,3]

For each setting in turn: a fresh SQLite file, the local feed server of ``bench/scale.py``
(N Google Alerts-style feeds, 3-5 entries each) and N new sources polled once each by 32
threads, through ``App.poll_source`` (``poll_processes = 0``) or through
:class:`monitor.pollprocs.PollProcesses` (the daemon's path with ``poll_processes = P``; its
children started first, so their start-up is not counted). Prints polls a second, the parent's
CPU per poll, the mentions stored, and each setting's rate over the first one's.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]


def one(sources: int, processes: int) -> dict:
    import scale

    from monitor.app import App
    from monitor.config import load_config
    from monitor.pollprocs import PollProcesses

    tmp = Path(tempfile.mkdtemp(prefix="pollprocs-"))
    args = scale.parse_args(["--sources", str(sources), "--every", "5m", "--jitter", "0s",
                             "--daemon", f"poll_processes={processes}"])
    feed, port = scale._start_feedserver(args, tmp)
    try:
        scale.write_config(tmp / "b.toml", args, port, 9, f"sqlite:///{tmp / 'b.db'}")
        subprocess.run([sys.executable, "-m", "monitor", "db", "upgrade", "-c", str(tmp / "b.toml")], check=True,
                       capture_output=True)
        app = App.from_config(load_config(tmp / "b.toml"), model=False)
        children = PollProcesses.of(app.config)
        poll = app.poll_source
        if children is not None:
            for k in range(processes):
                children._child(k)
            time.sleep(4)  # their imports and App
            poll = lambda sid: children.poll(app.config.source(sid))  # noqa: E731
        ids = [s.id for s in app.config.sources]
        t, c = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(32) as pool:
            reports = list(pool.map(poll, ids))
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        if children is not None:
            children.close()
        app.close()
    finally:
        feed.kill()
    return {"processes": processes, "polls_per_s": len(ids) / wall, "parent_cpu_ms": cpu / len(ids) * 1000,
            "ok": sum(r.status == "ok" for r in reports), "stored": sum(r.new for r in reports), "polls": len(ids)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sources", type=int, default=3000)
    ap.add_argument("--processes", default="0,2,3", help="settings of poll_processes, comma-separated")
    args = ap.parse_args()
    rows = [one(args.sources, int(p)) for p in args.processes.split(",")]
    base = rows[0]["polls_per_s"]
    print(f"{args.sources} new sources, first polls by 32 threads, SQLite:")
    for r in rows:
        print(f"  poll_processes = {r['processes']}: {r['polls_per_s']:6.1f} first polls/s "
              f"({r['polls_per_s'] / base:.2f}x), parent CPU {r['parent_cpu_ms']:.1f} ms per poll, "
              f"{r['ok']}/{r['polls']} ok, {r['stored']} mentions stored")


if __name__ == "__main__":
    main()

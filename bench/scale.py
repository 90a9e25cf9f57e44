"""Polling at scale: N local Google Alerts feeds, the real daemon, and a plain httpx baseline.

    python bench/scale.py --sources 1000 --duration 360          # every = 5m
    python bench/scale.py --sources 10000 --duration 360 --json out.json
    python bench/scale.py --quick                                 # N=50, 20 s, every = 10s

``bench/feedserver.py`` serves the feeds (ETag/304, ``--latency-ms``; a ``--negative-fraction``
of them publish a negative entry some seconds after repwatch's first poll of them, so it
arrives as a live mention) and logs every request. ``repwatch run`` polls them as a
subprocess with a config written here (the example's burst, severe and spike rules, a
route to a local json:// receiver). Beside it, a plain httpx.AsyncClient loop
(``--baseline-worker``) makes the same conditional GETs on the same schedule. ``bench/scale_report.py`` turns the
request log, the pages and the /proc samples into the report.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(ROOT))  # the report reads the daemon's first-poll offsets (monitor.schedule)

from feedserver import ENTITIES, feed_path  # noqa: E402
from scale_report import analyse, print_report, seconds  # noqa: E402


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def toml_tables(name: str, tables: list[dict]) -> str:
    return "".join(f"\n[[{name}]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in t.items()) for t in tables)


def write_config(path: Path, args: argparse.Namespace, feed_port: int, receiver_port: int, db_url: str) -> None:
    """N sources, 50 entities, the example config's burst, severe and spike rules (the issue's
    load; the rest name routes of their own) and inhibitions, one route to the receiver."""
    example = tomllib.loads((ROOT / "config" / "example.toml").read_text(encoding="utf-8"))
    rules = [r for r in example["rules"] if r.get("kind", "burst") in ("burst", "severe", "spike")]
    daemon = {"jitter": args.jitter, "listen": "", **{k: tomllib.loads(f"v = {v}")["v"]
                                                        for k, v in (kv.split("=", 1) for kv in args.daemon)}}
    entities = [{"id": f"doc-{k:02d}", "name": name, "aliases": [name[:-2]]} for k, name in enumerate(ENTITIES)]
    sources = [{"id": f"ga-{i:05d}", "type": args.type, "url": f"http://127.0.0.1:{feed_port}{feed_path(i)}",
                "every": args.every} for i in range(args.sources)]
    route = {"id": "bench", "notify": [f"json://127.0.0.1:{receiver_port}/"], "matchers": ['severity=~".+"'],
             "group_wait": args.group_wait}
    text = (f"# written by bench/scale.py\n[storage]\nurl = {toml_value(db_url)}\n\n[sentiment]\nmodel = \"builtin\"\n"
            "\n[daemon]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in daemon.items())
            + toml_tables("entities", entities) + toml_tables("sources", sources) + toml_tables("routes", [route])
            + toml_tables("rules", rules) + toml_tables("inhibit", example.get("inhibit", [])))
    path.write_text(text, encoding="utf-8")


class Receiver(ThreadingHTTPServer):
    """Records what apprise's json:// plugin POSTs, with its arrival time (time.time())."""

    def __init__(self):
        pages = self.pages = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                pages.append((time.time(), raw.decode("utf-8", "replace")))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, args=(0.1,), daemon=True).start()


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()
    except OSError:
        return None


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))):
            parents.setdefault(int(st[1]), []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(parents.get(p, []))
    return tree


def cpu_seconds(pid: int) -> float:
    """User+system CPU of a process tree, reaped children included."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in process_tree(pid):
        if st := _stat(p):  # fields 14-17 of stat: utime stime cutime cstime (index 11.. after the name)
            total += sum(int(x) for x in st[11:15 if p == pid else 13]) / tick
    return total


def rss_mb(pid: int) -> float:
    total = 0
    for p in process_tree(pid):
        if st := _stat(p):
            total += int(st[21]) * os.sysconf("SC_PAGE_SIZE")
    return total / 2 ** 20


async def _measure_capacity(port: int, secs: float, concurrency: int = 16) -> float:
    """Requests per second the feed server answers to one asyncio httpx client (a lower bound)."""
    done = 0
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(headers={"User-Agent": "bench-capacity/1"}, limits=limits) as client:
        end = time.monotonic() + secs

        async def worker(k: int) -> None:
            nonlocal done
            etag = {}
            while time.monotonic() < end:
                url = f"http://127.0.0.1:{port}{feed_path(k)}"
                r = await client.get(url, headers={"If-None-Match": etag.get(url, "")})
                etag[url] = r.headers.get("etag", "")
                done += 1

        await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return done / secs


async def _baseline(spec: dict) -> None:
    """The plain loop: each URL at start + phase + k·every, conditional GET, at most ``concurrency`` at once."""
    rng = random.Random(2)
    gate = asyncio.Semaphore(spec["concurrency"])
    etags: dict[str, str] = {}
    limits = httpx.Limits(max_connections=spec["concurrency"])
    async with httpx.AsyncClient(headers={"User-Agent": "bench-baseline/1"}, limits=limits, timeout=30) as client:
        async def source(url: str, due: float) -> None:
            while due < spec["until"]:
                await asyncio.sleep(max(0.0, due - time.time()))
                async with gate:
                    try:
                        r = await client.get(url, headers={"If-None-Match": etags[url]} if url in etags else None)
                        if r.status_code == 200:
                            etags[url] = r.headers.get("etag", "")
                    except httpx.HTTPError:
                        pass
                due += spec["every"]

        await asyncio.gather(*(source(u, spec["start"] + rng.uniform(0, spec["jitter"])) for u in spec["urls"]))


def _sample(pids: dict[str, int], peaks: dict[str, float], trace: list, stop: threading.Event) -> None:
    """Every second: each tree's peak RSS, and repwatch's CPU seconds so far as (time, cpu)."""
    while not stop.wait(1.0):
        for name, pid in pids.items():
            peaks[name] = max(peaks.get(name, 0.0), rss_mb(pid))
        trace.append((time.time(), cpu_seconds(pids["repwatch"])))


def _stop(proc: subprocess.Popen, timeout: float = 120) -> float:
    """SIGTERM; the seconds until the process exits (killed after ``timeout``)."""
    t = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return time.monotonic() - t


def _start_feedserver(args: argparse.Namespace, tmp: Path) -> tuple[subprocess.Popen, int]:
    """The feed server; each negative is published 5 s to every/2 after repwatch's first
    poll of its feed (a tenth of every at most for the first bound), so it reaches the
    daemon as a live mention in the source's next poll, not as first-poll history, even
    when that first poll was late."""
    every = seconds(args.every)
    after, until = min(5.0, every / 10), every / 2
    cmd = [sys.executable, str(HERE / "feedserver.py"), "--feeds", str(args.sources), "--log", str(tmp / "req.tsv"),
           "--latency-ms", str(args.latency_ms), "--negative-fraction", str(args.negative_fraction),
           "--inject-after", str(after), "--inject-until", str(until)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    return proc, int(proc.stdout.readline().split()[1])


def _start_daemon(cfg: Path, tmp: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = open(tmp / "daemon.log", "w")
    return subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config", str(cfg)], cwd=tmp, env=env,
                            stdout=out, stderr=subprocess.STDOUT)


def _start_baseline(args: argparse.Namespace, tmp: Path, port: int, start: float) -> subprocess.Popen:
    spec = {"urls": [f"http://127.0.0.1:{port}{feed_path(i)}" for i in range(args.sources)],
            "every": seconds(args.every), "jitter": seconds(args.jitter), "start": start,
            "until": start + args.duration, "concurrency": args.baseline_concurrency}
    (tmp / "baseline.json").write_text(json.dumps(spec))
    return subprocess.Popen([sys.executable, __file__, "--baseline-worker", str(tmp / "baseline.json")])


def run(args: argparse.Namespace, tmp: Path) -> dict:
    receiver = Receiver()
    capacity_s = 3.0
    feed, port = _start_feedserver(args, tmp)
    capacity = asyncio.run(_measure_capacity(port, capacity_s))
    db_url = args.pg or f"sqlite:///{tmp / 'bench.db'}"
    write_config(tmp / "bench.toml", args, port, receiver.server_address[1], db_url)
    t0 = time.time()
    daemon = _start_daemon(tmp / "bench.toml", tmp)
    procs = {"repwatch": daemon.pid, "feedserver": feed.pid}
    base = None if args.no_baseline else _start_baseline(args, tmp, port, t0)
    if base:
        procs["baseline"] = base.pid
    cpu0 = {name: cpu_seconds(pid) for name, pid in procs.items()}
    peaks: dict[str, float] = {}
    trace: list[tuple[float, float]] = [(t0, cpu0["repwatch"])]
    stop = threading.Event()
    threading.Thread(target=_sample, args=(procs, peaks, trace, stop), daemon=True).start()
    while time.time() < t0 + args.duration and daemon.poll() is None:
        time.sleep(0.5)
    cpu = {name: cpu_seconds(pid) - cpu0[name] for name, pid in procs.items()}
    elapsed = time.time() - t0
    trace.append((time.time(), cpu0["repwatch"] + cpu["repwatch"]))
    stop.set()
    exited_early = daemon.poll()
    stop_s = _stop(daemon)
    if base:
        _stop(base, 10)
    _stop(feed, 30)
    receiver.shutdown()
    (tmp / "pages.jsonl").write_text("".join(json.dumps({"at": t, "body": b}) + "\n" for t, b in receiver.pages))
    log_text = (tmp / "daemon.log").read_text(errors="replace")
    return analyse(args, t0, elapsed, tmp / "req.tsv", receiver.pages, log_text,
                   {"capacity_rps": capacity, "cpu_s": cpu, "peak_rss_mb": peaks, "stop_s": stop_s,
                    "daemon_exit_before_end": exited_early, "cpu_trace": trace})


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sources", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=360.0, help="seconds the daemon runs")
    ap.add_argument("--every", default="5m", help="each source's poll interval")
    ap.add_argument("--jitter", default="30s", help="[daemon] jitter; the baseline spreads first polls over it")
    ap.add_argument("--type", default="google_alerts", choices=("google_alerts", "rss"))
    ap.add_argument("--latency-ms", type=float, default=0.0, help="the feed server's delay per request")
    ap.add_argument("--negative-fraction", type=float, default=0.01, help="share of feeds that publish a negative")
    ap.add_argument("--group-wait", default="0s", help="the route's group_wait (pages wait this long)")
    ap.add_argument("--daemon", action="append", default=[], metavar="KEY=TOML",
                    help='extra [daemon] setting, e.g. max_connections=20 (repeatable)')
    ap.add_argument("--pg", help="PostgreSQL URL of an empty database instead of a temporary SQLite file")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--baseline-concurrency", type=int, default=10, help="as the daemon's default max_connections")
    ap.add_argument("--quick", action="store_true", help="a smoke run: N=50, 20 s, every = 10s, jitter = 5s")
    ap.add_argument("--json", help="write the report here as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (config, logs)")
    ap.add_argument("--baseline-worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.sources, args.duration, args.every, args.jitter, args.negative_fraction = 50, 20.0, "10s", "5s", 0.1
    return args


def main(argv: list[str] | None = None) -> dict | None:
    args = parse_args(argv)
    if args.baseline_worker:
        asyncio.run(_baseline(json.loads(Path(args.baseline_worker).read_text())))
        return None
    tmp = Path(tempfile.mkdtemp(prefix="repwatch-scale-"))
    report = run(args, tmp)
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    if args.keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return report


if __name__ == "__main__":
    main()

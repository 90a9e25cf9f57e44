"""The report of ``bench/scale.py``, computed from the feed server's request log.

A poll counts as completed when the feed server answered it (200 or 304); the log's time is
the request's arrival. Polls *due* follow the promised schedule: every source at
``t0 + k·every + phase`` with the phase spread evenly over ``[0, jitter]`` (t0: the daemon's
launch), so a window's due count is the expected number of those instants in it. A
source's period and its |start − due| use its own first poll as the anchor:
due_k = first + k·every, k ≥ 1, k the nearest whole number of periods.
Page latency: from the feed server's first answer to repwatch that carried an entity's
negative entry to the first page naming that entity (json:// receiver's arrival time).
"""
from __future__ import annotations

import json
import math
import re
import statistics
from collections import defaultdict
from pathlib import Path

from feedserver import ENTITIES

WHO = {"r": "repwatch", "b": "baseline"}


def seconds(text: str) -> float:
    """"5m", "30s", "1h", "250ms" or a bare number of seconds."""
    for suffix, factor in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * factor
    return float(text)


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def read_requests(path: Path) -> dict[str, dict[int, list[tuple[float, int, int]]]]:
    """client -> feed -> [(time, status, version)] in time order."""
    out: dict[str, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for line in path.read_text().splitlines():
        t, feed, client, status, version = line.split("\t")
        out[client][int(feed)].append((float(t), int(status), int(version)))
    return out


def due_in(a: float, b: float, t0: float, n: int, every: float, jitter: float) -> float:
    """Expected due polls of n sources in [a, b)."""
    total, k = 0.0, 0
    while (start := t0 + k * every) < b:
        if jitter > 0:
            total += max(0.0, min(b, start + jitter) - max(a, start)) / jitter
        else:
            total += float(a <= start < b)
        k += 1
    return n * total


def cpu_at(trace: list[tuple[float, float]], t: float) -> float:
    """CPU seconds at time ``t`` from (time, cpu) samples in time order, linearly between two."""
    before = [s for s in trace if s[0] <= t] or trace[:1]
    after = [s for s in trace if s[0] > t]
    (ta, ca) = before[-1]
    if not after or after[0][0] == ta:
        return ca
    tb, cb = after[0]
    return ca + (cb - ca) * (t - ta) / (tb - ta)


def windows(times: list[float], t0: float, elapsed: float, width: float, cfg: dict,
            cpu_trace: list[tuple[float, float]] | None = None) -> list[dict]:
    """Polls due and completed per window; with ``cpu_trace``, the CPU seconds spent in it
    and per completed poll (the steady state shows apart from the first polls' backlog)."""
    rows, a = [], t0
    while a < t0 + elapsed - 1e-6:
        b = min(a + width, t0 + elapsed)
        due = due_in(a, b, t0, cfg["sources"], cfg["every_s"], cfg["jitter_s"])
        done = sum(a <= t < b for t in times)
        row = {"from_s": round(a - t0), "to_s": round(b - t0), "due": round(due, 1), "completed": done,
               "ratio": round(done / due, 3) if due else None}
        if cpu_trace:
            cpu = cpu_at(cpu_trace, b) - cpu_at(cpu_trace, a)
            row.update(cpu_s=round(cpu, 2), cpu_ms_per_poll=round(cpu / done * 1000, 2) if done else None)
        rows.append(row)
        a = b
    return rows


def grid_lateness(per_feed: dict[int, list[tuple]], phases: dict[int, float], every: float) -> dict:
    """How late each poll started against the daemon's own grid: source i is due at
    ``start + phase_i + k·every`` (``phase_i``: :func:`monitor.schedule.phase_offset` of its
    id), where ``start`` (the scheduler's start, after the model loaded) is taken as the
    earliest ``first poll - phase`` of any source. First polls and later polls apart: the
    later ones are the steady state, whatever the first round's backlog was."""
    firsts = [reqs[0][0] - phases[f] for f, reqs in per_feed.items() if reqs and f in phases]
    if not firsts:
        return {}
    start = min(firsts)
    first_late, later_late = [], []
    for feed, reqs in per_feed.items():
        base = start + phases.get(feed, 0.0)
        for j, (t, _, _) in enumerate(reqs):
            k = max(1, round((t - base) / every)) if j else 0  # a first poll is due at its phase
            (later_late if j else first_late).append(t - base - k * every)
    rnd = lambda v: None if v is None else round(v, 2)  # noqa: E731
    return {kind: {"p50": rnd(pct(v, 50)), "p99": rnd(pct(v, 99)), "max": rnd(max(v, default=None)),
                   "samples": len(v)} for kind, v in (("first_polls", first_late), ("later_polls", later_late))}


def source_phases(cfg: dict) -> dict[int, float]:
    """Feed i -> the daemon's first-poll offset of source ``ga-<i>`` (seconds)."""
    from datetime import timedelta

    from monitor.schedule import phase_offset

    every, jitter = timedelta(seconds=cfg["every_s"]), timedelta(seconds=cfg["jitter_s"])
    return {i: phase_offset(f"ga-{i:05d}", every, jitter).total_seconds() for i in range(cfg["sources"])}


def schedule_stats(per_feed: dict[int, list[tuple]], t0: float, n: int, every: float) -> dict:
    firsts = [reqs[0][0] - t0 for reqs in per_feed.values() if reqs]
    periods, devs = [], []
    for reqs in per_feed.values():
        times = [t for t, _, _ in reqs]
        periods += [b - a for a, b in zip(times, times[1:])]
        for t in times[1:]:
            k = max(1, round((t - times[0]) / every))
            devs.append(abs(t - times[0] - k * every))
    rnd = lambda v: None if v is None else round(v, 2)  # noqa: E731
    return {
        "first_poll_lag_s": {"median": rnd(statistics.median(firsts)) if firsts else None, "p99": rnd(pct(firsts, 99)),
                             "max": rnd(max(firsts, default=None)), "min": rnd(min(firsts, default=None)),
                             "never_polled": n - len(firsts)},
        "period_s": {"every": every, "mean": rnd(statistics.fmean(periods)) if periods else None,
                     "samples": len(periods)},
        "start_minus_due_s": {"p99": rnd(pct(devs, 99)), "max": rnd(max(devs, default=None)), "samples": len(devs)},
    }


def client_report(per_feed: dict[int, list[tuple]], t0: float, elapsed: float, cfg: dict,
                  cpu_trace: list[tuple[float, float]] | None = None) -> dict:
    times = sorted(t for reqs in per_feed.values() for t, _, _ in reqs if t0 <= t < t0 + elapsed)
    statuses = defaultdict(int)
    for reqs in per_feed.values():
        for _, status, _ in reqs:
            statuses[str(status)] += 1
    due = due_in(t0, t0 + elapsed, t0, cfg["sources"], cfg["every_s"], cfg["jitter_s"])
    return {"polls_due": round(due, 1), "polls_completed": len(times),
            "completion": round(len(times) / due, 3) if due else None, "status": dict(statuses),
            "per_minute": windows(times, t0, elapsed, 60.0, cfg, cpu_trace),
            "per_5_minutes": windows(times, t0, elapsed, 300.0, cfg, cpu_trace),
            **schedule_stats(per_feed, t0, cfg["sources"], cfg["every_s"])}


def page_latency(repwatch: dict[int, list[tuple]], plan_path: Path, pages: list[tuple[float, str]]) -> dict:
    entity_of = {}
    for line in plan_path.read_text().splitlines():
        feed, entity, _ = line.split("\t")
        entity_of[int(feed)] = int(entity)
    served: dict[int, float] = {}  # entity -> first time repwatch got a feed carrying its negative
    for feed, entity in entity_of.items():
        first = next((t for t, status, version in repwatch.get(feed, []) if status == 200 and version), None)
        if first is not None:
            served[entity] = min(first, served.get(entity, first))
    paged: dict[int, float] = {}
    for at, body in sorted(pages):
        try:
            doc = json.loads(body)
            text = " ".join(str(doc.get(k, "")) for k in ("title", "message", "body"))
        except (json.JSONDecodeError, AttributeError):
            text = body
        for k, name in enumerate(ENTITIES):
            if (name[:-2] in text or re.search(rf"\bdoc-{k:02d}\b", text)) and k in served and at >= served[k]:
                paged.setdefault(k, at)
    lat = [paged[k] - served[k] for k in paged]
    rnd = lambda v: None if v is None else round(v, 2)  # noqa: E731
    return {"negatives_planned": len(entity_of), "entities_served_negative": len(served), "pages_received": len(pages),
            "entities_paged": len(paged), "latency_s": {"p50": rnd(pct(lat, 50)), "p95": rnd(pct(lat, 95)),
                                                        "max": rnd(max(lat, default=None))}}


def log_counts(text: str) -> dict:
    """What today's daemon says when its scheduler falls behind (APScheduler's words)."""
    return {"skipped_max_instances": text.count("maximum number of running instances"),
            "missed": len(re.findall(r"was missed by", text)),
            "error_lines": len(re.findall(r"\b(ERROR|CRITICAL)\b", text)), "tracebacks": text.count("Traceback")}


def analyse(args, t0: float, elapsed: float, req_path: Path, pages: list, log_text: str, measured: dict) -> dict:
    cfg = {"sources": args.sources, "duration_s": args.duration, "every": args.every, "every_s": seconds(args.every),
           "jitter": args.jitter, "jitter_s": seconds(args.jitter), "type": args.type, "latency_ms": args.latency_ms,
           "negative_fraction": args.negative_fraction, "group_wait": args.group_wait, "daemon": args.daemon,
           "storage": "postgresql" if args.pg else "sqlite", "elapsed_s": round(elapsed, 1)}
    reqs = read_requests(req_path)
    span = min(elapsed, args.duration)  # the polls counted: those before the SIGTERM
    report = {"config": cfg, "feedserver": {"capacity_rps": round(measured["capacity_rps"]),
                                            "requests": sum(len(v) for c in WHO for v in reqs.get(c, {}).values())}}
    for code, name in WHO.items():
        if name == "baseline" and name not in measured["cpu_s"]:
            continue
        report[name] = client_report(reqs.get(code, {}), t0, span, cfg,
                                     measured.get("cpu_trace") if name == "repwatch" else None)
    for name in ("repwatch", "baseline", "feedserver"):
        if name in measured["cpu_s"]:
            cpu = measured["cpu_s"][name]
            report[name].update({"cpu_s": round(cpu, 2), "cpu_cores": round(cpu / elapsed, 3),
                                 "peak_rss_mb": round(measured["peak_rss_mb"].get(name, 0.0), 1)})
            if polls := report[name].get("polls_completed"):
                report[name]["cpu_ms_per_poll"] = round(cpu / polls * 1000, 3)
    if cpu := measured["cpu_s"].get("feedserver"):  # what one core of it could answer at the run's mix
        report["feedserver"]["rps_per_core_implied"] = round(report["feedserver"]["requests"] / cpu)
    report["repwatch"]["late_vs_grid_s"] = grid_lateness(reqs.get("r", {}), source_phases(cfg), cfg["every_s"])
    report["repwatch"].update({"stop_s": round(measured["stop_s"], 2), "log": log_counts(log_text),
                               "exited_before_end": measured["daemon_exit_before_end"]})
    if measured["daemon_exit_before_end"] is not None:  # its exit status: say why, from its own words
        report["repwatch"]["log_tail"] = log_text.splitlines()[-20:]
    report["pages"] = page_latency(reqs.get("r", {}), Path(str(req_path) + ".plan"), pages)
    if "baseline" in report:
        r, b = report["repwatch"], report["baseline"]
        div = lambda x, y: round(x / y, 3) if x is not None and y else None  # noqa: E731
        report["ratios_repwatch_over_baseline"] = {
            "polls_completed": div(r["polls_completed"], b["polls_completed"]),
            "cpu_s": div(r["cpu_s"], b["cpu_s"]),
            "cpu_per_poll": div(r.get("cpu_ms_per_poll"), b.get("cpu_ms_per_poll"))}
    return report


def _fmt(v, spec: str = "") -> str:
    return "-" if v is None else format(v, spec)


def _rows(report: dict) -> list[tuple[str, str, str]]:
    r, b = report["repwatch"], report.get("baseline", {})
    lag = lambda d: " / ".join(_fmt(d.get(k)) for k in ("min", "median", "p99", "max"))  # noqa: E731
    pick = lambda d, *keys: _fmt(_dig(d, keys))  # noqa: E731
    lag2 = lambda d, kind: " / ".join(pick(d, "late_vs_grid_s", kind, k) for k in ("p50", "p99"))  # noqa: E731
    return [
        ("polls due", pick(r, "polls_due"), pick(b, "polls_due")),
        ("polls completed", pick(r, "polls_completed"), pick(b, "polls_completed")),
        ("completion", pick(r, "completion"), pick(b, "completion")),
        ("first-poll lag s min/med/p99/max", lag(r["first_poll_lag_s"]), lag(b.get("first_poll_lag_s", {}))),
        ("sources never polled", pick(r, "first_poll_lag_s", "never_polled"),
         pick(b, "first_poll_lag_s", "never_polled")),
        (f"mean period s (every {r['period_s']['every']:g})", pick(r, "period_s", "mean"), pick(b, "period_s", "mean")),
        ("late vs grid s p50/p99 first polls", lag2(r, "first_polls"), ""),
        ("late vs grid s p50/p99 later polls", lag2(r, "later_polls"), ""),
        ("|start - due| s p99 / max", f"{pick(r, 'start_minus_due_s', 'p99')} / {pick(r, 'start_minus_due_s', 'max')}",
         f"{pick(b, 'start_minus_due_s', 'p99')} / {pick(b, 'start_minus_due_s', 'max')}"),
        ("CPU s (cores)", f"{pick(r, 'cpu_s')} ({pick(r, 'cpu_cores')})",
         f"{pick(b, 'cpu_s')} ({pick(b, 'cpu_cores')})"),
        ("CPU ms per poll", pick(r, "cpu_ms_per_poll"), pick(b, "cpu_ms_per_poll")),
        ("peak RSS MB", pick(r, "peak_rss_mb"), pick(b, "peak_rss_mb")),
        ("stop after SIGTERM s", pick(r, "stop_s"), ""),
    ]


def _dig(d: dict, keys: tuple):
    for k in keys:
        d = d.get(k) if isinstance(d, dict) else None
    return d


def print_report(report: dict) -> None:
    c, f, p = report["config"], report["feedserver"], report["pages"]
    print(f"\n{c['sources']} {c['type']} sources, every {c['every']}, jitter {c['jitter']}, {c['elapsed_s']} s, "
          f"{c['storage']}, feed latency {c['latency_ms']:g} ms")
    print(f"feed server: >= {f['capacity_rps']} req/s to one httpx client before the run (client-bound); "
          f"in the run {f['requests']} requests, CPU {f.get('cpu_cores')} cores, so about "
          f"{_fmt(f.get('rps_per_core_implied'))} req/s per core; peak RSS {f.get('peak_rss_mb')} MB\n")
    print(f"{'':34}{'repwatch':>30}{'baseline':>30}")
    for label, rv, bv in _rows(report):
        print(f"{label:34}{rv:>30}{bv:>30}")
    ratios = report.get("ratios_repwatch_over_baseline", {})
    print("repwatch / baseline: " + ", ".join(f"{k} {_fmt(v)}" for k, v in ratios.items()))
    print(f"daemon log: {report['repwatch']['log']}")
    if (code := report["repwatch"]["exited_before_end"]) is not None:
        tail = "\n  ".join(report["repwatch"]["log_tail"])
        print(f"THE DAEMON EXITED ({code}) BEFORE THE END; its last lines:\n  {tail}")
    lat = p["latency_s"]
    print(f"pages: {p['negatives_planned']} negative entries planned; repwatch fetched one about "
          f"{p['entities_served_negative']} entities, {p['entities_paged']} of them paged ({p['pages_received']} pages "
          f"in all); latency from that fetch s "
          f"p50 {_fmt(lat['p50'])} p95 {_fmt(lat['p95'])} max {_fmt(lat['max'])}")
    for key in ("per_minute", "per_5_minutes"):
        print(f"\n{key.replace('_', ' ')}: {'window s':>12}{'due':>10}{'repwatch':>10}{'ratio':>8}{'baseline':>10}"
              f"{'CPU s':>9}{'ms/poll':>9}")
        base = {w["from_s"]: w for w in report.get("baseline", {}).get(key, [])}
        for w in report["repwatch"][key]:
            bw = base.get(w["from_s"], {})
            print(f"{'':13}{w['from_s']:>6}-{w['to_s']:<5}{w['due']:>10}{w['completed']:>10}{_fmt(w['ratio']):>8}"
                  f"{_fmt(bw.get('completed')):>10}{_fmt(w.get('cpu_s')):>9}{_fmt(w.get('cpu_ms_per_poll')):>9}")

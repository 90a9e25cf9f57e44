"""Recall and false alarms of the ``attack`` rule on generated traffic (bench/attack_corpus.py),
replayed hour by hour through the real store (a SQLite file), the real rules and the real
detector, with the time injected.

    python bench/attack_eval.py --seeds 101 102 103           # the final evaluation seeds
    python bench/attack_eval.py --seeds 1 2 --similarity 0.55 # tuning (seeds 1-9 only)

Seeds 1-9 are for tuning; 101-103 are the final evaluation and were run only with the
shipped defaults. For each seed: the history (the first ``--history`` days) is stored as
backfill (what a source's first poll brings; baselines are made of it), then every hour
the mentions published in it are stored with their verdicts (the corpus's P(negative),
as a scorer would give) and :func:`monitor.alerting.rules.raise_rule_alerts` runs at the
hour's end with the attack rule's defaults (the values config/example.toml writes out),
or the options given.

An attack is detected when the rule's alerts for its listing, up to a day after its last
post, hold at least half of its mentions. A false alarm is an alert none of whose mentions
belongs to an attack; the rate is per 10,000 ordinary mentions replayed (history excluded).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.attack_corpus import LISTINGS, START, Row, generate  # noqa: E402
from monitor.alerting.rules import raise_rule_alerts  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.matching import Match  # noqa: E402
from monitor.mention import Mention  # noqa: E402
from monitor.store import Store  # noqa: E402

OPTIONS = ("window", "baseline", "similarity", "min_cluster", "min_chars", "min_low", "max_p", "new_share",
           "min_platforms")


def config_file(folder: Path, options: dict) -> Path:
    entities = "".join(f'\n[[entities]]\nid = "{lid}"\nname = "{name}"\n' for lid, name in LISTINGS)
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in options.items() if v is not None)
    path = folder / "attack.toml"
    path.write_text(f"""
[storage]
url = "sqlite:///{folder / 'attack.db'}"
{entities}
[[routes]]
id = "pr-legal"
notify = ["json://127.0.0.1:9/legal"]

[[rules]]
id = "attack"
kind = "attack"
route = "pr-legal"
{extra}""", encoding="utf-8")
    return path


def store_rows(store: Store, rows: list[tuple[int, Row]], at: datetime, backfill: bool, ids: dict) -> None:
    names = dict(LISTINGS)
    items = [(Mention(row.source, "", row.text, url=f"https://{row.source}.example/{row.listing}/{n}",
                      author=row.author, rating=row.rating, published_at=datetime.fromisoformat(row.at)),
              [Match(row.listing, names[row.listing])]) for n, row in rows]
    new = store.add_mentions(items, at, backfill_all=backfill)
    if len(new) != len(rows):
        raise SystemExit(f"{len(rows) - len(new)} mentions were taken for duplicates: the corpus needs unique URLs")
    store.save_scores([(i, "negative" if row.negative >= 0.5 else "positive", max(row.negative, 1 - row.negative),
                        row.negative) for i, (_, row) in zip(new, rows)], "corpus", at)
    for i, (_, row) in zip(new, rows):
        ids[i] = row


def replay(seed: int, args, options: dict) -> dict:
    rows = generate(seed, args.days, args.history, args.attacks)
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(config_file(Path(tmp), options))
        store = Store(config.storage.url)
        by_id: dict[int, Row] = {}
        history_end = START + timedelta(days=args.history)
        numbered = list(enumerate(rows))
        old = [(n, r) for n, r in numbered if datetime.fromisoformat(r.at) < history_end]
        for day in range(args.history):  # history, a day at a time, as backfill
            end = START + timedelta(days=day + 1)
            batch = [(n, r) for n, r in old if end - timedelta(days=1) <= datetime.fromisoformat(r.at) < end]
            store_rows(store, batch, end, True, by_id)
        live = [(n, r) for n, r in numbered if datetime.fromisoformat(r.at) >= history_end]
        started, i, now = time.perf_counter(), 0, history_end
        end = START + timedelta(days=args.days + 1)
        while now < end:
            now += timedelta(hours=1)
            batch = []
            while i < len(live) and datetime.fromisoformat(live[i][1].at) < now:
                batch.append(live[i])
                i += 1
            if batch:
                store_rows(store, batch, now, False, by_id)
            raise_rule_alerts(config, store, now)
        alerts = store.recent_alerts("attack", START)
        store.close()
    return score(rows, by_id, alerts, history_end, time.perf_counter() - started)


def score(rows: list[Row], by_id: dict, alerts: list, history_end: datetime, seconds: float) -> dict:
    members: dict[str, set[int]] = defaultdict(set)
    for i, row in by_id.items():
        if row.attack:
            members[row.attack].add(i)
    style = {r.attack: r.style for r in rows if r.attack}
    caught: dict[str, set[int]] = defaultdict(set)
    false, signals = [], Counter()
    for alert in alerts:
        ids = alert.mention_id_set
        hit = {by_id[i].attack for i in ids if by_id[i].attack}
        for a in hit:
            caught[a] |= ids & members[a]
        if not hit:
            false.append(alert)
        signals.update(json.loads(alert.detail)["signals"])
    found = {a for a in members if 2 * len(caught[a]) >= len(members[a])}
    ordinary = sum(1 for r in rows if not r.attack and datetime.fromisoformat(r.at) >= history_end)
    per_style = {s: f"{sum(1 for a in members if style[a] == s and a in found)}/"
                    f"{sum(1 for a in members if style[a] == s)}" for s in sorted(set(style.values()))}
    return {"attacks": len(members), "detected": len(found), "recall": round(len(found) / len(members), 4),
            "ordinary_replayed": ordinary, "false_alerts": len(false),
            "false_per_10k": round(10_000 * len(false) / ordinary, 3), "alerts": len(alerts),
            "per_style": per_style, "signals": dict(signals), "missed": sorted(set(members) - found),
            "false_alert_titles": [a.title for a in false][:10], "replay_seconds": round(seconds, 1)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103])
    p.add_argument("--days", type=int, default=120)
    p.add_argument("--history", type=int, default=30)
    p.add_argument("--attacks", type=float, default=3.0, help="attacks per listing (Poisson mean)")
    for name in OPTIONS:
        p.add_argument("--" + name.replace("_", "-"), dest=name, default=None,
                       type=str if name in ("window", "baseline") else float)
    args = p.parse_args(argv)
    options = {k: (int(v) if k in ("min_cluster", "min_chars", "min_low", "min_platforms") and v is not None else v)
               for k, v in ((k, getattr(args, k)) for k in OPTIONS)}
    logging.getLogger("repwatch").setLevel(logging.ERROR)
    totals = Counter()
    for seed in args.seeds:
        result = replay(seed, args, options)
        print(json.dumps({"seed": seed, **result}, ensure_ascii=False))
        totals.update({k: result[k] for k in ("attacks", "detected", "ordinary_replayed", "false_alerts")})
    print(json.dumps({"seeds": args.seeds, "options": {k: v for k, v in options.items() if v is not None},
                      "recall": round(totals["detected"] / totals["attacks"], 4),
                      "false_per_10k": round(10_000 * totals["false_alerts"] / totals["ordinary_replayed"], 3),
                      **totals}, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""Scoring inside the pipeline against the bare scorer, on the same texts and the same model.

    python bench/pipeline_scoring.py [--texts 500] [--rounds 3]

* bare: ``scorer.score`` in batches of 32 lines, as ``repwatch score`` does;
* pipeline: the same texts stored as mentions, then ``App._score_pending`` (read unscored
  mentions in chunks, one scorer call per chunk, verdicts saved in one transaction each).

Also prints how much a score moves when the encoder batches (``[sentiment] batch_size`` 32
against 1) on the same texts: the int8 graph quantises activations per run, so a text's
score depends on its batch neighbours when batch_size > 1.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.app import App, ProcessReport  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.demo import demo_config  # noqa: E402
from monitor.matching import Match  # noqa: E402
from monitor.mention import Mention  # noqa: E402
from monitor.sentiment import load_scorer  # noqa: E402

CORPUS = Path(__file__).resolve().parent.parent / "monitor" / "sentiment" / "corpus" / "test.jsonl"


def bare(scorer, texts: list[str]) -> float:
    started = time.perf_counter()
    for i in range(0, len(texts), 32):
        scorer.score(texts[i:i + 32])
    return len(texts) / (time.perf_counter() - started)


def pipeline(scorer, texts: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "c.toml"
        cfg.write_text(demo_config("http://127.0.0.1:9/f", "json://127.0.0.1:9/", Path(tmp) / "b.db", "5m"))
        app = App(load_config(cfg), scorer=scorer)
        now = datetime.now(timezone.utc)
        items = [(Mention(source_id="bench", title="", text=t, url=f"https://example.com/{i}", published_at=now),
                  [Match("dr-lin", "bench")]) for i, t in enumerate(texts)]
        app.store.add_mentions(items, detected_at=now, backfill_all=True)
        report = ProcessReport()
        started = time.perf_counter()
        app._score_pending(report)
        elapsed = time.perf_counter() - started
        app.close()
    assert report.scored == len(texts), report
    return len(texts) / elapsed


def batch_effect(texts: list[str]) -> tuple[float, int]:
    one = [s.negative for s in load_scorer("builtin", batch_size=1).score(texts)]
    many = [s.negative for s in load_scorer("builtin", batch_size=32).score(texts)]
    return max(abs(a - b) for a, b in zip(one, many)), sum((a >= 0.5) != (b >= 0.5) for a, b in zip(one, many))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-batch-effect", action="store_true")
    args = ap.parse_args()
    texts = [json.loads(line)["text"] for line in CORPUS.open(encoding="utf-8")][: args.texts]
    scorer = load_scorer("builtin")  # batch_size 1, the default
    scorer.score(texts[:20])
    bares, pipes = [], []
    for _ in range(args.rounds):  # interleaved, so both see the same machine load
        bares.append(bare(scorer, texts))
        pipes.append(pipeline(scorer, texts))
    b, p = statistics.median(bares), statistics.median(pipes)
    print(f"{len(texts)} texts, median of {args.rounds}: bare scorer {b:.1f} texts/s, pipeline {p:.1f} texts/s, "
          f"ratio {p / b:.2f}")
    if not args.no_batch_effect:
        delta, flipped = batch_effect(texts)
        print(f"batch_size 32 vs 1: max |dP(negative)| {delta:.3f}, {flipped} labels flipped")


if __name__ == "__main__":
    main()

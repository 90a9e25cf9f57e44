"""Precision and recall of the reply linter per rule, on the labelled train and frozen test splits.

    python bench/reply_lint_eval.py            # a table per split
    python bench/reply_lint_eval.py --errors   # also every miss and false flag on train

A gold flag is found when the linter raises the same rule on a span that overlaps the gold
excerpt; a raised flag is correct when it overlaps a gold excerpt of its rule. The test split
(monitor/defence/data/replies-test.jsonl) was committed before any rule was written; tune on
train only (``--errors`` never prints test rows).
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from monitor.defence.lint import RULES, lint

DATA = Path(__file__).resolve().parent.parent / "monitor" / "defence" / "data"


@dataclass
class Score:
    found: Counter = field(default_factory=Counter)    # gold flags the linter found
    gold: Counter = field(default_factory=Counter)
    correct: Counter = field(default_factory=Counter)  # raised flags that match a gold flag
    raised: Counter = field(default_factory=Counter)
    errors: list = field(default_factory=list)

    def figures(self, rule: str | None = None) -> tuple[float, float, int, int]:
        pick = (lambda c: c[rule]) if rule else (lambda c: sum(c.values()))
        gold, raised = pick(self.gold), pick(self.raised)
        recall = pick(self.found) / gold if gold else 1.0
        precision = pick(self.correct) / raised if raised else 1.0
        return precision, recall, gold, raised


def load(split: str) -> list[dict]:
    with open(DATA / f"replies-{split}.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _gold_spans(row: dict) -> list[tuple[str, int, int]]:
    spans, used = [], Counter()
    for flag in row["flags"]:
        start = -1
        for _ in range(used[flag["excerpt"]] + 1):
            start = row["text"].find(flag["excerpt"], start + 1)
        used[flag["excerpt"]] += 1
        spans.append((flag["rule"], start, start + len(flag["excerpt"])))
    return spans


def score(rows: list[dict]) -> Score:
    s = Score()
    for row in rows:
        gold = _gold_spans(row)
        raised = [(f.rule, *f.span) for f in lint(row["text"], row["lang"])]
        overlaps = lambda a, b: a[0] == b[0] and a[1] < b[2] and b[1] < a[2]  # noqa: E731
        for g in gold:
            s.gold[g[0]] += 1
            if any(overlaps(g, r) for r in raised):
                s.found[g[0]] += 1
            else:
                s.errors.append(("miss", row["id"], g[0], row["text"][g[1]:g[2]], row["text"]))
        for r in raised:
            s.raised[r[0]] += 1
            if any(overlaps(r, g) for g in gold):
                s.correct[r[0]] += 1
            else:
                s.errors.append(("false", row["id"], r[0], row["text"][r[1]:r[2]], row["text"]))
    return s


def table(name: str, s: Score) -> str:
    lines = [f"{name:<6} {'rule':<22} {'gold':>5} {'raised':>6} {'precision':>9} {'recall':>7}"]
    for rule in (*RULES, None):
        p, r, gold, raised = s.figures(rule)
        lines.append(f"{'':<6} {rule or 'overall':<22} {gold:>5} {raised:>6} {p:>9.3f} {r:>7.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", action="store_true", help="list train misses and false flags")
    args = parser.parse_args(argv)
    results = {split: score(load(split)) for split in ("train", "test")}
    for split, s in results.items():
        print(table(split, s))
    if args.errors:
        for kind, rid, rule, excerpt, text in results["train"].errors:
            print(f"{kind:<5} {rid} {rule}: {excerpt!r} | {text}")


if __name__ == "__main__":
    main()

"""Recall and precision of the extortion detector per language, on the labelled train split,
the frozen test split and the frozen blind split by a second author (monitor/defence/data/extortion).

    python bench/extortion_eval.py            # the train split's table
    python bench/extortion_eval.py --errors   # also every miss and false alert on train
    python bench/extortion_eval.py --frozen   # also the frozen test and blind splits

A row labelled ``extortion`` is found when :func:`monitor.defence.extortion.detect_extortion`
returns a frame; a row labelled ``ordinary`` (complaints that mention money, refunds, prices
or lawsuits) that raises one is a false alert. The test split was committed before the
detector was written, the blind split before the detector's second round of changes; tune on train
only (``--errors`` never prints test or blind rows).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from monitor.defence.extortion import detect_extortion

DATA = Path(__file__).resolve().parent.parent / "monitor" / "defence" / "data" / "extortion"
LANGUAGES = ("zh-TW", "en")


@dataclass
class Score:
    extortion: int = 0       # rows labelled extortion
    found: int = 0           # ... that the detector raised
    ordinary: int = 0        # rows labelled ordinary
    false_alerts: int = 0    # ... that the detector raised

    @property
    def recall(self) -> float:
        return self.found / self.extortion if self.extortion else 1.0

    @property
    def precision(self) -> float:
        raised = self.found + self.false_alerts
        return self.found / raised if raised else 1.0


def load(split: str) -> list[dict]:
    with open(DATA / f"{split}.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def score(rows: list[dict]) -> tuple[dict[str, Score], list[tuple[dict, object]]]:
    """A score per language (and "all"), and the rows the detector got wrong."""
    scores = {lang: Score() for lang in (*LANGUAGES, "all")}
    wrong = []
    for row in rows:
        found = detect_extortion(row["text"])
        for s in (scores[row["lang"]], scores["all"]):
            if row["label"] == "extortion":
                s.extortion += 1
                s.found += found is not None
            else:
                s.ordinary += 1
                s.false_alerts += found is not None
        if (found is not None) != (row["label"] == "extortion"):
            wrong.append((row, found))
    return scores, wrong


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--errors", action="store_true", help="print the train rows the detector gets wrong")
    ap.add_argument("--frozen", action="store_true",
                    help="also score the frozen test and blind splits (once per change, never while tuning)")
    args = ap.parse_args()
    for split in ("train", "test", "blind") if args.frozen else ("train",):
        scores, wrong = score(load(split))
        print(f"{split}:")
        print(f"  {'lang':<6} {'recall':>7} {'precision':>9} {'extortion':>9} {'found':>5} {'ordinary':>8} "
              f"{'false':>5}")
        for lang, s in scores.items():
            print(f"  {lang:<6} {s.recall:>7.3f} {s.precision:>9.3f} {s.extortion:>9} {s.found:>5} {s.ordinary:>8} "
                  f"{s.false_alerts:>5}")
        if args.errors and split == "train":
            for row, found in wrong:
                what = f"false alert ({found.frame}: {' | '.join(found.phrases)})" if found else "missed"
                print(f"    {row['id']} {what}: {row['text']}")


if __name__ == "__main__":
    main()

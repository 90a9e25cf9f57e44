"""Recall and precision of the extortion detector per language: on the labelled train split, leave
one author out, on other writers' ordinary texts, and on the frozen splits (monitor/defence/data/extortion).

    python bench/extortion_eval.py            # the train split's table (the shipped gate saw these rows)
    python bench/extortion_eval.py --errors   # also every miss and false alert on train
    python bench/extortion_eval.py --cross    # leave-one-author-out: the gate refitted without each author
    python bench/extortion_eval.py --outside  # false alerts and cost per mention on other writers' texts
    python bench/extortion_eval.py --frozen   # also the frozen test and blind splits

A row labelled ``extortion`` is found when :func:`monitor.defence.extortion.detect_extortion`
returns a frame; a row labelled ``ordinary`` (complaints that mention money, refunds, prices
or lawsuits) that raises one is a false alert. ``--cross`` refits the gate
(:func:`monitor.defence.extortion_fit.cross_author`) on every author but one and scores that
one's rows: the figure that predicts a new author. The test split was committed before the
detector was written, the blind split before the detector's second round of changes; tune on
train only (``--errors`` never prints test or blind rows).
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

from monitor.defence.extortion import detect_extortion

DATA = Path(__file__).resolve().parent.parent / "monitor" / "defence" / "data" / "extortion"
ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("zh-TW", "en")
# texts by other writers (clinic reviews and news, tweets, product, film and hotel reviews) that
# are not extortion by the policy: the sentiment corpora's files that the gate was not fitted on
OUTSIDE = (*(ROOT / "monitor" / "sentiment" / "corpus" / f for f in ("test.jsonl", "blind.jsonl")),
           *sorted((ROOT / ".data" / "sets").glob("*.jsonl")))


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

    def add(self, label: str, raised: bool) -> None:
        if label == "extortion":
            self.extortion += 1
            self.found += raised
        else:
            self.ordinary += 1
            self.false_alerts += raised


def load(split: str) -> list[dict]:
    with open(DATA / f"{split}.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def tally(rows: list[dict], raised: list[bool]) -> dict[str, Score]:
    scores = {lang: Score() for lang in (*LANGUAGES, "all")}
    for row, hit in zip(rows, raised):
        scores[row["lang"]].add(row["label"], hit)
        scores["all"].add(row["label"], hit)
    return scores


def score(rows: list[dict]) -> tuple[dict[str, Score], list[tuple[dict, object]]]:
    """A score per language (and "all"), and the rows the detector got wrong."""
    found = [detect_extortion(row["text"]) for row in rows]
    wrong = [(row, f) for row, f in zip(rows, found) if (f is not None) != (row["label"] == "extortion")]
    return tally(rows, [f is not None for f in found]), wrong


def cross_author() -> dict[str, dict[str, Score]]:
    """Leave-one-author-out scores of train, per held-out author."""
    from monitor.defence.extortion_fit import cross_author as verdicts, rows_for_fit

    d = rows_for_fit(log=lambda *_: None)
    return {author: tally([d.rows[i] for i in idx], pred.tolist()) for author, (idx, pred) in verdicts(d).items()}


def outside_texts() -> list[str]:
    """The distinct zh/en texts of :data:`OUTSIDE` (less rows whose causes name extortion, and
    texts that also occur in the gate's training corpora)."""
    from monitor.defence.extortion_fit import CORPORA

    seen = {json.loads(line)["text"] for path in CORPORA for line in path.read_text(encoding="utf-8").splitlines()}
    texts = []
    for path in (p for p in OUTSIDE if p.exists()):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("lang") in ("zh-TW", "zh-CN", "en") and "extortion" not in (row.get("causes") or []) \
                    and row["text"] not in seen:
                texts.append(row["text"])
    return list(dict.fromkeys(texts))


def outside(limit: int | None) -> None:
    """False alerts on other writers' zh/en texts, and what a mention costs."""
    from monitor.defence.extortion_cues import cue_spans, worth_encoding
    from monitor.defence.lint import normal_form

    texts = outside_texts()[:limit]
    detect_extortion("warm up: refund me and I'll delete the review")  # the encoder's load is not a mention's cost
    passed = sum(worth_encoding(cue_spans(normal_form(t)[1])) for t in texts)
    t0 = time.perf_counter()
    raised = [t for t in texts if detect_extortion(t) is not None]
    spent = time.perf_counter() - t0
    print(f"outside: {len(texts)} distinct zh/en texts of the sentiment corpora, {passed} passed the prefilter "
          f"({passed / len(texts):.1%}), {len(raised)} raised; {spent / len(texts) * 1000:.2f} ms per mention "
          f"on average, {spent / max(passed, 1) * 1000:.1f} ms per encoded mention")
    for text in raised:
        print(f"    raised: {text[:160]!r}")


def print_table(title: str, scores: dict[str, Score]) -> None:
    print(f"{title}:")
    print(f"  {'lang':<6} {'recall':>7} {'precision':>9} {'extortion':>9} {'found':>5} {'ordinary':>8} {'false':>5}")
    for lang, s in scores.items():
        print(f"  {lang:<6} {s.recall:>7.3f} {s.precision:>9.3f} {s.extortion:>9} {s.found:>5} {s.ordinary:>8} "
              f"{s.false_alerts:>5}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--errors", action="store_true", help="print the train rows the detector gets wrong")
    ap.add_argument("--cross", action="store_true", help="leave-one-author-out scores of train")
    ap.add_argument("--outside", type=int, nargs="?", const=0, default=None, metavar="N",
                    help="false alerts on the sentiment corpora and cost per mention (the first N texts; all by default)")
    ap.add_argument("--frozen", action="store_true",
                    help="also score the frozen test and blind splits (once per change, never while tuning)")
    args = ap.parse_args()
    for split in ("train", "test", "blind") if args.frozen else ("train",):
        scores, wrong = score(load(split))
        print_table(split, scores)
        if args.errors and split == "train":
            for row, found in wrong:
                what = f"false alert ({found.frame}: {' | '.join(found.phrases)})" if found else "missed"
                print(f"    {row['id']} {what}: {row['text']}")
    if args.cross:
        for author, scores in cross_author().items():
            print_table(f"train, {author} held out (gate fitted on the other authors)", scores)
    if args.outside is not None:
        outside(args.outside or None)


if __name__ == "__main__":
    main()

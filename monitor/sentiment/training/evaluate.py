"""``repwatch sentiment eval``: accuracy, macro-F1, confusion, and the clinic-domain figures.

Training lives in :mod:`monitor.sentiment.training.recipe`; this module only measures.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from monitor.sentiment import LABELS


# ----------------------------------------------------------------------------- metrics


@dataclass
class Metrics:
    n: int
    accuracy: float
    macro_f1: float
    labels: list[str]
    confusion: list[list[int]]  # rows: true label, columns: predicted

    def format(self, title: str = "") -> str:
        width = max(9, *(len(l) for l in self.labels)) + 1
        lines = [f"{title}n={self.n}  accuracy={self.accuracy:.3f}  macro-F1={self.macro_f1:.3f}"]
        lines.append(" " * width + "".join(f"{l[:8]:>9}" for l in self.labels) + "   <- predicted")
        for l, row in zip(self.labels, self.confusion):
            lines.append(f"{l:<{width}}" + "".join(f"{v:>9}" for v in row))
        return "\n".join(lines)


def metrics(truth: Sequence[str], pred: Sequence[str], binary: bool | None = None) -> Metrics:
    """Accuracy, macro-F1 and confusion. When the truth holds no neutral rows (binary
    data) macro-F1 is over negative/positive only, but neutral predictions still
    count as errors."""
    present = [l for l in LABELS if l in set(truth)]
    if binary is None:
        binary = "neutral" not in present
    labels = [l for l in LABELS if l in set(truth) | set(pred)]
    idx = {l: i for i, l in enumerate(labels)}
    conf = [[0] * len(labels) for _ in labels]
    for t, p in zip(truth, pred):
        conf[idx[t]][idx[p]] += 1
    f1s = []
    for l in (present if binary else [l for l in LABELS if l in labels]):
        i = idx[l]
        tp = conf[i][i]
        fp = sum(conf[r][i] for r in range(len(labels))) - tp
        fn = sum(conf[i]) - tp
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    n = len(truth)
    acc = sum(1 for t, p in zip(truth, pred) if t == p) / n if n else 0.0
    return Metrics(n, acc, float(np.mean(f1s)) if f1s else 0.0, labels, conf)


def forced_binary(scores) -> list[str]:
    """negative or positive, whichever is likelier (for data labelled only with those two)."""
    out = []
    for s in scores:
        neg = s.negative
        pos = s.positive if s.positive is not None else (s.score if s.label == "positive" else 0.0)
        out.append("negative" if neg >= pos else "positive")
    return out


def evaluate(scorer, rows: list[dict]) -> dict[str, Metrics]:
    """Metrics over all rows and per ``lang`` when the rows carry one.

    Where the truth of a group holds only negative and positive rows, a second entry
    ``"<group> binary"`` scores the model's choice between just those two; the first
    entry counts a neutral prediction as an error."""
    scores = scorer.score([r["text"] for r in rows])
    preds = [s.label for s in scores]
    binary = forced_binary(scores)
    truth = [r["label"] for r in rows]
    groups = {"all": list(range(len(rows)))}
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        if r.get("lang"):
            by_lang[r["lang"]].append(i)
    if len(by_lang) > 1 or (by_lang and "all" not in by_lang):
        groups.update(sorted(by_lang.items()))
    out = {}
    for name, ids in groups.items():
        t = [truth[i] for i in ids]
        out[name] = metrics(t, [preds[i] for i in ids])
        if "neutral" not in t:
            out[f"{name} binary"] = metrics(t, [binary[i] for i in ids])
    return out


def domain_report(scorer, rows: list[dict], threshold: float = 0.5) -> list[dict]:
    """The figures the crisis team's question needs, per language and per kind of text:
    3-class macro-F1, negative recall (how many harmful mentions are caught), the share of
    notices called neutral, and the share of positive rows called negative. ``model`` is the
    text alone (the label as the verdict reads it: negative only at P(negative) >=
    ``threshold``); ``verdict`` adds the star rating where the row has one
    (:mod:`monitor.verdict`)."""
    from monitor.verdict import decide

    scores = scorer.score([r["text"] for r in rows])
    model = [decide(r["text"], None, s, threshold).label for r, s in zip(rows, scores)]
    verdict = [decide(r["text"], r.get("rating"), s, threshold).label for r, s in zip(rows, scores)]
    groups: dict[str, list[int]] = {"all": list(range(len(rows)))}
    for key in ("lang", "kind"):
        for i, r in enumerate(rows):
            if r.get(key):
                groups.setdefault(f"{key}={r[key]}", []).append(i)
    out = []
    for name, ids in groups.items():
        truth = [rows[i]["label"] for i in ids]
        line = {"group": name, "n": len(ids)}
        for tag, pred in (("model", model), ("verdict", verdict)):
            p = [pred[i] for i in ids]
            line[f"{tag}_macro_f1"] = round(metrics(truth, p, binary=False).macro_f1, 3)
            neg = [j for j, t in enumerate(truth) if t == "negative"]
            line[f"{tag}_neg_recall"] = round(sum(p[j] == "negative" for j in neg) / len(neg), 3) if neg else None
            notices = [j for j, i in enumerate(ids) if rows[i].get("kind") == "notice" and truth[j] == "neutral"]
            line[f"{tag}_notices_neutral"] = round(sum(p[j] == "neutral" for j in notices) / len(notices), 3) \
                if notices else None
            pos = [j for j, t in enumerate(truth) if t == "positive"]
            line[f"{tag}_pos_called_neg"] = round(sum(p[j] == "negative" for j in pos) / len(pos), 3) if pos else None
        out.append(line)
    return out


def format_domain_report(lines: list[dict]) -> str:
    def f(v):
        return "   -" if v is None else f"{v:.3f}"

    head = f"{'group':<18}{'n':>5}  {'macro-F1':>8} {'neg-rec':>8} {'notice=neu':>10} {'pos->neg':>8}" \
           f"   | with stars: {'macro-F1':>8} {'neg-rec':>8}"
    rows = [head]
    for l in lines:
        rows.append(f"{l['group']:<18}{l['n']:>5}  {f(l['model_macro_f1']):>8} {f(l['model_neg_recall']):>8} "
                    f"{f(l['model_notices_neutral']):>10} {f(l['model_pos_called_neg']):>8}   |             "
                    f"{f(l['verdict_macro_f1']):>8} {f(l['verdict_neg_recall']):>8}")
    return "\n".join(rows)

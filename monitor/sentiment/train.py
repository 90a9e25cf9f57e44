"""``repwatch sentiment train`` and ``repwatch sentiment eval``.

Training is reproducible: datasets are rebuilt from pinned registry packages
(:mod:`monitor.sentiment.data`), embeddings are cached by content hash, and the head
is trained with full-batch Adam from a fixed seed in numpy (no torch needed).
Class weights balance the three classes; a held-out slice of the training rows picks
the L2 strength, so the test files are never used for any choice.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from monitor.sentiment import LABELS, clean_text
from monitor.sentiment.e5head import HEAD_FORMAT, E5Encoder, Head


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


def evaluate(scorer, rows: list[dict]) -> dict[str, Metrics]:
    """Metrics over all rows and per ``lang`` when the rows carry one."""
    scores = scorer.score([r["text"] for r in rows])
    preds = [s.label for s in scores]
    truth = [r["label"] for r in rows]
    out = {"all": metrics(truth, preds)}
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        if r.get("lang"):
            by_lang[r["lang"]].append(i)
    if len(by_lang) > 1 or (by_lang and "all" not in by_lang):
        for lang, ids in sorted(by_lang.items()):
            out[lang] = metrics([truth[i] for i in ids], [preds[i] for i in ids])
    return out


# ----------------------------------------------------------------------------- embeddings


class EmbeddingCache:
    """Embeddings of cleaned texts, cached on disk by the sha256 of the text."""

    def __init__(self, encoder: E5Encoder, path: Path):
        self.encoder = encoder
        self.path = path
        self.store: dict[str, np.ndarray] = {}
        if path.exists():
            data = np.load(path)
            self.store = {k: data[k] for k in data.files}

    def __call__(self, texts: Sequence[str], log=print) -> np.ndarray:
        keys = [hashlib.sha256(clean_text(t).encode()).hexdigest()[:24] for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts) if k not in self.store}.items())
        t0 = time.perf_counter()
        for start in range(0, len(todo), 512):
            chunk = todo[start:start + 512]
            vecs = self.encoder.encode([clean_text(t) for _, t in chunk])
            for (k, _), v in zip(chunk, vecs):
                self.store[k] = v
            done = start + len(chunk)
            log(f"  embedded {done}/{len(todo)} new texts ({done / (time.perf_counter() - t0):.1f}/s)")
            if done % 4096 < 512 or done == len(todo):
                self.save()
        return np.stack([self.store[k] for k in keys]) if keys else np.zeros((0, self.encoder.dim), np.float32)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, **self.store)
        tmp.replace(self.path)


# ----------------------------------------------------------------------------- training


def _train_softmax(x, y, k, l2, hidden, seed, steps=600, lr=0.01, class_weight=None):
    rng = np.random.default_rng(seed)
    n, d = x.shape
    dims = [d] + ([hidden] if hidden else []) + [k]
    params = []
    for a, b in zip(dims[:-1], dims[1:]):
        params.append([rng.normal(0, np.sqrt(2.0 / a), (b, a)).astype(np.float32), np.zeros(b, np.float32)])
    m = [[np.zeros_like(w), np.zeros_like(b)] for w, b in params]
    v = [[np.zeros_like(w), np.zeros_like(b)] for w, b in params]
    onehot = np.eye(k, dtype=np.float32)[y]
    sw = (class_weight[y] if class_weight is not None else np.ones(n, np.float32))[:, None] / n
    for step in range(1, steps + 1):
        acts = [x]
        h = x
        for li, (w, b) in enumerate(params):
            h = h @ w.T + b
            if li < len(params) - 1:
                h = np.maximum(h, 0)
            acts.append(h)
        z = h - h.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        g = (p - onehot) * sw
        for li in range(len(params) - 1, -1, -1):
            w, b = params[li]
            gw = g.T @ acts[li] + l2 * w
            gb = g.sum(0)
            if li > 0:
                g = (g @ w) * (acts[li] > 0)
            for j, grad in enumerate((gw, gb)):
                m[li][j] = 0.9 * m[li][j] + 0.1 * grad
                v[li][j] = 0.999 * v[li][j] + 0.001 * grad * grad
                mh = m[li][j] / (1 - 0.9 ** step)
                vh = v[li][j] / (1 - 0.999 ** step)
                params[li][j] = params[li][j] - lr * mh / (np.sqrt(vh) + 1e-8)
    return params


def _head_dict(params, mean, scale, labels, meta, fold) -> dict:
    layers = []
    for i, (w, b) in enumerate(params):
        act = "softmax" if i == len(params) - 1 else "relu"
        layers.append({"weights": np.round(w, 6).tolist(), "bias": np.round(b, 6).tolist(), "activation": act})
    return {
        "format": HEAD_FORMAT,
        "encoder": {"name": E5Encoder.name, "prefix": "query", "fold": fold},
        "labels": list(labels),
        "mean": np.round(mean, 6).tolist(),
        "scale": np.round(scale, 6).tolist(),
        "layers": layers,
        "trained": meta,
    }


def train_head(data_dir: Path, out: Path, cache: Path, hidden: int = 0, seed: int = 13,
               l2_grid: Sequence[float] = (1e-4, 1e-3, 1e-2), fold: str = "t2s", log=print) -> dict:
    from monitor.sentiment.data import read_jsonl

    rows = read_jsonl(data_dir / "train.jsonl")
    log(f"training rows: {len(rows)} {dict(Counter(r['label'] for r in rows))}")
    encoder = E5Encoder(fold=fold)
    embed = EmbeddingCache(encoder, cache)
    x = embed([r["text"] for r in rows], log=log)
    labels = list(LABELS)
    y = np.array([labels.index(r["label"]) for r in rows])
    counts = np.bincount(y, minlength=len(labels)).astype(np.float32)
    class_weight = (len(y) / (len(labels) * np.maximum(counts, 1))).astype(np.float32)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    xs = (x - mean) / scale

    # choose L2 on a validation slice of the *training* rows (tests stay untouched)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(y))
    cut = int(len(y) * 0.85)
    tr, va = perm[:cut], perm[cut:]
    best = None
    for l2 in l2_grid:
        params = _train_softmax(xs[tr], y[tr], len(labels), l2, hidden, seed, class_weight=class_weight)
        h = xs[va]
        for li, (w, b) in enumerate(params):
            h = h @ w.T + b
            if li < len(params) - 1:
                h = np.maximum(h, 0)
        f1 = metrics([labels[i] for i in y[va]], [labels[i] for i in h.argmax(1)], binary=False).macro_f1
        log(f"  l2={l2:g}: validation macro-F1 {f1:.3f}")
        if best is None or f1 > best[1]:
            best = (l2, f1)
    params = _train_softmax(xs, y, len(labels), best[0], hidden, seed, class_weight=class_weight)
    meta = {
        "at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "rows": len(rows),
        "by_label": dict(Counter(r["label"] for r in rows)),
        "by_origin": dict(Counter(r.get("origin", "?") for r in rows)),
        "l2": best[0],
        "validation_macro_f1": round(best[1], 4),
        "hidden": hidden,
        "seed": seed,
        "encoder_version": encoder.version,
    }
    head = _head_dict(params, mean, scale, labels, meta, fold)
    Head(head, str(out))  # validate before writing
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(head, separators=(",", ":")) + "\n", encoding="utf-8")
    log(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
    return meta

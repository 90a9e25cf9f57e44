"""The head's features and its fit: the one training step that ``sentiment train`` and
``sentiment adapt`` share (:mod:`monitor.sentiment.training.recipe` says what rows go in).

The head reads the pooled e5 layers 6-9 (the int8 graph that ``repwatch sentiment build``
makes), character n-gram Naive Bayes features (fitted with the row weights, out-of-fold for
training rows) and the domain cues of :mod:`monitor.sentiment.cues`. The L2 strength and the
hidden width are chosen on a validation share of the rows flagged as domain rows (by group),
never on a test file. Everything here needs numpy and the built-in encoder only.
"""
from __future__ import annotations

import hashlib
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from monitor.sentiment import LABELS
from monitor.sentiment.cues import NAMES as CUE_NAMES, cue_features
from monitor.sentiment.e5head import HEAD_FORMAT, ONNX_ENCODER, Head
from monitor.sentiment.ngrams import NgramNB, out_of_fold
from monitor.sentiment.training.corpus import group_of
from monitor.sentiment.training.evaluate import metrics
from monitor.text import clean_text

LAYERS = (6, 7, 8, 9)
NGRAMS = {"n_min": 1, "n_max": 3, "max_features": 20_000, "min_df": 3}


def encoder(batch_size: int = 16):
    """The int8 encoder of :data:`LAYERS`, built when missing."""
    from monitor.sentiment.onnxe5 import OnnxEncoder, ensure_model

    return OnnxEncoder(ensure_model(LAYERS), LAYERS, fold="t2s", batch_size=batch_size)


class FeatureCache:
    """Pooled layer features of cleaned texts, cached on disk (float16) by text hash."""

    def __init__(self, encoder, path: Path | None):
        self.encoder, self.path = encoder, path
        self.store: dict[str, np.ndarray] = {}
        if path is not None and path.exists():
            with np.load(path) as data:
                self.store = {k: data[k] for k in data.files}

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(clean_text(text).encode()).hexdigest()[:24]

    def __call__(self, texts: Sequence[str], log: Callable = print) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts) if k not in self.store}.items())
        t0 = time.perf_counter()
        for start in range(0, len(todo), 256):
            chunk = todo[start:start + 256]
            vecs = self.encoder.encode([clean_text(t) for _, t in chunk])
            for (k, _), v in zip(chunk, vecs):
                self.store[k] = v.astype(np.float16)
            done = start + len(chunk)
            if done % 4096 < 256 or done == len(todo):
                log(f"  encoded {done}/{len(todo)} new texts ({done / (time.perf_counter() - t0):.0f}/s)")
                if done % 8192 < 256 or done == len(todo):
                    self.save()
        return np.stack([self.store[k] for k in keys]).astype(np.float32) if keys else \
            np.zeros((0, self.encoder.dim), np.float32)

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, **self.store)
        tmp.replace(self.path)


def _train(x, y, w, k, l2, hidden, seed, steps=500, lr=0.01):
    """Full-batch Adam on a softmax (optionally one ReLU layer) with per-row weights."""
    rng = np.random.default_rng(seed)
    n, d = x.shape
    dims = [d] + ([hidden] if hidden else []) + [k]
    params = [[rng.normal(0, np.sqrt(2.0 / a), (b, a)).astype(np.float32), np.zeros(b, np.float32)]
              for a, b in zip(dims[:-1], dims[1:])]
    m = [[np.zeros_like(p) for p in layer] for layer in params]
    v = [[np.zeros_like(p) for p in layer] for layer in params]
    onehot = np.eye(k, dtype=np.float32)[y]
    sw = (w / w.sum()).astype(np.float32)[:, None]
    for step in range(1, steps + 1):
        acts, h = [x], x
        for li, (wt, b) in enumerate(params):
            h = h @ wt.T + b
            if li < len(params) - 1:
                h = np.maximum(h, 0)
            acts.append(h)
        z = h - h.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        g = (p - onehot) * sw
        for li in range(len(params) - 1, -1, -1):
            wt, b = params[li]
            grads = (g.T @ acts[li] + l2 * wt, g.sum(0))
            if li > 0:
                g = (g @ wt) * (acts[li] > 0)
            for j, grad in enumerate(grads):
                m[li][j] = 0.9 * m[li][j] + 0.1 * grad
                v[li][j] = 0.999 * v[li][j] + 0.001 * grad * grad
                params[li][j] = params[li][j] - lr * (m[li][j] / (1 - 0.9 ** step)) / (
                    np.sqrt(v[li][j] / (1 - 0.999 ** step)) + 1e-8)
    return params


def _forward(params, x):
    h = x
    for li, (w, b) in enumerate(params):
        h = h @ w.T + b
        if li < len(params) - 1:
            h = np.maximum(h, 0)
    return h


class _Rows:
    """What the fit reads of the rows: cleaned texts, label ids, weights, groups, and the
    encoder and cue features."""

    def __init__(self, rows: list[dict], weights: np.ndarray, encoder, cache: Path | None, log: Callable):
        self.texts = [clean_text(r["text"]) for r in rows]
        self.y = np.array([LABELS.index(r["label"]) for r in rows])
        self.w = np.asarray(weights, np.float32)
        self.groups = np.array([group_of(r) for r in rows])
        log(f"rows: {len(rows)} {dict(Counter(r['label'] for r in rows))}")
        self.enc = FeatureCache(encoder, cache)(self.texts, log=log)
        self.cues = cue_features(self.texts)
        self.fold = encoder.fold

    def out_of_fold(self, idx: np.ndarray, seed: int) -> np.ndarray:
        return out_of_fold([self.texts[i] for i in idx], self.y[idx], self.groups[idx], len(LABELS), seed=seed,
                           fold=self.fold, weights=self.w[idx], **NGRAMS)

    def ngrams(self, idx: np.ndarray) -> NgramNB:
        return NgramNB.fit([self.texts[i] for i in idx], self.y[idx], len(LABELS), fold=self.fold,
                           weights=self.w[idx], **NGRAMS)


def _validation_split(groups: np.ndarray, domain: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation rows: 20 % of the domain rows' groups are held out."""
    rng = np.random.default_rng(seed)
    dom_groups = np.unique(groups[domain])
    held = set(dom_groups[rng.permutation(len(dom_groups))[: max(1, len(dom_groups) // 5)]].tolist())
    is_va = np.array([g in held for g in groups.tolist()]) & domain
    return np.where(~is_va)[0], np.where(is_va)[0]


def _choose(d: _Rows, tr: np.ndarray, va: np.ndarray, l2_grid, hidden_grid, seed: int, log: Callable):
    """Validation macro-F1 of each (hidden, l2); returns all of them and the best."""
    nb_sel = np.zeros((len(d.texts), len(LABELS)), np.float32)
    nb_sel[tr] = d.out_of_fold(tr, seed)
    nb_sel[va] = d.ngrams(tr).features([d.texts[i] for i in va])
    x_sel = np.concatenate([d.enc, nb_sel, d.cues], 1)
    mean, scale = x_sel[tr].mean(0), x_sel[tr].std(0) + 1e-6
    xs = (x_sel - mean) / scale
    results = []
    for hidden in hidden_grid:
        for l2 in l2_grid:
            params = _train(xs[tr], d.y[tr], d.w[tr], len(LABELS), l2, hidden, seed)
            pred = _forward(params, xs[va]).argmax(1)
            f1 = metrics([LABELS[i] for i in d.y[va]], [LABELS[i] for i in pred], binary=False).macro_f1
            log(f"  hidden={hidden} l2={l2:g}: validation macro-F1 {f1:.4f} ({len(va)} domain rows)")
            results.append((f1, hidden, l2))
    best = max(results, key=lambda r: (round(r[0], 3), -r[1], r[2]))
    log(f"chose hidden={best[1]} l2={best[2]:g} (validation macro-F1 {best[0]:.4f})")
    return results, best


def fit(rows: list[dict], weights: np.ndarray, encoder, *, cache: Path | None = None, domain_mask=None,
        l2_grid: Sequence[float] = (1e-2, 3e-2), hidden_grid: Sequence[int] = (0, 64), seed: int = 13,
        meta: dict | None = None, log: Callable = print) -> dict:
    """Train a head on ``rows`` (``text``, ``label``) with per-row ``weights``; choose L2 and the
    hidden width on 20 % of the groups of the rows flagged by ``domain_mask`` (all rows when
    None). Returns the head as a dict (the JSON format of :class:`monitor.sentiment.e5head.Head`)."""
    t0 = time.perf_counter()
    d = _Rows(rows, weights, encoder, cache, log)
    domain = np.ones(len(rows), bool) if domain_mask is None else np.asarray(domain_mask, bool)
    tr, va = _validation_split(d.groups, domain, seed)
    results, (f1, hidden, l2) = _choose(d, tr, va, l2_grid, hidden_grid, seed, log)

    every = np.arange(len(rows))
    x = np.concatenate([d.enc, d.out_of_fold(every, seed), d.cues], 1)
    ngrams = d.ngrams(every)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    params = _train((x - mean) / scale, d.y, d.w, len(LABELS), l2, hidden, seed)
    head = {
        "format": HEAD_FORMAT,
        "encoder": {"name": ONNX_ENCODER, "layers": list(LAYERS), "prefix": "query", "fold": d.fold},
        "labels": list(LABELS),
        "mean": np.round(mean, 6).tolist(),
        "scale": np.round(scale, 6).tolist(),
        "layers": [{"weights": np.round(wt, 6).tolist(), "bias": np.round(b, 6).tolist(),
                    "activation": "softmax" if i == len(params) - 1 else "relu"} for i, (wt, b) in enumerate(params)],
        "ngrams": ngrams.to_dict(),
        "cues": list(CUE_NAMES),
        "trained": {
            "at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
            "rows": len(rows), "by_label": dict(Counter(r["label"] for r in rows)),
            "by_origin": dict(Counter(r.get("origin", "?") for r in rows)),
            "l2": l2, "hidden": hidden, "seed": seed, "validation_macro_f1": round(f1, 4),
            "validation": [{"hidden": h, "l2": l, "macro_f1": round(v, 4)} for v, h, l in results],
            "validation_split": "20% of the domain rows' groups", "seconds": round(time.perf_counter() - t0, 1),
            **(meta or {}),
        },
    }
    Head(head, "<trained>")  # validate before anyone writes it
    return head

"""``repwatch sentiment train`` and ``repwatch sentiment eval``.

Training is reproducible: datasets are rebuilt from pinned registry packages
(:mod:`monitor.sentiment.data`), the pooled features of every encoder layer are cached
by content hash, and the head is trained with full-batch Adam from a fixed seed in numpy
(no torch needed). Class weights balance the three classes. A held-out slice of the
training rows picks the L2 strength, which layers the head reads
(:data:`LAYER_CANDIDATES`) and whether it also reads character n-gram Naive Bayes
features (:mod:`monitor.sentiment.ngrams`): the shallowest candidate within
:data:`LAYER_TOLERANCE` of the best validation macro-F1 wins, because the encoder then
stops at that layer and runs faster. The slice is drawn by ``group``, so a review and
its Traditional Chinese copy never sit on both sides. The test files are never used for
any choice.
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
from monitor.sentiment.e5head import HEAD_FORMAT, ONNX_ENCODER, Head

ALL_LAYERS = tuple(range(1, 13))
LAYER_CANDIDATES = ((12,), (12, 11, 10, 9), (10, 9, 8, 7), (9, 8, 7, 6), (9, 7, 5, 3))
LAYER_TOLERANCE = 0.005
NGRAMS = {"n_min": 1, "n_max": 3, "max_features": 20_000, "min_df": 3}


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


# ----------------------------------------------------------------------------- embeddings


class EmbeddingCache:
    """Pooled features of every layer in ``ALL_LAYERS`` for cleaned texts, cached on disk
    (float16) by the sha256 of the text."""

    def __init__(self, encoder, path: Path):
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
        shape = (len(self.encoder.layers), self.encoder.hidden)
        for start in range(0, len(todo), 512):
            chunk = todo[start:start + 512]
            vecs = self.encoder.encode([clean_text(t) for _, t in chunk])
            for (k, _), v in zip(chunk, vecs):
                self.store[k] = v.reshape(shape).astype(np.float16)
            done = start + len(chunk)
            if done % 4096 < 512 or done == len(todo):
                log(f"  embedded {done}/{len(todo)} new texts ({done / (time.perf_counter() - t0):.1f}/s)")
                self.save()
        if not keys:
            return np.zeros((0, *shape), np.float32)
        return np.stack([self.store[k] for k in keys]).astype(np.float32)

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


def _predict(params, x):
    h = x
    for li, (w, b) in enumerate(params):
        h = h @ w.T + b
        if li < len(params) - 1:
            h = np.maximum(h, 0)
    return h


def _head_dict(params, mean, scale, labels, meta, fold, layers, ngrams=None) -> dict:
    layers_out = []
    for i, (w, b) in enumerate(params):
        act = "softmax" if i == len(params) - 1 else "relu"
        layers_out.append({"weights": np.round(w, 6).tolist(), "bias": np.round(b, 6).tolist(), "activation": act})
    return {
        "format": HEAD_FORMAT,
        "encoder": {"name": ONNX_ENCODER, "layers": list(layers), "prefix": "query", "fold": fold},
        "labels": list(labels),
        "mean": np.round(mean, 6).tolist(),
        "scale": np.round(scale, 6).tolist(),
        "layers": layers_out,
        **({"ngrams": ngrams.to_dict()} if ngrams is not None else {}),
        "trained": meta,
    }


def train_head(data_dir: Path, out: Path, cache: Path, hidden: int = 0, seed: int = 13,
               l2_grid: Sequence[float] = (1e-4, 1e-3, 1e-2), fold: str = "t2s",
               candidates: Sequence[Sequence[int]] = LAYER_CANDIDATES, log=print) -> dict:
    from monitor.sentiment.data import group_key, read_jsonl
    from monitor.sentiment.ngrams import NgramNB, out_of_fold
    from monitor.sentiment.onnxe5 import OnnxEncoder, ensure_model

    rows = read_jsonl(data_dir / "train.jsonl")
    log(f"training rows: {len(rows)} {dict(Counter(r['label'] for r in rows))}")
    encoder = OnnxEncoder(ensure_model(ALL_LAYERS), ALL_LAYERS, fold=fold)
    feats = EmbeddingCache(encoder, cache)([r["text"] for r in rows], log=log)
    labels = list(LABELS)
    y = np.array([labels.index(r["label"]) for r in rows])
    counts = np.bincount(y, minlength=len(labels)).astype(np.float32)
    class_weight = (len(y) / (len(labels) * np.maximum(counts, 1))).astype(np.float32)

    # choose layers, L2 and n-grams on a validation slice of the *training* rows (tests stay
    # untouched), drawn by group so that no review is on both sides in two scripts
    groups = np.array([r.get("group") or group_key(r["text"]) for r in rows])
    uniq = np.unique(groups)
    rng = np.random.default_rng(seed)
    held = set(uniq[rng.permutation(len(uniq))[int(len(uniq) * 0.85):]].tolist())
    is_va = np.array([g in held for g in groups.tolist()])
    tr, va = np.where(~is_va)[0], np.where(is_va)[0]
    texts = [clean_text(r["text"]) for r in rows]
    t0 = time.perf_counter()
    nb_sel = np.zeros((len(rows), len(labels)), np.float32)
    nb_sel[tr] = out_of_fold([texts[i] for i in tr], y[tr], groups[tr], len(labels), seed=seed, fold=fold, **NGRAMS)
    nb_sel[va] = NgramNB.fit([texts[i] for i in tr], y[tr], len(labels), fold=fold, **NGRAMS).features(
        [texts[i] for i in va])
    log(f"n-gram features for validation: {time.perf_counter() - t0:.0f}s")

    def features(layers, nb):
        x = feats[:, [ALL_LAYERS.index(l) for l in layers], :].reshape(len(feats), -1)
        return np.concatenate([x, nb], 1) if nb is not None else x

    results = []
    for cand in candidates:
        layers = sorted(cand)
        for use_ngrams in (False, True):
            x = features(layers, nb_sel if use_ngrams else None)
            mean, scale = x[tr].mean(0), x[tr].std(0) + 1e-6
            xs = (x - mean) / scale
            for l2 in l2_grid:
                params = _train_softmax(xs[tr], y[tr], len(labels), l2, hidden, seed, class_weight=class_weight)
                pred = _predict(params, xs[va]).argmax(1)
                f1 = metrics([labels[i] for i in y[va]], [labels[i] for i in pred], binary=False).macro_f1
                log(f"  layers {layers} l2={l2:g} n-grams {'on' if use_ngrams else 'off'}: "
                    f"validation macro-F1 {f1:.4f}")
                results.append((f1, layers, l2, use_ngrams))
    top = max(r[0] for r in results)
    near = [r for r in results if r[0] >= top - LAYER_TOLERANCE]
    f1, layers, l2, use_ngrams = min(near, key=lambda r: (max(r[1]), -r[0]))
    log(f"chose layers {layers} (encoder depth {max(layers)}), l2={l2:g}, n-grams {'on' if use_ngrams else 'off'}: "
        f"validation macro-F1 {f1:.4f} (best {top:.4f})")
    ngrams = None
    nb_all = None
    if use_ngrams:
        nb_all = out_of_fold(texts, y, groups, len(labels), seed=seed, fold=fold, **NGRAMS)
        ngrams = NgramNB.fit(texts, y, len(labels), fold=fold, **NGRAMS)
    x = features(layers, nb_all)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    params = _train_softmax((x - mean) / scale, y, len(labels), l2, hidden, seed, class_weight=class_weight)
    meta = {
        "at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "rows": len(rows),
        "by_label": dict(Counter(r["label"] for r in rows)),
        "by_origin": dict(Counter(r.get("origin", "?") for r in rows)),
        "l2": l2,
        "validation_macro_f1": round(f1, 4),
        "validation_split": "15% of groups",
        "ngrams": {**NGRAMS, "used": bool(use_ngrams)},
        "validation": [{"layers": ls, "l2": l, "ngrams": u, "macro_f1": round(v, 4)} for v, ls, l, u in results],
        "hidden": hidden,
        "seed": seed,
        "encoder_model": encoder.path.name,
    }
    head = _head_dict(params, mean, scale, labels, meta, fold, layers, ngrams)
    Head(head, str(out))  # validate before writing
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(head, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
    return meta

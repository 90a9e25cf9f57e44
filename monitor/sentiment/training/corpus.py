"""Labelled rows: the clinic-domain corpus that ships with repwatch, and any JSONL file of
``{"text", "label"}`` rows (``label`` negative, neutral or positive; other keys kept)."""
from __future__ import annotations

import hashlib
import json
from importlib.resources import files
from pathlib import Path

from monitor.sentiment import LABELS


def corpus_path(name: str) -> Path:
    """A file of ``monitor/sentiment/corpus/`` (see its README)."""
    return Path(str(files("monitor.sentiment").joinpath("corpus", name)))


def read_rows(path: Path) -> list[dict]:
    """The rows of a JSONL file; a bad line fails with ``PATH:LINE:`` and what is wrong."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not JSON ({exc.msg})") from None
            if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
                raise ValueError(f"{path}:{n}: needs a string \"text\"")
            if rec.get("label") not in LABELS:
                raise ValueError(f"{path}:{n}: label must be negative, neutral or positive, got {rec.get('label')!r}")
            rows.append(rec)
    return rows


def group_of(row: dict) -> str:
    """What keeps copies of one text on one side of a split: ``group``, else ``id``, else a hash."""
    return str(row.get("group") or row.get("id") or hashlib.sha256(row["text"].encode()).hexdigest()[:16])


def domain_rows(origin: str = "domain") -> list[dict]:
    """The clinic-domain training split (``corpus/train.jsonl``), each row tagged with ``origin``."""
    rows = read_rows(corpus_path("train.jsonl"))
    for r in rows:
        r.setdefault("origin", origin)
    return rows

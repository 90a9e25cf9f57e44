"""Every text normal form in one place. A leaf module: it imports nothing from repwatch.

- :func:`fold` -- what matching compares (NFKC, casefold, Traditional -> Simplified
  characters, collapsed whitespace); used on both sides of every comparison.
- :func:`clean_text` -- what a model sees (NFKC, no control or bidi characters, collapsed
  whitespace, head and tail kept when too long).
- :func:`fold_script` -- a sentiment head's script folding ("t2s").
- :func:`content_key` -- the normal form behind a mention's content hash.
- :func:`masking_form` -- what the patient-data masks of :mod:`monitor.privacy` read (NFKC,
  no invisible characters that would split a number).
- :func:`one_line` -- untrusted text as one bounded line (the renderer adds masking and
  escaping on top).
"""
from __future__ import annotations

import os
import re
import unicodedata
from functools import lru_cache

# C0/C1 controls (tab and newlines excepted), zero-width and bidi overrides, BOM
CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# the same, with tab and newlines: for one-line output
LINE_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# invisible characters that would split a number so no rule sees it (ZWSP, ZWNJ, ZWJ,
# word joiner, BOM, soft hyphen); bidi controls are left to the renderer
INVISIBLE = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff]")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")


def nfkc(text: str | None) -> str:
    return unicodedata.normalize("NFKC", text or "")


def squash(text: str) -> str:
    """Collapse every run of whitespace to one space and trim."""
    return " ".join(text.split())


@lru_cache(maxsize=1)
def t2s_table() -> dict[int, str]:
    """One-to-one Traditional -> Simplified characters, from OpenCC's own dictionary."""
    import opencc

    path = os.path.join(os.path.dirname(opencc.__file__), "dictionary", "TSCharacters.txt")
    table: dict[int, str] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 2 and len(parts[0]) == 1:
                target = parts[1].split(" ")[0]
                if len(target) == 1:
                    table[ord(parts[0])] = target
    return table


def fold(text: str) -> str:
    """The normal form used on both sides of every comparison."""
    return squash(nfkc(text).casefold().translate(t2s_table()))


def fold_script(text: str, script: str | None) -> str:
    """Apply a head's script folding ("t2s": Traditional to Simplified characters)."""
    if script == "t2s":
        return text.translate(t2s_table())
    return text


def clean_text(text: str | None, max_chars: int = 4000) -> str:
    """What a model sees: NFKC, no control or bidi characters, collapsed whitespace,
    and at most ``max_chars`` characters (head and tail kept: complaints often end
    with the verdict)."""
    text = squash(CONTROLS.sub(" ", nfkc(text)))
    if len(text) > max_chars:
        half = max_chars // 2
        text = text[:half] + " … " + text[-half:]
    return text


def content_key(title: str, text: str) -> str:
    """Title and text in the normal form behind a mention's content hash."""
    return squash(nfkc(f"{title}\n{text}").casefold())


def masking_form(text: str | None) -> str:
    """What the patient-data masks read: NFKC (full-width ``０９１２`` and ``Ａ１２`` become
    ASCII), with the invisible characters that would split a number dropped."""
    return INVISIBLE.sub("", nfkc(text))


def one_line(text: str | None, limit: int) -> str:
    """Untrusted text as one line of at most ``limit`` characters (an ellipsis marks a cut)."""
    text = squash(LINE_CONTROLS.sub(" ", text or ""))
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text

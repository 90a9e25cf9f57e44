"""Decide which entities (doctors, clinics) a mention is about.

Both the aliases and the mention text are folded the same way before comparing:

* Unicode NFKC (full-width letters and digits become ASCII, compatibility forms fold),
  then ``casefold`` (case-insensitive, also for non-ASCII scripts);
* Traditional Chinese characters fold to Simplified with OpenCC's character table
  (TSCharacters, many-to-one), so 林志明診所 matches 林志明诊所 and back;
* runs of whitespace become one space.

Aliases that contain CJK characters match as substrings (Chinese has no word
boundaries); Latin aliases match on word boundaries, so "Dr. Lin" does not match
"Dr. Linda". An ``exclude`` phrase removes the entity when the mention contains it
(林志明里長 is a borough chief, not the doctor), unless the mention also names the
entity somewhere outside every exclusion.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from monitor.config import Entity
from monitor.text import CJK, fold



@dataclass(frozen=True)
class Match:
    entity_id: str
    alias: str


class _Term:
    __slots__ = ("alias", "pattern")

    def __init__(self, alias: str):
        self.alias = alias
        folded = fold(alias)
        # any whitespace run where the alias has a space; optional after "." ("Dr.Lin")
        escaped = re.escape(folded).replace(r"\ ", r"\s+").replace(r"\.\s+", r"\.\s*")
        if CJK.search(folded):
            self.pattern = re.compile(escaped)
        else:
            # word boundaries for Latin script; (?<!\w) works for aliases ending in "."
            self.pattern = re.compile(rf"(?<!\w){escaped}(?!\w)")


class Matcher:
    """Compiled aliases and exclusions for a set of entities."""

    def __init__(self, entities: Iterable[Entity]):
        self._entities = []
        for e in entities:
            terms = [_Term(a) for a in e.terms]
            excludes = [_Term(x) for x in e.exclude]
            self._entities.append((e, terms, excludes))

    def match(self, text: str, only: Iterable[str] | None = None) -> list[Match]:
        """Entities ``text`` is about, in config order; ``only`` limits the candidates."""
        folded = fold(text)
        allowed = set(only) if only is not None else None
        found: list[Match] = []
        for entity, terms, excludes in self._entities:
            if allowed is not None and entity.id not in allowed:
                continue
            excluded_spans = [m.span() for x in excludes for m in x.pattern.finditer(folded)]
            for term in terms:
                hit = next(
                    (
                        m
                        for m in term.pattern.finditer(folded)
                        if not any(a <= m.start() and m.end() <= b for a, b in excluded_spans)
                    ),
                    None,
                )
                if hit is not None:
                    found.append(Match(entity.id, term.alias))
                    break
        return found

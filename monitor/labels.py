"""Labels and matchers, in Alertmanager's vocabulary.

Every alert carries labels: ``rule``, ``kind`` (burst, spike, severe, source-health),
``severity`` (critical, warning, info), ``entity``, ``entity_kind``, ``source``, and for
alerts about mentions ``cause`` (the gravest cause among them: wait, attitude, billing,
outcome, hygiene, advertising, privacy, legal, extortion) and ``causes`` (all of them,
comma-separated).
Routes, inhibition rules and silences select alerts with matchers written the way
Alertmanager writes them::

    severity="critical"      entity=~"dr-.*"      source!="ptt"      kind!~"burst|spike"

``=~`` and ``!~`` are regular expressions anchored at both ends. A label the alert
does not have has the value "" (so ``source=""`` matches alerts without a source).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping

SEVERITIES = ("critical", "warning", "info")

_MATCHER_RE = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"]*))\s*$')


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # = != =~ !~
    value: str
    _regex: re.Pattern | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = self._regex.fullmatch(actual) is not None
        return hit if self.op == "=~" else not hit

    def __str__(self) -> str:
        value = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{value}"'


def parse_matcher(text: str) -> Matcher:
    """``'entity="dr-lin"'`` -> Matcher; raise ValueError saying what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f'a matcher is a string such as \'severity="critical"\', got {text!r}')
    m = _MATCHER_RE.match(text)
    if not m:
        raise ValueError(f'bad matcher {text!r}: write label="value", label!="value", label=~"regex" or label!~"regex"')
    name, op = m.group(1), m.group(2)
    value = m.group(3) if m.group(3) is not None else m.group(4)
    value = re.sub(r"\\(.)", r"\1", value)
    regex = None
    if op in ("=~", "!~"):
        try:
            regex = re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regular expression in matcher {text!r}: {exc}") from None
    return Matcher(name, op, value, regex)


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)

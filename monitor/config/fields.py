"""The value types of the config file, as pydantic annotated types.

Each type validates a TOML value into its runtime form (a duration string into a
``timedelta``, a string or list into a tuple) with repwatch's own wording of what is wrong,
and says what it looks like in the JSON Schema (always the file's form, never the runtime's).
"""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema

from monitor.config.problems import checker, fail
from monitor.labels import Matcher, parse_matcher
from monitor.units import MAX_DURATION, format_duration, parse_duration

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_URL_RE = re.compile(r"^https?://[^\s/]+")
_DURATION_PATTERN = r"^\s*(\d+\s*d)?\s*(\d+\s*h)?\s*(\d+\s*m)?\s*(\d+\s*s)?\s*$"
_CLOCK_RE = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")


def _typed(kind: Any, check, schema: dict):
    return Annotated[kind, PlainValidator(check), WithJsonSchema(schema)]


def _string(value: Any, nonempty: bool = False) -> str:
    if not isinstance(value, str) or (nonempty and not value.strip()):
        fail(f"must be a non-empty string, got {value!r}")
    return value


def _ident(value: Any) -> str:
    value = _string(value, nonempty=True)
    if not ID_RE.match(value):
        fail(f"{value!r} is not a valid id (letters, digits, '_', '-', '.'; at most 64)")
    return value


def as_strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
        fail("must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _url(value: Any) -> str:
    value = _string(value, nonempty=True)
    if not _URL_RE.match(value):
        fail(f"must be an http:// or https:// URL, got {value!r}")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        fail(f"must be true or false, got {value!r}")
    return value


def duration(allow_zero: bool = False, maximum: timedelta = MAX_DURATION):
    """A duration such as "90s", "1h30m" or "2d" (up to :data:`MAX_DURATION`)."""
    def check(value: Any) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            parsed = parse_duration(value, allow_zero)
        except ValueError as exc:
            fail(str(exc))
        if parsed > maximum:
            fail(f"must be at most {format_duration(maximum)}, got {value!r}")
        return parsed

    return _typed(timedelta, check, {"type": "string", "pattern": _DURATION_PATTERN,
                                     "description": 'a duration such as "90s", "5m", "1h30m" or "2d"'})


def number(lo: float | None = None, hi: float | None = None, integer: bool = False):
    """An integer or a number, optionally between ``lo`` and ``hi``."""
    def check(value: Any):
        ok = isinstance(value, int if integer else (int, float)) and not isinstance(value, bool)
        if not ok:
            fail(f"must be {'an integer' if integer else 'a number'}, got {value!r}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            fail(f"must be {f'between {lo} and {hi}' if hi is not None else f'at least {lo}'}, got {value!r}")
        return int(value) if integer else float(value)

    schema: dict = {"type": "integer" if integer else "number"}
    schema.update({k: v for k, v in (("minimum", lo), ("maximum", hi)) if v is not None})
    return _typed(int if integer else float, check, schema)


def choice(values: tuple[str, ...], message: str):
    """One of ``values``; ``message`` (with ``{value!r}``) says what else was given."""
    def check(value: Any) -> str:
        if _string(value) not in values:
            fail(message.format(value=value))
        return value

    return _typed(str, check, {"enum": list(values)})


def _matchers(value: Any, info) -> tuple[Matcher, ...]:
    """Alertmanager matchers such as 'severity="critical"'; each bad one is its own problem."""
    found = []
    for text in as_strings(value):
        try:
            found.append(parse_matcher(text))
        except ValueError as exc:
            checker(info).add((info.field_name,), str(exc))
    return tuple(found)


def parse_clock(text: str) -> tuple[int, int] | None:
    m = _CLOCK_RE.match(text)
    return (int(m.group(1)), int(m.group(2))) if m else None


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKLY_RE = re.compile(r"^\s*([Mm]on|[Tt]ue|[Ww]ed|[Tt]hu|[Ff]ri|[Ss]at|[Ss]un)\s+([01]?\d|2[0-3]):([0-5]\d)\s*$")


def parse_weekly(text: str) -> tuple[int, int, int] | None:
    """ "Mon 08:30" -> (0, 8, 30): weekday (Monday 0), hour, minute."""
    m = _WEEKLY_RE.match(text)
    return (WEEKDAYS.index(m.group(1).lower()), int(m.group(2)), int(m.group(3))) if m else None


def parse_span(text: str) -> tuple[int, int] | None:
    """ "22:00-07:00" -> (1320, 420): minutes after local midnight; may wrap past midnight."""
    parts = text.split("-") if isinstance(text, str) else []
    if len(parts) != 2:
        return None
    a, b = parse_clock(parts[0]), parse_clock(parts[1])
    if a is None or b is None or a == b:
        return None
    return a[0] * 60 + a[1], b[0] * 60 + b[1]


def _spans(value: Any, info) -> tuple[tuple[int, int], ...]:
    found = []
    for text in as_strings(value):
        span = parse_span(text)
        if span is None:
            checker(info).add((info.field_name,), f'{text!r} is not a time span such as "22:00-07:00"')
        else:
            found.append(span)
    return tuple(found)


def _clock(value: Any) -> tuple[int, int]:
    found = parse_clock(value) if isinstance(value, str) else None
    if found is None:
        fail(f'must be a local time such as "08:30", got {value!r}')
    return found


def _weekly(value: Any) -> tuple[int, int, int]:
    found = parse_weekly(value) if isinstance(value, str) else None
    if found is None:
        fail(f'must be a weekday and a local time such as "Mon 08:30", got {value!r}')
    return found


STRINGS_SCHEMA = {"anyOf": [{"type": "string", "minLength": 1}, {"type": "array", "items": {"type": "string",
                                                                                              "minLength": 1}}]}
Text = _typed(str, _string, {"type": "string"})
Name = _typed(str, lambda v: _string(v, nonempty=True), {"type": "string", "minLength": 1})
Ident = _typed(str, _ident, {"type": "string", "pattern": ID_RE.pattern})
Strings = _typed(tuple[str, ...], as_strings, STRINGS_SCHEMA)
Url = _typed(str, _url, {"type": "string", "pattern": _URL_RE.pattern})
Flag = _typed(bool, _boolean, {"type": "boolean"})
AnyId = _typed(str, lambda v: v, {"type": "string"})  # another table's id: its validator says when it is none
Duration = duration()
Interval = duration(allow_zero=True)  # may be "0s"
Fraction = number(0.0, 1.0)
Count = number(1, 1000, integer=True)
Processes = number(0, 64, integer=True)  # child processes; 0: none
Matchers = _typed(tuple[Matcher, ...], _matchers, {**STRINGS_SCHEMA, "description": 'matchers such as '
                                                   "'severity=\"critical\"' or 'entity=~\"dr-.*\"'"})
Spans = _typed(tuple[tuple[int, int], ...], _spans, {**STRINGS_SCHEMA, "description": 'spans such as "22:00-07:00"'})
Clock = _typed(tuple[int, int], _clock, {"type": "string", "pattern": _CLOCK_RE.pattern})
Weekly = _typed(tuple[int, int, int], _weekly, {"type": "string", "pattern": _WEEKLY_RE.pattern})

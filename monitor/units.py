"""Units written in the config: durations ("90s", "1h30m", "2d") and rates ("100/1m").

A leaf module: it imports nothing from repwatch, so config, connectors and rendering can all
use it without an import cycle.
"""
from __future__ import annotations

import re
from datetime import timedelta

_DURATION_RE = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")
MAX_DURATION = timedelta(days=3650)  # any longer is a typo; datetimes near year 9999 overflow


def parse_duration(text: str, allow_zero: bool = False) -> timedelta:
    """Parse "90s", "5m", "1h30m", "2d" into a timedelta; raise ValueError otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"expected a duration such as \"5m\" or \"1h\", got {text!r}")
    m = _DURATION_RE.match(text)
    if not m or not any(m.groups()):
        raise ValueError(f"bad duration {text!r}: use a number with d, h, m or s, e.g. \"5m\", \"1h30m\"")
    d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    try:
        value = timedelta(days=d, hours=h, minutes=mi, seconds=s)
    except OverflowError:
        raise ValueError(f"duration {text!r} is too large") from None
    if value <= timedelta(0) and not allow_zero:
        raise ValueError(f"duration {text!r} must be greater than zero")
    return value


def format_duration(value: timedelta) -> str:
    total = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return "".join(parts) or "0s"


_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")


def parse_rate(text: str) -> tuple[int, float]:
    """"100/1m" -> (100, 60.0). Raise ValueError otherwise."""
    m = _RATE_RE.match(text) if isinstance(text, str) else None
    if not m or int(m.group(1)) < 1:
        raise ValueError(f"bad rate {text!r}: use requests/period such as \"100/1m\" or \"1/2s\"")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(3)]
    return int(m.group(1)), float(int(m.group(2) or 1) * unit)

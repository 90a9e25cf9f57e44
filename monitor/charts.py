"""Server-side SVG charts: no JavaScript, no external assets (fonts, styles or scripts), so
the same markup works in the dashboard, in an e-mail and in a PDF.

- :func:`line_chart` -- one line per named series over time, with time and value axes,
  ticks, a legend and the time zone shown (ticks fall on whole hours or local midnights).
- :func:`bar_chart` -- horizontal bars, one per labelled value, the value written at the
  bar's end.

Both return one standalone ``<svg>`` element (with ``xmlns``) that parses as XML. Every
label (titles, series names, bar labels) is treated as untrusted: characters XML forbids
are dropped and the rest is escaped, so a hostile label stays text. With no data the chart
keeps its frame and title and says ``empty`` (``"No data"`` unless the caller localises it).

Each plotted point carries ``data-x`` (ISO time) and ``data-y`` (value), each bar
``data-label``/``data-value``, so a test or a screen reader can read the figures back.
A leaf module: it imports nothing from repwatch.
"""
from __future__ import annotations

import math
import re
import unicodedata
from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

__all__ = ["line_chart", "bar_chart", "PALETTE"]

# Okabe-Ito: told apart with the common colour-vision deficiencies, and in greyscale print
PALETTE = ("#D55E00", "#0072B2", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
FONT = "'Noto Sans CJK TC','Noto Sans TC','Noto Sans',sans-serif"
_NOT_XML = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_HOUR = 3600
_TIME_STEPS = (1, 2, 3, 6, 12, 24, 48, 24 * 7, 24 * 14, 24 * 28)  # hours


def _text(value: object) -> str:
    """Untrusted text -> escaped XML character data (no forbidden or bidi-override chars)."""
    return escape(_BIDI.sub("", _NOT_XML.sub("", str(value))))


def _attr(value: object) -> str:
    return quoteattr(_BIDI.sub("", _NOT_XML.sub("", str(value))))


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _fmt_value(v: float) -> str:
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v):,}"
    return f"{v:,.2f}".rstrip("0").rstrip(".")


def text_width(text: str, size: float) -> float:
    """Rough rendered width: wide (CJK) characters one em, others about 0.6 em."""
    return sum(size if unicodedata.east_asian_width(c) in "WF" else 0.6 * size for c in text)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 2.5 or 5 times a power of ten apart)."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t < hi + step * 0.999:
        ticks.append(round(t, 10))
        t += step
    return ticks


def time_ticks(t0: datetime, t1: datetime, tz: ZoneInfo, count: int = 7) -> list[datetime]:
    """Tick times in ``tz``: whole hours, or local midnights for steps of a day or more."""
    span_h = max((t1 - t0).total_seconds() / _HOUR, 1)
    step = next((s for s in _TIME_STEPS if span_h / s <= count), _TIME_STEPS[-1])
    local = t0.astimezone(tz)
    if step >= 24:
        first = local.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        first = local.replace(hour=local.hour - local.hour % step, minute=0, second=0, microsecond=0)
    out, day = [], first
    while day <= t1.astimezone(tz) + timedelta(seconds=1):
        if day >= local - timedelta(seconds=1):
            out.append(day)
        # step in wall-clock time, so midnights stay midnights across DST changes
        nxt = (day.replace(tzinfo=None) + timedelta(hours=step)).replace(tzinfo=tz)
        day = nxt
    return out


def _open(width: int, height: int, title: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" font-family="{FONT}" font-size="11">',
        f"<title>{_text(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="8" y="17" font-size="13" font-weight="bold" fill="#222">{_text(title)}</text>',
    ]


def _empty(width: int, height: int, title: str, empty: str) -> str:
    parts = _open(width, height, title)
    parts.append(f'<text class="empty" x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" '
                 f'fill="#777">{_text(empty)}</text>')
    return "\n".join(parts + ["</svg>"])


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _legend(names: list[str], x0: float, y: float, width: int) -> list[str]:
    out, x = [], x0
    for i, name in enumerate(names):
        w = 22 + text_width(name, 11)
        if x + w > width - 4 and x > x0:
            break  # no room: the remaining series are still named in their <g> labels
        colour = PALETTE[i % len(PALETTE)]
        out.append(f'<g class="legend-item"><rect x="{_num(x)}" y="{_num(y - 8)}" width="12" height="4" '
                   f'fill="{colour}"/><text x="{_num(x + 16)}" y="{_num(y)}" fill="#333">{_text(name)}</text></g>')
        x += w + 10
    return out


def _y_axis(ticks: list[float], ymap, left: float, right: float, y_label: str, top: float,
            bottom: float) -> list[str]:
    out = [f'<line x1="{_num(left)}" y1="{_num(top)}" x2="{_num(left)}" y2="{_num(bottom)}" stroke="#888"/>']
    for v in ticks:
        y = ymap(v)
        out.append(f'<g class="ytick" data-value="{v:g}"><line x1="{_num(left)}" y1="{_num(y)}" '
                   f'x2="{_num(right)}" y2="{_num(y)}" stroke="#e4e4e4"/><text x="{_num(left - 4)}" '
                   f'y="{_num(y + 4)}" text-anchor="end" fill="#555">{_text(_fmt_value(v))}</text></g>')
    if y_label:
        mid = (top + bottom) / 2
        out.append(f'<text x="12" y="{_num(mid)}" transform="rotate(-90 12 {_num(mid)})" '
                   f'text-anchor="middle" fill="#555">{_text(y_label)}</text>')
    return out


def _x_axis(t0: datetime, t1: datetime, xmap, tz: ZoneInfo, bottom: float, right: float) -> list[str]:
    ticks = time_ticks(t0, t1, tz)
    daily = len(ticks) > 1 and (ticks[1] - ticks[0]) >= timedelta(hours=24)
    out = [f'<line x1="{_num(xmap(t0))}" y1="{_num(bottom)}" x2="{_num(right)}" y2="{_num(bottom)}" stroke="#888"/>']
    for t in ticks:
        x = xmap(t)
        label = t.strftime("%m-%d") if daily or (t.hour == 0 and t.minute == 0) else t.strftime("%H:%M")
        out.append(f'<g class="xtick" data-time="{t.isoformat()}"><line x1="{_num(x)}" y1="{_num(bottom)}" '
                   f'x2="{_num(x)}" y2="{_num(bottom + 4)}" stroke="#888"/><text x="{_num(x)}" '
                   f'y="{_num(bottom + 15)}" text-anchor="middle" fill="#555">{label}</text></g>')
    offset = t1.astimezone(tz).strftime("%z")
    out.append(f'<text class="tz" x="{_num(right)}" y="{_num(bottom + 28)}" text-anchor="end" fill="#777">'
               f'UTC{offset[:3]}:{offset[3:]}</text>')
    return out


def line_chart(series: dict[str, list[tuple[datetime, float]]], *, title: str, y_label: str = "",
               width: int = 640, height: int = 240, tz: str = "UTC", empty: str = "No data") -> str:
    """One polyline per series (in the order given, colours from :data:`PALETTE`); naive
    times are taken as UTC; the time axis is labelled in ``tz``. The value axis starts at 0
    unless a value is negative."""
    points = {name: sorted((_aware(t), float(v)) for t, v in pts) for name, pts in series.items() if pts}
    if not points:
        return _empty(width, height, title, empty)
    zone = ZoneInfo(tz)
    times = [t for pts in points.values() for t, _ in pts]
    values = [v for pts in points.values() for _, v in pts]
    t0, t1 = min(times), max(times)
    if t1 == t0:
        t0, t1 = t0 - timedelta(hours=1), t1 + timedelta(hours=1)
    ticks = nice_ticks(min(0.0, min(values)), max(values))
    lo, hi = ticks[0], ticks[-1]
    left = 14 + (16 if y_label else 0) + max(text_width(_fmt_value(v), 11) for v in ticks)
    top, right, bottom = 44.0, width - 14.0, height - 34.0
    span = (t1 - t0).total_seconds()

    def xmap(t: datetime) -> float:
        return left + (t - t0).total_seconds() / span * (right - left)

    def ymap(v: float) -> float:
        return bottom - (v - lo) / (hi - lo) * (bottom - top)

    parts = _open(width, height, title)
    parts += _legend(list(points), left, 34, width)
    parts += _y_axis(ticks, ymap, left, right, y_label, top, bottom)
    parts += _x_axis(t0, t1, xmap, zone, bottom, right)
    for i, (name, pts) in enumerate(points.items()):
        colour, label = PALETTE[i % len(PALETTE)], _text(name)
        xy = [(_num(xmap(t)), _num(ymap(v)), t, v) for t, v in pts]  # each point's place, worked out once
        coords = " ".join(f"{x},{y}" for x, y, _, _ in xy)
        parts.append(f'<g class="series" data-name={_attr(name)}><polyline points="{coords}" fill="none" '
                     f'stroke="{colour}" stroke-width="2" stroke-linejoin="round"/>')
        parts += [f'<circle cx="{x}" cy="{y}" r="2.5" fill="{colour}" data-x="{t.isoformat()}" data-y="{v:g}">'
                  f"<title>{label}: {_fmt_value(v)}</title></circle>" for x, y, t, v in xy]  # digits: nothing to escape
        parts.append("</g>")
    return "\n".join(parts + ["</svg>"])


def bar_chart(items: list[tuple[str, float]], *, title: str, width: int = 640, height: int = 240,
              empty: str = "No data") -> str:
    """Horizontal bars in the order given, scaled to the largest value (negative values are
    drawn as zero-length bars but keep their written value)."""
    if not items:
        return _empty(width, height, title, empty)
    labels = [str(label) for label, _ in items]
    values = [float(v) for _, v in items]
    left = 12 + min(width * 0.4, max(text_width(label, 11) for label in labels))
    top, bottom = 28.0, height - 8.0
    right = width - 12 - max(text_width(_fmt_value(v), 11) for v in values) - 6
    row = (bottom - top) / len(items)
    bar_h = max(2.0, min(22.0, row * 0.7))
    peak = max(max(values), 0.0) or 1.0
    parts = _open(width, height, title)
    parts.append(f'<line x1="{_num(left)}" y1="{_num(top)}" x2="{_num(left)}" y2="{_num(bottom)}" stroke="#888"/>')
    for i, (label, v) in enumerate(zip(labels, values)):
        y = top + i * row + (row - bar_h) / 2
        w = max(v, 0.0) / peak * (right - left)
        mid = y + bar_h / 2 + 4
        shown = label if text_width(label, 11) <= left - 12 else _clip(label, left - 12)
        parts.append(
            f'<g class="bar" data-label={_attr(label)} data-value="{v:g}">'
            f'<text x="{_num(left - 6)}" y="{_num(mid)}" text-anchor="end" fill="#333">{_text(shown)}</text>'
            f'<rect x="{_num(left)}" y="{_num(y)}" width="{_num(w)}" height="{_num(bar_h)}" '
            f'fill="{PALETTE[1]}"><title>{_text(label)}: {_text(_fmt_value(v))}</title></rect>'
            f'<text x="{_num(left + w + 4)}" y="{_num(mid)}" fill="#333">{_text(_fmt_value(v))}</text></g>')
    return "\n".join(parts + ["</svg>"])


def _clip(label: str, room: float) -> str:
    out = ""
    for c in label:
        if text_width(out + c + "…", 11) > room:
            break
        out += c
    return out + "…"

"""Relative dates, as forums and review sites print them: "3 小時前", "昨天 14:03",
"上週三", "2 days ago".

:func:`parse_relative` reads zh-TW, zh-CN and English forms against an injected
``now`` (never the real clock) and returns aware UTC, or None for anything else:

* now: 剛剛, 剛才 (刚刚, 刚才), "just now", "a moment ago";
* N units ago: ``N 秒/分鐘/分/小時/天/日/週/周/星期/禮拜/個月/年 前`` with or without
  spaces, Arabic digits (also full-width) or Chinese numerals (一..十, 十五, 二十三, 兩),
  半 (半小時前 = 30 minutes, 一個半小時前 = 90 minutes) and the simplified forms
  (分钟, 小时, 个月, 两); "N seconds/minutes/hours/days/weeks/months/years ago" (also
  "5 min ago", "2h ago", "an hour ago", "a day ago", "half an hour ago");
* days: 今天, 昨天, 前天, 大前天, "today", "yesterday", each optionally followed by a time
  of day (``14:03``, ``下午 2:03``, ``at 2:03 pm``);
* the previous week: 上週三, 上周三, 上星期三, 上禮拜三 (weeks start on Monday, ISO 8601:
  on Sunday 22 November, 上週三 is 11 November), optionally with a time of day.

Seconds, minutes and hours are subtracted from ``now``; days, weeks, months and years
move the local calendar date in ``tz`` and keep the local time of day of ``now``
(or the time given, e.g. 昨天 14:03). Months are calendar months, clamped to the
month's last day (3 個月前 on 31 May is 28 or 29 February).

:func:`parse_time` reads a platform's timestamp (ISO 8601, epoch, RFC 2822) and, given
``now``, falls back to :func:`parse_relative` and then to ``dateparser`` if installed.
"""
from __future__ import annotations

import calendar
import email.utils
import functools
import re
import unicodedata
from typing import Any
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.clock import UTC, as_utc

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "兩": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
           "八": 8, "九": 9}

# unit words -> (kind, amount of that kind)
_ZH_UNITS = {
    "秒": "seconds", "秒鐘": "seconds", "秒钟": "seconds",
    "分": "minutes", "分鐘": "minutes", "分钟": "minutes",
    "小時": "hours", "小时": "hours", "鐘頭": "hours", "钟头": "hours",
    "天": "days", "日": "days",
    "週": "weeks", "周": "weeks", "星期": "weeks", "禮拜": "weeks", "礼拜": "weeks",
    "月": "months",  # only after 個/个: "3月前" would read as "before March"
    "年": "years",
}
_EN_UNITS = {
    "s": "seconds", "sec": "seconds", "secs": "seconds", "second": "seconds", "seconds": "seconds",
    "m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes", "minutes": "minutes",
    "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours", "hours": "hours",
    "d": "days", "day": "days", "days": "days",
    "w": "weeks", "wk": "weeks", "wks": "weeks", "week": "weeks", "weeks": "weeks",
    "mo": "months", "mos": "months", "month": "months", "months": "months",
    "y": "years", "yr": "years", "yrs": "years", "year": "years", "years": "years",
}
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
             "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}

_ZH_NUM = r"\d+(?:\.\d+)?|[零〇一二兩两三四五六七八九十]+|半"
_ZH_AGO_RE = re.compile(
    rf"^(?:約|约|大約|大约)?\s*(?P<n>{_ZH_NUM})\s*(?P<counter>[個个])?\s*(?P<half>半)?\s*"
    r"(?P<unit>秒鐘|秒钟|秒|分鐘|分钟|分|小時|小时|鐘頭|钟头|天|日|週|周|星期|禮拜|礼拜|月|年)\s*(?:以)?前$")
_EN_AGO_RE = re.compile(
    r"^(?:about|around|almost|nearly|over|~)?\s*(?P<n>\d+(?:\.\d+)?|an?|one)\s*(?P<unit>[a-z]+)\.?\s+ago$")
_NOW_RE = re.compile(r"^(?:剛剛|剛才|刚刚|刚才|just now|right now|now|a moment ago|moments ago|a few seconds ago)$")
_TIME = (r"(?:\s*(?:at\s*)?(?P<zh_half>上午|早上|凌晨|中午|下午|晚上)?\s*(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?"
         r"\s*(?P<en_half>am|pm|a\.m\.?|p\.m\.?)?)?")
_DAY_RE = re.compile(rf"^(?P<day>今天|今日|昨天|昨日|前天|大前天|today|yesterday){_TIME}$")
_LAST_WEEK_RE = re.compile(rf"^(?:上個|上个|上)(?:週|周|星期|禮拜|礼拜)(?P<wd>[一二三四五六日天1-7]){_TIME}$")
_DAY_OFFSETS = {"今天": 0, "今日": 0, "today": 0, "昨天": 1, "昨日": 1, "yesterday": 1, "前天": 2, "大前天": 3}


def chinese_number(text: str) -> float | None:
    """"3", "2.5", "三", "十五", "二十三", "兩", "半" -> a number; None otherwise."""
    text = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if text == "半":
        return 0.5
    if not text or any(ch not in _DIGITS and ch != "十" for ch in text):
        return None
    if "十" not in text:
        return float(_DIGITS[text]) if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1 or "十" in ones:
        return None
    return float((_DIGITS[tens] if tens else 1) * 10 + (_DIGITS[ones] if ones else 0))


def _months_back(local: datetime, months: int) -> datetime:
    index = local.year * 12 + (local.month - 1) - months
    year, month = divmod(index, 12)
    day = min(local.day, calendar.monthrange(year, month + 1)[1])
    return local.replace(year=year, month=month + 1, day=day)


def _back(now: datetime, zone: ZoneInfo, kind: str, amount: float) -> datetime:
    """``now`` moved ``amount`` ``kind`` into the past (aware UTC)."""
    if kind in ("seconds", "minutes", "hours"):
        return now - timedelta(**{kind: amount})
    local = now.astimezone(zone).replace(tzinfo=None)  # wall-clock arithmetic for calendar units
    whole, frac = int(amount), amount - int(amount)
    if kind in ("days", "weeks"):
        local -= timedelta(**{kind: amount})
    elif kind == "months":
        local = _months_back(local, whole) - timedelta(days=round(frac * 30))
    else:  # years
        local = _months_back(local, whole * 12 + round(frac * 12))
    return local.replace(tzinfo=zone).astimezone(UTC)


def _with_time(local: datetime, m: re.Match) -> datetime | None:
    """``local`` (naive wall clock) with the time of day the match carries, if any."""
    if m.group("h") is None:
        return local
    hour, minute, second = int(m.group("h")), int(m.group("mi")), int(m.group("s") or 0)
    half = m.group("zh_half") or (m.group("en_half") or "").replace(".", "")
    if half in ("下午", "晚上", "pm") and hour < 12:
        hour += 12
    elif half == "中午" and hour < 6:  # 中午12:30, 中午1:10
        hour += 12
    elif half in ("上午", "早上", "凌晨", "am") and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 59:
        return None
    return local.replace(hour=hour, minute=minute, second=second, microsecond=0)


def parse_relative(text: str, now: datetime, tz: str = "Asia/Taipei") -> datetime | None:
    """A relative date (see the module docstring) counted back from ``now``, as aware UTC;
    None when ``text`` is not one of the known forms."""
    if not isinstance(text, str) or now is None:
        return None
    now = as_utc(now)
    norm = " ".join(unicodedata.normalize("NFKC", text).casefold().split()).rstrip("。.,,")
    if not norm:
        return None
    zone = ZoneInfo(tz)
    if _NOW_RE.match(norm):
        return now
    if m := _ZH_AGO_RE.match(norm):
        n = chinese_number(m.group("n"))
        kind = _ZH_UNITS[m.group("unit")]
        if n is None or (kind == "months" and not m.group("counter")):
            return None
        if m.group("half"):
            if m.group("n") == "半":
                return None  # 半半
            n += 0.5
        return _back(now, zone, kind, n)
    if m := _EN_AGO_RE.match(norm):
        kind = _EN_UNITS.get(m.group("unit"))
        if kind is None:
            return None
        n = 1.0 if m.group("n") in ("a", "an", "one") else float(m.group("n"))
        return _back(now, zone, kind, n)
    if norm in ("half an hour ago", "half a hour ago"):
        return now - timedelta(minutes=30)
    local = now.astimezone(zone).replace(tzinfo=None)
    if m := _DAY_RE.match(norm):
        day = local - timedelta(days=_DAY_OFFSETS[m.group("day")])
    elif m := _LAST_WEEK_RE.match(norm):
        monday = local - timedelta(days=local.weekday())
        day = monday - timedelta(days=7) + timedelta(days=_WEEKDAYS[m.group("wd")])
    else:
        return None
    when = _with_time(day, m)
    return when.replace(tzinfo=zone).astimezone(UTC) if when is not None else None


def parse_time(value: Any, now: datetime | None = None, tz: str = "Asia/Taipei") -> datetime | None:
    """A platform timestamp as aware UTC: ISO 8601 (Z, +00:00, +0000), epoch seconds,
    RFC 2822; None for anything else (the caller records a warning).

    With ``now`` (the connector's clock), text in none of those forms is tried as a
    relative date ("3 小時前", "昨天 14:03", "2 days ago": :func:`parse_relative`,
    day-based forms in ``tz``), and last, when the optional ``dateparser`` package is
    installed, by dateparser relative to ``now``. Without ``now`` nothing changes."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value > 10_000_000_000:  # epoch milliseconds
            value = value / 1000
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):  # NaN, infinity, a year past 9999
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    iso = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text.replace("Z", "+00:00").replace("z", "+00:00"))
    iso = re.sub(r"\.(\d{6})\d+", r".\1", iso)  # nanoseconds (Go, Bluesky) -> microseconds
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return _parse_loose(text, now, tz) if now is not None else None
    if parsed.tzinfo is None:
        return None  # a naive time is ambiguous; connectors that know the zone handle it
    return parsed.astimezone(UTC)


def _parse_loose(text: str, now: datetime, tz: str) -> datetime | None:
    """A relative date, then (if installed) whatever dateparser makes of ``text``; aware UTC or None."""
    try:
        when = parse_relative(text, now, tz)
    except (ValueError, KeyError):  # an unknown zone name
        return None
    if when is not None:
        return when
    dateparser = _dateparser()
    if dateparser is None:
        return None
    try:
        base = now.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
        got = dateparser.parse(text, settings={"RELATIVE_BASE": base, "TIMEZONE": tz, "TO_TIMEZONE": "UTC",
                                               "RETURN_AS_TIMEZONE_AWARE": True, "PREFER_DATES_FROM": "past"})
    except Exception:  # an optional helper: any failure of its own is "not a date"
        return None
    if not isinstance(got, datetime) or got.tzinfo is None:
        return None
    return got.astimezone(UTC)


@functools.lru_cache(maxsize=1)
def _dateparser() -> Any:
    """The ``dateparser`` module when installed (optional, not a dependency), else None."""
    try:
        import dateparser
    except Exception:  # ImportError, or a broken install
        return None
    return dateparser

"""Reading a platform's payload: :func:`dig` into nested JSON (SchemaError naming what is
missing), :func:`stripped` text fields, :func:`newest` of two times."""
from __future__ import annotations

from datetime import datetime
from typing import Any


class SchemaError(Exception):
    """The payload parsed but is not shaped the way this connector knows (a changed API)."""


def dig(data: Any, *path: str | int, kind: type | tuple[type, ...] | None = None, default: Any = ...) -> Any:
    """``data[path[0]][path[1]]...`` or SchemaError naming the missing part."""
    cur = data
    for i, key in enumerate(path):
        try:
            cur = cur[key]
        except (KeyError, IndexError, TypeError):
            if default is not ...:
                return default
            where = ".".join(str(p) for p in path[: i + 1])
            raise SchemaError(f"response has no {where!r} (the API's format may have changed)") from None
    if kind is not None and not isinstance(cur, kind):
        if default is not ...:
            return default
        where = ".".join(str(p) for p in path)
        raise SchemaError(f"response field {where!r} is {type(cur).__name__}, expected "
                          f"{kind.__name__ if isinstance(kind, type) else '/'.join(k.__name__ for k in kind)}")
    return cur


def stripped(value: Any) -> Any:
    """A platform's text field: stripped when it is a string, "" when missing; any other
    value as sent, for :class:`monitor.mention.Mention` to name in its problems (a number is
    kept as its digits, anything else dropped), never ``.strip()``-ed into an exception."""
    if isinstance(value, str):
        return value.strip()
    return "" if value is None else value


def newest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)

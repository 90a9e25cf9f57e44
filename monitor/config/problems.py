"""Where a problem is: key paths to lines, and the collector every validator reports to.

:func:`locate_keys` maps a key path to the line that defines it; :class:`Checker` turns a
(path, message) into a :class:`~monitor.errors.Problem` naming the file, the line and the
dotted key. Validators reach the checker through pydantic's validation context
(:func:`checker`); pydantic's own errors are mapped to the same form by :meth:`Checker.errors`.
"""
from __future__ import annotations

import re
from typing import Any, Mapping, NoReturn

from pydantic import ValidationError, ValidationInfo
from pydantic_core import PydanticCustomError

from monitor.errors import Problem

_KEY_PART = r"(?:[A-Za-z0-9_\-]+|\"[^\"]*\"|'[^']*')"
_DOTTED = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_AOT_RE = re.compile(rf"^\[\[\s*({_DOTTED})\s*\]\]")
_TABLE_RE = re.compile(rf"^\[\s*({_DOTTED})\s*\]")
_KEYVAL_RE = re.compile(rf"^({_DOTTED})\s*=")


def _split_dotted(text: str) -> tuple[str, ...]:
    parts = re.findall(_KEY_PART, text)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def locate_keys(text: str) -> dict[tuple, int]:
    """Map key paths such as ("sources", 0, "every") to the line that defines them.

    A line scanner, not a parser: it follows table headers, arrays of tables and
    ``key =`` lines, and skips the inside of multi-line strings. Good enough to point
    a person at the right line; tomllib has already said the file is valid TOML.
    """
    locs: dict[tuple, int] = {}
    aot_index: dict[tuple, int] = {}
    prefix: tuple = ()
    in_multiline: str | None = None

    def resolve(name: tuple[str, ...]) -> tuple:
        path: tuple = ()
        for part in name:
            path = path + (part,)
            if path in aot_index:
                path = path + (aot_index[path],)
        return path

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        if not line or line.startswith("#"):
            continue
        if m := _AOT_RE.match(line):
            name = _split_dotted(m.group(1))
            base = resolve(name[:-1]) + (name[-1],)
            aot_index[base] = aot_index.get(base, -1) + 1
            prefix = base + (aot_index[base],)
            locs.setdefault(base, lineno)
            locs[prefix] = lineno
        elif m := _TABLE_RE.match(line):
            prefix = resolve(_split_dotted(m.group(1)))
            locs.setdefault(prefix, lineno)
        elif m := _KEYVAL_RE.match(line):
            locs[prefix + _split_dotted(m.group(1))] = lineno
            rest = line[m.end():]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_multiline = quote
    return locs


def fail(message: str) -> NoReturn:
    """Reject the value being validated with exactly ``message`` (a repwatch wording)."""
    raise PydanticCustomError("repwatch", "{message}", {"message": message})


class Checker:
    """Collects problems with the file name and line of each key path.

    The loader sets :attr:`path` to the table or array item being validated; validators
    report relative to it. The id sets are read from the raw file before any table is
    validated, so cross-references are checked even where the item they name is broken."""

    def __init__(self, file: str, locs: dict[tuple, int], env: Mapping[str, str], need_secrets: bool = True,
                 check_urls: bool = True):
        self.file = file
        self.locs = locs
        self.env = env
        self.need_secrets = need_secrets
        self.check_urls = check_urls
        self.problems: list[Problem] = []
        self.unset: list[Problem] = []  # secrets not set, when need_secrets is False
        self.path: tuple = ()
        self.classes: dict[str, type] = {}  # connector classes by type
        self.entity_ids: set[str] = set()
        self.route_ids: set = set()
        self.receivers: set[str] = set()
        self.ops_route: str | None = None
        self.matching_routes = False  # some route selects alerts by matchers

    def line_of(self, path: tuple) -> int | None:
        p = tuple(path)
        while p:
            if p in self.locs:
                return self.locs[p]
            p = p[:-1]
        return None

    def problem(self, path: tuple, message: str) -> Problem:
        key = ""
        for part in path:
            key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
        return Problem(self.file, self.line_of(path), key, message)

    def add(self, rel: tuple, message: str) -> None:
        """A problem at ``rel`` inside the current :attr:`path`."""
        self.problems.append(self.problem(self.path + tuple(rel), message))

    def add_secret(self, rel: tuple, message: str) -> None:
        """A secret that is not set: a problem, or only noted when need_secrets is False."""
        (self.problems if self.need_secrets else self.unset).append(self.problem(self.path + tuple(rel), message))

    def validate(self, model, raw: Any, path: tuple):
        """``model.model_validate(raw)`` at ``path``; None (and the problems noted) when invalid."""
        self.path = path
        start = len(self.problems)
        try:
            check = getattr(model, "model_validate", None) or model.validate_python  # a model or a TypeAdapter
            return check(raw, context={"checker": self})
        except ValidationError as exc:
            noted = self.problems[start:]  # what validators reported along the way: after the errors
            del self.problems[start:]
            self.errors(exc, model)
            self.problems.extend(noted)
            return None

    def errors(self, exc: ValidationError, model) -> None:
        """pydantic's errors in repwatch's words: ``unknown key (allowed here: ...)`` and
        ``is required`` (or the model's own wording for a missing key, :meth:`missing`)."""
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            if len(loc) > 1 and isinstance(loc[-1], int):  # an item of a list of strings: the key names it
                loc = loc[:-1]
            if err["type"] == "extra_forbidden":
                allowed = ", ".join(sorted(f.alias or name for name, f in getattr(model, "model_fields", {}).items()))
                message = f"unknown key (allowed here: {allowed})"
            elif err["type"] == "missing":
                message = getattr(model, "missing", lambda key: "is required")(loc[-1])
            else:
                message = err["msg"]
            self.add(loc, message)


def checker(info: ValidationInfo) -> Checker:
    """The :class:`Checker` of this load, from pydantic's validation context."""
    context = info.context or {}
    found = context.get("checker")
    if found is None:  # validated outside load_config (the schema's defaults): nothing to report to
        found = Checker("", {}, {}, need_secrets=False, check_urls=False)
    return found

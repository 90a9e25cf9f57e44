"""The exceptions repwatch raises, written down once.

RepwatchError
 +-- ConfigError      the TOML file is invalid; carries one Problem per defect
 +-- NotInConfigError no entity, route or source with that id (also a KeyError)
 +-- ModelError       a sentiment model is missing, broken or cannot be loaded
 +-- StorageError     the database cannot be opened or written

Connectors never raise for a bad response: HTTP failures, malformed feeds and
oversized bodies are *data* (``FetchResult.error``), recorded against the source.
"""
from __future__ import annotations

from dataclasses import dataclass


class RepwatchError(Exception):
    """Base class of every error repwatch raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One defect in a config file: where it is and what is wrong."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(RepwatchError):
    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class NotInConfigError(RepwatchError, KeyError):
    """``Config.entity/route/source(id)`` found no such id in the config."""

    def __init__(self, what: str, ident: str, path: str = ""):
        self.what, self.ident, self.path = what, ident, path
        super().__init__(f"no {what} {ident!r} in {path or 'the config'}")

    def __str__(self) -> str:  # a KeyError would repr() its message
        return self.args[0]


class ModelError(RepwatchError):
    """A sentiment model cannot be loaded; raised at start-up, never at the first mention."""


class StorageError(RepwatchError):
    pass

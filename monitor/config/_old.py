"""Load and validate the TOML config into frozen, typed objects.

Every defect becomes a :class:`~monitor.errors.Problem` naming the file, the line and
the dotted key, so ``repwatch check-config`` can print ``FILE:LINE: key.path: what``.
All problems are collected before raising, so one run shows every mistake.

Secrets never live in the file: ``${VAR}`` inside ``storage.url`` and route ``notify``
URLs is replaced from the environment at load time; a missing variable is a problem. A
credential, token or webhook path written literally into a notify URL is refused.
``need_secrets=False`` (commands that neither poll nor send, ``check-config --no-env``)
validates everything else but lets connector credentials, notify-URL variables and the ack
secret be unset: those problems are kept in :attr:`Config.unset` instead of raised.
Durations are capped at :data:`MAX_DURATION`, so no deadline computed from one overflows.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit

from monitor.causes import CAUSES
from monitor.errors import ConfigError, Problem
from connectors.spec import Source
from monitor.labels import SEVERITIES, Matcher, parse_matcher
from monitor.units import MAX_DURATION, format_duration, parse_duration, parse_rate  # noqa: F401 (re-exported)

DEFAULT_STORAGE_URL = "sqlite:///repwatch.db"
DEFAULT_MODEL = "builtin"

_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


# --------------------------------------------------------------------------- typed config


@dataclass(frozen=True)
class StorageConfig:
    url: str = DEFAULT_STORAGE_URL

    @property
    def redacted_url(self) -> str:
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", self.url)


@dataclass(frozen=True)
class SentimentConfig:
    model: str = DEFAULT_MODEL
    negative_threshold: float = 0.5
    batch_size: int = 1
    threads: int | None = None
    max_chars: int = 4000
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Entity:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    kind: str = "doctor"

    @property
    def terms(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for t in (self.name, *self.aliases):
            if t and t.strip():
                seen.setdefault(t.strip(), None)
        return tuple(seen)


@dataclass(frozen=True)
class Route:
    """A route in Alertmanager's sense: matchers select alerts, ``notify`` is the receiver
    (apprise URLs), and the timing keys say when and how often it is paged."""

    id: str
    notify: tuple[str, ...]  # expanded apprise URLs: secrets inside, never log them
    notify_template: tuple[str, ...]  # as written in the file, with ${VAR} left in
    language: str = "zh-TW"
    timezone: str = "Asia/Taipei"  # for times shown in pages
    matchers: tuple[Matcher, ...] = ()  # empty: only alerts that name this route (rule.route, ops_route)
    continue_: bool = False  # keep matching later routes after this one
    group_by: tuple[str, ...] = ("entity",)
    group_wait: timedelta = timedelta(seconds=30)
    group_interval: timedelta = timedelta(minutes=5)
    repeat_interval: timedelta = timedelta(hours=4)
    quiet_hours: tuple[tuple[int, int], ...] = ()  # (start, end) minutes after local midnight
    escalate_after: timedelta | None = None
    escalate_to: str | None = None
    fallback: str | None = None
    fallback_after: timedelta = timedelta(minutes=10)
    digest_at: tuple[int, int] | None = None  # local (hour, minute) of the daily digest


DEFAULT_CRISIS_TERMS = ("醫療疏失", "醫療糾紛", "死亡", "過世", "提告", "告上法院", "勒索", "恐嚇", "性騷擾",
                        "malpractice", "lawsuit", "sue you", "wrongful death", "extortion", "blackmail", "negligence")
RULE_KINDS = ("burst", "spike", "severe")
KIND_SEVERITY = {"burst": "critical", "spike": "warning", "severe": "critical"}


@dataclass(frozen=True)
class Rule:
    """``burst``: at least ``min_negative`` negative mentions of an entity in ``window``.
    ``spike``: the negative rate in ``window`` is ``factor`` times the entity's own rate over
    the trailing ``baseline``, and at least ``min_negative``. ``severe``: one mention alone,
    when P(negative) >= ``min_score`` or it contains one of ``terms``."""

    id: str
    route: str | None
    entities: tuple[str, ...] = ("*",)
    min_negative: int = 3
    window: timedelta = timedelta(hours=1)
    kind: str = "burst"
    severity: str = "critical"
    min_score: float = 0.95
    terms: tuple[str, ...] = DEFAULT_CRISIS_TERMS
    baseline: timedelta = timedelta(days=14)
    factor: float = 3.0
    causes: tuple[str, ...] = ()  # only mentions with one of these causes count (empty: any)

    def applies_to(self, entity_id: str) -> bool:
        return "*" in self.entities or entity_id in self.entities


@dataclass(frozen=True)
class Inhibit:
    """While an alert matching ``source`` is active, alerts matching ``target`` with the same
    values of the ``equal`` labels are muted; their mentions join the source's incident."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...] = ("entity",)


DEFAULT_INHIBIT = (Inhibit(source=(parse_matcher('kind=~"burst|spike"'),), target=(parse_matcher('kind="severe"'),),
                           equal=("entity",)),)


@dataclass(frozen=True)
class IncidentsConfig:
    response_window: timedelta = timedelta(hours=1)  # the golden hour: deadline after first detection
    public_url: str | None = None  # base of ack links in pages (the daemon's HTTP endpoint as people reach it)
    ack_secret: str | None = field(default=None, repr=False)  # from the environment; signs ack links
    link_ttl: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class DaemonConfig:
    user_agent: str = "repwatch/0.1 (+reputation monitor; contact: your clinic admin)"
    jitter: timedelta = timedelta(seconds=30)
    max_connections: int = 10
    ops_route: str | None = None  # where source-health notices go (never the crisis team's route)
    failures_before_notice: int = 3
    notice_repeat: timedelta = timedelta(hours=6)
    rate_limits: Mapping[str, tuple[int, float]] = field(default_factory=dict)
    listen: str | None = "127.0.0.1:8787"  # HTTP endpoint: /healthz, /metrics, /ack; None = off


@dataclass(frozen=True)
class Config:
    path: str
    storage: StorageConfig
    sentiment: SentimentConfig
    entities: tuple[Entity, ...]
    sources: tuple[Source, ...]
    routes: tuple[Route, ...]
    rules: tuple[Rule, ...]
    daemon: DaemonConfig
    incidents: IncidentsConfig = IncidentsConfig()
    inhibit: tuple[Inhibit, ...] = DEFAULT_INHIBIT
    # need_secrets=False: the variables that were not set, as the problems they would be
    unset: tuple[Problem, ...] = ()

    def entity(self, entity_id: str) -> Entity:
        return next(e for e in self.entities if e.id == entity_id)

    def route(self, route_id: str) -> Route:
        return next(r for r in self.routes if r.id == route_id)

    def source(self, source_id: str) -> Source:
        return next(s for s in self.sources if s.id == source_id)


# --------------------------------------------------------------------------- line numbers


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
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if in_multiline:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        if not line or line.startswith("#"):
            continue

        def resolve(name: tuple[str, ...]) -> tuple:
            path: tuple = ()
            for part in name:
                path = path + (part,)
                if path in aot_index:
                    path = path + (aot_index[path],)
            return path

        m = _AOT_RE.match(line)
        if m:
            name = _split_dotted(m.group(1))
            parent = resolve(name[:-1])
            base = parent + (name[-1],)
            aot_index[base] = aot_index.get(base, -1) + 1
            prefix = base + (aot_index[base],)
            locs.setdefault(base, lineno)
            locs[prefix] = lineno
            continue
        m = _TABLE_RE.match(line)
        if m:
            prefix = resolve(_split_dotted(m.group(1)))
            locs.setdefault(prefix, lineno)
            continue
        m = _KEYVAL_RE.match(line)
        if m:
            locs[prefix + _split_dotted(m.group(1))] = lineno
            rest = line[m.end():]
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_multiline = quote
    return locs


# --------------------------------------------------------------------------- validation


class _Checker:
    """Collects problems with the file name and line of each key path."""

    def __init__(self, file: str, locs: dict[tuple, int], env: Mapping[str, str], need_secrets: bool = True):
        self.file = file
        self.locs = locs
        self.env = env
        self.need_secrets = need_secrets
        self.problems: list[Problem] = []
        self.unset: list[Problem] = []  # secrets not set, when need_secrets is False

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

    def add(self, path: tuple, message: str) -> None:
        self.problems.append(self.problem(path, message))

    def add_secret(self, path: tuple, message: str) -> None:
        """A secret that is not set: a problem, or only noted when need_secrets is False."""
        (self.problems if self.need_secrets else self.unset).append(self.problem(path, message))

    # typed getters: return the default (and record a problem) when the value is wrong
    def table(self, data: Mapping, path: tuple, allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                hint = ", ".join(sorted(allowed))
                self.add(path + (key,), f"unknown key (allowed here: {hint})")

    def string(self, data: Mapping, path: tuple, key: str, default: str | None = None, required=False) -> str | None:
        if key not in data:
            if required:
                self.add(path + (key,), "is required")
            return default
        value = data[key]
        if not isinstance(value, str) or (required and not value.strip()):
            self.add(path + (key,), f"must be a non-empty string, got {value!r}")
            return default
        return value

    def ident(self, data: Mapping, path: tuple, key: str = "id") -> str | None:
        value = self.string(data, path, key, required=True)
        if value is not None and not _ID_RE.match(value):
            self.add(path + (key,), f"{value!r} is not a valid id (letters, digits, '_', '-', '.'; at most 64)")
            return None
        return value

    def strings(self, data: Mapping, path: tuple, key: str, default=()) -> tuple[str, ...]:
        if key not in data:
            return tuple(default)
        value = data[key]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.add(path + (key,), "must be a list of non-empty strings")
            return tuple(default)
        return tuple(v.strip() for v in value)

    def duration(self, data: Mapping, path: tuple, key: str, default: timedelta, allow_zero=False,
                 maximum: timedelta = MAX_DURATION) -> timedelta:
        if key not in data:
            return default
        try:
            value = parse_duration(data[key], allow_zero)
        except ValueError as exc:
            self.add(path + (key,), str(exc))
            return default
        if value > maximum:
            self.add(path + (key,), f"must be at most {format_duration(maximum)}, got {data[key]!r}")
            return default
        return value

    def number(self, data, path, key, default, kind=float, lo=None, hi=None):
        if key not in data:
            return default
        value = data[key]
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok:
            self.add(path + (key,), f"must be {'an integer' if kind is int else 'a number'}, got {value!r}")
            return default
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            rng = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            self.add(path + (key,), f"must be {rng}, got {value!r}")
            return default
        return kind(value)

    def boolean(self, data, path, key, default: bool) -> bool:
        if key not in data:
            return default
        if not isinstance(data[key], bool):
            self.add(path + (key,), f"must be true or false, got {data[key]!r}")
            return default
        return data[key]

    def expand(self, value: str, path: tuple) -> str | None:
        missing = [name for name in _ENV_RE.findall(value) if not self.env.get(name)]
        for name in missing:
            self.add_secret(path, f"environment variable {name} is not set")
        if missing:
            return None
        return _ENV_RE.sub(lambda m: self.env[m.group(1)], value)

    def array_of_tables(self, data: Mapping, key: str) -> list[Mapping]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.add((key,), f"must be an array of tables ([[{key}]])")
            return []
        return value

    def unique(self, items: list[tuple[str | None, tuple]], what: str) -> None:
        seen: set[str] = set()
        for ident, path in items:
            if ident is None:
                continue
            if ident in seen:
                self.add(path + ("id",), f"duplicate {what} id {ident!r}")
            seen.add(ident)


def _connector_classes() -> dict:
    from connectors import registry

    return registry()


def _check_options(c: "_Checker", s: Mapping, p: tuple, cls) -> tuple[dict, dict]:
    """Type-check a connector's own keys; read its credentials from the environment."""
    options: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    for key, spec in cls.options.items():
        if spec.env:
            var = s.get(key, spec.default)
            if key in s and (not isinstance(var, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", var)):
                c.add(p + (key,), f"must name an environment variable (the secret itself never goes in the file), "
                                  f"got {var!r}")
                continue
            if var and c.env.get(var):
                secrets[key] = c.env[var]
            elif spec.required:
                c.add_secret(p + (key,), f"environment variable {var} is not set (credential for {cls.type})")
            continue
        if key not in s:
            if spec.required:
                c.add(p + (key,), f"is required for type {cls.type!r}: {spec.help}")
            continue
        value = s[key]
        kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if ok and isinstance(value, str) and not value.strip():
            ok = False
        if not ok:
            c.add(p + (key,), f"must be {spec.describe()}, got {value!r}")
            continue
        options[key] = value
    problem = getattr(cls, "check", None)
    if problem is not None:
        for key, message in cls.check(options):
            c.add(p + (key,), message)
    return options, secrets


def _check_apprise_url(url: str) -> str | None:
    """Return why apprise cannot use ``url``, or None when it can."""
    from monitor.notify import plugin_for  # quiet: apprise logs the URL it rejects

    plugin = plugin_for(url)
    if plugin is None:
        scheme = url.split("://", 1)[0] if "://" in url else "(none)"
        return f"apprise cannot parse this URL (scheme {scheme!r}); see https://github.com/caronc/apprise/wiki"
    return None


def load_config(path: str | os.PathLike, env: Mapping[str, str] | None = None, check_urls: bool = True,
                need_secrets: bool = True) -> Config:
    """Read, validate and return the config at ``path``; raise ConfigError with every problem.

    ``need_secrets=False``: connector credentials, notify-URL and storage variables and the
    ack secret may be unset (they land in ``Config.unset``); everything else is checked. A
    route's URL whose variables are unset is kept as its template: such a config must not send.
    """
    env = os.environ if env is None else env
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(file, None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(file, None, "", f"cannot read file: {exc}")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(m.group(1)) if m else (len(text.splitlines()) or None if "end of document" in str(exc) else None)
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError([Problem(file, line, "", f"TOML syntax error: {msg}")]) from None
    return _validate(data, _Checker(file, locate_keys(text), env, need_secrets), check_urls)


def _validate(data: Mapping, c: _Checker, check_urls: bool) -> Config:
    c.table(data, (), {"storage", "sentiment", "entities", "sources", "routes", "rules", "daemon", "incidents",
                       "inhibit", "receivers"})

    # [storage]
    st = data.get("storage", {})
    storage = StorageConfig()
    if isinstance(st, dict):
        c.table(st, ("storage",), {"url"})
        written = c.string(st, ("storage",), "url", DEFAULT_STORAGE_URL)
        url = c.expand(written, ("storage", "url")) if written else None
        if written and url is None and not c.need_secrets:
            url = written  # variables unset: kept as written, never the default; see Config.unset
        unexpanded = url == written and _ENV_RE.match(url or "")  # "${DB_URL}" with DB_URL unset
        if url and not unexpanded and not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
            c.add(("storage", "url"), "must start with sqlite:/// or postgresql+psycopg://")
        storage = StorageConfig(url=url or DEFAULT_STORAGE_URL)
    else:
        c.add(("storage",), "must be a table")

    # [sentiment]
    se = data.get("sentiment", {})
    sentiment = SentimentConfig()
    if isinstance(se, dict):
        p = ("sentiment",)
        c.table(se, p, {"model", "negative_threshold", "batch_size", "threads", "max_chars", "labels"})
        labels = se.get("labels", {})
        if not isinstance(labels, dict) or not all(
            isinstance(v, str) and v in ("negative", "neutral", "positive") for v in labels.values()
        ):
            c.add(p + ("labels",), 'must map model labels to "negative", "neutral" or "positive"')
            labels = {}
        sentiment = SentimentConfig(
            model=c.string(se, p, "model", DEFAULT_MODEL),
            negative_threshold=c.number(se, p, "negative_threshold", 0.5, float, 0.0, 1.0),
            batch_size=c.number(se, p, "batch_size", 1, int, 1, 1024),
            threads=c.number(se, p, "threads", None, int, 1, 256),
            max_chars=c.number(se, p, "max_chars", 4000, int, 64, 1_000_000),
            labels=dict(labels),
        )
    else:
        c.add(("sentiment",), "must be a table")

    # [daemon]
    da = data.get("daemon", {})
    daemon = DaemonConfig()
    if isinstance(da, dict):
        p = ("daemon",)
        c.table(da, p, {"user_agent", "jitter", "max_connections", "ops_route", "failures_before_notice",
                        "notice_repeat", "rate_limits", "listen"})
        limits: dict[str, tuple[int, float]] = {}
        raw_limits = da.get("rate_limits", {})
        if not isinstance(raw_limits, dict):
            c.add(p + ("rate_limits",), 'must be a table of host = "requests/period", e.g. "oauth.reddit.com" = "100/1m"')
            raw_limits = {}

        for host, rate in raw_limits.items():
            try:
                requests, period = parse_rate(rate)
            except ValueError as exc:
                c.add(p + ("rate_limits", host), str(exc))
                continue
            if not 1 <= period <= MAX_DURATION.total_seconds() or requests > 1_000_000:
                c.add(p + ("rate_limits", host), f"out of range: at most 1000000 requests per period, and a period "
                                                 f"from 1s to {format_duration(MAX_DURATION)}, got {rate!r}")
                continue
            limits[host.lower()] = requests, period
        daemon = DaemonConfig(
            user_agent=c.string(da, p, "user_agent", DaemonConfig.user_agent),
            jitter=c.duration(da, p, "jitter", DaemonConfig.jitter, allow_zero=True),
            max_connections=c.number(da, p, "max_connections", 10, int, 1, 1000),
            ops_route=c.string(da, p, "ops_route", None),
            failures_before_notice=c.number(da, p, "failures_before_notice", 3, int, 1, 1000),
            notice_repeat=c.duration(da, p, "notice_repeat", DaemonConfig.notice_repeat),
            rate_limits=limits,
            listen=_listen(c, da, p),
        )

    # [incidents]
    inc = data.get("incidents", {})
    incidents = IncidentsConfig()
    if isinstance(inc, dict):
        p = ("incidents",)
        c.table(inc, p, {"response_window", "public_url", "ack_secret_env", "link_ttl"})
        public_url = c.string(inc, p, "public_url", None)
        if public_url and not re.match(r"^https?://[^\s/]+", public_url):
            c.add(p + ("public_url",), f"must be an http:// or https:// URL, got {public_url!r}")
            public_url = None
        secret_var = c.string(inc, p, "ack_secret_env", "REPWATCH_ACK_SECRET")
        secret = c.env.get(secret_var) if secret_var else None
        if public_url and not secret:
            c.add_secret(p + ("ack_secret_env",), f"environment variable {secret_var} is not set: ack links "
                                                  f"are signed with it (any long random string, e.g. "
                                                  f"`openssl rand -hex 32`)")
        elif secret and len(secret) < 16:
            c.add(p + ("ack_secret_env",), f"the secret in {secret_var} is too short (at least 16 characters)")
        incidents = IncidentsConfig(
            response_window=c.duration(inc, p, "response_window", IncidentsConfig.response_window),
            public_url=public_url.rstrip("/") if public_url else None,
            ack_secret=secret or None,
            link_ttl=c.duration(inc, p, "link_ttl", IncidentsConfig.link_ttl),
        )
    else:
        c.add(("incidents",), "must be a table")

    # [[entities]]
    entities: list[Entity] = []
    raw_entities = c.array_of_tables(data, "entities")
    if not raw_entities and "entities" not in data:
        c.add(("entities",), "at least one [[entities]] table is required")
    for i, e in enumerate(raw_entities):
        p = ("entities", i)
        c.table(e, p, {"id", "name", "aliases", "exclude", "kind"})
        ident = c.ident(e, p)
        name = c.string(e, p, "name", required=True)
        kind = c.string(e, p, "kind", "doctor")
        if kind not in ("doctor", "clinic"):
            c.add(p + ("kind",), f'must be "doctor" or "clinic", got {kind!r}')
        if ident and name:
            entities.append(Entity(ident, name, c.strings(e, p, "aliases"), c.strings(e, p, "exclude"), kind or "doctor"))
    c.unique([(e.get("id"), ("entities", i)) for i, e in enumerate(raw_entities)], "entity")
    entity_ids = {e.id for e in entities}

    # [[sources]]
    sources: list[Source] = []
    classes = _connector_classes()
    common = {"id", "type", "url", "every", "entities", "about", "timeout", "max_bytes", "enabled", "max_pages",
              "silent_after"}
    raw_sources = c.array_of_tables(data, "sources")
    for i, s in enumerate(raw_sources):
        p = ("sources", i)
        ident = c.ident(s, p)
        stype = c.string(s, p, "type", required=True)
        cls = None
        if stype is not None and stype not in classes:
            c.add(p + ("type",), f"unknown source type {stype!r} (known: {', '.join(sorted(classes))})")
        elif stype:
            cls = classes[stype]
        c.table(s, p, common | set(cls.options if cls else ()))
        default_url = getattr(cls, "default_url", None)
        url = c.string(s, p, "url", default_url, required=cls is not None and default_url is None)
        if url and not re.match(r"^https?://[^\s/]+", url):
            c.add(p + ("url",), f"must be an http:// or https:// URL, got {url!r}")
        ents = None
        if "entities" in s:
            ents = c.strings(s, p, "entities")
            for name in ents:
                if name not in entity_ids and name != "*":
                    c.add(p + ("entities",), f"undefined entity {name!r}")
            if "*" in ents:
                ents = None
        about = c.string(s, p, "about", None)
        if about is not None and about not in entity_ids:
            c.add(p + ("about",), f"undefined entity {about!r} (the entity whose own listing this source is)")
        if about is not None and ents is not None and about not in ents:
            ents = (*ents, about)
        every = c.duration(s, p, "every", timedelta(minutes=15))
        if every < timedelta(seconds=1):
            c.add(p + ("every",), "must be at least 1s")
        options, secrets = _check_options(c, s, p, cls) if cls else ({}, {})
        silent_after = None
        if "silent_after" in s:
            silent_after = c.duration(s, p, "silent_after", timedelta(days=1))
        digest = hashlib.sha256(json.dumps([s, sorted(secrets.items())], sort_keys=True, default=str)
                                .encode()).hexdigest()[:16]
        if ident and cls is not None and url:
            sources.append(
                Source(
                    id=ident,
                    type=stype,
                    url=url,
                    every=every,
                    entities=ents,
                    about=about if about in entity_ids else None,
                    timeout=c.duration(s, p, "timeout", timedelta(seconds=20)),
                    max_bytes=c.number(s, p, "max_bytes", 5_000_000, int, 1024, 500_000_000),
                    enabled=c.boolean(s, p, "enabled", True),
                    options=options,
                    max_pages=c.number(s, p, "max_pages", 5, int, 1, 1000),
                    silent_after=silent_after,
                    secrets=secrets,
                    digest=digest,
                )
            )
    c.unique([(s.get("id"), ("sources", i)) for i, s in enumerate(raw_sources)], "source")

    # [receivers]: named lists of apprise URLs that several routes can share
    receivers: dict[str, tuple[tuple[str, ...], list[str]]] = {}
    raw_receivers = data.get("receivers", {})
    if not isinstance(raw_receivers, dict):
        c.add(("receivers",), 'must be a table of name = ["apprise URL", ...]')
        raw_receivers = {}
    for name in raw_receivers:
        templates = c.strings(raw_receivers, ("receivers",), name)
        receivers[name] = (templates, _urls(c, templates, ("receivers", name), check_urls))

    # [[routes]]
    routes: list[Route] = []
    raw_routes = c.array_of_tables(data, "routes")
    route_ids = {r.get("id") for r in raw_routes}
    for i, r in enumerate(raw_routes):
        p = ("routes", i)
        c.table(r, p, {"id", "notify", "receivers", "language", "timezone", "matchers", "continue", "group_by", "group_wait",
                       "group_interval", "repeat_interval", "quiet_hours", "escalate_after", "escalate_to", "fallback",
                       "fallback_after", "digest_at"})
        ident = c.ident(r, p)
        templates = c.strings(r, p, "notify")
        if "notify" not in r and "receivers" not in r:
            c.add(p + ("notify",), "is required (a list of apprise URLs), unless the route names receivers")
        lang = c.string(r, p, "language", "zh-TW")
        if lang not in ("zh-TW", "en"):
            c.add(p + ("language",), f'must be "zh-TW" or "en", got {lang!r}')
        urls = _urls(c, templates, p + ("notify",), check_urls)
        for name in c.strings(r, p, "receivers"):
            if name not in receivers:
                c.add(p + ("receivers",), f"undefined receiver {name!r} (define it under [receivers])")
                continue
            templates += receivers[name][0]
            urls += receivers[name][1]
        tz = c.string(r, p, "timezone", "Asia/Taipei" if lang == "zh-TW" else "UTC")
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(tz)
        except Exception:
            c.add(p + ("timezone",), f"unknown time zone {tz!r} (use an IANA name such as \"Asia/Taipei\")")
            tz = "UTC"
        matchers = []
        for text in c.strings(r, p, "matchers"):
            try:
                matchers.append(parse_matcher(text))
            except ValueError as exc:
                c.add(p + ("matchers",), str(exc))
        for key in ("escalate_to", "fallback"):
            target = r.get(key)
            if target is not None and target not in route_ids:
                c.add(p + (key,), f"undefined route {target!r}")
            elif target is not None and target == r.get("id"):
                c.add(p + (key,), "must name another route")
        escalate_after = None
        if "escalate_after" in r or "escalate_to" in r:
            escalate_after = c.duration(r, p, "escalate_after", timedelta(minutes=15))
            if "escalate_to" not in r:
                c.add(p + ("escalate_after",), "needs escalate_to (the route paged when nobody acknowledges)")
        quiet = []
        for text in c.strings(r, p, "quiet_hours"):
            span = _parse_span(text)
            if span is None:
                c.add(p + ("quiet_hours",), f'{text!r} is not a time span such as "22:00-07:00"')
            else:
                quiet.append(span)
        digest_at = None
        if "digest_at" in r:
            digest_at = _parse_clock(r["digest_at"]) if isinstance(r["digest_at"], str) else None
            if digest_at is None:
                c.add(p + ("digest_at",), f'must be a local time such as "08:30", got {r["digest_at"]!r}')
        group_by = c.strings(r, p, "group_by", ("entity",))
        if ident:
            routes.append(Route(
                ident, tuple(urls), templates, lang or "zh-TW", tz,
                matchers=tuple(matchers),
                continue_=c.boolean(r, p, "continue", False),
                group_by=group_by,
                group_wait=c.duration(r, p, "group_wait", Route.group_wait, allow_zero=True),
                group_interval=c.duration(r, p, "group_interval", Route.group_interval),
                repeat_interval=c.duration(r, p, "repeat_interval", Route.repeat_interval),
                quiet_hours=tuple(quiet),
                escalate_after=escalate_after,
                escalate_to=r.get("escalate_to") if isinstance(r.get("escalate_to"), str) else None,
                fallback=r.get("fallback") if isinstance(r.get("fallback"), str) else None,
                fallback_after=c.duration(r, p, "fallback_after", Route.fallback_after),
                digest_at=digest_at,
            ))
    c.unique([(r.get("id"), ("routes", i)) for i, r in enumerate(raw_routes)], "route")
    by_id = {r.id: r for r in routes}
    for i, r in enumerate(routes):  # an escalation ladder must end
        seen, step = {r.id}, r.escalate_to
        while step in by_id:
            if step in seen:
                c.add(("routes", i, "escalate_to"), f"escalation loops back to route {step!r}")
                break
            seen.add(step)
            step = by_id[step].escalate_to
    if daemon.ops_route and daemon.ops_route not in route_ids:
        c.add(("daemon", "ops_route"), f"undefined route {daemon.ops_route!r}")

    # [[rules]]
    rules: list[Rule] = []
    raw_rules = c.array_of_tables(data, "rules")
    matching_routes = any(r.matchers for r in routes)
    per_kind = {"burst": {"min_negative", "window"}, "spike": {"min_negative", "window", "baseline", "factor"},
                "severe": {"min_score", "terms", "window"}}
    for i, r in enumerate(raw_rules):
        p = ("rules", i)
        kind = c.string(r, p, "kind", "burst")
        if kind not in RULE_KINDS:
            c.add(p + ("kind",), f"must be one of {', '.join(RULE_KINDS)}, got {kind!r}")
            kind = "burst"
        c.table(r, p, {"id", "kind", "entities", "route", "severity", "causes"} | per_kind[kind])
        ident = c.ident(r, p)
        route = c.string(r, p, "route", None, required=not matching_routes)
        if route and route not in route_ids:
            c.add(p + ("route",), f"undefined route {route!r}")
        if route and route == daemon.ops_route:
            c.add(p + ("route",), f"{route!r} is the ops route (source health); crisis alerts need their own route")
        ents = c.strings(r, p, "entities", ("*",))
        for name in ents:
            if name != "*" and name not in entity_ids:
                c.add(p + ("entities",), f"undefined entity {name!r}")
        severity = c.string(r, p, "severity", KIND_SEVERITY[kind])
        if severity not in SEVERITIES:
            c.add(p + ("severity",), f"must be one of {', '.join(SEVERITIES)}, got {severity!r}")
        terms = c.strings(r, p, "terms", DEFAULT_CRISIS_TERMS)
        causes = c.strings(r, p, "causes")
        for name in causes:
            if name not in CAUSES:
                c.add(p + ("causes",), f"unknown cause {name!r} (known: {', '.join(CAUSES)})")
        if ident:
            rules.append(
                Rule(
                    id=ident,
                    route=route,
                    entities=ents,
                    min_negative=c.number(r, p, "min_negative", 3, int, 1, 100_000),
                    window=c.duration(r, p, "window", timedelta(hours=1 if kind != "spike" else 6)),
                    kind=kind,
                    severity=severity if severity in SEVERITIES else KIND_SEVERITY[kind],
                    min_score=c.number(r, p, "min_score", 0.95, float, 0.0, 1.0),
                    terms=terms,
                    baseline=c.duration(r, p, "baseline", timedelta(days=14)),
                    factor=c.number(r, p, "factor", 3.0, float, 1.0, 1000.0),
                    causes=tuple(x for x in causes if x in CAUSES),
                )
            )
    c.unique([(r.get("id"), ("rules", i)) for i, r in enumerate(raw_rules)], "rule")

    # [[inhibit]]
    inhibit: list[Inhibit] = []
    raw_inhibit = c.array_of_tables(data, "inhibit")
    for i, r in enumerate(raw_inhibit):
        p = ("inhibit", i)
        c.table(r, p, {"source_matchers", "target_matchers", "equal"})
        parsed = {}
        for key in ("source_matchers", "target_matchers"):
            if key not in r:
                c.add(p + (key,), "is required")
            items = []
            for text in c.strings(r, p, key):
                try:
                    items.append(parse_matcher(text))
                except ValueError as exc:
                    c.add(p + (key,), str(exc))
            parsed[key] = tuple(items)
        inhibit.append(Inhibit(parsed["source_matchers"], parsed["target_matchers"],
                               c.strings(r, p, "equal", ("entity",))))

    if c.problems:
        raise ConfigError(sorted(c.problems, key=lambda p: p.line or 0))
    return Config(
        path=c.file,
        storage=storage,
        sentiment=sentiment,
        entities=tuple(entities),
        sources=tuple(sources),
        routes=tuple(routes),
        rules=tuple(rules),
        daemon=daemon,
        incidents=incidents,
        inhibit=tuple(inhibit) if "inhibit" in data else DEFAULT_INHIBIT,
        unset=tuple(c.unset),
    )


_SECRET_PARAM_RE = re.compile(r"(?i)(token|secret|pass|password|passwd|pwd|key|authorization|signature|cookie)"
                              r"=[^&\x00]")  # run on the text with each ${VAR} blanked to \x00
_DELIM_RE = re.compile(r"[/?&=@:#]")


def _looks_like_token(text: str) -> bool:
    """A long random-looking string: what a webhook path or an API key looks like."""
    text = unquote(text)
    if not re.fullmatch(r"[A-Za-z0-9_\-.~+=]+", text):
        return False
    mixed = re.search(r"[A-Za-z]", text) and re.search(r"\d", text)
    return bool((len(text) >= 16 and mixed) or (len(text) >= 24 and re.fullmatch(r"[A-Za-z0-9]+", text)))


def _literal_secrets(template: str, plugin, values: list[str]) -> list[str]:
    """What is secret in an apprise URL but written into the file rather than taken from a
    ${VAR}: a password, a secret-named option, a token-like json/form/xml path segment or
    ``-param``/``+header`` value, or a piece apprise hides in its privacy form (a Slack or
    LINE token, a webhook id) that is in the file's text and in none of the variables'
    ``values`` (``plugin``: apprise's plugin for the expanded URL, None when there is none).
    Never the values themselves: they must not reach any output."""
    from monitor.notify import PATH_SECRET_SCHEMES, is_option, masked_by_apprise

    found = []
    literal = _ENV_RE.sub("\x00", template)  # the text written in the file, variables blanked
    if re.search(r"://[^/${}]*:[^@/${}]+@", template):
        found.append("a password")
    if _SECRET_PARAM_RE.search(literal.split("?", 1)[1] if "?" in literal else ""):
        found.append("a secret option such as token=, key= or password=")
    try:
        split = urlsplit(literal)
    except ValueError:
        split = None
    if split is not None:
        if split.scheme.lower() in PATH_SECRET_SCHEMES and any(
                _looks_like_token(seg) for seg in split.path.split("/") if "\x00" not in seg):
            found.append("a token-like path segment")
        if any(is_option(part) and _looks_like_token(part.partition("=")[2])
               for part in split.query.split("&") if "\x00" not in part.partition("=")[2]):
            found.append("a token-like -param or +header value")
    if plugin is not None:
        values = [unquote(v) for v in values if v]
        written = unquote(literal)
        for piece in masked_by_apprise(plugin):
            subs = [t for t in _DELIM_RE.split(piece) if t]
            if any(t in written and not any(t in v for v in values) for t in subs):
                found.append("a token, key or webhook id")
                break
    return list(dict.fromkeys(found))


def _urls(c: "_Checker", templates: tuple[str, ...], path: tuple, check_urls: bool) -> list[str]:
    """Expand ${VAR} in apprise URL templates; refuse credentials written into the file.

    With need_secrets off, a URL whose variables are unset is kept as its template (so the
    indexes of a route's URLs stay right) and only what the file itself says is checked."""
    from monitor.notify import plugin_for

    urls = []
    for j, t in enumerate(templates):
        expanded = c.expand(t, path)
        plugin, values = None, [c.env.get(name, "") for name in _ENV_RE.findall(t)]
        if expanded is not None and check_urls:
            why = _check_apprise_url(expanded)
            if why:
                c.add(path, f"URL #{j + 1}: {why}")
            else:
                plugin = plugin_for(expanded)
        elif expanded is None and check_urls:
            # variables unset (need_secrets off): a stand-in value for each lets the literal
            # parts be checked all the same, when apprise accepts the stand-ins
            stand_in = {name: c.env.get(name) or f"RWVAR{k}x{name.replace('_', '')}" for k, name in
                        enumerate(_ENV_RE.findall(t))}
            values = list(stand_in.values())
            plugin = plugin_for(_ENV_RE.sub(lambda m: stand_in[m.group(1)], t))
        literal = _literal_secrets(t, plugin, values)
        if literal:
            c.add(path, f"URL #{j + 1} has a credential written into the file ({'; '.join(literal)}); "
                        f"use ${{VAR}} from the environment")
        urls.append(expanded if expanded is not None else t)
    return urls


def _parse_clock(text: str) -> tuple[int, int] | None:
    m = re.match(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*$", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _parse_span(text: str) -> tuple[int, int] | None:
    """ "22:00-07:00" -> (1320, 420): minutes after local midnight; may wrap past midnight."""
    parts = text.split("-") if isinstance(text, str) else []
    if len(parts) != 2:
        return None
    a, b = _parse_clock(parts[0]), _parse_clock(parts[1])
    if a is None or b is None or a == b:
        return None
    return a[0] * 60 + a[1], b[0] * 60 + b[1]


def _listen(c: "_Checker", da: Mapping, p: tuple) -> str | None:
    if "listen" not in da:
        return DaemonConfig.listen
    value = da["listen"]
    if value in ("", False):
        return None
    if not isinstance(value, str) or not re.match(r"^[\w.\-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$", value):
        c.add(p + ("listen",), f'must be "host:port" such as "127.0.0.1:8787" (or "" to turn it off), got {value!r}')
        return DaemonConfig.listen
    port = int(value.rpartition(":")[2])
    if not 1 <= port <= 65535:
        c.add(p + ("listen",), f"port must be between 1 and 65535, got {port} in {value!r}")
        return DaemonConfig.listen
    return value

"""The config file's tables as pydantic models: the one place where defaults are written.

One model per table (``[storage]``, ``[sentiment]``, ``[daemon]``, ``[incidents]``) and per
item of an array of tables (``[[entities]]``, ``[[routes]]``, ``[[rules]]`` by kind,
``[[inhibit]]``; ``[[sources]]`` by connector in :mod:`monitor.config.sources`). A field's
docstring is its description in the JSON Schema. Unknown keys are refused. Cross-references
(a rule's route, a source's entities...) are checked against the ids read from the raw file
(:class:`~monitor.config.problems.Checker`), so a broken item never hides a second mistake.
"""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema, field_validator, model_validator

from monitor.config.fields import (AnyId, Clock, Count, Duration, Flag, Fraction, Ident, Interval, Matchers, Name,
                                   Processes, Spans, Strings, Text, Weekly, choice, number)
from monitor.config.problems import checker, fail
from monitor.config.urls import ENV_RE, NotifyUrls, expand
from monitor.units import MAX_DURATION, format_duration, parse_rate

DEFAULT_STORAGE_URL = "sqlite:///repwatch.db"
DEFAULT_MODEL = "builtin"
DEFAULT_CRISIS_TERMS = ("醫療疏失", "醫療糾紛", "死亡", "過世", "提告", "告上法院", "勒索", "恐嚇", "性騷擾",
                        "malpractice", "lawsuit", "sue you", "wrongful death", "extortion", "blackmail", "negligence")
LANGUAGE_TIMEZONE = {"zh-TW": "Asia/Taipei", "en": "UTC"}  # a route's time zone when it names none
ESCALATE_AFTER = timedelta(minutes=15)  # a route's escalate_after when it names only escalate_to
BatchSize, Threads = number(1, 1024, integer=True), number(1, 256, integer=True)
MaxChars = number(64, 1_000_000, integer=True)
EntityKind = choice(("doctor", "clinic"), 'must be "doctor" or "clinic", got {value!r}')
Language = choice(tuple(LANGUAGE_TIMEZONE), 'must be "zh-TW" or "en", got {value!r}')
_LISTEN_RE = re.compile(r"^[\w.\-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$")


class Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, use_attribute_docstrings=True)


class StorageModel(Table):
    """[storage]: the database."""

    url: Text = DEFAULT_STORAGE_URL
    """sqlite:///FILE or postgresql+psycopg://USER:${PGPASSWORD}@HOST/DB (${VAR} from the environment)"""

    @field_validator("url")
    @classmethod
    def _expand(cls, written: str, info) -> str:
        c = checker(info)
        url = expand(c, written, ("url",))
        if url is None and not c.need_secrets:
            url = written  # variables unset: kept as written, never the default; see Config.unset
        unexpanded = url == written and ENV_RE.match(url or "")  # "${DB_URL}" with DB_URL unset
        if url and not unexpanded and not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
            fail("must start with sqlite:/// or postgresql+psycopg://")
        return url or DEFAULT_STORAGE_URL

    retain: Duration = None
    """purge mentions, their versions and raw payloads last changed longer ago than this (e.g. "400d"), except
    those of open incidents and under a legal hold (repwatch hold); not set: keep everything"""

    @field_validator("retain")
    @classmethod
    def _at_least_a_day(cls, retain: timedelta | None) -> timedelta | None:
        if retain is not None and retain < timedelta(days=1):
            fail(f"must be at least 1d (a shorter one would purge what the rules still read), got "
                 f"{format_duration(retain)!r}")
        return retain


def _labels(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
            isinstance(v, str) and v in ("negative", "neutral", "positive") for v in value.values()):
        fail('must map model labels to "negative", "neutral" or "positive"')
    return dict(value)


class SentimentModel(Table):
    """[sentiment]: the model that scores each mention."""

    model: Text = DEFAULT_MODEL
    """"builtin", or a transformers model directory or id"""
    negative_threshold: Fraction = 0.5
    """P(negative) at or above this counts as negative"""
    batch_size: BatchSize = 1
    """texts per encoder run; 1: a score never depends on its batch neighbours"""
    threads: Threads = None
    """CPU threads of the encoder (default: the runtime's choice)"""
    max_chars: MaxChars = 4000
    """longer texts are cut before scoring"""
    labels: Annotated[dict[str, str], PlainValidator(_labels), WithJsonSchema({
        "type": "object", "additionalProperties": {"enum": ["negative", "neutral", "positive"]}})] = Field(
        default_factory=dict)
    """a transformers model's labels mapped to negative, neutral or positive"""


def _rates(value: Any, info) -> dict[str, tuple[int, float]]:
    if not isinstance(value, dict):
        fail('must be a table of host = "requests/period", e.g. "oauth.reddit.com" = "100/1m"')
    limits = {}
    for host, rate in value.items():
        try:
            requests, period = parse_rate(rate)
        except ValueError as exc:
            checker(info).add(("rate_limits", host), str(exc))
            continue
        if not 1 <= period <= MAX_DURATION.total_seconds() or requests > 1_000_000:
            checker(info).add(("rate_limits", host), f"out of range: at most 1000000 requests per period, and a "
                                                     f"period from 1s to {format_duration(MAX_DURATION)}, got {rate!r}")
            continue
        limits[host.lower()] = requests, period
    return limits


def _listen(value: Any) -> str | None:
    if value in ("", False):
        return None
    if not isinstance(value, str) or not _LISTEN_RE.match(value):
        fail(f'must be "host:port" such as "127.0.0.1:8787" (or "" to turn it off), got {value!r}')
    port = int(value.rpartition(":")[2])
    if not 1 <= port <= 65535:
        fail(f"port must be between 1 and 65535, got {port} in {value!r}")
    return value


class DaemonModel(Table):
    """[daemon]: polling, source health and the HTTP endpoint."""

    user_agent: Text = "repwatch/0.1 (+reputation monitor; contact: your clinic admin)"
    """sent with every request: say who you are and how to reach you"""
    jitter: Interval = timedelta(seconds=30)
    """each source's first poll starts up to this much later (a fixed offset per source id), so
    sources do not fire at once; later polls follow every `every` exactly"""
    max_connections: Count = 32  # as many as poll_workers: fewer would queue polls on the pool
    poll_workers: Count = 32
    """polls running at once (fetch, match, store); per-host rate limits still hold"""
    poll_processes: Processes = 0
    """child processes that run the polls (fetch, match, store), for thousands of sources; 0
    runs them on the daemon's own threads. Per-host rate limits still hold (a limited host is
    polled by one child)"""
    ops_route: Text = None
    """the route of source-health notices (never the crisis team's route)"""
    failures_before_notice: Count = 3
    notice_repeat: Duration = timedelta(hours=6)
    rate_limits: Annotated[dict[str, tuple[int, float]], PlainValidator(_rates), WithJsonSchema({
        "type": "object", "additionalProperties": {"type": "string", "pattern": r"^\s*\d+\s*/\s*\d*\s*[smhd]\s*$"}})
    ] = Field(default_factory=dict)
    """requests per period per host, e.g. "oauth.reddit.com" = "100/1m" (platform limits are built in)"""
    listen: Annotated[str | None, PlainValidator(_listen), WithJsonSchema({"type": "string"})] = "127.0.0.1:8787"
    """host:port of /healthz, /metrics and /ack; "" turns it off"""

    @field_validator("ops_route")
    @classmethod
    def _route_exists(cls, value: str | None, info) -> str | None:
        if value and value not in checker(info).route_ids:
            fail(f"undefined route {value!r}")
        return value


def _broker(value: Any, info) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        fail(f'must be a string such as "redis://127.0.0.1:6379/0", got {value!r}')
    c = checker(info)
    url = expand(c, value, ("broker",))
    if url is None:
        return value if not c.need_secrets else None  # variables unset: see Config.unset
    if not re.match(r"^rediss?://", url):
        fail("must start with redis:// or rediss://")
    return url


class ScaleModel(Table):
    """[scale]: polls as Celery tasks on any number of `repwatch worker` processes sharing
    PostgreSQL; one `repwatch scheduler` enqueues them, one `repwatch processor` processes."""

    broker: Annotated[str | None, PlainValidator(_broker), WithJsonSchema({"type": "string"})] = None
    """redis://HOST:6379/0 (${VAR} from the environment); unset: no scale-out"""
    queue: Ident = "repwatch"
    """the Celery queue of polls, and the prefix of repwatch's own Redis keys"""
    concurrency: Count = 4
    """polls at once in each repwatch worker (threads)"""
    process_every: Duration = timedelta(seconds=10)
    """the processor's period (it also runs when a worker stores something new)"""
    visibility_timeout: Duration = None
    """a poll whose worker died goes to another worker after this long; longer than every
    source's timeout (default: three times the longest, at least 5m)"""


class IncidentsModel(Table):
    """[incidents]: the response deadline and signed ack links."""

    response_window: Duration = timedelta(hours=1)
    """the golden hour: the deadline after first detection"""
    public_url: Text = None
    """base of ack links in pages (the daemon's HTTP endpoint as people reach it)"""
    ack_secret_env: Text = Field("REPWATCH_ACK_SECRET", validate_default=True)
    """the environment variable holding the secret that signs ack links"""
    link_ttl: Duration = timedelta(hours=24)

    @field_validator("public_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value and not re.match(r"^https?://[^\s/]+", value):
            fail(f"must be an http:// or https:// URL, got {value!r}")
        return value.rstrip("/") if value else None

    @field_validator("ack_secret_env")
    @classmethod
    def _secret(cls, var: str, info) -> str:
        c = checker(info)
        secret = c.env.get(var) if var else None
        if info.data.get("public_url") and not secret:
            c.add_secret(("ack_secret_env",), f"environment variable {var} is not set: ack links are signed with it "
                                              f"(any long random string, e.g. `openssl rand -hex 32`)")
        elif secret and len(secret) < 16:
            fail(f"the secret in {var} is too short (at least 16 characters)")
        return var


class EntityModel(Table):
    """[[entities]]: a doctor or clinic to watch."""

    id: Ident
    name: Name
    aliases: Strings = ()
    """other names that mean the same entity"""
    exclude: Strings = ()
    """texts that name someone else (a mention containing one is not about this entity)"""
    kind: EntityKind = "doctor"


def known(info, field: str, names: tuple[str, ...], ids: set, what: str, allow=("*",)) -> tuple[str, ...]:
    """``names`` that are in ``ids``; each other one is a problem (``what`` says which)."""
    for name in names:
        if name not in ids and name not in allow:
            checker(info).add((field,), f"undefined {what} {name!r}")
    return names


class RouteModel(Table):
    """[[routes]]: a receiver of alerts (apprise URLs) and when it is paged."""

    id: Ident
    notify: NotifyUrls = ()
    """apprise URLs; secrets as ${VAR} from the environment"""
    receivers: Strings = ()
    """names under [receivers] whose URLs this route also pages"""
    language: Language = "zh-TW"
    timezone: Text = None
    """IANA time zone of times in pages (default: Asia/Taipei for zh-TW, UTC for en)"""
    matchers: Matchers = ()
    """alerts this route selects; none: only alerts that name it"""
    continue_: Flag = Field(False, alias="continue")
    """keep matching later routes after this one"""
    group_by: Strings = ("entity",)
    group_wait: Interval = timedelta(seconds=30)
    group_interval: Duration = timedelta(minutes=5)
    repeat_interval: Duration = timedelta(hours=4)
    quiet_hours: Spans = ()
    """local time spans such as "22:00-07:00" when only critical alerts page"""
    escalate_to: AnyId = None
    """the route paged when nobody acknowledges in escalate_after"""
    escalate_after: Duration = None
    """default 15m when escalate_to is set (ESCALATE_AFTER)"""
    fallback: AnyId = None
    """the route paged when delivery to this one keeps failing"""
    fallback_after: Duration = timedelta(minutes=10)
    digest_at: Clock = None
    """local time of the daily digest, such as "08:30\""""
    report_at: Weekly = None
    """weekday and local time of the weekly report, such as "Mon 08:30\""""

    @model_validator(mode="before")
    @classmethod
    def _together(cls, data: Any, info) -> Any:
        if isinstance(data, Mapping):
            if "notify" not in data and "receivers" not in data:
                checker(info).add(("notify",), "is required (a list of apprise URLs), unless the route names receivers")
            if "escalate_after" in data and "escalate_to" not in data:
                checker(info).add(("escalate_after",), "needs escalate_to (the route paged when nobody acknowledges)")
        return data

    @field_validator("receivers")
    @classmethod
    def _receivers(cls, names: tuple[str, ...], info) -> tuple[str, ...]:
        for name in names:
            if name not in checker(info).receivers:
                checker(info).add(("receivers",), f"undefined receiver {name!r} (define it under [receivers])")
        return tuple(n for n in names if n in checker(info).receivers)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(value)
        except Exception:
            fail(f"unknown time zone {value!r} (use an IANA name such as \"Asia/Taipei\")")
        return value

    @field_validator("escalate_to", "fallback")
    @classmethod
    def _other_route(cls, target: str | None, info) -> str | None:
        if target is not None and (not isinstance(target, str) or target not in checker(info).route_ids):
            fail(f"undefined route {target!r}")
        if target is not None and target == info.data.get("id"):
            fail("must name another route")
        return target

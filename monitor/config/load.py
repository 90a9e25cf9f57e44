"""Read the TOML file, validate every table with its model, build the typed :class:`Config`.

The raw file is read first for its shape (each table a table, each array an array of
tables) and its ids, so every model can check its cross-references; then each table and
each array item is validated on its own, so one run reports every mistake. Nothing is
built unless no problem was found.
"""
from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Mapping

from pydantic import TypeAdapter

from monitor.config.defence import DefenceModel, defence_config
from monitor.config.web import WebModel, web_config
from monitor.config.fields import ID_RE
from monitor.config.models import (ESCALATE_AFTER, LANGUAGE_TIMEZONE, DaemonModel, EntityModel, IncidentsModel,
                                   RouteModel, ScaleModel, SentimentModel, StorageModel)
from monitor.config.problems import Checker, locate_keys
from monitor.config.rules import InhibitModel, rule_model
from monitor.config.runtime import (DEFAULT_INHIBIT, Config, DaemonConfig, Entity, IncidentsConfig, Route, Rule,
                                    ScaleConfig, SentimentConfig, StorageConfig, inhibit_of)
from monitor.config.sources import SourceModel, build_source, source_model
from monitor.config.urls import NotifyUrls
from monitor.errors import ConfigError, Problem
from monitor.units import format_duration

TABLES = {"storage": StorageModel, "sentiment": SentimentModel, "daemon": DaemonModel, "incidents": IncidentsModel,
          "scale": ScaleModel, "defence": DefenceModel,
          "web": WebModel}
ARRAYS = {"entities": "entity", "sources": "source", "routes": "route", "rules": "rule", "inhibit": None}
RECEIVERS = TypeAdapter(NotifyUrls)  # [receivers]: name = [apprise URLs] that several routes can share


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
    return validate(data, Checker(file, locate_keys(text), env, need_secrets, check_urls))


def _connector_classes() -> dict:
    from connectors import registry

    return registry()


def _shape(data: Mapping, c: Checker) -> tuple[dict[str, dict], dict[str, list]]:
    """Check the file's outline; return each table and each array of tables (empty where broken)."""
    allowed = {*TABLES, *ARRAYS, "receivers"}
    for key in data:
        if key not in allowed:
            c.add((key,), f"unknown key (allowed here: {', '.join(sorted(allowed))})")
    tables = {}
    for name in (*TABLES, "receivers"):
        tables[name] = data.get(name, {})
        if not isinstance(tables[name], dict):
            c.add((name,), 'must be a table of name = ["apprise URL", ...]' if name == "receivers" else
                  "must be a table")
            tables[name] = {}
    arrays = {}
    for key in ARRAYS:
        arrays[key] = data.get(key, [])
        if not isinstance(arrays[key], list) or not all(isinstance(v, dict) for v in arrays[key]):
            c.add((key,), f"must be an array of tables ([[{key}]])")
            arrays[key] = []
    if "entities" not in data:
        c.add(("entities",), "at least one [[entities]] table is required")
    return tables, arrays


def _read_ids(tables: dict[str, dict], arrays: dict[str, list], c: Checker) -> None:
    """The ids other tables may name, from the raw file; duplicate ids are problems."""
    c.classes = _connector_classes()
    c.entity_ids = {e["id"] for e in arrays["entities"] if isinstance(e.get("id"), str) and ID_RE.match(e["id"])
                    and isinstance(e.get("name"), str) and e["name"].strip()}
    c.route_ids = {r["id"] for r in arrays["routes"] if isinstance(r.get("id"), str)}
    c.receivers = set(tables["receivers"])
    c.ops_route = tables["daemon"].get("ops_route")
    c.matching_routes = any(r.get("matchers") for r in arrays["routes"])
    for key, what in ARRAYS.items():
        seen: set = set()
        for i, item in enumerate(arrays[key] if what else ()):
            ident = item.get("id")
            if not isinstance(ident, str):
                continue
            if ident in seen:
                c.add((key, i, "id"), f"duplicate {what} id {ident!r}")
            seen.add(ident)


def _items(c: Checker, arrays: dict[str, list], key: str, model_of) -> list[tuple[int, Any, Mapping]]:
    """Each valid item of an array of tables: (index, model, raw table)."""
    found = []
    for i, raw in enumerate(arrays[key]):
        m = c.validate(model_of(raw), raw, (key, i))
        if m is not None:
            found.append((i, m, raw))
    return found


def _source_model(c: Checker):
    def model_of(raw: Mapping) -> type[SourceModel]:
        cls = c.classes.get(raw.get("type")) if isinstance(raw.get("type"), str) else None
        return source_model(cls) if cls is not None else SourceModel

    return model_of


def _escalation_loops(c: Checker, routes: list[tuple[int, RouteModel, Mapping]]) -> None:
    """An escalation ladder must end."""
    by_id = {m.id: m for _, m, _ in routes}
    c.path = ()
    for i, m, _ in routes:
        seen, step = {m.id}, m.escalate_to
        while step in by_id:
            if step in seen:
                c.add(("routes", i, "escalate_to"), f"escalation loops back to route {step!r}")
                break
            seen.add(step)
            step = by_id[step].escalate_to


def validate(data: Mapping, c: Checker) -> Config:
    """Every problem of ``data`` (the parsed file) as one ConfigError, or the typed Config."""
    raw, arrays = _shape(data, c)
    _read_ids(raw, arrays, c)
    tables = {name: c.validate(model, raw[name], (name,)) for name, model in TABLES.items()}
    receivers = {name: c.validate(RECEIVERS, value, ("receivers", name)) for name, value in raw["receivers"].items()}
    entities = _items(c, arrays, "entities", lambda raw: EntityModel)
    sources = _items(c, arrays, "sources", _source_model(c))
    routes = _items(c, arrays, "routes", lambda raw: RouteModel)
    rules = _items(c, arrays, "rules", rule_model)
    inhibit = _items(c, arrays, "inhibit", lambda raw: InhibitModel)
    _escalation_loops(c, routes)
    _visibility(c, tables["scale"], [m for _, m, _ in sources])
    if c.problems:
        raise ConfigError(sorted(c.problems, key=lambda p: p.line or 0))
    return Config(
        path=c.file,
        storage=StorageConfig(url=tables["storage"].url, retain=tables["storage"].retain),
        sentiment=SentimentConfig(**dict(tables["sentiment"])),
        entities=tuple(Entity(**dict(m)) for _, m, _ in entities),
        sources=tuple(build_source(c, m, raw) for _, m, raw in sources),
        routes=tuple(_route(m, receivers) for _, m, _ in routes),
        rules=tuple(Rule(**dict(m)) for _, m, _ in rules),
        daemon=DaemonConfig(**dict(tables["daemon"])),
        incidents=_incidents(c, tables["incidents"]),
        scale=ScaleConfig(**dict(tables["scale"])),
        defence=defence_config(tables["defence"]),
        web=web_config(tables["web"], c.file),
        inhibit=tuple(inhibit_of(m) for _, m, _ in inhibit) if "inhibit" in data else DEFAULT_INHIBIT,
        unset=tuple(c.unset),
    )


def _visibility(c: Checker, scale: ScaleModel | None, sources: list) -> None:
    """A poll redelivered while its first worker still runs it would be polled twice: the
    broker's visibility timeout must outlast every source's timeout."""
    longest = max((s.timeout for s in sources), default=None)
    if scale is not None and scale.visibility_timeout is not None and longest is not None \
            and scale.visibility_timeout <= longest:
        c.path = ()
        c.add(("scale", "visibility_timeout"), f"must be longer than the longest source timeout ({format_duration(longest)})")


def _route(m: RouteModel, receivers: Mapping[str, tuple]) -> Route:
    urls = m.notify + tuple(u for name in m.receivers for u in receivers[name])
    return Route(m.id, tuple(u.url for u in urls), tuple(u.template for u in urls), m.language,
                 m.timezone or LANGUAGE_TIMEZONE[m.language], matchers=m.matchers, continue_=m.continue_,
                 group_by=m.group_by, group_wait=m.group_wait, group_interval=m.group_interval,
                 repeat_interval=m.repeat_interval, quiet_hours=m.quiet_hours,
                 escalate_after=m.escalate_after or (ESCALATE_AFTER if m.escalate_to else None),
                 escalate_to=m.escalate_to, fallback=m.fallback, fallback_after=m.fallback_after,
                 digest_at=m.digest_at, report_at=m.report_at)


def _incidents(c: Checker, m: IncidentsModel) -> IncidentsConfig:
    return IncidentsConfig(response_window=m.response_window, public_url=m.public_url,
                           ack_secret=c.env.get(m.ack_secret_env) or None, link_ttl=m.link_ttl)

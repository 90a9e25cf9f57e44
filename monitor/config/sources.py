"""``[[sources]]``: the keys every source has, plus one model per connector type whose extra
fields are derived from the connector's declared :class:`~connectors.base.Option` s.

A source's own defaults (every, timeout, max_bytes...) are those of
:class:`connectors.spec.Source`, the leaf dataclass connectors are given; the models here
read them from it. Credentials are the *names* of environment variables, never the secrets.
"""
from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from typing import Annotated, Any, ClassVar, Mapping

from pydantic import Field, PlainValidator, WithJsonSchema, create_model, field_validator, model_validator

from connectors.spec import Source
from monitor.config.fields import Count, Duration, Flag, Ident, Name, Strings, Text, Url, choice, number
from monitor.config.models import Table, known
from monitor.config.problems import Checker, checker, fail

_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MaxBytes = number(1024, 500_000_000, integer=True)
_KIND_SCHEMA = {str: {"type": "string", "minLength": 1}, int: {"type": "integer"}, bool: {"type": "boolean"},
                list: {"type": "array"}, dict: {"type": "object"}, float: {"type": "number"}}


class SourceModel(Table):
    """[[sources]]: a feed, page or platform API polled for mentions."""

    connector: ClassVar[type | None] = None  # the connector class of a per-type model

    id: Ident
    type: Name
    url: Url = None
    """the feed or page; for API connectors the API base (their default when not set)"""
    every: Duration = Source.every
    """how often it is polled"""
    entities: Strings = None
    """the entities to look for in what it fetches (default: every entity)"""
    about: Text = None
    """the entity whose own listing this is: every item fetched is about it"""
    timeout: Duration = Source.timeout
    max_bytes: MaxBytes = Source.max_bytes
    enabled: Flag = Source.enabled
    max_pages: Count = Source.max_pages
    silent_after: Duration = Source.silent_after
    """no new item for this long is a notice (default: learned from the source's own history)"""

    @classmethod
    def missing(cls, key: str) -> str:
        spec = cls.connector.options.get(key) if cls.connector else None
        return f"is required for type {cls.connector.type!r}: {spec.help}" if spec else "is required"

    @model_validator(mode="wrap")
    @classmethod
    def _connector_check(cls, data: Any, handler, info) -> Any:
        """After the keys, the connector's own check of its options (those of the right type)."""
        try:
            return handler(data)
        finally:
            check = getattr(cls.connector, "check", None)
            if check is not None and isinstance(data, Mapping):
                options = {k: data[k] for k, spec in cls.connector.options.items()
                           if not spec.env and k in data and option_ok(spec, data[k])}
                for key, message in check(options):
                    checker(info).add((key,), message)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str, info) -> str:
        classes = checker(info).classes
        if value not in classes:
            fail(f"unknown source type {value!r} (known: {', '.join(sorted(classes))})")
        return value

    @field_validator("entities")
    @classmethod
    def _entities(cls, names: tuple[str, ...], info) -> tuple[str, ...]:
        return known(info, "entities", names, checker(info).entity_ids, "entity")

    @field_validator("about")
    @classmethod
    def _about(cls, value: str | None, info) -> str | None:
        if value is not None and value not in checker(info).entity_ids:
            fail(f"undefined entity {value!r} (the entity whose own listing this source is)")
        return value


def option_ok(spec, value: Any) -> bool:
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    return ok and not (isinstance(value, str) and not value.strip())


def _option_type(key: str, spec, type_name: str):
    """A connector option as a field type: a value of its kind, or (a credential) the name
    of the environment variable that holds it."""
    if spec.env:
        def check(var: Any, info) -> Any:
            if var is not None and (not isinstance(var, str) or not _VAR_RE.match(var)):
                fail(f"must name an environment variable (the secret itself never goes in the file), got {var!r}")
            if not (var and checker(info).env.get(var)) and spec.required:
                checker(info).add_secret((key,), f"environment variable {var} is not set (credential for {type_name})")
            return var

        return Annotated[Any, PlainValidator(check), WithJsonSchema({"type": "string", "pattern": _VAR_RE.pattern})]

    def check(value: Any) -> Any:
        if not option_ok(spec, value):
            fail(f"must be {spec.describe()}, got {value!r}")
        return value

    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    schemas = [_KIND_SCHEMA.get(k, {}) for k in kinds]
    return Annotated[Any, PlainValidator(check), WithJsonSchema(schemas[0] if len(schemas) == 1 else
                                                                {"anyOf": schemas})]


@lru_cache(maxsize=None)
def source_model(cls) -> type[SourceModel]:
    """The model of a source of connector ``cls``: the common keys and the connector's options."""
    fields: dict[str, Any] = {
        "type": (choice((cls.type,), "unknown source type {value!r}"), ...),
        "url": (Url, cls.default_url if cls.default_url else ...),
    }
    for key, spec in cls.options.items():
        if spec.env:
            default = Field(spec.default, validate_default=True, description=spec.help)
        elif spec.required:
            default = Field(..., description=spec.help)
        else:  # absent: not in Source.options, so the connector's own default applies
            default = Field(None, description=spec.help,
                            json_schema_extra=None if spec.default is None else {"default": spec.default})
        fields[key] = (_option_type(key, spec, cls.type), default)
    model = create_model(f"{cls.__name__}Source", __base__=SourceModel, **fields)
    model.connector = cls
    return model


def build_source(c: Checker, m: SourceModel, raw: Mapping) -> Source:
    """The :class:`Source` a connector is given: options as written, credentials read from
    the environment, and a digest that changes with the table or its credentials."""
    cls = c.classes[m.type]
    ents = None if m.entities is None or "*" in m.entities else m.entities
    if m.about is not None and ents is not None and m.about not in ents:
        ents = (*ents, m.about)
    secrets = {k: c.env[getattr(m, k)] for k, spec in cls.options.items()
               if spec.env and getattr(m, k) and c.env.get(getattr(m, k))}
    options = {k: getattr(m, k) for k, spec in cls.options.items() if not spec.env and k in m.model_fields_set}
    digest = hashlib.sha256(json.dumps([raw, sorted(secrets.items())], sort_keys=True, default=str)
                            .encode()).hexdigest()[:16]
    return Source(id=m.id, type=m.type, url=m.url, every=m.every, entities=ents, about=m.about, timeout=m.timeout,
                  max_bytes=m.max_bytes, enabled=m.enabled, options=options, max_pages=m.max_pages,
                  silent_after=m.silent_after, secrets=secrets, digest=digest)

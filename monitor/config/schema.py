"""The JSON Schema (draft 2020-12) of the config file, for editors (Taplo, even-better-toml)
and CI: generated from the same models that validate the file, so it cannot drift from them.

Values are described in the file's form: durations as "5m", defaults as written in TOML.
The schema checks shape and types; what needs the environment or other tables (``${VAR}``
values, cross-references, apprise URLs) is left to ``repwatch check-config``.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Union

from pydantic import Field, create_model
from pydantic.json_schema import GenerateJsonSchema

from monitor.config.load import ARRAYS, TABLES, _connector_classes
from monitor.config.models import EntityModel, RouteModel, Table
from monitor.config.rules import (DEFAULT_INHIBIT_TABLES, AttackRule, BurstRule, ExtortionRule, InhibitModel,
                                  PhiExposureRule, SevereRule, SpikeRule)
from monitor.config.sources import SourceModel, source_model
from monitor.config.urls import NotifyUrls
from monitor.units import format_duration

DIALECT = "https://json-schema.org/draft/2020-12/schema"


class _FileForm(GenerateJsonSchema):
    """Defaults as they are written in the file."""

    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, timedelta):
            return format_duration(dft)
        return super().encode_default(dft)


def config_model(classes: dict[str, type]) -> type[Table]:
    """The whole file as one model (for the schema): each table, and each array of tables
    with its item model (sources: one per connector type; rules: one per kind)."""
    items: dict[str, Any] = {
        "entities": EntityModel, "routes": RouteModel, "inhibit": InhibitModel,
        "sources": Union[tuple(source_model(cls) for cls in classes.values())] if classes else SourceModel,
        "rules": Union[BurstRule, SpikeRule, SevereRule, ExtortionRule, PhiExposureRule, AttackRule],
    }
    assert set(items) == set(ARRAYS)
    fields: dict[str, Any] = {name: (model, None) for name, model in TABLES.items()}
    for name, item in items.items():
        required = name == "entities"
        fields[name] = (list[item], Field(..., min_length=1) if required else None)
    fields["inhibit"] = (list[InhibitModel], Field(None, json_schema_extra={"default": list(DEFAULT_INHIBIT_TABLES)}))
    fields["receivers"] = (dict[str, NotifyUrls], Field(None, description="named lists of apprise URLs that "
                                                                          "several routes can share"))
    return create_model("RepwatchConfig", __base__=Table, __doc__="repwatch's config file (repwatch.toml)",
                        **fields)


def _drop_null_defaults(node: Any) -> Any:
    """TOML has no null: a key whose default is "not set" shows no default."""
    if isinstance(node, dict):
        return {k: _drop_null_defaults(v) for k, v in node.items() if not (k == "default" and v is None)}
    if isinstance(node, list):
        return [_drop_null_defaults(v) for v in node]
    return node


def json_schema() -> dict:
    """The JSON Schema of the config file, for the connectors installed here."""
    schema = config_model(_connector_classes()).model_json_schema(schema_generator=_FileForm)
    return {"$schema": DIALECT, **_drop_null_defaults(schema)}

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

The package: :mod:`.models`, :mod:`.rules` and :mod:`.sources` are the pydantic models of
the file (the one home of defaults); :mod:`.fields` its value types; :mod:`.urls` the
``${VAR}`` and notify-URL checks; :mod:`.problems` lines and problems; :mod:`.load` reads and
builds; :mod:`.runtime` the frozen objects the rest of repwatch uses; :mod:`.schema` the
JSON Schema for editors.
"""
from connectors.spec import Source
from monitor.config.load import load_config
from monitor.config.models import DEFAULT_CRISIS_TERMS, DEFAULT_MODEL, DEFAULT_STORAGE_URL
from monitor.config.problems import locate_keys
from monitor.config.rules import RULE_KINDS
from monitor.config.runtime import (DEFAULT_INHIBIT, Config, DaemonConfig, Entity, IncidentsConfig, Inhibit,
                                    Route, Rule, ScaleConfig, SentimentConfig, StorageConfig)
from monitor.units import MAX_DURATION, format_duration, parse_duration, parse_rate

__all__ = ["Config", "DaemonConfig", "DEFAULT_CRISIS_TERMS", "DEFAULT_INHIBIT", "DEFAULT_MODEL",
           "DEFAULT_STORAGE_URL", "Entity", "IncidentsConfig", "Inhibit", "MAX_DURATION", "Route", "RULE_KINDS",
           "Rule", "ScaleConfig", "SentimentConfig", "Source", "StorageConfig", "format_duration", "load_config", "locate_keys",
           "parse_duration", "parse_rate"]

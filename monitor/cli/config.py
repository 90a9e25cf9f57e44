"""``check-config`` and ``config schema``."""
from __future__ import annotations



import json
import sys
from pathlib import Path

from monitor.cli.common import load


def cmd_check_config(args) -> int:
    config = load(args.file, need_secrets=not args.no_env, storage=not args.no_env)
    unset = ""
    if config.unset:
        names = sorted({p.message.split()[2] if p.message.startswith("environment variable ") else p.key
                        for p in config.unset})
        unset = f"; not set, so not checked (--no-env): {', '.join(names)}"
    print(f"{args.file}: OK - {len(config.entities)} entities, {len(config.sources)} sources, "
          f"{len(config.routes)} routes, {len(config.rules)} rules; storage {config.storage.redacted_url}{unset}")
    return 0


def cmd_config_schema(args) -> int:
    """The config file's JSON Schema, for editors (Taplo, VS Code) and CI checks."""
    from monitor.config.schema import json_schema

    text = json.dumps(json_schema(), indent=2, ensure_ascii=False)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
        print(f"JSON Schema written to {args.output}", file=sys.stderr)
    else:
        print(text)
    return 0

"""``check-config`` and ``config schema``."""
from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path
from urllib.parse import urlsplit

from monitor.cli.common import load
from monitor.errors import Problem


def _loopback(host: str) -> bool:
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def config_warnings(config, file: str) -> list[Problem]:
    """What check-config says without failing: an ``http://`` ``[incidents] public_url`` on
    anything but loopback. Ack links then cross the network in the clear: the signed token
    can be read (and replayed) on the way, and phones warn about the page or refuse it."""
    from monitor.config import locate_keys

    url = config.incidents.public_url
    if not url or urlsplit(url).scheme.lower() != "http" or _loopback(urlsplit(url).hostname or ""):
        return []
    line = locate_keys(Path(file).read_text(encoding="utf-8")).get(("incidents", "public_url"))
    return [Problem(file, line, "incidents.public_url",
                    f"warning: {url} is plain http: ack links travel unencrypted; put TLS in front "
                    f"(README \"Reaching ack links from a phone\") and use https://")]


def cmd_check_config(args) -> int:
    config = load(args.file, need_secrets=not args.no_env, storage=not args.no_env)
    for warning in config_warnings(config, args.file):
        print(warning, file=sys.stderr)
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

"""``demo`` and ``replay``: everything offline, on 127.0.0.1."""
from __future__ import annotations

import sys
from pathlib import Path


def cmd_demo(args) -> int:
    from monitor.demo import run_demo

    return run_demo(fast=args.fast, keep=args.keep)


def cmd_replay(args) -> int:
    """Serve every connector's recorded payloads on 127.0.0.1 and write a config for them."""
    import signal
    import threading

    from monitor.replay import ReplayFleet, fleet_config

    with ReplayFleet() as fleet:
        text = fleet_config(fleet, args.storage, args.notify, every=args.every)
        Path(args.write_config).write_text(text, encoding="utf-8")
        print(f"serving recorded payloads for {len(fleet.servers)} connectors on 127.0.0.1")
        for t, server in fleet.servers.items():
            print(f"  {t:<16} {server.base}")
        print(f"config written to {args.write_config}; credentials it expects (fake values):")
        for k, v in sorted(fleet.env.items()):
            print(f"  export {k}={v}")
        print(f"then: repwatch poll --config {args.write_config}   (Ctrl-C stops the replay)")
        sys.stdout.flush()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        try:
            stop.wait(args.seconds or None)
        except KeyboardInterrupt:
            pass
    return 0

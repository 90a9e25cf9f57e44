"""The log setup of every repwatch process (the CLI, the daemon and its poll processes): UTC
times, PHI masked on every handler, and the HTTP libraries' request lines (a webhook's path is
its secret) kept at warning level."""
from __future__ import annotations

import logging
import time


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%SZ",
    )
    logging.Formatter.converter = time.gmtime
    from monitor.privacy import MaskingFilter

    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
    # urllib3 (under apprise) logs each request's path at debug level: a webhook's path is its secret
    # alembic says which database backend it found on every start; db upgrade prints what it applied
    for noisy in ("httpx", "httpcore", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

"""The web app the daemon serves on ``[daemon] listen``: a dashboard behind sign-in, the
signed ack links, /healthz and /metrics.

Modules
  server   :class:`WebServer`: uvicorn in a thread, with the limits that keep clients from starving it
  app      :func:`create_app`: the Starlette app (routes, templates, middleware)
  ops      /healthz, /metrics, /ack/<token> (no sign-in)
  users    the users file (argon2 hashes, roles) and the session key
  auth     sign-in, sessions, CSRF, the login rate limit, the viewer's language and zone
  pages    overview, mentions, incident, silences, sources
  api      the JSON API and the CSV export
  views    filters, keyset cursors, masked mentions, golden-hour figures, chart series
  i18n     zh-TW and en words, times in a viewer's zone
"""
from __future__ import annotations

__all__ = ["WebServer", "create_app"]


def __getattr__(name: str):
    # lazy: the CLI imports monitor.web.users for `repwatch user`, and Starlette, Jinja2 and
    # uvicorn cost about two seconds that no other command should pay
    if name == "create_app":
        from monitor.web.app import create_app

        return create_app
    if name == "WebServer":
        from monitor.web.server import WebServer

        return WebServer
    raise AttributeError(name)

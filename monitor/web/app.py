"""The ASGI app (Starlette, Jinja2 templates, no JavaScript build): :func:`create_app`.

Routes
  /healthz, /metrics, /ack/<token>    no sign-in (:mod:`monitor.web.ops`)
  /login, /logout, /settings          sign-in and the viewer's language and zone (:mod:`monitor.web.auth`)
  /, /mentions, /incidents/<id>, /silences, /sources
                                      pages (:mod:`monitor.web.pages`)
  /api/mentions, /api/incidents, /mentions.csv
                                      JSON and CSV (:mod:`monitor.web.api`)

Every template is autoescaped: review text, names and reasons are untrusted.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.templating import Jinja2Templates

from monitor.web import ops
from monitor.web.i18n import local, t

TEMPLATES = Path(__file__).parent / "templates"
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"), (b"cache-control", b"no-store")]


class _Headers:
    """ASGI middleware: the headers every answer carries (no caching: pages hold patient talk)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def sending(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in SECURITY_HEADERS
                                                                          if h[0] not in present]
            await send(message)

        await self.app(scope, receive, sending if scope["type"] == "http" else send)


def create_app(app, *, healthz: Callable[[], tuple[int, dict]] | None = None) -> Starlette:
    """The web app of one :class:`monitor.app.App`. ``healthz`` answers /healthz (the
    server passes its own, which knows whether the scheduler runs)."""
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.globals.update(t=t, local=local)
    web = Starlette(routes=list(ops.ROUTES), middleware=[Middleware(_Headers)])
    web.state.repwatch = app
    web.state.templates = templates
    web.state.healthz = healthz or (lambda: ops.health_report(app, True))
    return web
